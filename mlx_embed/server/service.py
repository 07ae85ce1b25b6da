"""What the endpoints share: limits, model names and task suffixes, inputs to token ids, and the request scheduler."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from starlette.concurrency import run_in_threadpool

from ..encoder.facts import STANDARD_TASKS
from ..encoder.precision import finish
from ..errors import InvalidArgumentError
from .errors import ApiError
from .scheduler import QueueFullError, Scheduler, SchedulerClosedError

if TYPE_CHECKING:
    from ..encoder.model import EmbeddingModel

log = logging.getLogger("mlx_embed.server")


@dataclass
class ServerSettings:
    served_name: str | None = None      # model id clients send; default: the model folder's name
    strict_model: bool = False          # 404 for model ids not listed (else the one model serves any id)
    api_key: str | None = None          # if set, every endpoint but /health needs `Authorization: Bearer <key>`
    loopback_hosts_only: bool = True    # Host header must be localhost or a loopback IP (DNS rebinding)
    accept_token_ids: bool = False      # token-id input (this model's ids; other tokenizers' ids give garbage)
    max_inputs: int = 2048              # inputs per request (OpenAI's limit)
    max_input_chars: int = 262_144      # characters per input
    max_request_bytes: int = 16 << 20   # request body
    max_queue: int = 256                # requests waiting for the model; more get 429
    batch_window_ms: float = 2.0        # the longest the worker waits for requests still being tokenised
    max_batch_tokens: int = 8192        # token budget of one coalesced batch (and of one forward pass)
    max_request_tokens: int = 300_000   # tokens one request may hold (OpenAI's limit); more get 413
    read_timeout_s: float = 30.0        # a client that stops sending its body mid-way gets 408 after this
    batch_size: int = 64                # texts per forward pass
    cache_limit_bytes: int = 256 << 20  # MLX buffer cache cleared between batches above this


class EmbeddingService:
    def __init__(self, model: "EmbeddingModel", settings: ServerSettings):
        self.model = model
        self.settings = settings
        names = [settings.served_name, Path(str(model.name)).name, model.name, Path(model.path).name]
        self.names = list(dict.fromkeys(n for n in names if n))
        self.name = self.names[0]
        self.tasks = tuple(model.tasks) or STANDARD_TASKS
        self.created = int(time.time())
        self._mapped: set[str] = set()  # unlisted ids already logged once
        self.scheduler = Scheduler(model, window_ms=settings.batch_window_ms, batch_tokens=settings.max_batch_tokens,
                               batch_size=settings.batch_size, max_queue=settings.max_queue,
                               cache_limit_bytes=settings.cache_limit_bytes)

    def model_ids(self) -> list[str]:
        """The served id, and one id per task when the model has adapters to choose from."""
        return [self.name] + [f"{self.name}-{t}" for t in self.model.tasks]

    # --- checking a request ---------------------------------------------------------------------
    def resolve(self, model_id: str | None, task: str | None) -> tuple[str | None, str]:
        """(task, served id) for a request's model id and task field.

        Listed ids keep their meaning. Any other id is served by the one loaded model, as TEI and
        llama-server do, because clients often send a fixed name (`text-embedding-3-small`, `default`, a
        repo id): a known task suffix still picks the adapter, else the default task. The served id says
        what really answered. `strict_model` turns unlisted ids back into 404s.
        """
        suffix = None
        listed = model_id is None or model_id in self.names
        if not listed:
            suffix = next((t for n in self.names for t in self.tasks if model_id == f"{n}-{t}"), None)
            listed = suffix is not None
            if not listed and self.settings.strict_model:
                raise ApiError(404, f"The model {model_id!r} is not served here. Use {self.name!r}, or "
                                    f"{self.name!r} with a task suffix ({', '.join('-' + t for t in self.tasks)}); "
                                    "GET /v1/models lists them. (The server was started with --strict-model; "
                                    "without it any model id is served by this model.)", "model_not_found", "model")
            if not listed:
                suffix = next((t for t in sorted(self.tasks, key=len, reverse=True) if model_id.endswith(f"-{t}")),
                              None)
        if task is not None and suffix is not None and task != suffix:
            raise ApiError(400, f"task={task!r} contradicts the model suffix {suffix!r}; give one of them.",
                           "conflicting_task", "task")
        try:
            resolved = self.model.resolve_task(task or suffix)
        except InvalidArgumentError as exc:
            raise ApiError(400, str(exc), "invalid_task", "task") from None
        if listed:
            return resolved, model_id or self.name
        served = f"{self.name}-{resolved}" if self.model.tasks and resolved else self.name
        if model_id not in self._mapped and len(self._mapped) < 1000:
            self._mapped.add(model_id)
            log.info("model id %r is not listed; served by %s", model_id, served)
        return resolved, served

    def check_dimensions(self, dimensions: int | None) -> int | None:
        if dimensions is not None and not 1 <= dimensions <= self.model.dim:
            raise ApiError(400, f"dimensions={dimensions} is out of range: use 1..{self.model.dim} (this model's "
                                "dimension), or leave it out.", "invalid_dimensions", "dimensions")
        return dimensions

    def prompt_prefix(self, prompt_name: str | None) -> str:
        try:
            return self.model.resolve_prompt(prompt_name, None)
        except InvalidArgumentError as exc:
            raise ApiError(400, str(exc), "invalid_prompt_name", "prompt_name") from None

    def check_inputs(self, value: object, param: str) -> tuple[list[str] | None, list[list[int]] | None]:
        """(texts, None) or (None, token id lists), within the request limits."""
        single = isinstance(value, str)
        if single:
            value = [value]
        if not value:
            raise ApiError(400, f"'{param}' is empty: send at least one text.", "empty_input", param)
        if isinstance(value[0], int):  # one token array
            value = [value]
        if len(value) > self.settings.max_inputs:
            raise ApiError(400, f"'{param}' has {len(value)} items; at most {self.settings.max_inputs} per request. "
                                "Split it into several requests.", "too_many_inputs", param)
        if isinstance(value[0], str):
            for i, text in enumerate(value):
                where = param if single else f"{param}[{i}]"
                if not text:
                    raise ApiError(400, f"'{where}' is an empty string.", "empty_input", param)
                bad = _unencodable(text)
                if bad is not None:
                    raise ApiError(400, f"'{where}' holds U+{ord(bad):04X} at character {text.index(bad)}, which is not "
                                        "text (an unpaired UTF-16 surrogate). Send valid Unicode.", "invalid_text", param)
                if len(text) > self.settings.max_input_chars:
                    raise ApiError(400, f"'{where}' has {len(text)} characters; at most "
                                        f"{self.settings.max_input_chars} per input. Chunk the text first.",
                                   "input_too_long", param)
            return list(value), None
        if not self.settings.accept_token_ids:
            raise ApiError(400, f"'{param}' holds token ids, which this server does not accept: ids of another "
                                "tokenizer (tiktoken's, which LangChain's OpenAIEmbeddings sends unless "
                                "check_embedding_ctx_length=False) would give wrong vectors. Send text, or start "
                                "the server with --accept-token-ids to send this model's own token ids.",
                           "token_ids_not_accepted", param)
        vocab = self.model.tokenizer.vocab_size
        for i, ids in enumerate(value):
            if not ids:
                raise ApiError(400, f"'{param}[{i}]' is an empty token array.", "empty_input", param)
            if len(ids) > self.settings.max_input_chars:
                raise ApiError(400, f"'{param}[{i}]' has {len(ids)} tokens; at most {self.settings.max_input_chars}.",
                               "input_too_long", param)
            if min(ids) < 0 or max(ids) >= vocab:
                raise ApiError(400, f"'{param}[{i}]' has a token id outside this model's vocabulary (0..{vocab - 1}).",
                               "invalid_token_id", param)
        return None, [list(ids) for ids in value]

    # --- tokens and vectors ---------------------------------------------------------------------
    def tokenize(self, texts: list[str] | None, tokens: list[list[int]] | None, prefix: str, truncate: bool,
                 param: str, too_long_status: int = 400) -> list[list[int]]:
        """Token ids as `model.encode` makes them (prompt prefix, lower-casing, special tokens)."""
        limit = self.model.max_length
        if texts is not None:
            try:
                ids = self.model.tokenize(texts, prefix, limit if truncate else None)
            except Exception as exc:  # noqa: BLE001  (input the tokenizer cannot take is the client's to fix)
                raise ApiError(400, f"'{param}' could not be tokenised ({type(exc).__name__}: {str(exc)[:120]}). "
                                    "Send plain text.", "invalid_text", param) from None
        else:
            ids = tokens or []
            if truncate:
                ids = [seq[:limit] for seq in ids]
        if not truncate:
            for i, seq in enumerate(ids):
                if len(seq) > limit:
                    raise ApiError(too_long_status, f"'{param}[{i}]' is {len(seq)} tokens long; this model reads at "
                                                    f"most {limit}. Send shorter inputs or truncate=true.",
                                   "context_length_exceeded", param)
        total = sum(len(seq) for seq in ids)
        if total > self.settings.max_request_tokens:
            raise ApiError(413, f"'{param}' holds {total} tokens; at most {self.settings.max_request_tokens} per "
                                "request (--max-request-tokens). Split it into several requests.",
                           "request_too_many_tokens", param)
        return ids

    async def run(self, inputs: object, param: str, *, model_id: str | None = None, task: str | None = None,
                  dimensions: int | None = None, prompt_name: str | None = None, truncate: bool = True,
                  normalize: bool = True, too_long_status: int = 400) -> tuple[np.ndarray, int, str]:
        """Check a request, tokenise it, embed it with the batch it joins: (vectors, tokens used, served id)."""
        self.scheduler.announce()  # so the worker waits for this request while it is tokenised
        submitted = False
        try:
            task, served = self.resolve(model_id, task)
            dimensions = self.check_dimensions(dimensions)
            prefix = self.prompt_prefix(prompt_name)
            texts, tokens = self.check_inputs(inputs, param)
            ids = await run_in_threadpool(self.tokenize, texts, tokens, prefix, truncate, param, too_long_status)
            submitted = True
            vectors = await self.scheduler.embed(ids, task, announced=True)
        except QueueFullError:
            raise ApiError(429, f"The server is busy ({self.scheduler.max_queue} requests queued); retry shortly.",
                           "queue_full", headers={"Retry-After": "1"}) from None
        except SchedulerClosedError:
            raise ApiError(503, "The server is shutting down.", "unavailable") from None
        finally:
            if not submitted:
                self.scheduler.withdraw()
        return finish(vectors, dimensions, normalize), sum(len(s) for s in ids), served


def _unencodable(text: str) -> str | None:
    """The first character UTF-8 cannot encode (a lone surrogate from JSON's \\ud800), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return text[exc.start]
    return None

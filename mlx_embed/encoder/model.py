"""EmbeddingModel: the sentence-transformers-style `encode` on top of an MLX network."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from .. import _blas
from ..errors import InvalidArgumentError
from ..models import kernels
from . import lora
from . import quantized_checkpoint as checkpoint
from .batching import DEFAULT_BATCH_TOKENS, iter_progress, pad, plan_batches
from .facts import STANDARD_TASKS, Profile
from .pooling import pool
from .precision import check_precision, check_truncate_dim, finish, quantize_embeddings
from .tokenizer import Tokenizer

CACHE_LIMIT_BYTES = 1 << 30


class EmbeddingModel:
    """A loaded embedding model. Thread-safe: calls to `encode` run one at a time."""

    def __init__(self, *, network: nn.Module, tokenizer: Tokenizer, profile: Profile, path: Path,
                 config: dict[str, Any], tasks: tuple[str, ...], lora_layers: list, dtype: mx.Dtype,
                 quantize: int | None, pooling: str | None = None):
        self.network = network
        self.tokenizer = tokenizer
        self.profile = profile
        self.path = path
        self.config = config
        self.tasks = tasks
        self.dtype = dtype
        self.quantize = quantize
        self.pooling = pooling or profile.pooling
        self._lora_layers = lora_layers
        self._active_task: str | None = None
        self._lock = threading.RLock()

    # --- what the model is -------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def dim(self) -> int:
        return self.network.dim

    @property
    def max_length(self) -> int:
        return self.profile.max_length

    @property
    def prompts(self) -> dict[str, str]:
        return dict(self.profile.prompts)

    @property
    def default_prompt_name(self) -> str | None:
        return self.profile.default_prompt_name

    @property
    def default_task(self) -> str | None:
        if not self.tasks:
            return None
        return "retrieval" if "retrieval" in self.tasks else self.tasks[0]

    def memory_bytes(self) -> dict[str, int]:
        base = sum(v.nbytes for _, v in nn.utils.tree_flatten(self.network.parameters()))
        adapters = sum(a.nbytes + b.nbytes for layer in self._lora_layers for a, b in layer.deltas.values())
        return {"base": base, "adapters": adapters, "total": base + adapters}

    def describe(self) -> dict[str, Any]:
        """Facts for `mlx-embed info` and the app's model manager."""
        return {
            "name": self.name, "path": str(self.path), "kind": self.profile.kind,
            "architecture": (self.config.get("architectures") or [self.config.get("model_type")])[0],
            "model_type": self.config.get("model_type"), "backbone": type(self.network).__module__.rsplit(".", 1)[-1],
            "dim": self.dim, "layers": len(self.network.layers),
            "max_length": self.max_length, "pooling": self.pooling,
            "normalize_module": self.profile.normalize_module,
            "tasks": list(self.tasks), "default_task": self.default_task, "merged_task": self.profile.merged_task,
            "prompts": self.prompts, "default_prompt_name": self.default_prompt_name,
            "dtype": str(self.dtype).removeprefix("mlx.core."), "quantize": self.quantize,
            "quantization": checkpoint.describe(self.network, checkpoint.nominal_bits(self.config)),
            "device": str(mx.default_device()), "blas": _blas.describe(),
            "cpu_math": "loops" if kernels.cpu_loops() else "mlx", "memory_bytes": self.memory_bytes(),
        }

    # --- encoding ------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load now what the first large encode would (the x86 CPU path's compiled loops, ~0.6 s once
        per process), so a long-running app or server never makes a user's query wait for it."""
        kernels.load_loops()

    def encode(self, sentences: str | Sequence[str], task: str | None = None, prompt_name: str | None = None,
               prompt: str | None = None, truncate_dim: int | None = None, normalize_embeddings: bool = True,
               precision: str = "float32", batch_size: int = 64, max_length: int | None = None,
               show_progress_bar: bool = False, max_batch_tokens: int = DEFAULT_BATCH_TOKENS) -> np.ndarray:
        """Embed texts. A single string gives shape (d,), a list (n, d).

        task: which adapter (model.tasks); prompt_name: a key of model.prompts, else the model's default
        prompt; prompt: a literal prefix that overrides both. truncate_dim: Matryoshka dimension (the
        vector is renormalised). precision: float32, int8, uint8, binary or ubinary.
        """
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidArgumentError(f"Input {i} is a {type(text).__name__}, not a string.")
        task = self.resolve_task(task)
        prefix = self.resolve_prompt(prompt_name, prompt)
        check_truncate_dim(truncate_dim, self.dim)
        check_precision(precision)
        if batch_size < 1 or max_batch_tokens < 1:
            raise InvalidArgumentError("batch_size and max_batch_tokens must be positive.")
        limit = min(max_length or self.max_length, self.max_length)
        ids = self.tokenize(texts, prefix, limit)
        vectors = self.embed_token_ids(ids, task, batch_size, max_batch_tokens, show_progress_bar)
        out = quantize_embeddings(finish(vectors, truncate_dim, normalize_embeddings), precision)
        return out[0] if single else out

    def encode_query(self, sentences: str | Sequence[str], **kwargs: Any) -> np.ndarray:
        """`encode` with the model's query prompt, if it has one (as sentence-transformers does)."""
        kwargs.setdefault("prompt_name", "query" if "query" in self.profile.prompts else None)
        if kwargs["prompt_name"] is None:
            kwargs.setdefault("prompt", "")
        return self.encode(sentences, **kwargs)

    def encode_document(self, sentences: str | Sequence[str], **kwargs: Any) -> np.ndarray:
        """`encode` with the model's document prompt, if it has one."""
        kwargs.setdefault("prompt_name", "document" if "document" in self.profile.prompts else None)
        if kwargs["prompt_name"] is None:
            kwargs.setdefault("prompt", "")
        return self.encode(sentences, **kwargs)

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity matrix between two sets of vectors."""
        a = np.atleast_2d(np.asarray(a, dtype=np.float32))
        b = np.atleast_2d(np.asarray(b, dtype=np.float32))
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        return a @ b.T

    def resolve_task(self, task: str | None) -> str | None:
        """The adapter to use. Models without adapters serve every standard task with one set of weights."""
        if task is None:
            return self.default_task
        if self.tasks:
            if task not in self.tasks:
                raise InvalidArgumentError(f"Unknown task {task!r}; this model's tasks are: {', '.join(self.tasks)}.")
            return task
        if task not in STANDARD_TASKS:
            raise InvalidArgumentError(f"Unknown task {task!r}; use one of: {', '.join(STANDARD_TASKS)}.")
        return None

    def resolve_prompt(self, prompt_name: str | None, prompt: str | None) -> str:
        if prompt is not None:
            return prompt
        name = prompt_name if prompt_name is not None else self.profile.default_prompt_name
        if name is None:
            return ""
        if name not in self.profile.prompts:
            valid = ", ".join(self.profile.prompts) or "none (this model has no prompts)"
            raise InvalidArgumentError(f"Unknown prompt_name {name!r}; valid prompt names: {valid}.")
        return self.profile.prompts[name]

    def tokenize(self, texts: Sequence[str], prefix: str = "", max_length: int | None = None) -> list[list[int]]:
        """Token ids exactly as `encode` makes them: prompt prefix, lower-casing where the model's
        sentence_bert_config.json asks for it, the tokenizer's special tokens, truncation (None: none)."""
        if not texts:
            return []
        inputs = [prefix + t for t in texts]
        if self.profile.lowercase:
            inputs = [t.lower() for t in inputs]
        return self.tokenizer.encode(inputs, max_length)

    def embed_token_ids(self, ids: Sequence[Sequence[int]], task: str | None = None, batch_size: int = 64,
                        max_batch_tokens: int = DEFAULT_BATCH_TOKENS, show_progress_bar: bool = False,
                        ) -> np.ndarray:
        """Pooled float32 vectors (not normalised) for already tokenised inputs, in input order."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        if not len(ids):
            return out
        batches = plan_batches([len(s) for s in ids], max_batch_tokens, batch_size)
        with self._lock, kernels.workload(sum(len(s) for s in ids)):
            self.set_task(task)
            for batch in iter_progress(batches, len(batches), show_progress_bar, "Embedding"):
                tokens, lengths = pad([ids[i] for i in batch])
                lengths_mx = mx.array(lengths)
                hidden = self.network(mx.array(tokens), lengths_mx)
                out[batch] = np.array(pool(hidden, lengths_mx, self.pooling))
            if mx.get_cache_memory() > CACHE_LIMIT_BYTES:
                mx.clear_cache()
        return out

    def set_task(self, task: str | None) -> None:
        """Switch the active adapter (microseconds: no weight is copied or reloaded)."""
        with self._lock:
            if task != self._active_task:
                lora.activate(self._lora_layers, task)
                self._active_task = task

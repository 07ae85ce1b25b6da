"""The ASGI app: OpenAI's /v1/embeddings and /v1/models, TEI's /embed and /info, /health, /openapi.json."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from .errors import error_body, install_handlers
from .runner import is_loopback
from .schemas import (EmbeddingRequest, EmbeddingResponse, EmbedRequest, ErrorResponse, Health, ModelCard,
                      ModelList)
from .service import EmbeddingService, ServerSettings

if TYPE_CHECKING:
    from ..encoder.model import EmbeddingModel

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text} for status, text in {
        400: "Bad request (malformed JSON, wrong types, empty or too many inputs, bad dimensions/task)",
        401: "Missing or wrong API key", 404: "Unknown model (only with --strict-model)", 408: "Request body not received in time",
        413: "Request body, its token count (--max-request-tokens) or, on /embed, an input too large",
        429: "Queue full: retry later", 503: "Shutting down"}.items()}
OPEN_PATHS = ("/health",)
LARGE_OUTPUT = 200_000  # floats; bigger responses are serialised off the event loop


class JSONBytes(Response):
    media_type = "application/json"


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


class RequestGuard:
    """Before any route: Host header (DNS rebinding), API key, body size. The body is read here, bounded."""

    def __init__(self, app: ASGIApp, settings: ServerSettings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.settings.loopback_hosts_only and not is_loopback(_host(headers.get("host", ""))):
            return await _reject(send, 400, "This server only answers requests addressed to localhost (Host header "
                                            f"{headers.get('host', '')!r}).", "invalid_host")
        key = self.settings.api_key
        if key and scope["path"] not in OPEN_PATHS:
            given = headers.get("authorization", "")
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
                return await _reject(send, 401, "Missing or wrong API key: send 'Authorization: Bearer <key>'.",
                                     "invalid_api_key", {"www-authenticate": "Bearer"})
        limit = self.settings.max_request_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return await _reject(send, 413, f"The request body is {int(declared)} bytes; at most {limit} are accepted. "
                                            "Send fewer or shorter inputs per request.", "request_too_large")
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        chunks, size = [], 0
        while True:
            try:   # a client that stops sending mid-body must not hold a connection (and its memory) forever
                message = await asyncio.wait_for(receive(), self.settings.read_timeout_s)
            except asyncio.TimeoutError:
                return await _reject(send, 408, f"The request body did not arrive within {self.settings.read_timeout_s:g} "
                                                "s; send it whole.", "request_timeout", {"connection": "close"})
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await _reject(send, 413, f"The request body is over {limit} bytes. Send fewer or shorter "
                                                "inputs per request.", "request_too_large")
            if not message.get("more_body", False):
                break
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _host(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


async def _reject(send: Send, status: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
    body = _dumps(error_body(status, message, code))
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    if status == 413:
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def create_app(model: "EmbeddingModel", settings: ServerSettings | None = None) -> FastAPI:
    settings = settings or ServerSettings()
    service = EmbeddingService(model, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.scheduler.start()
        yield
        service.scheduler.close()

    app = FastAPI(title="mlx-embed", version=__version__, lifespan=lifespan, strict_content_type=False,
                  description="Local embeddings on MLX: OpenAI-compatible `/v1/embeddings`, Text Embeddings "
                              "Inference's `/embed`. The task adapter is chosen by a model-name suffix "
                              "(`<model>-retrieval`, `-text-matching`, `-clustering`, `-classification`) or `task`.")
    app.state.service = service
    install_handlers(app)
    app.add_middleware(RequestGuard, settings=settings)

    async def respond(payload: Any, floats: int) -> Response:
        body = await run_in_threadpool(_dumps, payload) if floats > LARGE_OUTPUT else _dumps(payload)
        return JSONBytes(body)

    @app.post("/v1/embeddings", response_model=EmbeddingResponse, responses=ERRORS, tags=["OpenAI"],
              summary="Create embeddings (OpenAI)")
    async def create_embeddings(req: EmbeddingRequest) -> Response:
        vectors, used, served = await service.run(req.input, "input", model_id=req.model, task=req.task,
                                          dimensions=req.dimensions, prompt_name=req.prompt_name,
                                          truncate=req.truncate is not False)
        if req.encoding_format == "base64":
            encoded = [base64.b64encode(v.astype("<f4").tobytes()).decode("ascii") for v in vectors]
        else:
            encoded = vectors.tolist()
        payload = {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": e}
                                              for i, e in enumerate(encoded)],
                   "model": served, "usage": {"prompt_tokens": used, "total_tokens": used}}
        return await respond(payload, vectors.size if req.encoding_format != "base64" else 0)

    app.add_api_route("/embeddings", create_embeddings, methods=["POST"], include_in_schema=False)

    @app.get("/v1/models", response_model=ModelList, tags=["OpenAI"], summary="List the served model ids")
    async def list_models() -> dict:
        return {"object": "list", "data": [{"id": m, "object": "model", "created": service.created,
                                            "owned_by": "mlx-embed"} for m in service.model_ids()]}

    @app.get("/v1/models/{model_id:path}", response_model=ModelCard, responses=ERRORS, tags=["OpenAI"])
    async def get_model(model_id: str) -> dict:
        _, served = service.resolve(model_id, None)  # 404 if unknown and --strict-model
        return {"id": served, "object": "model", "created": service.created, "owned_by": "mlx-embed"}

    @app.post("/embed", response_model=list[list[float]], responses=ERRORS, tags=["TEI"],
              summary="Embed (Text Embeddings Inference)")
    async def embed(req: EmbedRequest) -> Response:
        vectors, _, _ = await service.run(req.inputs, "inputs", task=req.task, dimensions=req.dimensions,
                                       prompt_name=req.prompt_name, truncate=bool(req.truncate),
                                       normalize=req.normalize is not False,
                                       too_long_status=413)
        return await respond(vectors.tolist(), vectors.size)

    @app.get("/info", tags=["TEI"], summary="What is served (TEI's /info)")
    async def info() -> dict:
        return {"model_id": service.name, "model_dtype": str(model.dtype).removeprefix("mlx.core."),
                "model_type": {"embedding": {"pooling": model.pooling}}, "dim": model.dim,
                "tasks": list(model.tasks), "prompts": model.prompts, "max_input_length": model.max_length,
                "max_batch_tokens": settings.max_batch_tokens, "max_client_batch_size": settings.max_inputs,
                "max_concurrent_requests": settings.max_queue, "version": __version__}

    @app.get("/health", response_model=Health, responses={503: {"model": Health}}, summary="Liveness")
    async def health() -> Response:
        ok = service.scheduler.alive
        body = {"status": "ok" if ok else "unavailable", "model": service.name, "queue": service.scheduler.pending}
        return JSONBytes(_dumps(body), status_code=200 if ok else 503)

    return app

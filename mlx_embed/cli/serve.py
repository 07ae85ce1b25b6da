"""`mlx-embed serve`: an OpenAI-compatible (and TEI-compatible) embedding server on this machine."""

from __future__ import annotations

import argparse
import os

from . import add_model_argument, error


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve embeddings over HTTP (OpenAI /v1/embeddings, TEI /embed)",
                       description="Serve a model over HTTP on 127.0.0.1: OpenAI's POST /v1/embeddings and "
                                   "GET /v1/models, Text Embeddings Inference's POST /embed, GET /health and "
                                   "the OpenAPI schema at /openapi.json. Pick the task with a model-name suffix "
                                   "(<model>-retrieval, -text-matching, -clustering, -classification).")
    add_model_argument(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default %(default)s; a non-loopback one needs --allow-remote "
                        "and an API key)")
    p.add_argument("--port", type=int, default=8080, help="port (default %(default)s; 0 picks a free one)")
    p.add_argument("--api-key", default=os.environ.get("MLX_EMBED_API_KEY") or None,
                   help="require 'Authorization: Bearer KEY' on every endpoint but /health (env MLX_EMBED_API_KEY)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a --host that other machines can reach (requires an API key)")
    p.add_argument("--served-model-name", default=None, help="model id clients use (default: the model's name)")
    p.add_argument("--strict-model", action="store_true",
                   help="answer 404 to model ids not listed by GET /v1/models (default: the loaded model serves "
                        "any id, as TEI and llama-server do; a task suffix still picks the adapter)")
    p.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"])
    p.add_argument("--max-batch-tokens", type=int, default=8192, help="token budget of one batch (default %(default)s)")
    p.add_argument("--batch-window-ms", type=float, default=2.0,
                   help="the longest a batch waits for concurrent requests still being parsed, to take them "
                        "along (a lone client never waits; default %(default)s)")
    p.add_argument("--max-queue", type=int, default=256,
                   help="requests waiting for the model before new ones get 429 (default %(default)s)")
    p.add_argument("--accept-token-ids", action="store_true",
                   help="accept token-id input (this model's own ids; off by default because clients such as "
                        "LangChain send tiktoken ids, which would give wrong vectors)")
    p.add_argument("--max-inputs", type=int, default=2048, help="inputs per request (default %(default)s)")
    p.add_argument("--max-request-mb", type=float, default=16.0, help="request body limit in MiB (default %(default)s)")
    p.add_argument("--max-request-tokens", type=int, default=300_000,
                   help="tokens one request may hold after truncation; more get 413 (default %(default)s)")
    p.add_argument("--read-timeout", type=float, default=30.0,
                   help="seconds a request body may take to arrive before 408 (default %(default)s)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--no-access-log", action="store_true", help="do not log every request")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from ..server import ServerSettings, check_bind, create_app, serve
    except ImportError as exc:
        error(f"the server needs FastAPI and uvicorn ({exc.name} is missing): pip install 'mlx-embed[serve]'")
        return 1
    for name in ("port", "max_batch_tokens", "max_queue", "max_inputs", "max_request_tokens"):
        value = getattr(args, name)
        if value < (0 if name == "port" else 1) or (name == "port" and value > 65535):
            error(f"--{name.replace('_', '-')} {value} is out of range")
            return 2
    if args.batch_window_ms < 0 or args.max_request_mb <= 0 or args.read_timeout <= 0:
        error("--batch-window-ms must be >= 0, --max-request-mb and --read-timeout > 0")
        return 2
    check_bind(args.host, args.api_key, args.allow_remote)  # before the model loads
    from .. import load

    from . import resolve_model

    model = load(resolve_model(args.model), dtype=args.dtype)
    model.warm_up()  # before the first request, not during it
    settings = ServerSettings(
        served_name=args.served_model_name, strict_model=args.strict_model, api_key=args.api_key, accept_token_ids=args.accept_token_ids,
        max_inputs=args.max_inputs, max_request_bytes=int(args.max_request_mb * 2**20), max_queue=args.max_queue,
        batch_window_ms=args.batch_window_ms, max_batch_tokens=args.max_batch_tokens,
        max_request_tokens=args.max_request_tokens, read_timeout_s=args.read_timeout)
    serve(create_app(model, settings), args.host, args.port, allow_remote=args.allow_remote,
          log_level=args.log_level, access_log=not args.no_access_log)
    return 0

"""`mlx-embed serve`: a local embedding server that speaks OpenAI's and Text Embeddings Inference's APIs.

    from mlx_embed.server import ServerSettings, create_app, serve
    serve(create_app(mlx_embed.load(path), ServerSettings(api_key=None)), "127.0.0.1", 8080)

Needs the `serve` extra (FastAPI + uvicorn): `pip install 'mlx-embed[serve]'`.

- app.py: the ASGI app: OpenAI's /v1/embeddings and /v1/models, TEI's /embed and /info, /health
- service.py: what the endpoints share: limits, model names and task suffixes, inputs to token ids
- scheduler.py: the request scheduler: concurrent requests batched onto one model worker thread
- schemas.py: request and response bodies; errors.py: every error in OpenAI's shape
- runner.py: binding (loopback unless asked) and running; loadtest.py: a bounded load generator
"""

from .app import create_app
from .runner import BackgroundServer, bind_socket, check_bind, is_loopback, serve
from .scheduler import QueueFullError, Scheduler, SchedulerClosedError
from .service import EmbeddingService, ServerSettings

__all__ = ["create_app", "serve", "ServerSettings", "BackgroundServer", "Scheduler", "EmbeddingService",
           "QueueFullError", "SchedulerClosedError", "check_bind", "is_loopback", "bind_socket"]

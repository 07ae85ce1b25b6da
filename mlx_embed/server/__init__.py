"""`mlx-embed serve`: a local embedding server that speaks OpenAI's and Text Embeddings Inference's APIs.

    from mlx_embed.server import ServerSettings, create_app, serve
    serve(create_app(mlx_embed.load(path), ServerSettings(api_key=None)), "127.0.0.1", 8080)

Needs the `serve` extra (FastAPI + uvicorn): `pip install 'mlx-embed[serve]'`.
"""

from .app import create_app
from .batcher import Batcher, BatcherClosedError, QueueFullError
from .runner import BackgroundServer, bind_socket, check_bind, is_loopback, serve
from .service import EmbeddingService, ServerSettings

__all__ = ["create_app", "serve", "ServerSettings", "BackgroundServer", "Batcher", "EmbeddingService",
           "QueueFullError", "BatcherClosedError", "check_bind", "is_loopback", "bind_socket"]

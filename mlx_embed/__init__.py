"""mlx-embed: on-device embeddings (jina-embeddings-v5 and friends) in pure MLX."""

from ._blas import ensure_fast_blas

ensure_fast_blas()  # must run before mlx.core is imported anywhere

from .encoder.model import EmbeddingModel  # noqa: E402
from .errors import (  # noqa: E402
    AdapterError,
    InvalidArgumentError,
    MlxEmbedError,
    ModelFormatError,
    ModelNotFoundError,
)
from .encoder.loading import load  # noqa: E402

__version__ = "0.1.0"
__all__ = ["load", "EmbeddingModel", "MlxEmbedError", "ModelNotFoundError", "ModelFormatError",
           "AdapterError", "InvalidArgumentError", "__version__"]

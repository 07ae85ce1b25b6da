"""mlx-embed: on-device embeddings (jina-embeddings-v5 and friends) in pure MLX.

- encoder/: from model files to vectors: `load()`, `EmbeddingModel`, shared facts, LoRA, tokenizer, GGUF
- models/: one module per architecture (Qwen3, BERT, EuroBERT) and their shared layers and CPU kernels
- quant/: MLX quantized checkpoints, quantization recipes, GPTQ, clip search, `convert`
- index/: the local index and search engine; organize/: clusters, duplicates, labels, file actions
- server/: the OpenAI/TEI-compatible embedding server; cli/: the `mlx-embed` command, one module per verb
- errors.py: the error types a user can act on; _blas.py: picks a fast CPU BLAS before MLX loads
"""

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

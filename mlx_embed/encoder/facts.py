"""What every part of the encoder shares: tasks, prompt tables, dtypes, device policy, the default
model, `Profile` (how a model folder says it is used) and `read_json`. Imports nothing above it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlx.core as mx

from ..errors import ModelFormatError

DEFAULT_MODEL = "jinaai/jina-embeddings-v5-text-small"
STANDARD_TASKS = ("retrieval", "text-matching", "clustering", "classification")
JINA_V5_PROMPTS = {"query": "Query: ", "document": "Document: "}
QWEN3_EMBEDDING_PROMPTS = {
    "query": "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:",
    "document": "",
}
DTYPES = {"float32": mx.float32, "float16": mx.float16, "bfloat16": mx.bfloat16}


@dataclass
class Profile:
    """What a model folder says about how to use it (not its weights)."""

    name: str
    kind: str  # "jina-v5" (adapters), "jina-v5-merged", "qwen3-embedding", ...
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    pooling: str = "lasttoken"
    max_length: int = 32768
    merged_task: str | None = None
    normalize_module: bool = False  # the sentence-transformers pipeline ends in Normalize (modules.json)
    lowercase: bool = False  # sentence_bert_config.json do_lower_case: texts are lower-cased first


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFormatError(f"{path} is missing. Is {path.parent} a model folder?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"{path} is not valid JSON ({exc}). Re-download the model.") from exc
    if not isinstance(data, dict):
        raise ModelFormatError(f"{path} should hold a JSON object.")
    return data


def on_gpu() -> bool:
    """Whether MLX computes on a GPU: Metal on Apple Silicon or CUDA on Linux, any device index."""
    return mx.default_device().type == mx.DeviceType.gpu


def default_dtype() -> mx.Dtype:
    # Half precision pays on any GPU (half the memory traffic, tensor-core matmuls, cuDNN's fused
    # attention is half-only); on the CPU bf16/fp16 matmuls are 10-50x slower than fp32.
    return mx.bfloat16 if on_gpu() else mx.float32

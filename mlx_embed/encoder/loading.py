"""`load()`: from a folder, repo id or .gguf file to a ready EmbeddingModel. The one place that builds
an EmbeddingModel and quantizes weights on load.

Everything the model is comes from its files: config.json for the architecture,
config_sentence_transformers.json (and the sentence-transformers module files) for prompts and
pooling, adapters/<task>/ for the LoRA adapters. No code from the model folder is ever run.
"""

from __future__ import annotations

import os

import mlx.core as mx
import mlx.nn as nn

from ..errors import InvalidArgumentError, ModelFormatError
from ..models.base import widen_tables
from . import lora
from .facts import DTYPES, default_dtype, read_json
from .gguf_qwen3 import read_qwen3_gguf
from .hub import resolve_model_path
from .model import EmbeddingModel
from .profile import read_profile
from .quantized_checkpoint import quantize_on_load
from .tokenizer import Tokenizer
from .weights import build_network

LOAD_GROUP_SIZE = 64  # group size of `load(quantize=...)`


def quantize_weights(network: nn.Module, bits: int) -> None:
    """MLX affine quantization (group 64) of every linear and embedding layer the group size divides,
    from float32 table rows like every other weight: what `load(quantize=bits)` does."""
    widen_tables(network)
    nn.quantize(network, group_size=LOAD_GROUP_SIZE, bits=bits,
                class_predicate=lambda _, m: isinstance(m, (nn.Linear, nn.Embedding))
                and m.weight.shape[-1] % LOAD_GROUP_SIZE == 0)


def load(name_or_path: str | os.PathLike, dtype: str | None = None, quantize: int | None = None,
         download: bool = True) -> EmbeddingModel:
    """Load an embedding model from a local folder or a Hugging Face repo id.

    dtype: "float32", "float16" or "bfloat16"; default float32 on the CPU, bfloat16 on a GPU (Metal, CUDA).
    quantize: 4 or 8 for MLX group quantization of the base weights, on any device; it pays on a GPU
    (Metal or CUDA quantized matmuls), while on the CPU it is slower than float32.
    """
    if dtype is not None and dtype not in DTYPES:
        raise InvalidArgumentError(f"dtype={dtype!r} is not supported; use one of {', '.join(DTYPES)}.")
    if quantize not in (None, 4, 8):
        raise InvalidArgumentError(f"quantize={quantize!r} is not supported; use 4, 8 or None.")
    folder = resolve_model_path(name_or_path, download=download)
    mx_dtype = DTYPES[dtype] if dtype else default_dtype()
    if folder.is_file() and folder.suffix.lower() == ".gguf":  # llama.cpp's single-file format
        network, config, tokenizer, profile = read_qwen3_gguf(folder, mx_dtype)
        if quantize_on_load(config, quantize, folder):
            quantize_weights(network, quantize)
        adapters, wrappers = {}, []
    elif folder.is_file():
        raise ModelFormatError(f"{folder} is a file; pass the model's folder (or a .gguf file).")
    else:
        config = read_json(folder / "config.json")
        network = build_network(folder, config, mx_dtype)
        if quantize_on_load(config, quantize, folder):
            quantize_weights(network, quantize)
        adapters = lora.read_adapters(folder, config, mx_dtype)
        wrappers = lora.attach_adapters(network, adapters) if adapters else []
        tokenizer = Tokenizer.from_file(folder / "tokenizer.json")
        profile = read_profile(folder, config)
    # Materialise the lazy weights here: an unevaluated array belongs to this thread's stream, and a
    # worker thread (server, app) that evaluated it first would fail with "no Stream(cpu, 0) in thread".
    mx.eval(network.parameters(), [d for w in wrappers for d in w.deltas.values()])
    return EmbeddingModel(network=network, tokenizer=tokenizer, profile=profile, path=folder, config=config,
                          tasks=tuple(adapters), lora_layers=wrappers, dtype=mx_dtype, quantize=quantize)

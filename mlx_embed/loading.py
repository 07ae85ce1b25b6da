"""`load()`: from a folder or repo id to a ready EmbeddingModel.

Everything the model is comes from its files: config.json for the architecture,
config_sentence_transformers.json (and the sentence-transformers module files) for prompts and
pooling, adapters/<task>/ for the LoRA adapters. No code from the model folder is ever run.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from . import adapters as lora
from . import quantized
from .embedder import EmbeddingModel
from .errors import InvalidArgumentError, ModelFormatError
from .hub import resolve_model_path
from .models import architecture_for
from .models.base import Embedding, widen_tables
from .pooling import POOLING_MODES
from .tokenization import Tokenizer

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


def read_profile(folder: Path, config: dict[str, Any]) -> Profile:
    name = model_name(folder, config)
    st_path = folder / "config_sentence_transformers.json"
    st = read_json(st_path) if st_path.is_file() else {}
    label = f"{folder.name} {name} {config.get('_name_or_path', '')} {_cached_repo_id(folder)}".lower()
    merged = next((t for t in STANDARD_TASKS if re.search(rf"-{t}\b", label)), None)
    merged = (config.get("mlx_embed") or {}).get("merged_task") or merged  # written by `mlx-embed convert`
    backbone = _architecture_or_none(config)
    if config.get("model_type") == "jina_embeddings_v5" or "jina-embeddings-v5" in label or (
            "task_names" in config and (folder / "adapters").is_dir()):
        # text-small (Qwen3) or text-nano (EuroBERT): same prompts, tasks and last-token pooling.
        kind = "jina-v5-nano" if backbone is not None and backbone.__name__.endswith(".eurobert") else "jina-v5"
        prompts, default = JINA_V5_PROMPTS, "document"
        if not (folder / "adapters").is_dir():
            kind += "-merged"
    elif "qwen3-embedding" in label:
        kind, prompts, default = "qwen3-embedding", QWEN3_EMBEDDING_PROMPTS, None
    else:
        kind, prompts, default = config.get("model_type", "unknown"), {}, None
    if "prompts" in st:
        prompts = {str(k): str(v) for k, v in (st["prompts"] or {}).items()}
        default = st.get("default_prompt_name", default if default in prompts else None)
    pooling, normalize_module = read_st_modules(folder)
    if pooling is None:
        # sentence-transformers' own default for a bare transformers model: lasttoken if causal, else mean.
        causal = getattr(backbone, "CAUSAL", True)
        pooling = "lasttoken" if kind.startswith(("jina-v5", "qwen3-embedding")) or causal else "mean"
    max_length = int(config.get("max_position_embeddings", 32768))
    sbert_path = folder / "sentence_bert_config.json"
    sbert = read_json(sbert_path) if sbert_path.is_file() else {}
    if isinstance(sbert.get("max_seq_length"), int) and sbert["max_seq_length"] > 0:
        max_length = min(max_length, sbert["max_seq_length"])
    return Profile(name=name, kind=kind, prompts=dict(prompts), default_prompt_name=default, pooling=pooling,
                   max_length=max_length, merged_task=merged if kind.endswith("-merged") else None,
                   normalize_module=normalize_module, lowercase=bool(sbert.get("do_lower_case", False)))


def _architecture_or_none(config: dict[str, Any]):
    try:
        return architecture_for(config)
    except ModelFormatError:
        return None


def model_name(folder: Path, config: dict[str, Any]) -> str:
    """The name users know a model by: its repo id when it came from the Hugging Face cache; for a
    sentence-transformers folder the id its model card loads (`SentenceTransformer("org/name")`), else
    the card's title, else the folder's name; else _name_or_path or the folder's name. Never the card's
    base model (config's _name_or_path, `base_model:`, "SentenceTransformer based on X"), which names
    the model it was trained from."""
    repo = _cached_repo_id(folder)
    if repo:
        return repo
    if (folder / "modules.json").is_file():
        try:
            card = (folder / "README.md").read_text(encoding="utf-8", errors="replace")
        except OSError:
            card = ""
        loaded = re.findall(r"""SentenceTransformer\(\s*['"]([\w.-]+/[\w.-]+)['"]""", card)
        if loaded:
            return loaded[0]
        title = next((line[2:].strip() for line in card.splitlines() if line.startswith("# ")), "")
        return title if title and " based on " not in title else folder.name
    return str(config.get("_name_or_path") or folder.name)


def _cached_repo_id(folder: Path) -> str:
    """'org/name' for a Hugging Face cache snapshot (.../models--org--name/snapshots/<hash>), else ''."""
    for part in reversed(folder.resolve().parts):
        if part.startswith("models--"):
            return part.removeprefix("models--").replace("--", "/")
    return ""


# sentence-transformers modules that change the output vectors and that mlx-embed does not implement.
# Transformer, Pooling and Normalize are read; custom (non sentence_transformers) modules are a
# model's own wrapper around its transformer and are never run.
_ST_SUPPORTED = ("Transformer", "Pooling", "Normalize")
_ST_POOLING_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
                    "pooling_mode_mean_tokens": "mean", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                    "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}


def read_st_modules(folder: Path) -> tuple[str | None, bool]:
    """(pooling mode or None, whether a Normalize module is present) from modules.json and 1_Pooling/."""
    modules_path = folder / "modules.json"
    pooling_dirs: list[Path] = []
    normalize = False
    if modules_path.is_file():
        try:
            modules = json.loads(modules_path.read_text(encoding="utf-8"))
            entries = [(str(m.get("type", "")), str(m.get("path", ""))) for m in modules]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError, TypeError) as exc:
            raise ModelFormatError(f"{modules_path} is not a valid sentence-transformers module list ({exc}). "
                                   "Re-download the model.") from exc
        for kind, path in entries:
            short = kind.rsplit(".", 1)[-1]
            if not kind.startswith("sentence_transformers."):
                continue  # the model's own module (custom_st.py ...): never run, its config not ours to guess
            if short not in _ST_SUPPORTED:
                raise ModelFormatError(
                    f"{modules_path}: module {kind!r} ({path or 'no folder'}) changes the output vectors and is "
                    f"not supported by mlx-embed (supported modules: {', '.join(_ST_SUPPORTED)}).")
            if short == "Pooling":
                pooling_dirs.append(folder / path)
            normalize |= short == "Normalize"
    elif (folder / "1_Pooling" / "config.json").is_file():
        pooling_dirs.append(folder / "1_Pooling")
    if not pooling_dirs:
        return None, normalize
    if len(pooling_dirs) > 1:
        raise ModelFormatError(f"{modules_path} lists {len(pooling_dirs)} Pooling modules; mlx-embed supports one.")
    return _pooling_mode(read_json(pooling_dirs[0] / "config.json"), pooling_dirs[0] / "config.json"), normalize


def _pooling_mode(config: dict[str, Any], source: Path) -> str:
    modes = config.get("pooling_mode")
    if modes is None:
        modes = [mode for key, mode in _ST_POOLING_KEYS.items() if config.get(key)] or ["mean"]
    modes = [modes] if isinstance(modes, str) else list(modes)
    if len(modes) != 1 or modes[0] not in POOLING_MODES:
        raise ModelFormatError(f"{source}: pooling {'+'.join(map(str, modes))} is not supported by mlx-embed "
                               f"(supported: one of {', '.join(POOLING_MODES)}).")
    if config.get("include_prompt") is False and modes[0] != "lasttoken":
        raise ModelFormatError(f"{source}: include_prompt=false (prompt tokens left out of {modes[0]} pooling) is "
                               "not supported by mlx-embed; refusing to load it rather than give wrong vectors.")
    return modes[0]


def read_weights(folder: Path) -> dict[str, mx.array]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = read_json(index).get("weight_map") or {}
        files = [folder / f for f in sorted(set(weight_map.values()))]
    else:
        files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelFormatError(
            f"{folder} holds no *.safetensors weights (PyTorch .bin pickles are not loaded, for safety). "
            "Download the model's safetensors files.")
    weights: dict[str, mx.array] = {}
    for path in files:
        if not path.is_file():
            raise ModelFormatError(f"{path} is listed in {index.name} but missing. Re-download the model.")
        try:
            weights.update(mx.load(str(path)))
        except Exception as exc:
            raise ModelFormatError(f"{path} could not be read ({exc}); the file is corrupt or truncated. "
                                   "Re-download the model.") from exc
    return weights


def on_gpu() -> bool:
    """Whether MLX computes on a GPU: Metal on Apple Silicon or CUDA on Linux, any device index."""
    return mx.default_device().type == mx.DeviceType.gpu


def default_dtype() -> mx.Dtype:
    # Half precision pays on any GPU (half the memory traffic, tensor-core matmuls, cuDNN's fused
    # attention is half-only); on the CPU bf16/fp16 matmuls are 10-50x slower than fp32.
    return mx.bfloat16 if on_gpu() else mx.float32


def build_network(folder: Path, config: dict[str, Any], dtype: mx.Dtype, weights: dict[str, mx.array] | None = None
                  ) -> nn.Module:
    """The architecture's network with the checkpoint's weights in `dtype`, except embedding tables
    stored in half precision, which stay so in a float32 network (exact; `_half_tables`)."""
    arch = architecture_for(config, str(folder / "config.json"))
    network = arch.Model(arch.ModelArgs.from_config(config))
    weights = arch.sanitize(read_weights(folder) if weights is None else weights)
    quantized.apply(network, config, weights, folder)  # layers stored quantized (MLX format)
    tables = _half_tables(network, weights, dtype)
    weights = {k: v.astype(dtype) if mx.issubdtype(v.dtype, mx.floating) and k not in tables else v
               for k, v in weights.items()}
    expected = dict(_flatten(network.parameters()))
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        detail = (f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}" if missing else "") + \
                 (f" unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}" if unexpected else "")
        raise ModelFormatError(f"The weights in {folder} do not match its config.json: {detail.strip()}. "
                               "Re-download the model, or check that config.json belongs to these weights.")
    for key, value in weights.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ModelFormatError(f"Weight '{key}' in {folder} has shape {tuple(value.shape)} but config.json "
                                   f"implies {tuple(expected[key].shape)}. The checkpoint and config disagree.")
    network.load_weights(list(weights.items()), strict=True)
    for module in tables.values():
        object.__setattr__(module, "rows_dtype", dtype)
    network.eval()
    return network


def _half_tables(network: nn.Module, weights: dict[str, mx.array], dtype: mx.Dtype) -> dict[str, nn.Module]:
    """Embedding tables stored in half precision that a float32 model keeps as stored (weight key ->
    module): their rows are converted when looked up, exactly (see models.base.Embedding)."""
    if dtype != mx.float32:
        return {}
    return {f"{path}.weight": m for path, m in network.named_modules()
            if isinstance(m, Embedding) and weights.get(f"{path}.weight") is not None
            and weights[f"{path}.weight"].dtype in (mx.bfloat16, mx.float16)}


def _flatten(tree: Any, prefix: str = "") -> list[tuple[str, mx.array]]:
    if isinstance(tree, mx.array):
        return [(prefix, tree)]
    items = tree.items() if isinstance(tree, dict) else enumerate(tree)
    out = []
    for key, value in items:
        out += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return out


def read_adapters(folder: Path, config: dict[str, Any], dtype: mx.Dtype) -> dict[str, dict]:
    root = folder / "adapters"
    if not root.is_dir():
        return {}
    declared = list(config.get("task_names") or [])
    present = sorted(p.name for p in root.iterdir() if p.is_dir())
    names = declared or present
    missing = [t for t in names if t not in present]
    if missing:
        raise ModelFormatError(f"config.json lists task(s) {missing} but {root} has no folder for them "
                               f"(found: {present}). Re-download the model.")
    return {task: lora.load_adapter(root / task, dtype) for task in names}


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
    if folder.is_file() and folder.suffix.lower() == ".gguf":  # llama.cpp's single-file format
        from .gguf import load_gguf

        return load_gguf(folder, DTYPES[dtype] if dtype else default_dtype(), quantize)
    if folder.is_file():
        raise ModelFormatError(f"{folder} is a file; pass the model's folder (or a .gguf file).")
    config = read_json(folder / "config.json")
    mx_dtype = DTYPES[dtype] if dtype else default_dtype()
    network = build_network(folder, config, mx_dtype)
    if quantized.quantize_on_load(config, quantize, folder):
        widen_tables(network)  # quantized from float32 rows, like every other weight
        nn.quantize(network, group_size=64, bits=quantize,
                    class_predicate=lambda _, m: isinstance(m, (nn.Linear, nn.Embedding))
                    and m.weight.shape[-1] % 64 == 0)
    adapters = read_adapters(folder, config, mx_dtype)
    wrappers = lora.attach_adapters(network, adapters) if adapters else []
    tokenizer = Tokenizer.from_file(folder / "tokenizer.json")
    profile = read_profile(folder, config)
    # Materialise the lazy weights here: an unevaluated array belongs to this thread's stream, and a
    # worker thread (server, app) that evaluated it first would fail with "no Stream(cpu, 0) in thread".
    mx.eval(network.parameters(), [d for w in wrappers for d in w.deltas.values()])
    return EmbeddingModel(network=network, tokenizer=tokenizer, profile=profile, path=folder, config=config,
                          tasks=tuple(adapters), lora_layers=wrappers, dtype=mx_dtype, quantize=quantize)

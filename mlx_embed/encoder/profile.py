"""What a model folder says about its use: its name, kind, prompts, pooling and length (`read_profile`),
from config.json, config_sentence_transformers.json and the sentence-transformers module files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import ModelFormatError
from ..models import architecture_for
from .facts import JINA_V5_PROMPTS, QWEN3_EMBEDDING_PROMPTS, STANDARD_TASKS, Profile, read_json
from .pooling import POOLING_MODES




def read_profile(folder: Path, config: dict[str, Any]) -> Profile:
    name = model_name(folder, config)
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
    prompts, default = st_prompts(folder, prompts, default)
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


def st_prompts(folder: Path, prompts: dict[str, str], default: str | None) -> tuple[dict[str, str], str | None]:
    """The prompts and default prompt name of the folder's config_sentence_transformers.json, if it
    lists prompts; else the ones given (those a model's kind implies)."""
    st_path = folder / "config_sentence_transformers.json"
    st = read_json(st_path) if st_path.is_file() else {}
    if "prompts" in st:
        prompts = {str(k): str(v) for k, v in (st["prompts"] or {}).items()}
        default = st.get("default_prompt_name", default if default in prompts else None)
    return prompts, default


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
ST_POOLING_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
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
        modes = [mode for key, mode in ST_POOLING_KEYS.items() if config.get(key)] or ["mean"]
    modes = [modes] if isinstance(modes, str) else list(modes)
    if len(modes) != 1 or modes[0] not in POOLING_MODES:
        raise ModelFormatError(f"{source}: pooling {'+'.join(map(str, modes))} is not supported by mlx-embed "
                               f"(supported: one of {', '.join(POOLING_MODES)}).")
    if config.get("include_prompt") is False and modes[0] != "lasttoken":
        raise ModelFormatError(f"{source}: include_prompt=false (prompt tokens left out of {modes[0]} pooling) is "
                               "not supported by mlx-embed; refusing to load it rather than give wrong vectors.")
    return modes[0]

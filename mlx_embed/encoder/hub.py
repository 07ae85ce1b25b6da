"""Find a model's folder: a local path, the Hugging Face cache, or (explicitly allowed) a download."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ModelNotFoundError

# Only what the loader reads: never ONNX, GGUF, PyTorch pickles or a repo's custom Python code.
ALLOW_PATTERNS = [
    "*.json",
    "*.safetensors",
    "*.txt",
    "*.model",
    "adapters/*/adapter_config.json",
    "adapters/*/adapter_model.safetensors",
    "1_Pooling/*.json",
    "2_Normalize/*.json",
]


def _looks_like_repo_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "~"))


def resolve_model_path(name_or_path: str | os.PathLike, download: bool = True) -> Path:
    """Return the local folder (or GGUF file) of a model.

    A path that exists is used as it is. Otherwise `name_or_path` is a Hugging Face repo id: the local
    cache is tried first (no network), then, unless `download` is False or HF_HUB_OFFLINE is set, the
    files the loader needs are downloaded with a progress bar.
    """
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path.resolve()
    name = str(name_or_path)
    if not _looks_like_repo_id(name):
        raise ModelNotFoundError(
            f"No model at '{name}': the path does not exist, and it is not a Hugging Face repo id "
            "('organisation/name'). Pass a model folder or a repo id."
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, allow_patterns=ALLOW_PATTERNS, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        pass
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    if not download or offline:
        raise ModelNotFoundError(
            f"Model '{name}' is not in the local Hugging Face cache and downloading is off"
            f"{' (HF_HUB_OFFLINE is set)' if offline else ''}. Connect to the network and run "
            f"`mlx-embed download {name}`, or pass the path of a local model folder."
        )
    try:
        return Path(snapshot_download(name, allow_patterns=ALLOW_PATTERNS))
    except Exception as exc:  # the hub raises many types: repo missing, gated, network down...
        raise ModelNotFoundError(
            f"Could not download model '{name}' from Hugging Face ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no details'}). Check the repo id and your "
            "network, or pass the path of a local model folder."
        ) from exc

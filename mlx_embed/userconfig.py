"""The user's configuration: a small JSON file, config.json in userdirs.config_dir() (mode 0600).

    get(key) -> str | None      set_value(key, value)      unset(key) -> bool      values() -> dict
    config_path() -> Path

Keys (KEYS): model (the model a command uses when neither --model, MLX_EMBED_MODEL nor the index name one).
Written whole through a temporary file and a rename, so a crash leaves the old file or the new one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import InvalidArgumentError
from .userdirs import config_dir, create_private_file, make_private_dir

CONFIG_NAME = "config.json"
KEYS = {
    "model": "model folder or Hugging Face repo id used when no --model, MLX_EMBED_MODEL or index says which",
}


def config_path() -> Path:
    return config_dir() / CONFIG_NAME


def values() -> dict[str, str]:
    """Every key set, from the file (an absent file: none)."""
    path = config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InvalidArgumentError(f"Cannot read the configuration {path} ({exc}): fix it or delete it "
                                   "(`mlx-embed config list` shows what it should hold).") from exc
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"The configuration {path} is not a JSON object: fix it or delete it.")
    return {str(k): str(v) for k, v in data.items()}


def get(key: str) -> str | None:
    _check_key(key)
    return values().get(key) or None


def set_value(key: str, value: str) -> Path:
    _check_key(key)
    if not value.strip():
        raise InvalidArgumentError(f"An empty {key} means nothing: use `mlx-embed config unset {key}` instead.")
    data = values()
    data[key] = value
    return _write(data)


def unset(key: str) -> bool:
    """Remove `key`; False if it was not set."""
    _check_key(key)
    data = values()
    if key not in data:
        return False
    del data[key]
    _write(data)
    return True


def _check_key(key: str) -> None:
    if key not in KEYS:
        raise InvalidArgumentError(f"Unknown configuration key {key!r}; known keys: {', '.join(sorted(KEYS))}.")


def _write(data: dict[str, str]) -> Path:
    path = config_path()
    make_private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    with create_private_file(tmp) as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path

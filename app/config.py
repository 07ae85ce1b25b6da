"""The app's preferences, persisted with QSettings (an ini file, so tests can point it anywhere).

Index-level options (excluded patterns, size cap, Matryoshka dimension, precision) are kept here and
handed to the library when the index is opened or re-run; the index itself stores what it needs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QSettings

from .hotkey.keys import DEFAULT_HOTKEY

DEFAULT_EXCLUDES = ["node_modules/", "*.tmp", "*.log", "__pycache__/", ".git/"]
DEFAULT_MAX_FILE_MB = 50
PRECISIONS = ("float16", "binary")       # what the index stores


def app_data_dir() -> Path:
    """The library's per-user data folder (mlx_embed.userdirs): label sets live in it next to the index and
    journals. Qt's AppDataLocation (used before) is moved there once by the library."""
    from mlx_embed.userdirs import data_dir

    return data_dir()


class AppSettings:
    """Typed access to QSettings. `path` = an ini file (tests, `--settings`); else the platform default."""

    def __init__(self, path: str | os.PathLike | None = None):
        path = path or os.environ.get("MLX_EMBED_APP_SETTINGS")
        if path:
            self.q = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            from mlx_embed.userdirs import app_settings_path, create_private_file, make_private_dir

            ini = app_settings_path()
            if not ini.exists():   # Qt keeps an existing file's mode when it rewrites it: start it at 0600
                make_private_dir(ini.parent)
                create_private_file(ini, "w").close()
            self.q = QSettings(str(ini), QSettings.Format.IniFormat)

    def _get(self, key: str, default, kind=str):
        value = self.q.value(key, default)
        if value is None:
            return default
        try:
            if kind is bool:
                return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes"}
            return kind(value)
        except (TypeError, ValueError):
            return default

    def _json(self, key: str, default):
        raw = self.q.value(key)
        if not raw:
            return default
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            return default

    # --- model ----------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        """Repo id or local folder of the model in use ("" = none chosen yet: first run)."""
        return self._get("model/name", os.environ.get("MLX_EMBED_MODEL", ""))

    @model.setter
    def model(self, value: str) -> None:
        self.q.setValue("model/name", value)

    @property
    def model_dtype(self) -> str:
        return self._get("model/dtype", "")          # "" = the checkpoint's own

    @model_dtype.setter
    def model_dtype(self, value: str) -> None:
        self.q.setValue("model/dtype", value)

    @property
    def model_quantize(self) -> int:
        return self._get("model/quantize", 0, int)   # 0 = no quantization, else bits (4, 8)

    @model_quantize.setter
    def model_quantize(self, value: int) -> None:
        self.q.setValue("model/quantize", int(value))

    # --- index ----------------------------------------------------------------------------------
    @property
    def index_location(self) -> str:
        return self._get("index/location", os.environ.get("MLX_EMBED_INDEX", ""))   # "" = library default

    @index_location.setter
    def index_location(self, value: str) -> None:
        self.q.setValue("index/location", value)

    @property
    def excludes(self) -> list[str]:
        return list(self._json("index/excludes", DEFAULT_EXCLUDES))

    @excludes.setter
    def excludes(self, value: list[str]) -> None:
        self.q.setValue("index/excludes", json.dumps([v for v in value if v.strip()]))

    @property
    def max_file_mb(self) -> int:
        return self._get("index/max_file_mb", DEFAULT_MAX_FILE_MB, int)

    @max_file_mb.setter
    def max_file_mb(self, value: int) -> None:
        self.q.setValue("index/max_file_mb", int(value))

    @property
    def matryoshka_dim(self) -> int:
        return self._get("index/dim", 0, int)        # 0 = the model's full dimension

    @matryoshka_dim.setter
    def matryoshka_dim(self, value: int) -> None:
        self.q.setValue("index/dim", int(value))

    @property
    def precision(self) -> str:
        value = self._get("index/precision", "float16")
        return value if value in PRECISIONS else "float16"

    @precision.setter
    def precision(self, value: str) -> None:
        self.q.setValue("index/precision", value)

    @property
    def watch(self) -> bool:
        return self._get("index/watch", True, bool)

    @watch.setter
    def watch(self, value: bool) -> None:
        self.q.setValue("index/watch", bool(value))

    # --- quick search ----------------------------------------------------------------------------
    @property
    def hotkey(self) -> str:
        """The quick-search key, Qt portable text ("Ctrl+Alt+Space"); "" = none."""
        return self._get("quick/hotkey", DEFAULT_HOTKEY)

    @hotkey.setter
    def hotkey(self, value: str) -> None:
        self.q.setValue("quick/hotkey", value)

    @property
    def resident_notice_shown(self) -> bool:
        """Whether the user was told once that closing the window keeps quick search running (no tray)."""
        return self._get("quick/resident_notice_shown", False, bool)

    @resident_notice_shown.setter
    def resident_notice_shown(self, value: bool) -> None:
        self.q.setValue("quick/resident_notice_shown", bool(value))

    # --- window ---------------------------------------------------------------------------------
    @property
    def geometry(self):
        return self.q.value("window/geometry")

    @geometry.setter
    def geometry(self, value) -> None:
        self.q.setValue("window/geometry", value)

    def sync(self) -> None:
        self.q.sync()

"""Recognised text by content hash: a renamed, copied or re-indexed image is not read again.

    OcrCache(folder=None)            # default: $MLX_EMBED_OCR_CACHE, else the user cache folder
    for_index(db_path) -> Path       # an index's own cache folder, <db>-ocr next to its database
    .get(digest, engine) -> list[str] | None     # one string per page (an image has one)
    .put(digest, engine, pages)
    digest(data) -> str              # sha256 hex of a file's bytes

One small UTF-8 file per entry, <folder>/<engine>/<ab>/<digest>.txt, pages separated by a form feed,
written to a temporary name and renamed into place: safe for concurrent workers and a crash, no
schema, and deleting the folder only costs re-reading.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path

PAGE_BREAK = "\f"


def default_folder() -> Path:
    if os.environ.get("MLX_EMBED_OCR_CACHE"):
        return Path(os.environ["MLX_EMBED_OCR_CACHE"]).expanduser()
    if sys.platform == "darwin":
        return Path("~/Library/Caches/mlx-embed/ocr").expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "mlx-embed" / "ocr"


def for_index(db_path: str | os.PathLike) -> Path:
    """An index's own cache, next to its database like SQLite's -wal file: separate indexes (and tests)
    stay apart, and `index rebuild`, which deletes the database, keeps the recognised text."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + "-ocr")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class OcrCache:
    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder).expanduser() if folder is not None else default_folder()

    def _path(self, digest: str, engine: str) -> Path:
        return self.folder / re.sub(r"[^A-Za-z0-9._-]+", "-", engine) / digest[:2] / f"{digest}.txt"

    def get(self, digest: str, engine: str) -> list[str] | None:
        try:
            return self._path(digest, engine).read_text(encoding="utf-8").split(PAGE_BREAK)
        except (OSError, UnicodeDecodeError):
            return None

    def put(self, digest: str, engine: str, pages: list[str]) -> None:
        path = self._path(digest, engine)
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # it holds the text of private files
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(PAGE_BREAK.join(p.replace(PAGE_BREAK, " ") for p in pages))
            os.replace(tmp, path)
        except OSError:  # a read-only or full disk costs a re-read next time, nothing else
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)

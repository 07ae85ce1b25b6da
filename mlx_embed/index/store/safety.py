"""The store's boundary with SQLite: every error SQLite raises becomes one an user can act on, and file
names of any bytes go in and come out losslessly.

    connect(path, read_only) -> Connection      a connection whose execute() translates errors and paths
    translate(exc, path) -> MlxEmbedError       sqlite3.Error -> IndexDamagedError / IndexReadOnlyError / ...
    to_db(text) / from_db(text)                 a path as stored / as the OS names it
    write_sidecar(db_path, folders, settings)   the folder list and settings beside the file (for recovery)
    read_sidecar(db_path) -> dict | None

Why a path codec: POSIX names are bytes; Python hands a name that is not UTF-8 over with lone surrogates
(U+DC80..U+DCFF, "surrogateescape"), which SQLite's UTF-8 text cannot hold. to_db writes each such
surrogate as ESC + the byte as one character, and doubles a real ESC; a prefix-free, character-wise
code, so it is lossless and a folder's stored path is still a prefix of its files' (LIKE prefix works).
ESC is U+10FFFD, a private-use character that no file name or text in practice holds.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from ...errors import IndexBusyError, IndexDamagedError, IndexReadOnlyError, MlxEmbedError

ESC = "\U0010fffd"
_NEEDS = re.compile("[\udc80-\udcff\U0010fffd]")
_ESCAPED = re.compile("\U0010fffd(.)", re.S)
PATH_COLUMNS = frozenset({"path"})


def to_db(text: str) -> str:
    """A path as stored: surrogate-escaped bytes as ESC + chr(byte), ESC doubled (valid UTF-8)."""
    if text.isascii() or not _NEEDS.search(text):
        return text
    return _NEEDS.sub(lambda m: ESC + (ESC if m.group() == ESC else chr(ord(m.group()) - 0xDC00)), text)


def from_db(text: str) -> str:
    if ESC not in text:
        return text
    return _ESCAPED.sub(lambda m: ESC if m.group(1) == ESC else chr(0xDC00 + ord(m.group(1))), text)


def shown(path: str | os.PathLike) -> str:
    """A path fit for a message or a terminal: bytes that are not UTF-8 appear as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _param(value: Any) -> Any:
    return to_db(value) if type(value) is str and not value.isascii() else value


def _params(params: Any) -> Any:
    if isinstance(params, dict):
        return {k: _param(v) for k, v in params.items()}
    return [_param(v) for v in params]


def _row(cursor: sqlite3.Cursor, row: tuple) -> sqlite3.Row:
    """sqlite3.Row, with columns named "path" decoded back to the OS's name."""
    if any(type(v) is str and ESC in v for v in row):
        names = [d[0] for d in cursor.description]
        row = tuple(from_db(v) if names[i] in PATH_COLUMNS and type(v) is str else v for i, v in enumerate(row))
    return sqlite3.Row(cursor, row)


def translate(exc: sqlite3.Error, path: Path, read_only: bool = False) -> MlxEmbedError:
    """What SQLite's error means for the user, with what to do (one line)."""
    text = str(exc)
    low = text.lower()
    where = shown(path)
    if "readonly" in low or "read-only" in low or read_only and "unable to open" in low:
        return IndexReadOnlyError(
            f"The index {where} is read-only (the file or its folder cannot be written): searching works, "
            f"updating it does not. Make both writable (chmod u+w) or use another --index.")
    if "locked" in low or "busy" in low:
        return IndexBusyError(f"The index {where} is locked by another program ({text}); try again when it ends.")
    if "disk is full" in low or "database or disk is full" in low:
        return MlxEmbedError(f"The disk holding {where} is full ({text}): free some space and run the command again.")
    if "unable to open" in low or "disk i/o" in low:
        return MlxEmbedError(f"Cannot read or write the index {where} ({text}): check the disk and the file's "
                             "permissions, then run the command again.")
    return IndexDamagedError(
        f"The index {where} is damaged ({text}). Run `mlx-embed index rebuild` to recover it: a fresh index "
        "with the same folders and settings, re-indexed (the damaged file is kept beside it).")


class Connection(sqlite3.Connection):
    """A connection whose statements take and give paths of any bytes and raise only MlxEmbedError."""

    index_path: Path = Path()
    read_only: bool = False

    def execute(self, sql: str, params: Any = ()) -> "Cursor":  # type: ignore[override]
        try:
            return Cursor(super().execute(sql, _params(params)), self)
        except sqlite3.Error as exc:
            raise translate(exc, self.index_path, self.read_only) from exc

    def executemany(self, sql: str, seq: Any) -> "Cursor":  # type: ignore[override]
        try:
            return Cursor(super().executemany(sql, [_params(p) for p in seq]), self)
        except sqlite3.Error as exc:
            raise translate(exc, self.index_path, self.read_only) from exc


class Cursor:
    """A cursor whose reads translate errors too: stepping it reads pages, and a damaged one fails there."""

    __slots__ = ("_cur", "_conn")

    def __init__(self, cur: sqlite3.Cursor, conn: "Connection"):
        self._cur, self._conn = cur, conn

    def _fail(self, exc: sqlite3.Error) -> MlxEmbedError:
        return translate(exc, self._conn.index_path, self._conn.read_only)

    def __iter__(self):
        try:
            yield from self._cur
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def fetchone(self) -> Any:
        try:
            return self._cur.fetchone()
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def fetchall(self) -> list:
        try:
            return self._cur.fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def __getattr__(self, name: str) -> Any:   # lastrowid, rowcount, description
        return getattr(self._cur, name)


def connect(path: Path, read_only: bool = False) -> Connection:
    if read_only:
        # A WAL file needs its -shm beside it; in a folder we cannot write, immutable=1 reads it as is.
        uri = f"{path.as_uri()}?mode=ro" + ("&immutable=1" if not os.access(path.parent, os.W_OK) else "")
        conn = sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None, check_same_thread=False,
                               factory=Connection)
    else:
        conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False, factory=Connection)
    conn.index_path = path
    conn.read_only = read_only
    conn.row_factory = _row
    return conn


# --- the sidecar: folders and settings, for a rebuild from a file too damaged to read -------------------
def sidecar_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".folders.json")


def write_sidecar(db_path: Path, folders: list[dict[str, Any]], settings: Any) -> None:
    """Folder list (path, excludes) and settings as JSON (ASCII: any path survives), atomically."""
    target = sidecar_path(db_path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            json.dump({"version": 1, "folders": folders, "settings": settings}, f)
        os.replace(tmp, target)
    except OSError:
        pass  # a read-only folder: the index itself cannot change either


def read_sidecar(db_path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(sidecar_path(db_path).read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("folders"), list) else None

"""The SQLite file itself: location, connections, transactions, migrations, meta and integrity.

    Database(path)              open or create (file 0600; missing parent folders made 0700), migrate
    with db.write() as conn:    one IMMEDIATE transaction: all of it lands, or none of it
    db.checkpoint()             inside write(): commit what is done so far and go on in a new one
    db.db                       this thread's connection (connections are per thread)
    delete_index_files(path)    the file and SQLite's -wal / -shm companions

The tables are in schema.py; the statements on them in the Store mixins (folders, files, chunks).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ...errors import IndexFormatError, IndexReadOnlyError, MlxEmbedError  # noqa: F401 (re-exported)
from ...userdirs import make_private_dir
from . import safety
from .schema import MIGRATIONS, SCHEMA_VERSION, statements

DB_NAME = "index.db"
STATES = ("indexed", "pending", "skipped", "failed")   # every entry is in exactly one (files.status)


class ModelMismatchError(MlxEmbedError):
    """The index holds vectors of another model; mixing them would give meaningless results."""

    exit_code = 5


def default_index_dir() -> Path:
    """The per-user data folder of mlx-embed (userdirs.data_dir: platformdirs, MLX_EMBED_DATA_DIR)."""
    from ...userdirs import data_dir

    return data_dir()


def resolve_db_path(path: str | os.PathLike | None) -> Path:
    """An index location (a folder, or a .db/.sqlite file) -> the database file."""
    if path is None:
        return default_index_dir() / DB_NAME
    p = Path(os.path.expanduser(str(path)))
    return p if p.suffix in (".db", ".sqlite", ".sqlite3") else p / DB_NAME


def delete_index_files(path: str | os.PathLike | None) -> None:
    """Delete the index at `path` (its database and SQLite's -wal / -shm files); close it first."""
    db_path = resolve_db_path(path)
    for p in (db_path, db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + "-shm")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


class Database:
    def __init__(self, path: str | os.PathLike | None = None, create: bool = True):
        self.path = resolve_db_path(path)
        if not self.path.exists():
            if not create:
                raise IndexFormatError(f"No index at {self.path}. Create one with `mlx-embed index add FOLDER`.")
            make_private_dir(self.path.parent)  # only folders it creates are 0700: an existing one keeps its mode
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        # read-only (the file, or the folder its -wal/-shm live in): searching works, writes say why not
        self.read_only = not (os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK | os.X_OK))
        self._local = threading.local()
        self._migrate()

    # --- connections ----------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = safety.connect(self.path, self.read_only)
        except sqlite3.Error as exc:
            raise safety.translate(exc, self.path, self.read_only) from exc
        # every statement below (and every later one) raises MlxEmbedError only: see safety.translate
        conn.execute("PRAGMA busy_timeout = 60000")
        if not self.read_only:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA cache_size = -32000")
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT; ROLLBACK on any exception)."""
        if self.read_only:
            raise IndexReadOnlyError(
                f"The index {safety.shown(self.path)} is read-only (the file or its folder cannot be written): "
                "searching works, updating it does not. Make both writable (chmod u+w) or use another --index.")
        db = self.db
        if db.in_transaction:  # nested: join the outer transaction
            yield db
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            try:
                db.execute("ROLLBACK")
            except MlxEmbedError:
                pass  # a connection SQLite gave up on rolled back already; the first error says why
            raise
        db.execute("COMMIT")

    def checkpoint(self) -> None:
        """Inside write(): commit the work so far and continue in a new IMMEDIATE transaction."""
        self.db.execute("COMMIT")
        self.db.execute("BEGIN IMMEDIATE")

    def size_bytes(self) -> int:
        """The file with its -wal and -shm companions."""
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())

    def _migrate(self) -> None:
        db = self.db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise IndexFormatError(f"{self.path} was written by a newer mlx-embed (schema {version} > "
                                   f"{SCHEMA_VERSION}). Upgrade mlx-embed or use another --index.")
        while version < SCHEMA_VERSION:
            with self.write():
                for statement in statements(MIGRATIONS[version]):
                    db.execute(statement)
                version += 1
                db.execute(f"PRAGMA user_version = {version}")

    # --- meta -----------------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set(self, key: str, value: Any) -> None:
        with self.write() as db:
            db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       (key, json.dumps(value)))
        if key in ("settings", "model"):
            self.save_sidecar()

    def save_sidecar(self) -> None:
        """Folders, settings and model beside the file: what `index rebuild` needs if the file is lost."""
        folders = [{"path": r["path"], "excludes": json.loads(r["excludes"])}
                   for r in self.db.execute("SELECT path, excludes FROM folders ORDER BY path")]
        safety.write_sidecar(self.path, folders, {"settings": self.get("settings"), "model": self.get("model")})

    def bump(self, deleted: int = 0) -> None:
        """Mark that chunks/vectors/paths changed (readers reload their in-memory vectors)."""
        with self.write() as db:
            db.execute("INSERT INTO meta(key, value) VALUES ('generation', '1') "
                       "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
            if deleted:
                db.execute("INSERT INTO meta(key, value) VALUES ('deleted', ?) "
                           "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + ?", (deleted, deleted))

    def generation(self) -> tuple[int, int]:
        rows = dict(self.db.execute("SELECT key, value FROM meta WHERE key IN ('generation', 'deleted')").fetchall())
        return int(rows.get("generation", 0)), int(rows.get("deleted", 0))

    # --- checks ---------------------------------------------------------------------------------
    def quick_check(self) -> str:
        """SQLite's quick_check (every page's structure, not index-to-table agreement): "ok" or what is wrong."""
        try:
            rows = [r[0] for r in self.db.execute("PRAGMA quick_check(5)").fetchall()]
        except MlxEmbedError as exc:
            return str(exc)
        return "ok" if rows == ["ok"] else " ".join("; ".join(map(str, rows)).split())

    def check(self) -> dict[str, Any]:
        """Integrity report: SQLite's own check, FTS consistency and orphan counts (all should be ok/0)."""
        db = self.db
        try:
            report: dict[str, Any] = {"integrity": db.execute("PRAGMA integrity_check").fetchone()[0]}
        except MlxEmbedError as exc:   # too damaged to check: the message says how to recover
            return {"integrity": str(exc), "ok": False}
        if report["integrity"] != "ok":
            return {**report, "ok": False}
        try:
            db.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
            report["fts"] = "ok"
        except MlxEmbedError as exc:
            report["fts"] = str(exc)
        q = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
        report["orphan_chunks"] = q("SELECT count(*) FROM chunks WHERE file_id NOT IN (SELECT id FROM files)")
        report["orphan_vectors"] = q("SELECT count(*) FROM vectors WHERE chunk_id NOT IN (SELECT id FROM chunks)")
        report["chunks_without_vector"] = q("SELECT count(*) FROM chunks WHERE id NOT IN (SELECT chunk_id FROM vectors)")
        report["count_mismatch"] = q("SELECT count(*) FROM files f WHERE f.status = 'indexed' AND f.chunks != "
                                     "(SELECT count(*) FROM chunks c WHERE c.file_id = f.id)")
        report["orphan_files"] = q("SELECT count(*) FROM files WHERE folder_id NOT IN (SELECT id FROM folders)")
        report["ok"] = (report["integrity"] == "ok" and report["fts"] == "ok"
                        and not any(report[k] for k in ("orphan_chunks", "orphan_vectors", "chunks_without_vector",
                                                        "count_mismatch", "orphan_files")))
        return report



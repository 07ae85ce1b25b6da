"""`Index`: the one object the CLI and the app use (see the package docstring for the API)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from .embedding import Encoder, describe, folder_fingerprint, model_identity, same_model
from .indexer import Indexer, Progress, RunStats, Settings, lower_priority
from .search import SearchResult, Searcher
from .store import ModelMismatchError, Store


STATES = ("indexed", "pending", "skipped", "failed")


def accounting_line(counts: dict[str, int], ignored: int = 0) -> str:
    """The one wording of where every entry stands: the CLI summary after add/update, `index status`
    and the app's Folders screen all print this, so their numbers always agree.

    indexed: searchable; pending: queued for embedding; skipped: deliberately not embedded (too large,
    binary or unsupported type, broken symlink, second link to a listed file, empty, FIFO...); failed:
    could not be read (permission, damaged or encrypted file, unreadable folder). `ignored` entries were
    left out by rule (hidden, system folders, ignore files, excludes) and are counted, not listed."""
    total = sum(counts.get(k, 0) for k in STATES)
    text = f"{total:,} files: " + ", ".join(f"{counts.get(k, 0):,} {k}" for k in STATES)
    if ignored:
        text += f"; {ignored:,} more left out by rule (hidden, system folders, ignore files, excludes)"
    return text


@dataclass
class FolderInfo:
    path: Path
    excludes: list[str]
    files: int                      # every entry with a state: indexed + pending + skipped + failed
    indexed: int
    scanned: float | None
    pending: int = 0
    skipped: int = 0
    failed: int = 0
    ignored: int = 0                # left out by rule at the last scan (not stored per file)

    @property
    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in STATES}

    def summary(self) -> str:
        return accounting_line(self.counts, self.ignored)


@dataclass
class IndexStatus:
    path: Path
    model: dict[str, Any] | None
    settings: dict[str, Any]
    folders: list[FolderInfo]
    counts: dict[str, int]                 # files by status: pending, indexed, skipped, failed
    chunks: int
    failures: list[tuple[str, str]]        # (path, reason) of failed files and unreadable folders
    skipped_reasons: dict[str, int]        # reason -> count
    run: dict[str, Any] | None             # the run in progress (pid, phase, done, total, eta_seconds), if any
    last_run: dict[str, Any] | None
    size_bytes: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    ignored: int = 0                       # entries left out by rule at the last scan

    def summary(self) -> str:
        return accounting_line(self.counts, self.ignored)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["summary"] = self.summary()
        for f, info in zip(d["folders"], self.folders):
            f["summary"] = info.summary()
        d["path"] = str(self.path)
        for f in d["folders"]:
            f["path"] = str(f["path"])
        d["failures"] = [{"path": p, "reason": r} for p, r in self.failures]
        return d


class Index:
    """A search index over folders, stored in one SQLite file.

    model: a model folder / repo id (loaded when first needed), a loaded EmbeddingModel, or None to use
    the model the index was built with. Settings apply when the index is created (later: stored ones).
    """

    def __init__(self, path: str | os.PathLike | None = None, model=None, *, create: bool = True,
                 chunk_tokens: int | None = None, overlap: int | None = None, vector_dim: int | None = None,
                 binary: bool | None = None, max_size: int | None = None, include_hidden: bool | None = None,
                 excludes: Iterable[str] | None = None):
        self.store = Store(path, create=create)
        self.path = self.store.path
        stored = self.store.get("settings")
        settings = Settings(**stored) if stored else Settings()
        for key, value in dict(chunk_tokens=chunk_tokens, overlap=overlap, vector_dim=vector_dim, binary=binary,
                               max_size=max_size, include_hidden=include_hidden).items():
            if value is not None:
                if stored and key in ("chunk_tokens", "overlap", "vector_dim", "binary") and getattr(settings, key) != value:
                    raise InvalidArgumentError(
                        f"This index was made with {key}={getattr(settings, key)!r}; {key}={value!r} needs a new "
                        f"index (another --index) or `mlx-embed index rebuild`.")
                setattr(settings, key, value)
        if excludes is not None:
            settings.excludes = list(excludes)
        if settings != (Settings(**stored) if stored else None):
            self.store.set("settings", asdict(settings))
        self.settings = settings
        self._model_arg = model
        self._model = None
        self._encoder: Encoder | None = None
        self._searcher = Searcher(self.store, binary=settings.binary)
        self._lock = threading.RLock()

    # --- model ----------------------------------------------------------------------------------
    @property
    def model_identity(self) -> dict[str, Any] | None:
        return self.store.get("model")

    def check_model(self) -> None:
        """Raise ModelMismatchError if the chosen model is not the one the index was built with."""
        recorded = self.model_identity
        if recorded is None or self._model_arg is None:
            return
        if self._model is not None or not isinstance(self._model_arg, (str, os.PathLike)):
            current = model_identity(self._model or self._model_arg)
        else:
            from ..encoder.hub import resolve_model_path

            folder = resolve_model_path(self._model_arg, download=False)
            current = {"fingerprint": folder_fingerprint(folder), "dim": recorded.get("dim"), "path": str(folder),
                       "name": str(self._model_arg)}
        if not same_model(recorded, current):
            raise ModelMismatchError(
                f"The index at {self.path} was built with {describe(recorded)}, not {current.get('name')} "
                f"({current.get('path')}). Vectors of two models never mix: run `mlx-embed index rebuild "
                f"--model {self._model_arg}` to re-embed everything with the new model, or pass "
                f"--model {recorded.get('path')}.")

    @property
    def model(self):
        """The loaded EmbeddingModel (loaded on first use, from disk only: never a download)."""
        with self._lock:
            if self._model is None:
                self.check_model()
                self._model = self._load_model()
                self.check_model_loaded()
            return self._model

    def _load_model(self):
        arg = self._model_arg
        if arg is None:
            recorded = self.model_identity
            if recorded is None:
                raise InvalidArgumentError("This index has no model yet: pass a model (--model).")
            arg = recorded["path"]
        if isinstance(arg, (str, os.PathLike)):
            from ..encoder.loading import load

            return load(arg, download=False) if _accepts_download() else load(arg)
        return arg

    def check_model_loaded(self) -> None:
        recorded = self.model_identity
        if recorded is not None and not same_model(recorded, model_identity(self._model)):
            self._model_arg = self._model_arg or self._model.path
            raise ModelMismatchError(
                f"The index at {self.path} was built with {describe(recorded)}, not "
                f"{describe(model_identity(self._model))}. Run `mlx-embed index rebuild --model "
                f"{self._model.path}` to re-embed everything with it.")

    @property
    def encoder(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = Encoder(self.model, self.settings.chunk_tokens, self.settings.vector_dim)
            return self._encoder

    def _claim_model(self) -> None:
        recorded, current = self.model_identity, model_identity(self.model)
        if recorded is None:
            self.store.set("model", current)
        elif recorded.get("name") != current["name"] and same_model(recorded, current):
            # same files, better name (an index made before names came from the model card's id)
            self.store.set("model", {**recorded, "name": current["name"]})

    # --- folders --------------------------------------------------------------------------------
    def add_folder(self, path: str | os.PathLike, excludes: Iterable[str] = ()) -> Path:
        """Register a folder (or a single file's folder); files are found by the next `run`."""
        p = Path(os.path.abspath(os.path.expanduser(str(path))))
        if not p.exists():
            raise InvalidArgumentError(f"{p} does not exist.")
        if not p.is_dir():
            raise InvalidArgumentError(f"{p} is not a folder: add the folder that holds it.")
        with self.store.write() as db:
            db.execute("INSERT INTO folders(path, excludes, added) VALUES (?, ?, ?) "
                       "ON CONFLICT(path) DO UPDATE SET excludes = excluded.excludes",
                       (str(p), json.dumps(list(excludes)), time.time()))
        return p

    def remove_folder(self, path: str | os.PathLike) -> int:
        """Forget a folder and everything found in it (files also under another folder move there)."""
        p = str(Path(os.path.abspath(os.path.expanduser(str(path)))))
        db = self.store.db
        row = db.execute("SELECT id FROM folders WHERE path = ?", (p,)).fetchone()
        if row is None:
            raise InvalidArgumentError(f"{p} is not an indexed folder (see `mlx-embed index status`).")
        others = [(r[0], r[1]) for r in db.execute("SELECT id, path FROM folders WHERE id != ? ORDER BY length(path) DESC",
                                                   (row[0],))]
        with self.store.write():
            for oid, opath in others:
                if opath.startswith(p + os.sep):
                    esc = opath.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                    db.execute("UPDATE files SET folder_id = ? WHERE folder_id = ? AND path LIKE ? ESCAPE '\\'",
                               (oid, row[0], esc + os.sep + "%"))
            n = db.execute("SELECT coalesce(sum(chunks), 0), count(*) FROM files WHERE folder_id = ?", (row[0],)).fetchone()
            db.execute("DELETE FROM files WHERE folder_id = ?", (row[0],))
            db.execute("DELETE FROM folders WHERE id = ?", (row[0],))
            self.store.bump(deleted=n[0])
        return n[1]

    def folders(self) -> list[FolderInfo]:
        """Each folder with the state of every entry in it (an unreadable subfolder counts as failed)."""
        rows = self.store.db.execute(
            "SELECT d.path, d.excludes, d.scanned, d.ignored, count(f.id), "
            + ", ".join(f"coalesce(sum(f.status = '{k}'), 0)" for k in STATES)
            + " FROM folders d LEFT JOIN files f ON f.folder_id = d.id GROUP BY d.id ORDER BY d.path")
        return [FolderInfo(Path(r[0]), json.loads(r[1]), r[4], r[5], r[2], pending=r[6], skipped=r[7], failed=r[8],
                           ignored=r[3]) for r in rows]

    def problems(self) -> list[tuple[Path, str, str]]:
        """(path, reason, status) of every entry that is skipped or failed, by path."""
        return [(Path(r[0]), r[1] or "", r[2]) for r in self.store.db.execute(
            "SELECT path, reason, status FROM files WHERE status IN ('failed', 'skipped') ORDER BY path")]

    # --- indexing -------------------------------------------------------------------------------
    def run(self, progress: Callable[[Progress], None] | None = None, cancel: threading.Event | None = None,
            low_priority: bool = False, scan: bool = True) -> RunStats:
        """Bring the index up to date: scan the folders, then embed the queue. Resumable and cancellable."""
        if low_priority:
            lower_priority(whole_process=False)
        encoder = self.encoder          # loads and checks the model before touching anything
        self._claim_model()
        indexer = Indexer(self.store, self.settings, encoder)
        stats = RunStats()
        self.store.set("run", {"pid": os.getpid(), "phase": "scan", "done": 0, "total": 0, "updated": time.time()})
        try:
            if scan:
                stats.merge(indexer.scan(progress, cancel))
            if not stats.cancelled:
                stats.merge(indexer.process(progress, cancel))
        finally:
            self.store.set("run", None)
        self.store.set("last_run", {"finished": time.time(), **stats.to_dict()})
        return stats

    update = run

    def rebuild(self, progress=None, cancel=None, low_priority: bool = False) -> RunStats:
        """Drop every chunk and vector and re-embed all files with the current model."""
        with self._lock:
            if self._model is None:
                self._model = self._load_model()  # no identity check: replacing the model is the point
            self._encoder = None
        with self.store.write() as db:
            n = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            db.execute("DELETE FROM chunks")
            db.execute("DELETE FROM staged")
            db.execute("UPDATE files SET status = 'pending', reason = NULL, hash = NULL, chunks = 0, indexed_at = NULL "
                       "WHERE is_dir = 0")
            db.execute("DELETE FROM files WHERE is_dir = 1")
            db.execute("DELETE FROM meta WHERE key = 'model'")
            self.store.bump(deleted=n)
        return self.run(progress, cancel, low_priority)

    # --- file actions ---------------------------------------------------------------------------
    def move_file(self, old: str | os.PathLike, new: str | os.PathLike) -> bool:
        """Tell the index a file (or folder) moved: its chunks follow without re-embedding.

        A destination outside every indexed folder removes it from the index. Returns False if `old`
        was not indexed."""
        old_p = os.path.abspath(os.path.expanduser(str(old)))
        new_p = os.path.abspath(os.path.expanduser(str(new)))
        db = self.store.db
        folders = [(r[0], r[1]) for r in db.execute("SELECT id, path FROM folders ORDER BY length(path) DESC")]
        owner = lambda p: next((fid for fid, fp in folders if p == fp or p.startswith(fp + os.sep)), None)  # noqa: E731
        esc = old_p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = db.execute("SELECT id, path, chunks FROM files WHERE path = ? OR path LIKE ? ESCAPE '\\'",
                          (old_p, esc + os.sep + "%")).fetchall()
        if not rows:
            return False
        with self.store.write():
            deleted = 0
            for fid, path, chunks in rows:
                target = new_p + path[len(old_p):]
                folder = owner(target)
                db.execute("DELETE FROM files WHERE path = ? AND id != ?", (target, fid))
                if folder is None:
                    db.execute("DELETE FROM files WHERE id = ?", (fid,))
                    deleted += chunks
                    continue
                try:
                    st = os.stat(target)
                    db.execute("UPDATE files SET path = ?, folder_id = ?, mtime_ns = ? WHERE id = ?",
                               (target, folder, st.st_mtime_ns, fid))
                except OSError:
                    db.execute("UPDATE files SET path = ?, folder_id = ? WHERE id = ?", (target, folder, fid))
            self.store.bump(deleted=deleted)
        return True

    def remove_file(self, path: str | os.PathLike) -> bool:
        p = os.path.abspath(os.path.expanduser(str(path)))
        with self.store.write() as db:
            row = db.execute("SELECT chunks FROM files WHERE path = ?", (p,)).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM files WHERE path = ?", (p,))
            self.store.bump(deleted=row[0])
        return True

    # --- search ---------------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, folder=None, kinds=None, modified_after=None, modified_before=None,
               mode: str = "hybrid", passages: int = 3) -> list[SearchResult]:
        """Ranked files for `query`, each with its best passages (see mlx_embed.index.search)."""
        if not query or not query.strip():
            raise InvalidArgumentError("Empty query.")
        if k < 1:
            raise InvalidArgumentError(f"k={k}: ask for at least one result.")
        qvec = None
        if mode != "keyword":
            if self.model_identity is None:
                mode = "keyword" if mode == "hybrid" else mode  # nothing embedded yet
            else:
                from .search import parse_query

                qvec = self.encoder.query(parse_query(query)[2])
        return self._searcher.search(query, qvec, k, folder, kinds, modified_after, modified_before, mode, passages)

    def warm(self) -> None:
        """Load the vectors (and the model) now, so the first search is fast."""
        self._searcher.refresh(force=True)
        if self.model_identity is not None:
            _ = self.encoder

    # --- vectors for reuse (clustering) ----------------------------------------------------------
    def _check_task(self, task: str) -> None:
        ident = self.model_identity
        if ident is None:
            raise InvalidArgumentError("The index has no vectors yet.")
        if ident.get("tasks") and task != "retrieval":
            raise InvalidArgumentError(
                f"The index holds {ident['name']} vectors of the retrieval adapter, not {task!r}: embed with "
                f"the model for task {task!r} instead.")
        if self._model_arg is not None and not isinstance(self._model_arg, (str, os.PathLike)):
            if not same_model(ident, model_identity(self._model_arg)):
                raise ModelMismatchError(f"The index holds vectors of {describe(ident)}, not of the given model.")

    def vectors_for_files(self, paths: Iterable[str | os.PathLike], task: str = "retrieval") -> dict[Path, np.ndarray]:
        """Stored chunk vectors (float32, (n_chunks, d), normalised) of indexed files, by path.

        Only when the vectors are valid for `task` (a model without adapters, or task "retrieval");
        files not indexed (or with no chunks) are left out. Binary indexes give +-1/sqrt(d) vectors."""
        self._check_task(task)
        out: dict[Path, np.ndarray] = {}
        db = self.store.db
        for p in paths:
            ap = os.path.abspath(os.path.expanduser(str(p)))
            rows = db.execute("SELECT v.vec FROM files f JOIN chunks c ON c.file_id = f.id JOIN vectors v ON "
                              "v.chunk_id = c.id WHERE f.path = ? AND f.status = 'indexed' ORDER BY c.seq", (ap,)).fetchall()
            if rows:
                out[Path(p)] = self._decode([r[0] for r in rows])
        return out

    def file_vectors(self, paths: Iterable[str | os.PathLike] | None = None, task: str = "retrieval"
                     ) -> tuple[list[Path], np.ndarray]:
        """One normalised vector per indexed file (the mean of its chunk vectors): (paths, (n, d))."""
        self._check_task(task)
        if paths is None:
            paths = [r[0] for r in self.store.db.execute("SELECT path FROM files WHERE status = 'indexed' AND chunks > 0 "
                                                         "ORDER BY path")]
        per = self.vectors_for_files(paths, task)
        names = list(per)
        if not names:
            return [], np.zeros((0, self.settings.vector_dim or (self.model_identity or {}).get("dim", 0)), np.float32)
        mat = np.stack([v.mean(axis=0) for v in per.values()])
        mat /= np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
        return names, mat.astype(np.float32)

    def _decode(self, blobs: list[bytes]) -> np.ndarray:
        if self.settings.binary:
            bits = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), -1)
            signs = np.unpackbits(bits, axis=1).astype(np.float32) * 2 - 1
            return signs / np.sqrt(signs.shape[1])
        return np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), -1).astype(np.float32)

    # --- status ---------------------------------------------------------------------------------
    def status(self, max_failures: int = 50) -> IndexStatus:
        db = self.store.db
        folders = self.folders()
        counts = {s: sum(f.counts[s] for f in folders) for s in ("pending", "indexed", "skipped", "failed")}
        failures = [(r[0], r[1]) for r in db.execute(
            "SELECT path, reason FROM files WHERE status = 'failed' ORDER BY is_dir DESC, path LIMIT ?", (max_failures,))]
        skipped = {r[0] or "?": r[1] for r in db.execute(
            "SELECT reason, count(*) FROM files WHERE status = 'skipped' GROUP BY reason ORDER BY count(*) DESC")}
        kinds = {r[0] or "?": r[1] for r in db.execute(
            "SELECT kind, count(*) FROM files WHERE status = 'indexed' GROUP BY kind ORDER BY count(*) DESC")}
        run = self.store.get("run")
        if run and not _alive(run.get("pid")):
            run = None
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return IndexStatus(path=self.path, model=self.model_identity, settings=asdict(self.settings),
                           folders=folders, counts=counts, ignored=sum(f.ignored for f in folders),
                           chunks=db.execute("SELECT count(*) FROM chunks").fetchone()[0],
                           failures=failures, skipped_reasons=skipped, run=run, last_run=self.store.get("last_run"),
                           size_bytes=size, kinds=kinds)

    def check(self) -> dict[str, Any]:
        return self.store.check()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
        return True
    except (OSError, ValueError):
        return False


def _accepts_download() -> bool:
    import inspect

    from ..encoder.loading import load

    return "download" in inspect.signature(load).parameters

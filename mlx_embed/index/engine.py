"""`Index`: the one object the CLI and the app use (see the package docstring for the API).

It ties the store, the indexer, the chunk encoder and the searcher together, checks that the model is
the one the vectors were made with, and owns the index's life: create, recreate with new settings,
run, rebuild, status (with per-folder problems and a run's summary in words), close.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from .chunk_encoder import ChunkEncoder
from .indexer import Indexer, RunProgress, RunStats, Settings, lower_priority
from .model_identity import describe, folder_fingerprint, model_identity, same_model
from .runlock import RunLock
from .search import SearchResult, Searcher, parse_query
from .status import FolderInfo, IndexStatus, describe_run
from .store import ModelMismatchError, Store, delete_index_files, resolve_db_path


class Index:
    """A search index over folders, stored in one SQLite file.

    model: a model folder / repo id (loaded when first needed), a loaded EmbeddingModel, or None to use
    the model the index was built with (`fallback_model` when it has none yet). Settings apply when the
    index is created (later: stored ones). A context manager: `with Index(...) as ix:` closes it.
    """

    def __init__(self, path: str | os.PathLike | None = None, model=None, *, create: bool = True,
                 fallback_model: str | None = None, chunk_tokens: int | None = None, overlap: int | None = None,
                 vector_dim: int | None = None,
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
        self._fallback_model = fallback_model
        self._model = None
        self._encoder: ChunkEncoder | None = None
        self._searcher = Searcher(self.store, binary=settings.binary)
        self._lock = threading.RLock()
        # one run at a time per index (runlock): a second waits (on_lock_wait hears why) or, unless
        # lock_wait, raises IndexBusyError
        self.lock_wait: bool = True
        self.on_lock_wait: Callable[[str], None] | None = None
        self._run_lock: RunLock | None = None

    # --- model ----------------------------------------------------------------------------------
    @staticmethod
    def locate(path: str | os.PathLike | None = None) -> Path:
        """The database file an index location names (a folder, a .db file, None: the default one)."""
        return resolve_db_path(path)

    def recreate(self, model=None, **settings) -> "Index":
        """Close this index, delete its file, and return a new empty one at the same place with the same
        folders (those that still exist, with their excludes). `model`: None keeps this index's model
        argument; `settings` as for Index() (the vector settings may differ: everything re-embeds)."""
        folders = [(f.path, f.excludes) for f in self.folders()]
        self.close()
        delete_index_files(self.path)
        new = Index(self.path, self._model_arg if model is None else model, fallback_model=self._fallback_model,
                    **settings)
        for path, excludes in folders:
            if path.is_dir():
                new.add_folder(path, excludes)
        return new

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
            if recorded is None and self._fallback_model is None:
                raise InvalidArgumentError("This index has no model yet: pass a model (--model).")
            arg = recorded["path"] if recorded is not None else self._fallback_model
        if isinstance(arg, (str, os.PathLike)):
            from ..encoder.loading import load

            return load(arg, download=False)
        return arg

    def check_model_loaded(self) -> None:
        recorded = self.model_identity
        if recorded is not None and not same_model(recorded, model_identity(self._model)):
            self._model_arg = self._model_arg or self._model.path
            raise ModelMismatchError(
                f"The index at {self.path} was built with {describe(recorded)}, not "
                f"{describe(model_identity(self._model))}. Run `mlx-embed index rebuild --model "
                f"{self._model.path}` to re-embed everything with it.")

    def made_with(self, model) -> bool:
        """Whether the index's vectors (if any yet) are this loaded model's."""
        recorded = self.model_identity
        return recorded is None or same_model(recorded, model_identity(model))

    @property
    def encoder(self) -> ChunkEncoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = ChunkEncoder(self.model, self.settings.chunk_tokens, self.settings.vector_dim)
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
        self.store.add_folder(str(p), list(excludes))
        return p

    def remove_folder(self, path: str | os.PathLike) -> int:
        """Forget a folder and everything found in it (files also under another folder move there)."""
        p = str(Path(os.path.abspath(os.path.expanduser(str(path)))))
        n = self.store.remove_folder(p)
        if n is None:
            raise InvalidArgumentError(f"{p} is not an indexed folder (see `mlx-embed index status`).")
        return n

    def folders(self) -> list[FolderInfo]:
        """Each folder with the state of every entry in it (an unreadable subfolder counts as failed)."""
        return [FolderInfo(Path(r["path"]), r["excludes"], r["files"], r["indexed"], r["scanned"], pending=r["pending"],
                           skipped=r["skipped"], failed=r["failed"], ignored=r["ignored"]) for r in self.store.folder_rows()]

    def problems(self) -> list[tuple[Path, str, str]]:
        """(path, reason, status) of every entry that is skipped or failed, by path."""
        return [(Path(p), reason, status) for p, reason, status in self.store.problems()]

    def problems_by_folder(self, folders: list[FolderInfo] | None = None) -> dict[Path, list[tuple[Path, str, str]]]:
        """folder -> (path, reason, status) of its skipped or failed entries (each under its innermost
        folder; `folders`: this index's folders() if you have them already)."""
        roots = sorted((str(f.path) for f in (folders if folders is not None else self.folders())), key=len, reverse=True)
        out: dict[Path, list[tuple[Path, str, str]]] = {}
        for path, reason, status in self.store.problems():
            owner = next((f for f in roots if path == f or path.startswith(f.rstrip(os.sep) + os.sep)), None)
            if owner is not None:
                out.setdefault(Path(owner), []).append((Path(path), reason, status))
        return out

    # --- indexing -------------------------------------------------------------------------------
    def run(self, progress: Callable[[RunProgress], None] | None = None, cancel: threading.Event | None = None,
            low_priority: bool = False, scan: bool = True) -> RunStats:
        """Bring the index up to date: scan the folders, then embed the queue. Resumable and cancellable."""
        if self._run_lock is None:    # rebuild holds it already
            lock = RunLock(self.path, self.lock_wait, self.on_lock_wait, cancel)
            if not lock.acquire():
                return RunStats(cancelled=True)
            self._run_lock = lock
            try:
                return self.run(progress, cancel, low_priority, scan)
            finally:
                self._run_lock = None
                lock.release()
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
        lock = RunLock(self.path, self.lock_wait, self.on_lock_wait, cancel)
        if not lock.acquire():
            return RunStats(cancelled=True)
        self._run_lock = lock
        try:
            self.store.reset_all()
            return self.run(progress, cancel, low_priority)
        finally:
            self._run_lock = None
            lock.release()

    # --- file actions ---------------------------------------------------------------------------
    def move_file(self, old: str | os.PathLike, new: str | os.PathLike) -> bool:
        """Tell the index a file (or folder) moved: its chunks follow without re-embedding.

        A destination outside every indexed folder removes it from the index. Returns False if `old`
        was not indexed."""
        return self.store.move_path(os.path.abspath(os.path.expanduser(str(old))),
                                    os.path.abspath(os.path.expanduser(str(new))))

    def remove_file(self, path: str | os.PathLike) -> bool:
        return self.store.remove_path(os.path.abspath(os.path.expanduser(str(path))))

    # --- search ---------------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, folder=None, kinds=None, modified_after=None, modified_before=None,
               mode: str = "hybrid", passages: int = 3) -> list[SearchResult]:
        """Ranked files for `query`, each with its best passages (see mlx_embed.index.search)."""
        if not query or not query.strip():
            raise InvalidArgumentError("Empty query.")
        if k < 1:
            raise InvalidArgumentError(f"k={k}: ask for at least one result.")
        query = os.fsencode(query).decode("utf-8", "replace")  # argv bytes that are not UTF-8 (surrogates)
        parsed = parse_query(query)
        qvec = None
        if mode != "keyword":
            if self.model_identity is None:
                mode = "keyword" if mode == "hybrid" else mode  # nothing embedded yet
            else:
                qvec = self.encoder.query(parsed.text)
        return self._searcher.search(query, qvec, k, folder, kinds, modified_after, modified_before, mode, passages,
                                     parsed=parsed)

    def similar(self, path: str | os.PathLike, k: int = 10, folder=None, kinds=None):
        """The indexed files most like `path` (an indexed file: its stored vectors, no model call; any
        other readable file: embedded, nothing stored). Returns mlx_embed.index.similar.Similar."""
        from .similar import find_similar

        return find_similar(self, path, k, folder, kinds)

    def refine(self, query: str, more=(), less=(), k: int = 10, **filters) -> list[SearchResult]:
        """`search` with the query vector moved towards `more` and away from `less` (indexed files)."""
        from .similar import refine

        return refine(self, query, more, less, k, **filters)

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
        for p in paths:
            vectors = self.store.file_vectors(os.path.abspath(os.path.expanduser(str(p))), self.settings.binary)
            if vectors is not None:
                out[Path(p)] = vectors
        return out

    def file_vectors(self, paths: Iterable[str | os.PathLike] | None = None, task: str = "retrieval"
                     ) -> tuple[list[Path], np.ndarray]:
        """One normalised vector per indexed file (the mean of its chunk vectors): (paths, (n, d))."""
        self._check_task(task)
        if paths is None:
            paths = self.store.indexed_paths()
        per = self.vectors_for_files(paths, task)
        names = list(per)
        if not names:
            return [], np.zeros((0, self.settings.vector_dim or (self.model_identity or {}).get("dim", 0)), np.float32)
        mat = np.stack([v.mean(axis=0) for v in per.values()])
        mat /= np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
        return names, mat.astype(np.float32)

    # --- status ---------------------------------------------------------------------------------
    def status(self, max_failures: int = 50) -> IndexStatus:
        folders = self.folders()
        counts = {s: sum(f.counts[s] for f in folders) for s in ("pending", "indexed", "skipped", "failed")}
        run = self.store.get("run")
        if run and not _alive(run.get("pid")):
            run = None
        return IndexStatus(path=self.path, model=self.model_identity, settings=asdict(self.settings),
                           folders=folders, counts=counts, ignored=sum(f.ignored for f in folders),
                           chunks=self.store.chunk_count(), failures=self.store.failures(max_failures),
                           skipped_reasons=self.store.skipped_reasons(), run=run, last_run=self.store.get("last_run"),
                           size_bytes=self.store.size_bytes(), kinds=self.store.indexed_kinds())

    def run_summary(self, stats: RunStats, status: IndexStatus | None = None) -> str:
        """What a run did, then where every file stands: the words the CLI and the app both show."""
        return describe_run(stats, status if status is not None else self.status(max_failures=0))

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

"""The app's state shared by every view: settings, the loaded model, the open index, the worker pools.

Views call these methods (user intent) and listen to the signals. Every library call runs in a worker,
so the GUI thread never waits for a model, the index (whose writer may hold the database for a moment)
or a clustering.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from . import index_handle, library
from .config import AppSettings
from .workers import Runner

log = logging.getLogger("mlx_embed.app")


class Session(QObject):
    model_loading = Signal(str)                 # model name
    model_changed = Signal(object)              # EmbeddingModel or None
    model_failed = Signal(str)
    model_mismatch = Signal(str)                # the index holds another model's vectors: offer a re-index
    index_changed = Signal()                    # the index was (re)opened, reset, or its folders changed
    folders_changed = Signal(list)              # [index_handle.FolderStatus]
    indexing_started = Signal()
    indexing_progress = Signal(object)          # workers.TaskProgress
    indexing_finished = Signal(object)          # index_handle.RunSummary, or None when stopped/failed
    indexing_paused = Signal(bool)
    error = Signal(str, str)                    # message (says what to do), where ("index", "search", ...)
    info = Signal(str)

    def __init__(self, settings: AppSettings | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings or AppSettings()
        self.runner = Runner(self, max_threads=4)              # search, model, clustering, admin
        self.index_runner = Runner(self, max_threads=2)        # indexing and watching (low-priority threads)
        self.model = None
        self.index: index_handle.IndexHandle | None = None
        self._run_active = False
        self.last_summary = None
        self.runs_finished = 0
        self.watch_interval = 5.0               # seconds between the library's change checks
        self.folders_refresh_s = 2.0            # during a run the Folders rows are re-read at most this often
        self._folders_read_at = 0.0

    # --- model ----------------------------------------------------------------------------------
    def load_model(self, name: str | None = None):
        name = name or self.settings.model
        if not name:
            self.model_failed.emit("No model chosen yet.")
            return None
        self.model_loading.emit(name)
        dtype, quantize = self.settings.model_dtype or None, self.settings.model_quantize or None
        task = self.runner.submit("model", lambda ctx: library.load_model(name, dtype, quantize))
        task.signals.finished.connect(lambda _rid, model: self._model_loaded(name, model))
        task.signals.failed.connect(lambda _rid, msg: (self.model_failed.emit(msg), self.error.emit(msg, "model")))
        return task

    def _model_loaded(self, name: str, model) -> None:
        self.settings.model = name
        self.settings.sync()
        self.model = model
        self.model_changed.emit(model)
        self.open_index()

    # --- index ----------------------------------------------------------------------------------
    def open_index(self, recreate: bool = False):
        """(Re)open the index for the current model and settings (in a worker), then resume unfinished work."""
        if self.model is None:
            return None
        self.index_runner.cancel("index")
        old, self.index = self.index, None
        model, settings, location = self.model, self.settings, self.settings.index_location or None

        def work(ctx):
            if old is not None:
                self.index_runner.wait_idle("index", 30)
            if recreate and old is not None:
                return index_handle.recreate_index(old, model, settings)
            if old is not None:
                old.close()
            handle = index_handle.open_index(location, model, settings)
            handle.folder_status()  # warm the folder list
            return handle

        task = self.runner.submit("open-index", work)
        task.signals.finished.connect(lambda _rid, handle: self._index_opened(handle))
        task.signals.failed.connect(lambda _rid, msg: (self.error.emit(msg, "index"), self.index_changed.emit()))
        return task

    def _index_opened(self, handle) -> None:
        self.index = handle
        self.index_changed.emit()
        mismatch = handle.model_mismatch(self.model)
        if mismatch:
            self.model_mismatch.emit(mismatch)
            self.refresh_folders()
            return
        self.refresh_folders()
        if handle.folders():
            self.start_indexing()       # catches what changed while the app was closed; resumes a stopped run

    def refresh_folders(self) -> None:
        if self.index is None:
            self.folders_changed.emit([])
            return
        index = self.index
        task = self.runner.submit("folders", lambda ctx: index.folder_status())
        task.signals.finished.connect(lambda _rid, rows: self.folders_changed.emit(rows))
        task.signals.failed.connect(lambda _rid, msg: self.error.emit(msg, "index"))

    def add_folders(self, paths: list[str]):
        if self.index is None:
            self.error.emit("Choose a model first: the index needs one to embed your files.", "index")
            return None
        folders = []
        for p in paths:
            path = Path(p).expanduser()
            if path.is_dir():
                folders.append(path)
            else:
                self.error.emit(f"{path} is not a folder. Drop or choose a folder to index it "
                                "(to group single files, use Cluster).", "index")
        if not folders:
            return None
        index = self.index
        task = self.runner.submit(None, lambda ctx: [index.add_folder(f) for f in folders])
        task.signals.finished.connect(lambda _rid, added: self._folders_added(added))
        task.signals.failed.connect(lambda _rid, msg: self.error.emit(msg, "index"))
        return task

    def _folders_added(self, added: list) -> None:
        self.info.emit(f"Added {', '.join(Path(p).name for p in added)}: indexing in the background.")
        self.refresh_folders()
        self.index_changed.emit()
        self.start_indexing()

    def remove_folder(self, path: str):
        if self.index is None:
            return None
        self.cancel_indexing()
        index = self.index

        def work(ctx):
            self.index_runner.wait_idle("index", 30)
            return index.remove_folder(path)

        task = self.runner.submit(None, work)
        task.signals.finished.connect(lambda *_: (self.refresh_folders(), self.index_changed.emit(),
                                                  self.start_indexing()))
        task.signals.failed.connect(lambda _rid, msg: self.error.emit(msg, "index"))
        return task

    def indexing(self) -> bool:
        """True while a run (scan or embedding) is in progress (not while only following changes)."""
        return self._run_active

    def start_indexing(self, rebuild: bool = False):
        """Bring the index up to date now, then keep following changes (Settings: "Follow changes").

        One long task on the index runner: the library's run, then its watch loop. Starting again
        replaces the loop; the library's persistent queue means nothing done so far is redone."""
        if self.index is None:
            return None
        index, watch = self.index, self.settings.watch
        runner = self.index_runner

        def loop(ctx):
            runner.wait_idle_except("index", ctx, 60)    # one writer at a time: the replaced loop stops first
            index.index_loop(ctx, watch=watch, rebuild=rebuild, interval=self.watch_interval)

        task = runner.submit("index", loop)
        self._run_active = True
        self.indexing_started.emit()
        task.signals.progress.connect(self._index_progress)
        task.signals.partial.connect(lambda _rid, summary: self._run_done(summary))
        task.signals.finished.connect(lambda _rid, _r: self._loop_ended(None))
        task.signals.failed.connect(lambda _rid, msg: (self.error.emit(msg, "index"), self._loop_ended(None)))
        task.signals.cancelled.connect(lambda _rid: self._loop_ended(None) if runner.current("index") is None else None)
        return task

    def _index_progress(self, _rid, p) -> None:
        if not self._run_active:
            self._run_active = True
            self.indexing_started.emit()
        self.indexing_progress.emit(p)
        # the Folders rows follow the run (files found, indexed, pending), not only its end
        now = time.monotonic()
        if now - self._folders_read_at >= self.folders_refresh_s:
            self._folders_read_at = now
            self.refresh_folders()

    def _run_done(self, summary) -> None:
        self._run_active = False
        self.last_summary = summary
        self.runs_finished += 1
        self.indexing_finished.emit(summary)
        self.refresh_folders()

    def _loop_ended(self, summary) -> None:
        was = self._run_active
        self._run_active = False
        if was:
            self.indexing_finished.emit(summary)
        self.refresh_folders()

    def pause_indexing(self, paused: bool) -> None:
        task = self.index_runner.current("index")
        if task is None:
            return
        if paused:
            task.ctx.pause()
        else:
            task.ctx.resume()
        self.indexing_paused.emit(paused)

    def cancel_indexing(self) -> None:
        """Stop the run (and following changes) at a safe point; the next start resumes it."""
        self.index_runner.cancel("index")

    def rebuild_index(self):
        """"Reset index": re-embed every file with the current model and settings."""
        return self.start_indexing(rebuild=True)

    def reindex_for_model(self):
        """After a model change: a new index for this model (same folders, vector settings that fit it)."""
        return self.open_index(recreate=True)

    # --- search ---------------------------------------------------------------------------------
    def search(self, channel: str, query: str, k: int = 20, **filters):
        """Search on `channel` ("search" or "popup"); a newer call on the channel supersedes the old one."""
        if self.index is None:
            return None
        index = self.index
        started = time.perf_counter()

        def run(ctx):
            hits = index.search(query, k=k, **filters)
            ctx.check()
            return hits, time.perf_counter() - started

        return self.runner.submit(channel, run)

    def similar(self, channel: str, path: str, k: int = 20, folder=None, kinds=None):
        """Files like `path` on `channel` (supersedes that channel's search): ((hits, copies), seconds)."""
        if self.index is None:
            return None
        index, started = self.index, time.perf_counter()

        def run(ctx):
            found = index.similar(path, k=k, folder=folder, kinds=kinds)
            ctx.check()
            return found, time.perf_counter() - started

        return self.runner.submit(channel, run)

    def refine(self, channel: str, query: str, more: list[str], less: list[str], k: int = 20, **filters):
        """`search` refined by "more / less like this" files (Rocchio in the library)."""
        if self.index is None:
            return None
        index, started = self.index, time.perf_counter()

        def run(ctx):
            hits = index.refine(query, list(more), list(less), k=k, **filters)
            ctx.check()
            return hits, time.perf_counter() - started

        return self.runner.submit(channel, run)

    # --- organising -----------------------------------------------------------------------------
    def cluster(self, paths: list[str], k: int | None, method: str):
        model, index = self.model, self.index
        return self.runner.submit("cluster", lambda ctx: library.cluster_paths(model, paths, k, method, index, ctx))

    def classify(self, folder: str, labels: list[dict], threshold: float, base_set=None):
        model, index = self.model, self.index
        return self.runner.submit("classify", lambda ctx: library.classify_paths(model, [folder], labels,
                                                                                   threshold, index, ctx, base_set))

    def apply_plan(self, plan):
        index = self.index
        return self.runner.submit(None, lambda ctx: library.apply_plan(plan, index))

    def undo(self, journal):
        index = self.index
        return self.runner.submit(None, lambda ctx: library.undo(journal, index))

    # --- settings ---------------------------------------------------------------------------------
    def settings_changed(self, vectors_changed: bool, location_changed: bool) -> None:
        if self.model is None:
            return
        if vectors_changed and not location_changed:
            self.open_index(recreate=True)
        else:
            self.open_index()

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """On quit: stop the workers at a safe point (the library commits file by file), close the index."""
        self.index_runner.shutdown(timeout_ms)
        self.runner.shutdown(timeout_ms)
        if self.index is not None:
            self.index.close()
            self.index = None

"""Background work: QThreadPool + QRunnable tasks that report through Qt signals.

    runner = Runner()                                    # one per window
    task = runner.submit("search", fn, *args)           # fn(ctx, *args) -> result, runs off the GUI thread
    task.signals.finished.connect(...)                   # (request id, result), only if still current
    runner.cancel("search")                              # cancel the channel's running task

A task's function gets a `Context`: `ctx.progress(done, total, message)`, `ctx.partial(payload)`,
`ctx.check()` (raises Cancelled when cancelled; blocks while paused). Library callbacks are wired to
these, so cancelling raises inside the library's own progress callback, which is how the library
wants to be cancelled.

Each channel ("search", "index", "cluster"...) has one current request id: submitting a new task on a
channel cancels the previous one, and signals of a task that is no longer current are dropped, so a
stale search result is never shown over a newer one.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

log = logging.getLogger("mlx_embed.app")
_ids = itertools.count(1)


class Cancelled(Exception):
    """Raised inside a task (from ctx.check or a progress callback) when the user cancelled it."""


class WorkerSignals(QObject):
    progress = Signal(int, object)     # request id, TaskProgress
    partial = Signal(int, object)      # request id, partial result
    finished = Signal(int, object)     # request id, result
    failed = Signal(int, str)          # request id, message a user can act on
    cancelled = Signal(int)            # request id


class TaskProgress:
    """A task's progress as the views show it: done/total (total 0 = unknown), a short message, an ETA in
    seconds when it can be guessed, and `extra` (e.g. the index run's phase). The library's own progress
    records (mlx_embed.index.RunProgress) are turned into these by the task."""

    __slots__ = ("done", "total", "message", "eta", "extra")

    def __init__(self, done: int, total: int, message: str = "", eta: float | None = None, extra: Any = None):
        self.done, self.total, self.message, self.eta, self.extra = done, total, message, eta, extra

    def __repr__(self) -> str:
        return f"TaskProgress({self.done}/{self.total} {self.message!r})"


class Context:
    """What a task function sees: progress/partial reporting, cancel and pause."""

    def __init__(self, task: "Task"):
        self._task = task
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._started = time.monotonic()
        self._last_emit = 0.0

    @property
    def request_id(self) -> int:
        return self._task.request_id

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()          # a paused task wakes up to notice it was cancelled

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def cancel_event(self) -> threading.Event:
        """For library calls that take a `cancel` Event."""
        return self._cancel

    def wait_while_paused(self) -> None:
        while not self._running.wait(0.1):
            pass

    def report(self, done: int, total: int, message: str = "", eta: float | None = None, extra: Any = None) -> None:
        """Progress without raising on cancel (for library callbacks that stop on their own cancel Event)."""
        now = time.monotonic()
        if now - self._last_emit >= 0.05 or (total and done >= total):
            self._last_emit = now
            self._task.emit("progress", TaskProgress(done, total, message, eta, extra))

    def check(self) -> None:
        """Raise Cancelled if cancelled; wait here while paused."""
        self.wait_while_paused()
        if self._cancel.is_set():
            raise Cancelled()

    def progress(self, done: int, total: int, message: str = "", extra: Any = None, force: bool = False) -> None:
        """Report progress (throttled to ~20 per second) and honour cancel/pause."""
        self.check()
        now = time.monotonic()
        if force or now - self._last_emit >= 0.05 or (total and done >= total):
            self._last_emit = now
            elapsed = now - self._started
            eta = elapsed / done * (total - done) if total and done and elapsed > 1 else None
            self._task.emit("progress", TaskProgress(done, total, message, eta, extra))

    def partial(self, payload: Any, check: bool = True) -> None:
        if check:
            self.check()
        self._task.emit("partial", payload)


class Task(QRunnable):
    def __init__(self, runner: "Runner", channel: str, fn: Callable[..., Any], args: tuple, kwargs: dict):
        super().__init__()
        self.setAutoDelete(False)       # the runner keeps it until its signals are delivered
        self.runner = runner
        self.channel = channel
        self.request_id = next(_ids)
        self.signals = WorkerSignals()
        self.ctx = Context(self)
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.done = threading.Event()

    def emit(self, kind: str, payload: Any) -> None:
        if self.runner.is_current(self):
            getattr(self.signals, kind).emit(self.request_id, payload)

    def run(self) -> None:  # worker thread
        try:
            self.ctx.check()
            result = self.fn(self.ctx, *self.args, **self.kwargs)
        except Cancelled:
            self.signals.cancelled.emit(self.request_id)
        except BaseException as exc:  # noqa: BLE001  (every failure is shown to the user, never swallowed)
            if self.ctx.cancelled and _is_cancel(exc):
                self.signals.cancelled.emit(self.request_id)
            else:
                if not _is_library_error(exc):
                    log.error("task %s failed:\n%s", self.channel, traceback.format_exc())
                if self.runner.is_current(self):
                    self.signals.failed.emit(self.request_id, describe_error(exc))
        else:
            if self.ctx.cancelled:
                self.signals.cancelled.emit(self.request_id)
            elif self.runner.is_current(self):
                self.signals.finished.emit(self.request_id, result)
        finally:
            self.done.set()
            self.runner._finished(self)


class Runner(QObject):
    """Submits tasks to a thread pool, one current task per channel."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 4):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._current: dict[str, Task] = {}
        self._last: dict[str, Task] = {}          # the newest task per channel, even once cancelled
        self._alive: set[Task] = set()
        self._recent: collections.deque[Task] = collections.deque(maxlen=64)   # keeps queued signals' senders alive
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, channel: str | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
        """Run fn(ctx, *args, **kwargs) in the pool. channel None: a one-off task nothing supersedes."""
        task = Task(self, channel or f"once-{next(_ids)}", fn, args, kwargs)
        with self._lock:
            old = self._current.get(task.channel)
            self._current[task.channel] = task
            self._last[task.channel] = task
            self._alive.add(task)
        if old is not None:
            old.ctx.cancel()
        # Start on the next turn of the event loop, so the caller connects the task's signals first
        # (a quick task could otherwise finish before anyone listens).
        QTimer.singleShot(0, self, lambda: self._start(task))
        return task

    def _start(self, task: Task) -> None:
        if self._closed or task.ctx.cancelled:
            task.signals.cancelled.emit(task.request_id)
            task.done.set()
            self._finished(task)
            return
        self.pool.start(task)

    def current(self, channel: str) -> Task | None:
        with self._lock:
            task = self._current.get(channel)
        return task if task is not None and not task.done.is_set() else None

    def is_current(self, task: Task) -> bool:
        with self._lock:
            return self._current.get(task.channel) is task

    def cancel(self, channel: str) -> None:
        with self._lock:
            task = self._current.pop(channel, None)
        if task is not None:
            task.ctx.cancel()

    def wait_idle(self, channel: str, timeout: float) -> bool:
        """Wait (off the GUI thread) until the channel's newest task has returned."""
        with self._lock:
            task = self._last.get(channel)
        return task is None or task.done.wait(timeout)

    def wait_idle_except(self, channel: str, ctx: Context, timeout: float) -> bool:
        """From inside a channel's new task: wait until every older task of the channel has returned."""
        deadline = time.monotonic() + timeout
        with self._lock:
            older = [t for t in self._alive if t.channel == channel and t.ctx is not ctx]
        for t in older:
            if not t.done.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def busy(self, channel: str) -> bool:
        return self.current(channel) is not None

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything and wait for the workers to stop (used on quit)."""
        with self._lock:
            self._closed = True
            tasks = list(self._alive)
            self._current.clear()
        for task in tasks:
            task.ctx.cancel()
        return self.pool.waitForDone(timeout_ms)

    def _finished(self, task: Task) -> None:
        with self._lock:
            self._alive.discard(task)
            self._recent.append(task)


def _is_cancel(exc: BaseException) -> bool:
    return isinstance(exc, (Cancelled, KeyboardInterrupt)) or "cancel" in type(exc).__name__.lower()


def _is_library_error(exc: BaseException) -> bool:
    try:
        from mlx_embed.errors import MlxEmbedError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, MlxEmbedError)


def describe_error(exc: BaseException) -> str:
    """A message for the window: the library's own (it says what to do), else the type and a hint."""
    if _is_library_error(exc):
        return str(exc)
    if isinstance(exc, PermissionError):
        return f"Permission denied: {exc.filename or exc}. Give mlx-embed access to it (on macOS: System " \
               "Settings > Privacy & Security > Files and Folders) or choose another location."
    if isinstance(exc, FileNotFoundError):
        return f"Not found: {exc.filename or exc}. It may have been moved or deleted; choose it again."
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} ({exc.filename or type(exc).__name__}). Check the disk and permissions."
    if isinstance(exc, MemoryError):
        return "Out of memory. Close other apps, or pick a smaller model or a lower precision in Settings."
    first = str(exc).splitlines()[0] if str(exc) else "no details"
    return f"Unexpected error ({type(exc).__name__}: {first}). Try again; if it keeps happening, report it " \
           "with the log (run `mlx-embed-app` from a terminal to see it)."

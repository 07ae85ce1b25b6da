"""One run at a time per index: an advisory lock on `<index>.lock` held while a run updates the index.

    with RunLock(db_path, wait=True, on_wait=print, cancel=event): ...

The kernel drops the lock when its process ends, however it ends (a crash, kill -9, a power cut), so a
crashed run never leaves it stuck; the file itself may stay and means nothing by itself. A second run
waits (telling `on_wait` once, with the holder's pid) or, with wait=False, raises IndexBusyError.
Locks are per open file, so two Index objects in one process exclude each other too.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import IndexBusyError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; runs are not serialised there
    fcntl = None

POLL_SECONDS = 0.25


class RunLock:
    def __init__(self, db_path: Path, wait: bool = True, on_wait: Callable[[str], None] | None = None,
                 cancel: threading.Event | None = None):
        self.path = db_path.with_name(db_path.name + ".lock")
        self.wait, self.on_wait, self.cancel = wait, on_wait, cancel
        self._fd: int | None = None

    def _holder(self) -> str:
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def acquire(self) -> bool:
        """True once held; False if `cancel` was set while waiting."""
        if fcntl is None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return True  # a read-only folder: the run's first write says why it cannot go on
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                message = (f"another mlx-embed run (pid {self._holder()}) is updating the index "
                           f"{self.path.with_suffix('') if self.path.suffix == '.lock' else self.path}")
                if not self.wait:
                    os.close(fd)
                    raise IndexBusyError(message + ": wait for it to end, or stop it, and run this again.") from None
                if not told and self.on_wait is not None:
                    self.on_wait(message + "; waiting for it to end (Ctrl-C to stop waiting)")
                    told = True
                if self.cancel is not None and self.cancel.is_set():
                    os.close(fd)
                    return False
                time.sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

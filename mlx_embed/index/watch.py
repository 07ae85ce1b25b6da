"""Keep an index current while running: poll the folders' tree signatures, re-run on change.

    watch(index, interval=5.0, settle=2.0, cancel=None, on_run=None)

Polling (a stat walk through discovery, no file reads) works on every platform and filesystem
(network shares and external drives included) without a native dependency; the wait between walks
grows to 10x the walk's own duration, so a large tree costs at most ~10% of one core. A run starts once
changes have settled for `settle` seconds, and only changed files are re-embedded (see indexer).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable

from .discover import discover


def tree_signature(index) -> str:
    """A hash of (path, size, mtime) of every discoverable file in the index's folders."""
    h = hashlib.blake2b(digest_size=16)
    s = index.settings
    for folder in index.folders():
        for c in discover([folder.path], s.excludes + list(folder.excludes), s.max_size, s.include_hidden,
                          report_all=True):  # a new broken link or FIFO is a change too
            h.update(f"{c.path}\0{c.size}\0{c.mtime_ns}\0{c.skip}\n".encode())
    h.update(json.dumps([str(f.path) for f in index.folders()]).encode())
    return h.hexdigest()


def watch(index, interval: float = 5.0, settle: float = 2.0, cancel: threading.Event | None = None,
          on_run: Callable | None = None, progress: Callable | None = None, low_priority: bool = True) -> None:
    """Run `index.run()` now and again after every settled change, until `cancel` is set."""
    cancel = cancel or threading.Event()
    last = tree_signature(index)  # taken before each run: a change during the run triggers the next
    stats = index.run(progress=progress, cancel=cancel, low_priority=low_priority)
    if on_run:
        on_run(stats)
    wait = interval
    while not cancel.wait(wait):
        t0 = time.monotonic()
        sig = tree_signature(index)
        wait = max(interval, 10 * (time.monotonic() - t0))
        if sig == last:
            continue
        while not cancel.wait(settle):  # wait until writers are done
            again = tree_signature(index)
            if again == sig:
                break
            sig = again
        if cancel.is_set():
            break
        last = sig
        stats = index.run(progress=progress, cancel=cancel, low_priority=low_priority)
        if on_run:
            on_run(stats)

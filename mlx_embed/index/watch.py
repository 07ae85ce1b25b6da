"""Keep an index current while running: native file events where the volume sends them, polling elsewhere.

    watch(index, interval=5.0, settle=2.0, cancel=None, on_run=None, progress=None, low_priority=True,
          method="auto", on_start=None)
    choose_methods(folders, method="auto") -> {folder: (method, reason)}
    filesystem_type(path) -> str | None

Events ("events"): `watchfiles` (inotify on Linux, FSEvents on macOS, ReadDirectoryChangesW on Windows) in
a thread; a burst of changes is gathered until QUIET_MS pass without a new one (at most DEBOUNCE_MS), then
one run follows. Idle, nothing is walked: the cost is the kernel's and a wake-up of the events thread
every QUIET_MS to look at its stop flag (and of the loop once a second to look at `cancel`).

Polling ("poll"): a stat walk through discovery (no file reads) of the folder every `interval` seconds, the
wait growing to 10x the walk's own duration (so a large tree costs at most ~10% of one core); a change
starts a run once the tree has stayed the same for `settle` seconds.

Which one (method="auto", per folder): polling where the folder lies on a network or FUSE filesystem
(NO_EVENT_FILESYSTEMS: NFS, SMB/CIFS, AFP, WebDAV, sshfs, 9p...: the local kernel sees only the changes
made through this machine, so changes from other machines would be missed), where `watchfiles` is not
installed, or where the events watcher fails to start (e.g. Linux's inotify watch limit); events
everywhere else. The filesystem type comes from /proc/self/mountinfo on Linux and `mount` on macOS; no
probe file is ever written into the user's folders. MLX_EMBED_WATCH=poll|events (or method=) forces one.

Either way only changed files are re-embedded (see indexer); a folder added to or removed from the index
while watching is picked up within `interval` seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .discover import SKIP_DIRS, discover

QUIET_MS = 300        # a burst of changes is over when this long passes without a new one
DEBOUNCE_MS = 2000    # ... or after this long at most (a long copy still gets indexed as it goes)
STARTUP_S = 0.5       # a watcher still running this long after its start has started
NO_EVENT_FILESYSTEMS = {
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "afpfs", "webdav", "davfs", "fuse.davfs", "9p",
    "afs", "ceph", "glusterfs", "fuse.glusterfs", "fuse.sshfs", "sshfs", "osxfuse", "macfuse", "fuse.rclone",
    "fuse.s3fs", "fuse.gcsfuse", "lustre", "gpfs", "beegfs", "virtiofs", "vboxsf", "prl_fs", "vmhgfs",
}


def tree_signature(index, folders: list | None = None) -> str:
    """A hash of (path, size, mtime) of every discoverable file in the index's folders (or `folders`)."""
    h = hashlib.blake2b(digest_size=16)
    s = index.settings
    folders = index.folders() if folders is None else folders
    for folder in folders:
        for c in discover([folder.path], s.excludes + list(folder.excludes), s.max_size, s.include_hidden,
                          report_all=True):  # a new broken link or FIFO is a change too
            h.update(f"{c.path}\0{c.size}\0{c.mtime_ns}\0{c.skip}\n".encode())
    h.update(json.dumps([str(f.path) for f in folders]).encode())
    return h.hexdigest()


# --- which method --------------------------------------------------------------------------------------
def _mounts() -> list[tuple[str, str]]:
    """(mount point, filesystem type) of every mount, longest mount point first."""
    out: list[tuple[str, str]] = []
    try:
        if sys.platform.startswith("linux"):
            with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
                for line in f:
                    left, _, right = line.partition(" - ")
                    fields = left.split()
                    if len(fields) >= 5 and right:
                        point = fields[4].encode().decode("unicode_escape")  # \040 for a space
                        out.append((point, right.split()[0]))
        elif sys.platform == "darwin":
            text = subprocess.run(["/sbin/mount"], capture_output=True, text=True, timeout=5).stdout
            for line in text.splitlines():   # "//u@host/share on /Volumes/share (smbfs, nodev, ...)"
                if " on " in line and " (" in line:
                    point = line.split(" on ", 1)[1].rsplit(" (", 1)[0]
                    out.append((point, line.rsplit(" (", 1)[1].split(",")[0].strip(")")))
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(out, key=lambda m: len(m[0]), reverse=True)


def filesystem_type(path: str | os.PathLike, mounts: list[tuple[str, str]] | None = None) -> str | None:
    """The type of the filesystem `path` is on ("ext4", "apfs", "nfs4"...), None where unknown."""
    real = os.path.realpath(path)
    for point, fstype in (_mounts() if mounts is None else mounts):
        if real == point or real.startswith(point.rstrip("/") + "/"):
            return fstype
    return None


def choose_methods(folders: list[Path], method: str = "auto",
                   mounts: list[tuple[str, str]] | None = None) -> dict[Path, tuple[str, str]]:
    """{folder: ("events" | "poll", why)}; see the module docstring."""
    forced = method if method != "auto" else os.environ.get("MLX_EMBED_WATCH", "").strip().lower() or "auto"
    if forced not in ("auto", "events", "poll"):
        from ..errors import InvalidArgumentError

        raise InvalidArgumentError(f"Unknown watch method {forced!r}: use auto, events or poll.")
    try:
        import watchfiles  # noqa: F401
        have_events = True
    except ImportError:
        have_events = False
    mounts = _mounts() if mounts is None and forced == "auto" else mounts
    out: dict[Path, tuple[str, str]] = {}
    for folder in folders:
        if forced == "poll":
            out[folder] = ("poll", "polling was asked for")
        elif not have_events:
            out[folder] = ("poll", "watchfiles is not installed")
        elif forced == "events":
            out[folder] = ("events", "events were asked for")
        else:
            fstype = filesystem_type(folder, mounts or [])
            if fstype in NO_EVENT_FILESYSTEMS:
                out[folder] = ("poll", f"on {fstype}, which reports only this machine's changes")
            else:
                out[folder] = ("events", f"on {fstype or 'a local filesystem'}")
    return out


# --- the loop --------------------------------------------------------------------------------------------
class _EventsThread(threading.Thread):
    """watchfiles over some folders; sets `wake` after each settled burst of relevant changes."""

    def __init__(self, folders: list[Path], wake: threading.Event, ignore: Callable[[str], bool]):
        super().__init__(daemon=True, name="mlx-embed-watch-events")
        self.folders, self.wake, self.ignore = folders, wake, ignore
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from watchfiles import watch as file_events

        try:
            for changes in file_events(*self.folders, watch_filter=lambda _c, p: not self.ignore(p),
                                       debounce=DEBOUNCE_MS, step=QUIET_MS, rust_timeout=0,
                                       stop_event=self.stop, raise_interrupt=False,
                                       ignore_permission_denied=True):
                if changes:
                    self.wake.set()
        except BaseException as exc:  # noqa: BLE001  (a watch limit, a vanished folder: the loop falls back)
            self.error = exc
            self.wake.set()


def _ignorer(index, folders: list[Path]) -> Callable[[str], bool]:
    """True for a path whose change cannot matter: the index's own files, and hidden or tool folders
    below a watched folder (as discovery skips them)."""
    own = str(index.path)
    hidden_ok = index.settings.include_hidden
    roots = sorted((str(f) for f in folders), key=len, reverse=True)

    def ignore(path: str) -> bool:
        if path.startswith(own):
            return True
        root = next((r for r in roots if path.startswith(r.rstrip(os.sep) + os.sep)), None)
        if root is None:
            return False
        parts = Path(path[len(root):].lstrip(os.sep)).parts
        return any(p in SKIP_DIRS for p in parts) or (not hidden_ok and any(p.startswith(".") for p in parts))
    return ignore


def watch(index, interval: float = 5.0, settle: float = 2.0, cancel: threading.Event | None = None,
          on_run: Callable | None = None, progress: Callable | None = None, low_priority: bool = True,
          method: str = "auto", on_start: Callable[[dict], None] | None = None) -> None:
    """Run `index.run()` now and again after every settled change, until `cancel` is set. `on_start`
    gets {folder: (method, why)} each time the set of watched folders is (re)established."""
    cancel = cancel or threading.Event()

    def run() -> None:
        stats = index.run(progress=progress, cancel=cancel, low_priority=low_priority)
        if on_run:
            on_run(stats)

    while not cancel.is_set():
        folders = [f for f in index.folders() if f.path.is_dir()]   # a vanished one comes back in later
        paths = [f.path for f in folders]
        methods = choose_methods(paths, method)
        wake = threading.Event()
        events = None
        event_paths = [p for p, (m, _) in methods.items() if m == "events"]
        if event_paths:
            events = _EventsThread(event_paths, wake, _ignorer(index, event_paths))
            events.start()
            events.join(STARTUP_S)   # a watcher that cannot start (watch limit, no permission) fails at once
            if events.error is not None:
                why = f"native events failed ({type(events.error).__name__}: {events.error})"
                methods.update({p: ("poll", why) for p in event_paths})
                events = None
                wake.clear()
        if on_start:
            on_start(methods)
        polled = [f for f in folders if methods.get(f.path, ("poll",))[0] == "poll"]
        run()   # after the watcher is up: a change during this run wakes the next one
        try:
            _follow(index, paths, polled, wake, events, interval, settle, cancel, run)
        finally:
            if events is not None:
                events.stop.set()
                events.join(5)


def _follow(index, paths, polled, wake, events, interval, settle, cancel, run) -> None:
    """Until cancelled or the folder list changes (the caller then starts over)."""
    last = tree_signature(index, polled) if polled else None
    next_poll = time.monotonic() + interval
    next_folder_check = time.monotonic() + interval
    while not cancel.is_set():
        wake.wait(1.0)          # events wake it at once; cancel is looked at every second
        if cancel.is_set():
            return
        now = time.monotonic()
        if events is not None and events.error is not None:
            return              # start over: the folder falls back to polling (or a vanished one drops out)
        if wake.is_set():
            wake.clear()
            run()
            continue
        if now >= next_folder_check:
            next_folder_check = now + interval
            if [f.path for f in index.folders() if f.path.is_dir()] != paths:
                return
        if polled and now >= next_poll:
            t0 = time.monotonic()
            sig = tree_signature(index, polled)
            next_poll = time.monotonic() + max(interval, 10 * (time.monotonic() - t0))
            if sig == last:
                continue
            while not cancel.wait(settle):  # wait until writers are done
                again = tree_signature(index, polled)
                if again == sig:
                    break
                sig = again
            if cancel.is_set():
                return
            last = sig
            run()

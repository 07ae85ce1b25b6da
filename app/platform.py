"""Open, reveal and copy files the way the platform does it (Finder, Explorer, the desktop's file manager)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication

OPEN_WATCH_S = 5.0      # an opener that fails within this long has its reason shown in the app


class _OpenWatch(QObject):
    """Carries an opener's failure from its watching thread to the GUI thread (a queued signal)."""

    failed = Signal(str)


def open_path(path: str | Path, on_error: Callable[[str], None] | None = None) -> bool:
    """Open the file with its default program. False (and `on_error(reason)`) if that fails at once; an
    opener that fails a moment later (xdg-open / open exit non-zero within OPEN_WATCH_S) calls
    `on_error(reason)` then, with what the opener said, instead of leaving it on stderr only."""
    path = Path(path)
    report = on_error or (lambda _reason: None)
    if not path.exists():
        report(f"Could not open {path.name}: it is no longer at {path.parent} (moved or deleted).")
        return False
    opener = "open" if sys.platform == "darwin" else "xdg-open" if sys.platform != "win32" else None
    if opener is None or shutil.which(opener) is None:
        ok = QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
        if not ok:
            report(f"Could not open {path.name}: no program is set up to open this type of file. Reveal it "
                   "(Ctrl+Enter) and choose a program with Open With.")
        return ok
    try:    # a session of its own: the opened program outlives the app
        proc = subprocess.Popen([opener, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,  # noqa: S603
                                stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        report(f"Could not open {path.name}: {opener} did not start ({exc.strerror or exc}).")
        return False
    watch = _OpenWatch()
    watch.failed.connect(report)
    started = time.monotonic()

    def wait() -> None:
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr is not None else ""
        code = proc.wait()
        if code != 0 and time.monotonic() - started <= OPEN_WATCH_S:
            said = next((line.strip() for line in reversed(err.splitlines()) if line.strip()), "")
            watch.failed.emit(f"Could not open {path.name}: {said or f'{opener} exited with code {code}'}. "
                              "Reveal it (Ctrl+Enter) and choose a program with Open With.")
        watch.deleteLater()

    threading.Thread(target=wait, name="open-path", daemon=True).start()
    return True


def reveal_path(path: str | Path) -> bool:
    """Show the file selected in the file manager (Finder on macOS); elsewhere at least open its folder."""
    path = Path(path)
    try:
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", str(path)])  # noqa: S603,S607
            return True
        if sys.platform == "win32":
            subprocess.Popen(["explorer", "/select,", str(path)])  # noqa: S603,S607
            return True
    except OSError:
        pass
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))


def copy_path(path: str | Path) -> None:
    QGuiApplication.clipboard().setText(str(path))

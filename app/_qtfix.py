"""Refuse to run on a PySide6 build that corrupts Python's reference counts.

PySide6 6.12.0 on Python < 3.12 returns None from every void method (and the bool from
`SignalInstance.emit()`) without a new reference, so each call drops a reference of None/True/False;
after a few thousand calls Python aborts ("Fatal Python error: none_dealloc"). From Python 3.12 these
objects are immortal and nothing happens. pyproject.toml excludes 6.12.0; this check makes an old
install fail at once with a message that says what to do, instead of crashing minutes later.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject


class BrokenPySideError(RuntimeError):
    pass


def drops_none_references(tries: int = 32) -> bool:
    obj = QObject()
    before = sys.getrefcount(None)
    results = [obj.setObjectName("probe") for _ in range(tries)]   # void: returns None
    # A correct binding hands out a new reference per call, so holding them raises the count by `tries`.
    broken = sys.getrefcount(None) < before + tries // 2
    if broken:   # give back what the calls took, so the list's release does no harm
        import ctypes
        for _ in range(tries):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))
    del results
    return broken


def check() -> None:
    if sys.version_info >= (3, 12) or not drops_none_references():
        return
    import PySide6

    raise BrokenPySideError(
        f"PySide6 {PySide6.__version__} has a reference-count bug on Python "
        f"{sys.version_info.major}.{sys.version_info.minor} that crashes the app. Install another version: "
        "pip install 'PySide6-Essentials!=6.12.0' (6.11.3 works), or use Python 3.12 or newer.")


check()

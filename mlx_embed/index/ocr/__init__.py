"""OCR: the text in screenshots, photos of documents and scanned PDF pages, read on this machine.

    engine() -> Engine | None     # the first that loads: Apple Vision on macOS, else rapidocr;
                                  # env MLX_EMBED_OCR names one ("vision", "rapidocr") or "none"
    available() -> bool           # an engine loads (the first call loads its models)
    installed() -> bool           # an engine's package is there (cheap: nothing is imported)
    read(img) -> str              # an RGB PIL image's text in reading order ("" when it has none)
    seconds() -> float            # recognition time spent in this process so far (the indexer's "ocr" timing)
    NOT_INSTALLED                 # the skip reason without the `ocr` extra, with its install command
    images.load(data, name)       # bounded decoding: first frame, EXIF turn, downscaled to MAX_PIXELS
    cache.OcrCache(folder)        # recognised text by content hash + engine, one small file each
    pdf.scanned_pages(path, pages, progress, cancel)   # scanned PDF pages, at most pdf.MAX_PAGES

Only the `ocr` extra's packages are used (`pip install "mlx-embed[ocr]"`): Vision needs no model,
rapidocr's models ship inside its wheel. Nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time

from . import engines
from .layout import to_text

INSTALL = 'pip install "mlx-embed[ocr]"'
NOT_INSTALLED = f"OCR not installed ({INSTALL})"
ORDER = ("vision", "rapidocr") if sys.platform == "darwin" else ("rapidocr",)

_lock = threading.Lock()
_engine: dict[str, object] = {}
_spent = [0.0]  # seconds inside recognise(), summed over every thread (read under _busy)
_busy = threading.Lock()  # one recognition at a time: the engine already uses every core, and
                          # rapidocr's call sets per-call parameters on the shared object


def engine():
    """The OCR engine this process uses, loaded once; None when none is installed (or MLX_EMBED_OCR=none)."""
    choice = os.environ.get("MLX_EMBED_OCR", "").strip().lower()
    with _lock:
        if choice not in _engine:
            _engine[choice] = _load(choice)
        return _engine[choice]


def _load(choice: str):
    if choice in ("none", "off", "0"):
        return None
    for name in (choice,) if choice in engines.ENGINES else ORDER:
        candidate = engines.ENGINES[name]()
        try:
            candidate.load()
        except (ImportError, OSError):
            continue
        return candidate
    return None


def available() -> bool:
    return engine() is not None


def installed() -> bool:
    choice = os.environ.get("MLX_EMBED_OCR", "").strip().lower()
    if choice in ("none", "off", "0"):
        return False
    names = (choice,) if choice in engines.ENGINES else ORDER
    return any(_find(engines.ENGINES[n].module) for n in names)


def _find(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules (tests simulate absence)
        return False


def read(img, eng=None) -> str:
    """The text of an RGB image, in reading order. Raises RuntimeError without an engine."""
    eng = eng or engine()
    if eng is None:
        raise RuntimeError(NOT_INSTALLED)
    with _busy:
        t = time.perf_counter()
        try:
            lines = eng.recognise(img)
        finally:
            _spent[0] += time.perf_counter() - t
    if getattr(eng, "ordered", False):
        return "\n".join(ln.text for ln in lines)
    return to_text(lines)


def seconds() -> float:
    """Recognition time spent in this process so far: a run's "ocr" timing is the difference."""
    return _spent[0]


def engine_id() -> str:
    """Names the engine and its version (cache entries of another engine are not reused)."""
    eng = engine()
    return "none" if eng is None else getattr(eng, "version", eng.name)


def reset() -> None:
    """Forget the loaded engine (tests simulate an install or its absence)."""
    with _lock:
        _engine.clear()

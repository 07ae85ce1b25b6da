"""Images (PNG, JPEG, TIFF, WebP, GIF, BMP, HEIC) through OCR: the text in screenshots and photos.

An image with no text, or too small to hold any (an icon), gives "" and a note ("no text found",
"too small to read (under 64 px a side)"); a file named .png that holds text is read as text; a damaged image
is an ExtractionError naming the file. Results are cached by content hash (ocr.cache).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .. import ocr
from ..ocr import cache, images
from . import ExtractionError, read_bytes, text

NO_TEXT = "no text found"


def read(path: Path, kind: str, ocr_cache: str | os.PathLike | None = None,
         progress: Callable[[int, int], None] | None = None,
         cancel: Callable[[], bool] | None = None) -> tuple[str, None, str | None]:
    """One recognition (a second or two): no progress or cancel points inside it."""
    if ocr.engine() is None:
        raise ExtractionError(ocr.NOT_INSTALLED)
    data = read_bytes(path)
    digest, engine = cache.digest(data), ocr.engine_id()
    store = cache.OcrCache(ocr_cache)
    hit = store.get(digest, engine)
    if hit is None:
        try:
            img = images.load(data, path.name)
        except images.TooSmall as exc:
            return "", None, exc.reason
        except images.NotAnImage as exc:
            try:
                return text.decode(data), None, None  # a text file with an image's name
            except ExtractionError:
                raise ExtractionError(exc.reason) from None
        except images.BadImage as exc:
            raise ExtractionError(exc.reason) from None
        hit = [ocr.read(img).strip()]
        store.put(digest, engine, hit)
    return hit[0], None, None if hit[0] else NO_TEXT

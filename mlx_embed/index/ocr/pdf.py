"""Scanned PDF pages: rendered with PDFium (pypdfium2) one at a time and read by OCR.

    scanned_pages(path, indexes, progress=None, cancel=None, ocr_cache=None) -> ({index: text or None}, note)

Only pages that hold an image are rendered (a blank page costs nothing; its text is None). A page
renders at its largest image's own resolution (a scan comes back pixel for pixel: resampling it costs
the recogniser the spaces between words), between 72 and MAX_DPI, its pixels bounded by
images.MAX_PIXELS. At most MAX_PAGES pages are read per file, so a 500-page
scan stays bounded; the note says how many were left. `progress(done, total)` is called after each
page and `cancel()` returning True stops before the next one (the pages read so far are kept).
Texts are cached by the PDF's content hash, per page.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..pdfium import LOCK as PDFIUM
from . import cache, engine_id, images, read

MAX_DPI = 300
MAX_PAGES = 100


def scanned_pages(path: Path, indexes: list[int], progress: Callable[[int, int], None] | None = None,
                  cancel: Callable[[], bool] | None = None, ocr_cache: str | os.PathLike | None = None
                  ) -> tuple[dict[int, str | None], str | None]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    data = path.read_bytes()
    key, eng = cache.digest(data), engine_id()
    store = cache.OcrCache(ocr_cache)
    hit = store.get(key, eng)
    if hit is not None and len(hit) > max(indexes[:MAX_PAGES], default=0):
        return {i: None if hit[i] == "\0" else hit[i] for i in indexes[:MAX_PAGES]}, _note(len(indexes))
    with PDFIUM:
        doc = pdfium.PdfDocument(data)
    texts: dict[int, str | None] = {}
    todo = indexes[:MAX_PAGES]
    try:
        for n, i in enumerate(todo):
            if cancel is not None and cancel():
                return texts, f"OCR stopped after {n} of {len(indexes)} scanned pages"
            with PDFIUM:  # rendering only: the recognition below runs without it
                img = _render(doc, i, raw.FPDF_PAGEOBJ_IMAGE)
            texts[i] = read(img).strip() if img is not None else None
            if progress is not None:
                progress(n + 1, len(todo))
    finally:
        with PDFIUM:
            doc.close()
    pages = ["\0"] * (max(todo, default=-1) + 1)  # NUL: not rendered (never in OCR text)
    for i, t in texts.items():
        pages[i] = "\0" if t is None else t
    store.put(key, eng, pages)
    return texts, _note(len(indexes))


def _render(doc, i: int, image_type: int):
    """Page i as an RGB image, or None when it holds no image (blank, or vector drawing only)."""
    page = doc[i]
    try:
        placed = [(o.get_bounds(), o.get_px_size()[0]) for o in page.get_objects(filter=[image_type], max_depth=3)]
        largest = max((((r - x) * (t - y), px / max(r - x, 1e-3)) for (x, y, r, t), px in placed), default=None)
        if largest is None:
            return None
        w, h = page.get_size()
        scale = min(max(largest[1], 1.0), MAX_DPI / 72, (images.MAX_PIXELS / max(1.0, w * h)) ** 0.5)
        return page.render(scale=scale).to_pil().convert("RGB")
    finally:
        page.close()


def _note(scanned: int) -> str | None:
    if scanned > MAX_PAGES:
        return f"OCR read the first {MAX_PAGES} of {scanned} scanned pages"
    return None

"""PDF with PDFium (pypdfium2): text per page, page character ranges; encrypted PDFs are reported.

PDFium over pypdf, by measurement (bench/pdf_extract.py, 34 PDFs): median 21x faster, ligatures expanded
("ﬁles" -> "files", which keyword search needs), the same failures caught. Pages without a text layer
(scans) are read by OCR when it is installed (ocr.pdf: rendered with PDFium, at most ocr.pdf.MAX_PAGES per
file); without it an image-only PDF is reported as such.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from ..pdfium import LOCK as _PDFIUM
from . import ExtractionError

_SOFT_HYPHEN = re.compile("\ufffe(?:\r?\n)?")   # PDFium's mark of a word hyphenated at a line end
NO_TEXT = "no text found"
SCANNED = 16  # a page whose text layer has fewer characters (a scanner's page number) is tried by OCR


def _page_text(pdf, i: int) -> str:
    page = pdf[i]
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
    finally:
        textpage.close()
        page.close()
    return _SOFT_HYPHEN.sub("", text).replace("\r\n", "\n").replace("\r", "\n").strip()


def read(path: Path, kind: str, ocr_cache: str | os.PathLike | None = None,
         progress: Callable[[int, int], None] | None = None,
         cancel: Callable[[], bool] | None = None) -> tuple[str, list[tuple[int, int]], str | None]:
    import pypdfium2 as pdfium

    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(path)   # with no password: a PDF encrypted for its owner only opens
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise ExtractionError("encrypted PDF") from None
            raise ExtractionError(f"damaged PDF: {exc}"[:200]) from None
        try:
            parts: list[str] = []
            for i in range(len(pdf)):
                try:
                    parts.append(_page_text(pdf, i))
                except pdfium.PdfiumError:
                    parts.append("")  # one bad page does not lose the others
        finally:
            pdf.close()
    note = _ocr(path, parts, ocr_cache, progress, cancel)  # outside the lock: ocr.pdf renders under its own
    pages: list[tuple[int, int]] = []
    pos = 0
    for part in parts:
        pages.append((pos, pos + len(part)))
        pos += len(part) + 2
    text = "\n\n".join(parts)
    if pages and not text.strip() and not (note or "").startswith((NO_TEXT, "OCR read", "OCR stopped")):
        raise ExtractionError(note or "no text layer: scanned, needs OCR")
    return text, pages, note


def _ocr(path: Path, parts: list[str], ocr_cache=None, progress=None, cancel=None) -> str | None:
    """Fills in the pages without a text layer by OCR. A note: OCR missing, stopped short, found nothing."""
    from .. import ocr

    scanned = [i for i, t in enumerate(parts) if len(t) < SCANNED]
    if not scanned:
        return None
    if not ocr.installed() or ocr.engine() is None:
        return None if len(scanned) < len(parts) else f"no text layer: scanned, needs OCR ({ocr.INSTALL})"
    from ..ocr.pdf import scanned_pages

    try:
        texts, note = scanned_pages(path, scanned, progress, cancel, ocr_cache)
    except Exception as exc:  # PDFium refusing a file pypdf read: keep the text layer we have
        return f"OCR failed: {type(exc).__name__}: {exc}"[:200]
    for i, t in texts.items():
        if t and len(t) > len(parts[i]):
            parts[i] = t
    if not any(parts):
        # OCR looked at every page and found nothing (or no page held an image): "no text found", so
        # the bare "no text layer" reason only ever means "OCR was not there" (a scan retries it)
        return note or NO_TEXT
    return note

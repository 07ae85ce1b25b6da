"""PDF with pypdf: text per page, page character ranges; encrypted PDFs are reported.

Pages without a text layer (scans) are read by OCR when it is installed (ocr.pdf: rendered with
PDFium, at most ocr.pdf.MAX_PAGES per file); without it an image-only PDF is reported as such.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from . import ExtractionError


NO_TEXT = "no text found"
SCANNED = 16  # a page whose text layer has fewer characters (a scanner's page number) is tried by OCR


def read(path: Path, kind: str, ocr_cache: str | os.PathLike | None = None,
         progress: Callable[[int, int], None] | None = None,
         cancel: Callable[[], bool] | None = None) -> tuple[str, list[tuple[int, int]], str | None]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files log a warning per object
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise ExtractionError("encrypted PDF")
            except (DependencyError, FileNotDecryptedError, NotImplementedError):
                raise ExtractionError("encrypted PDF") from None
        parts: list[str] = []
        for page in reader.pages:
            try:
                text = (page.extract_text() or "").strip()
            except (DependencyError, FileNotDecryptedError):
                raise ExtractionError("encrypted PDF") from None
            except Exception:
                text = ""  # one bad page does not lose the others
            parts.append(text)
    except ExtractionError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, EOFError) as exc:
        raise ExtractionError(f"damaged PDF: {exc}"[:200]) from None
    note = _ocr(path, parts, ocr_cache, progress, cancel)
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

"""PDF with pypdf: text per page, page character ranges; encrypted and scanned PDFs are reported."""

from __future__ import annotations

import logging
from pathlib import Path

from . import ExtractionError


def read(path: Path, kind: str) -> tuple[str, list[tuple[int, int]]]:
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
        pages: list[tuple[int, int]] = []
        pos = 0
        for page in reader.pages:
            try:
                text = (page.extract_text() or "").strip()
            except (DependencyError, FileNotDecryptedError):
                raise ExtractionError("encrypted PDF") from None
            except Exception:
                text = ""  # one bad page does not lose the others
            pages.append((pos, pos + len(text)))
            parts.append(text)
            pos += len(text) + 2
    except ExtractionError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, EOFError) as exc:
        raise ExtractionError(f"damaged PDF: {exc}"[:200]) from None
    text = "\n\n".join(parts)
    if pages and not text.strip():
        raise ExtractionError("no text layer: scanned, needs OCR")
    return text, pages

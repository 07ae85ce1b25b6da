"""Plain text, Markdown and source code: decode bytes (BOM, UTF-8, then a detected encoding)."""

from __future__ import annotations

import codecs
from pathlib import Path

from . import ExtractionError, read_bytes

BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
SNIFF = 8192
# Text read from one file, whatever --max-size allows: a multi-hundred-MB log or dump (often one line)
# would otherwise hold gigabytes while it is chunked and embedded; its first 32 MB are indexed.
TEXT_LIMIT = 32 << 20


def read(path: Path, kind: str) -> tuple[str, None]:
    return decode(read_bytes(path, TEXT_LIMIT)), None


def decode(data: bytes) -> str:
    """Bytes to text: a BOM wins, then UTF-8 (a few bad bytes become U+FFFD), then a detected codec."""
    for bom, codec in BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    head = data[:SNIFF]
    if b"\x00" in head:
        raise ExtractionError("binary file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    if good > bad:
        return text  # UTF-8 (it has valid multi-byte characters) with a few invalid bytes
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[: 1 << 20]).best()
        if best is not None and best.encoding:
            return data.decode(best.encoding, errors="replace")
    except ImportError:
        pass
    if _controls(head) > 0.05:
        raise ExtractionError("binary file")
    return data.decode("cp1252", errors="replace")


def _controls(head: bytes) -> float:
    bad = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return bad / max(1, len(head))

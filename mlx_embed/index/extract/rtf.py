"""RTF: control words stripped, \\'hh and \\uN decoded, non-text destinations skipped."""

from __future__ import annotations

import re
from pathlib import Path

from . import ExtractionError, read_bytes

TOKEN = re.compile(rb"\\([a-zA-Z]+)(-?\d+)? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|([\r\n]+)|([^\\{}\r\n]+)", re.S)
SKIP_DESTINATIONS = {b"fonttbl", b"colortbl", b"stylesheet", b"info", b"pict", b"object", b"header",
                     b"footer", b"headerl", b"headerr", b"footerl", b"footerr", b"themedata",
                     b"colorschememapping", b"latentstyles", b"datastore", b"xmlnstbl", b"listtable",
                     b"listoverridetable", b"rsidtbl", b"generator", b"filetbl", b"revtbl", b"fldinst"}
NEWLINE_WORDS = {b"par": "\n", b"line": "\n", b"sect": "\n\n", b"page": "\n\n", b"row": "\n", b"tab": "\t",
                 b"cell": "\t", b"emdash": "\u2014", b"endash": "\u2013", b"bullet": "\u2022",
                 b"lquote": "\u2018", b"rquote": "\u2019", b"ldblquote": "\u201c", b"rdblquote": "\u201d"}


def read(path: Path, kind: str) -> tuple[str, None]:
    data = read_bytes(path)
    if not data.lstrip().startswith(b"{\\rtf"):
        raise ExtractionError("damaged rtf file: no {\\rtf header")
    return rtf_to_text(data), None


def rtf_to_text(data: bytes) -> str:
    codepage = "cp1252"
    m = re.search(rb"\\ansicpg(\d+)", data[:2048])
    if m:
        codepage = f"cp{int(m.group(1))}"
    out: list[str] = []
    stack: list[tuple[bool, int]] = []
    skip, uc, pending_skip = False, 1, 0
    for word, arg, hexbyte, sym, brace, _nl, text in (t.groups() for t in TOKEN.finditer(data)):
        if brace == b"{":
            stack.append((skip, uc))
            continue
        if brace == b"}":
            skip, uc = stack.pop() if stack else (False, 1)
            continue
        if sym is not None:
            if sym == b"*":
                skip = True
            elif not skip and sym in (b"\\", b"{", b"}"):
                out.append(sym.decode())
            elif not skip and sym == b"~":
                out.append("\u00a0")
            elif not skip and sym in (b"\n", b"\r"):
                out.append("\n")
            continue
        if word is not None:
            if word in SKIP_DESTINATIONS:
                skip = True
            elif word == b"uc" and arg:
                uc = int(arg)
            elif word == b"u" and arg is not None:
                if not skip:
                    cp = int(arg)
                    out.append(chr(cp + 65536 if cp < 0 else cp))
                pending_skip = uc
            elif not skip and word in NEWLINE_WORDS:
                out.append(NEWLINE_WORDS[word])
            continue
        if hexbyte is not None:
            if pending_skip:
                pending_skip -= 1
            elif not skip:
                out.append(bytes([int(hexbyte, 16)]).decode(codepage, errors="replace"))
            continue
        if text is not None and not skip:
            chunk = text
            if pending_skip:
                chunk, pending_skip = chunk[pending_skip:], 0
            out.append(chunk.decode(codepage, errors="replace"))
    return re.sub(r"[ \t]*\n", "\n", "".join(out)).strip()

"""DOCX, PPTX (Office Open XML) and ODT/ODP/ODS (OpenDocument): zip + XML with the stdlib."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

from . import ExtractionError

MAX_XML_BYTES = 200 * 1024 * 1024  # zip-bomb guard: total uncompressed XML we parse
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
TEXT_NS = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
ODF_BLOCKS = {f"{TEXT_NS}p", f"{TEXT_NS}h"}


def read(path: Path, kind: str) -> tuple[str, list[tuple[int, int]] | None]:
    try:
        with zipfile.ZipFile(path) as z:
            if kind == "docx":
                return _docx(z), None
            if kind == "pptx":
                return _pptx(z)
            return _odf(z), None
    except zipfile.BadZipFile:
        raise ExtractionError(f"damaged {kind} file: not a zip archive") from None
    except ET.ParseError as exc:
        raise ExtractionError(f"damaged {kind} file: {exc}") from None
    except RuntimeError as exc:  # zipfile: encrypted member
        raise ExtractionError(f"encrypted {kind} file" if "encrypt" in str(exc).lower() else f"damaged {kind} file: {exc}") from None


def _xml(z: zipfile.ZipFile, name: str) -> ET.Element:
    try:
        info = z.getinfo(name)
    except KeyError:
        raise ExtractionError(f"damaged file: {name} is missing") from None
    if info.file_size > MAX_XML_BYTES:
        raise ExtractionError("too large (uncompressed document XML)")
    if info.flag_bits & 0x1:
        raise ExtractionError("encrypted document")
    return ET.fromstring(z.read(info))


def _docx(z: zipfile.ZipFile) -> str:
    if "EncryptedPackage" in z.namelist():
        raise ExtractionError("encrypted document")
    names = ["word/document.xml"] + sorted(n for n in z.namelist() if re.fullmatch(r"word/(footnotes|endnotes)\.xml", n))
    paragraphs: list[str] = []
    for name in names:
        for p in _xml(z, name).iter(f"{W}p"):
            buf = []
            for el in p.iter():
                if el.tag == f"{W}t" and el.text:
                    buf.append(el.text)
                elif el.tag == f"{W}tab":
                    buf.append("\t")
                elif el.tag in (f"{W}br", f"{W}cr"):
                    buf.append("\n")
            paragraphs.append("".join(buf))
    return "\n".join(paragraphs).strip()


def _pptx(z: zipfile.ZipFile) -> tuple[str, list[tuple[int, int]]]:
    slides = sorted((n for n in z.namelist() if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)),
                    key=lambda n: int(re.search(r"(\d+)\.xml$", n).group(1)))
    parts, pages, pos = [], [], 0
    for name in slides:
        lines = ["".join(t.text or "" for t in p.iter(f"{A}t")) for p in _xml(z, name).iter(f"{A}p")]
        text = "\n".join(line for line in lines if line.strip())
        pages.append((pos, pos + len(text)))
        parts.append(text)
        pos += len(text) + 2
    return "\n\n".join(parts), pages


def _odf(z: zipfile.ZipFile) -> str:
    out: list[str] = []

    def walk(el: ET.Element) -> None:
        if el.tag == f"{TEXT_NS}s":
            out.append(" " * int(el.get(f"{TEXT_NS}c", "1")))
        elif el.tag == f"{TEXT_NS}tab":
            out.append("\t")
        elif el.tag == f"{TEXT_NS}line-break":
            out.append("\n")
        elif el.text:
            out.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                out.append(child.tail)
        if el.tag in ODF_BLOCKS:
            out.append("\n")

    walk(_xml(z, "content.xml"))
    return re.sub(r"\n{3,}", "\n\n", "".join(out)).strip()

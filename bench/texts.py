"""Real texts from this machine for benchmarks: paragraphs of /usr/share/doc files and Python's docs."""

from __future__ import annotations

import gzip
import random
from pathlib import Path


def real_paragraphs(n: int, seed: int = 0, min_chars: int = 20, max_chars: int = 2000) -> list[str]:
    paragraphs: list[str] = []
    roots = [Path("/usr/share/doc"), Path("/usr/share/common-licenses")]
    for root in roots:
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.stat().st_size > 200_000:
                continue
            try:
                raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
                text = raw.decode("utf-8")
            except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
                continue
            for para in text.split("\n\n"):
                para = " ".join(para.split())
                if min_chars <= len(para) <= max_chars:
                    paragraphs.append(para)
    paragraphs = sorted(set(paragraphs))
    random.Random(seed).shuffle(paragraphs)
    return paragraphs[:n]

"""The indexing workload for encoder benchmarks: real files from this machine cut by the project's own
chunker with the indexer's settings, and short queries for the quick-search path.

    index_chunks(model, n)  -> list[str]   n chunk texts, as `mlx-embed index` would embed them
    short_queries(n)        -> list[str]   n short real phrases (3-9 words), one quick search each

Sources: text files under /usr/share/doc (plain or gzipped; no man pages) and Python's standard library
(`.py` sources), alternated so prose and code both count. Files of 4-60 KB are taken, and at most
`PER_FILE` chunks of each, so most chunks are near the chunk size (as in an index of real documents)
while no single file dominates.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import sysconfig
from pathlib import Path

MIN_BYTES, MAX_BYTES = 4_000, 60_000
PER_FILE = 6


def _read(path: Path) -> str | None:
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        return None
    return text if "\x00" not in text else None


def _files() -> tuple[list[Path], list[Path]]:
    docs = [p for p in sorted(Path("/usr/share/doc").rglob("*"))
            if p.is_file() and not p.is_symlink() and "/man/" not in str(p) and p.suffix not in (".html", ".png")
            and MIN_BYTES <= p.stat().st_size <= MAX_BYTES]
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = [p for p in sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("*/*.py"))
            if "site-packages" not in str(p) and "test" not in p.parts and MIN_BYTES <= p.stat().st_size <= MAX_BYTES]
    return docs, code


def source_files(seed: int = 0) -> list[Path]:
    """Doc and code files alternated, each list shuffled with `seed`."""
    docs, code = _files()
    rng = random.Random(seed)
    rng.shuffle(docs)
    rng.shuffle(code)
    out: list[Path] = []
    for pair in zip(docs, code):
        out.extend(pair)
    return out


def index_chunks(model, n: int, chunk_tokens: int | None = None, overlap: int | None = None, seed: int = 0) -> list[str]:
    """`n` chunk texts cut from real files exactly as the indexer cuts them for `model` (an
    `EmbeddingModel`): `chunk_text` with `ChunkEncoder.max_chunk_tokens` and the indexer's overlap."""
    from mlx_embed.index.chunk import chunk_text
    from mlx_embed.index.chunk_encoder import ChunkEncoder
    from mlx_embed.index.indexer import Settings

    settings = Settings()
    chunk_tokens = settings.chunk_tokens if chunk_tokens is None else chunk_tokens
    overlap = settings.overlap if overlap is None else overlap
    max_tokens = ChunkEncoder(model, chunk_tokens).max_chunk_tokens
    seen: set[str] = set()
    chunks: list[str] = []
    for path in source_files(seed):
        text = _read(path)
        if not text or not text.strip():
            continue
        digest = hashlib.sha1(text.encode()).hexdigest()
        if digest in seen:  # the same licence text ships in many packages
            continue
        seen.add(digest)
        for chunk in chunk_text(text, model.tokenizer, max_tokens, overlap)[:PER_FILE]:
            chunks.append(chunk.text)
            if len(chunks) == n:
                return chunks
    raise RuntimeError(f"only {len(chunks)} chunks found in /usr/share/doc and the stdlib; ask for fewer than {n}")


def short_queries(n: int, seed: int = 0) -> list[str]:
    """`n` short phrases (3-9 words) from the docs' sentences: what someone types into a quick search."""
    rng = random.Random(seed)
    docs, _ = _files()
    rng.shuffle(docs)
    out: list[str] = []
    for path in docs:
        text = _read(path) or ""
        for para in text.split("\n\n"):
            words = para.split()
            k = rng.randint(3, 9)
            # a phrase of plain words (no URLs, addresses, markup), as typed into a search box
            if 6 <= len(words) <= 60 and all(w.strip(".,;:()'\"").isalpha() and w.isascii() for w in words[:k]):
                out.append(" ".join(words[:k]).strip(".,;:"))
                break
        if len(out) == n:
            return out
    raise RuntimeError(f"only {len(out)} short queries found; ask for fewer than {n}")

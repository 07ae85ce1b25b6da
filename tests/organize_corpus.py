"""A labelled set of real files from this machine, for clustering and classification tests.

Groups: Python standard-library packages (email, asyncio, xml, json, http), Debian copyright files and
Debian changelogs (/usr/share/doc), and man pages of section 2 (system calls) and 5 (file formats).
Files are copied (decompressed) into one flat folder under neutral names (a number and the original
file name), in a shuffled order, so neither the folder nor the order gives the group away.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import sysconfig
from pathlib import Path

PY_GROUPS = ("email", "asyncio", "xml", "json", "http")
PER_GROUP = 7
MIN_BYTES = 1500

# Label names and descriptions a user could write for each group (for zero-shot classification).
DESCRIPTIONS = {
    "email": "Python code for email messages: MIME parts, headers, address parsing and encoding",
    "asyncio": "Python code for asynchronous I/O: event loops, coroutines, tasks, futures and transports",
    "xml": "Python code for XML documents: DOM, SAX parsers, element trees",
    "json": "Python code for JSON: encoding and decoding JavaScript Object Notation",
    "http": "Python code for HTTP: clients, servers, cookies and status codes",
    "copyright": "software licence and copyright notices of a Debian package",
    "changelog": "Debian package changelog listing versions, uploads and fixed bugs",
    "man-syscalls": "Linux manual page of a system call: C function signature, errno values and kernel behaviour",
    "man-formats": "Linux manual page of a configuration file format: syntax, fields and options of the file",
}


def _python_files(group: str) -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"]) / group
    files = sorted(p for p in root.rglob("*.py") if "test" not in p.parts and p.stat().st_size >= MIN_BYTES)
    return files


def _doc_files(pattern: str) -> list[Path]:
    return sorted(p for p in Path("/usr/share/doc").glob(pattern) if p.is_file() and p.stat().st_size >= MIN_BYTES)


def _man_files(section: str) -> list[Path]:
    out = []
    for p in sorted(Path(f"/usr/share/man/man{section}").glob(f"*.{section}.gz")):
        try:
            text = gzip.decompress(p.read_bytes())
        except OSError:
            continue
        if len(text) >= 4 * MIN_BYTES and not text.startswith(b".so "):
            out.append(p)
    return out


def _spread(files: list[Path], n: int) -> list[Path]:
    """n files chosen by a hash of their path: the choice does not move when other packages get
    installed (an index into a sorted list would), unless a new file's hash is among the n smallest."""
    return sorted(sorted(files, key=lambda p: hashlib.sha256(str(p).encode()).hexdigest())[:n])


def sources() -> dict[str, list[Path]]:
    """Group name -> original files (only groups with at least 4 files on this machine)."""
    groups = {g: _python_files(g) for g in PY_GROUPS}
    groups["copyright"] = _doc_files("*/copyright")
    groups["changelog"] = _doc_files("*/changelog.Debian.gz")
    groups["man-syscalls"] = _man_files("2")
    groups["man-formats"] = _man_files("5")
    return {g: _spread(files, PER_GROUP) for g, files in groups.items() if len(files) >= 4}


def build(folder: Path, seed: int = 0) -> dict[Path, str]:
    """Copy the corpus into `folder`; return copied path -> true group."""
    def name(i: int, group: str, src: Path) -> Path:
        if group in ("copyright", "changelog"):
            base = f"{src.parent.name}-{src.name.removesuffix('.gz')}.txt"
        elif group.startswith("man"):
            base = src.name.removesuffix(".gz") + ".txt"
        else:
            base = src.name
        return folder / f"{i:03d}_{base}"

    return copy_shuffled(sources(), name, seed)


def copy_shuffled(groups: dict[str, list[Path]], dest, seed: int) -> dict[Path, str]:
    """Copy every group's files (gunzipped) in a seeded shuffled order to dest(i, group, src); return
    copied path -> group."""
    items = [(group, src) for group, files in groups.items() for src in files]
    random.Random(seed).shuffle(items)
    truth = {}
    for i, (group, src) in enumerate(items):
        data = src.read_bytes()
        if src.suffix == ".gz":
            data = gzip.decompress(data)
        dst = dest(i, group, src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)
        truth[dst] = group
    return truth


# Embedding budget for tests: 2 chunks of 128 tokens per file keeps the real-model tests short on a
# 2-core CPU (the library default is 4 chunks of up to 256 tokens).
TEST_CHUNKS, TEST_TOKENS = 2, 128
_CACHE: dict = {}


def embedded(model_path: Path, folder: Path):
    """(FileVectors, {path: group}) of the corpus with the model, computed once per test session.

    For MiniLM (no adapters) the clustering, classification and text-matching vectors are the same."""
    key = str(model_path)
    if key not in _CACHE:
        import mlx_embed
        from mlx_embed.organize import embed_files

        truth = build(folder)
        model = mlx_embed.load(model_path)
        fv = embed_files(model, sorted(truth), "clustering", max_chunks=TEST_CHUNKS, max_tokens=TEST_TOKENS)
        assert not fv.skipped, fv.skipped
        _CACHE[key] = (model, fv, truth)
    return _CACHE[key][1], _CACHE[key][2]


def model_for(model_path: Path):
    return _CACHE[str(model_path)][0]

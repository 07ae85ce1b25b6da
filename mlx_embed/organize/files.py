"""Which files to organise, and their text.

    collect_files(paths, *, hidden=False) -> list[Path]
        Files given directly plus every file under the given folders (recursively), absolute,
        de-duplicated, sorted; hidden files/folders, symlinks and mlx-embed's own sidecars skipped.
        Uses the index's discovery (`mlx_embed.index.discover`: .gitignore, system folders, binary
        types) when it is installed, else a plain walk.
    read_text(path, max_chars=MAX_CHARS) -> FileText(path, text, pages, kind)
        The index's extractor (`mlx_embed.index.extract.extract`) when it is there, else plain text.
        Raises UnreadableFileError (an MlxEmbedError) with the reason; callers skip such files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidArgumentError, MlxEmbedError

MAX_CHARS = 200_000          # text read per file: enough for a vector and for cluster labels
SIDECAR_NAMES = frozenset({".mlx-embed-tags.json"})


class UnreadableFileError(MlxEmbedError):
    """A file whose text cannot be read (binary, unsupported format, vanished, no permission)."""


@dataclass(frozen=True)
class FileText:
    path: Path
    text: str
    pages: list | None = None      # the extractor's page boundaries, when the format has pages
    kind: str = "text"


def collect_files(paths: Iterable[str | os.PathLike], *, hidden: bool = False) -> list[Path]:
    """Every regular file named in `paths` or found under a folder in `paths`, sorted and unique."""
    paths = [Path(p).expanduser() for p in paths]
    if not paths:
        raise InvalidArgumentError("No paths given: name at least one file or folder.")
    found: set[Path] = set()
    for p in paths:
        if p.is_symlink() and not p.exists():
            raise InvalidArgumentError(f"{p} is a broken symbolic link.")
        if p.is_file():
            found.add(p.resolve())
        elif p.is_dir():
            found.update(_walk(p.resolve(), hidden))
        else:
            raise InvalidArgumentError(f"{p} does not exist (or is not a file or folder).")
    return sorted(found)


def _walk(root: Path, hidden: bool) -> Iterable[Path]:
    try:
        from ..index.discover import discover  # noqa: PLC0415
    except ImportError:
        discover = None
    if discover is not None:        # the index's rules: ignore files, system folders, binary types
        for cand in discover([root], include_hidden=hidden, max_size=None):
            if not cand.is_dir and cand.skip is None and cand.path.name not in SIDECAR_NAMES:
                yield cand.path
        return
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if hidden or not d.startswith("."))
        for name in names:
            if (not hidden and name.startswith(".")) or name in SIDECAR_NAMES:
                continue
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink():
                yield path


def read_text(path: str | os.PathLike, max_chars: int = MAX_CHARS) -> FileText:
    """The text of one file (the index's extractor when available). Raises UnreadableFileError."""
    path = Path(path)
    extract = _index_extract()
    if extract is not None:
        fn, error_type = extract
        try:
            got = fn(path)
        except error_type as exc:
            raise UnreadableFileError(f"{path}: {getattr(exc, 'reason', exc)}") from exc
        except OSError as exc:
            raise UnreadableFileError(f"{path}: {exc.strerror or exc}") from exc
        text = got.text or ""
        if not text.strip():
            raise UnreadableFileError(f"{path}: no text")
        return FileText(path, text[:max_chars], getattr(got, "pages", None), getattr(got, "kind", "text"))
    return FileText(path, _read_plain(path, max_chars))


def _index_extract():
    try:
        from ..index.extract import ExtractionError, extract  # noqa: PLC0415
    except ImportError:
        return None
    return extract, ExtractionError


def _read_plain(path: Path, max_chars: int) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(max_chars * 4)
    except OSError as exc:
        raise UnreadableFileError(f"{path}: {exc.strerror or exc}") from exc
    if b"\x00" in data[:8192]:
        raise UnreadableFileError(f"{path}: binary file (not text)")
    text = data.decode("utf-8", errors="replace")[:max_chars]
    if not text.strip():
        raise UnreadableFileError(f"{path}: empty")
    return text

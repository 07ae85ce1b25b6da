"""Which files to organise, and their text.

    collect_files(paths, *, hidden=False) -> list[Path]
        Files given directly plus every file under the given folders (recursively), absolute,
        de-duplicated, sorted; hidden files/folders, symlinks and mlx-embed's own tag sidecars skipped.
        Folders are walked with the index's discovery (`mlx_embed.index.discover`: .gitignore, system
        folders, binary types).
    read_text(path, max_chars=MAX_CHARS) -> FileText(path, text, pages, kind)
        The index's extractor (`mlx_embed.index.extract.extract`), the text cut at max_chars.
        Raises UnreadableFileError (an MlxEmbedError) with the reason; callers skip such files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidArgumentError, MlxEmbedError
from ..index.discover import discover
from ..index.extract import ExtractionError, extract
from .tags import SIDECAR

MAX_CHARS = 200_000          # text read per file: enough for a vector and for cluster labels


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
    """The index's rules: ignore files, system folders, binary types; no size limit."""
    for cand in discover([root], include_hidden=hidden, max_size=None):
        if not cand.is_dir and cand.skip is None and cand.path.name != SIDECAR:
            yield cand.path


def read_text(path: str | os.PathLike, max_chars: int = MAX_CHARS) -> FileText:
    """The text of one file (the index's extractor). Raises UnreadableFileError."""
    path = Path(path)
    try:
        got = extract(path)
    except ExtractionError as exc:
        raise UnreadableFileError(f"{path}: {exc.reason}") from exc
    except OSError as exc:
        raise UnreadableFileError(f"{path}: {exc.strerror or exc}") from exc
    text = got.text or ""
    if not text.strip():
        raise UnreadableFileError(f"{path}: no text")
    return FileText(path, text[:max_chars], got.pages, got.kind)

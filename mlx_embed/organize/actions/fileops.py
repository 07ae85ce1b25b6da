"""File primitives for the file actions: free names, no-replace move and copy, fsync, hashes.

    free_name(target, taken=()) -> Path       # target, else "stem (2).ext", "stem (3).ext"...
    partial_name(target) -> Path               # ".name.mlx-embed-partial": a copy being written
    move(src, target, claim) -> Path           # hard link + unlink, else copy + rename + unlink
    copy(src, target, claim) -> Path           # copy to a partial name, fsync, then into a free name

Nothing here replaces an existing file. `claim(name)` is called before a name other than the one given
is created, so the caller can journal it first. link, unlink, mkdir and fsync_dir are the only calls
that touch the disk's names: the rest of the package calls them through this module (`fileops.link`),
so tests can interpose on them to simulate crashes and read-only folders.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

PARTIAL = ".mlx-embed-partial"


def free_name(target: Path, taken: Iterable[str] = ()) -> Path:
    """`target`, or "stem (2).ext", "stem (3).ext"... : the first name not on disk and not in `taken`."""
    taken = set(taken)
    candidate, n = target, 1
    while os.path.lexists(candidate) or str(candidate) in taken or os.path.lexists(partial_name(candidate)):
        n += 1
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
    return candidate


def partial_name(target: Path) -> Path:
    """Where a copy to `target` is written before it gets its name."""
    return target.with_name(f".{target.name}{PARTIAL}")


def move(src: Path, target: Path, claim=lambda target: None) -> Path:
    """Move without ever replacing a file: hard link + unlink, else copy + rename + unlink.

    `claim(name)` is called before a different name than the one given is created (to journal it)."""
    while True:
        try:
            link(src, target)
            break
        except FileExistsError:
            target = free_name(target)          # taken since we looked: the next free name
            claim(target)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            target = copy(src, target, claim)   # another volume, or a file system without hard links
            break
    fsync_dir(target.parent)
    try:
        unlink(src)
    except OSError:
        unlink(target)                          # the source cannot go (read-only folder): take back the new name
        raise
    fsync_dir(src.parent)
    return target


def copy(src: Path, target: Path, claim=lambda target: None) -> Path:
    """Copy without ever replacing a file: write a partial file, fsync it, then give it a free name."""
    part = partial_name(target)
    with open(src, "rb") as fin, open(part, "xb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())
    shutil.copystat(src, part)
    while True:
        if not os.path.lexists(target):
            try:
                link(part, target)             # atomic no-replace where links work
                unlink(part)
                break
            except FileExistsError:
                pass
            except OSError:
                if not os.path.lexists(target):
                    os.rename(part, target)     # no hard links here: check-then-rename
                    break
        old_part = part
        target = free_name(target)
        claim(target)
        part = partial_name(target)
        os.rename(old_part, part)
    fsync_dir(target.parent)
    return target


# The primitives, one place each (tests interpose on them to simulate crashes and read-only folders).
def link(src: Path, dst: Path) -> None:
    os.link(src, dst, follow_symlinks=False)


def unlink(path: Path) -> None:
    os.unlink(path)


def mkdir(path: Path) -> None:
    os.mkdir(path)


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def same_content(a: Path, b: Path) -> bool:
    """The same file (a hard link) or the same bytes: a move or copy that got as far as its new name."""
    return same_file(a, b) or sha256(a) == sha256(b)

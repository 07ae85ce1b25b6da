"""Walk the chosen folders and yield the files worth indexing.

    discover(roots, excludes=(), max_size=DEFAULT_MAX_SIZE, include_hidden=False, report_all=False)
        -> Iterator[Candidate]

Skips hidden files and folders (unless include_hidden), system and tool folders (SKIP_DIRS, virtualenvs,
app bundles), anything matched by `.gitignore` / `.ignore` / `.mlxembedignore` files (gitignore syntax,
negation included) or by the user's `excludes` (gitignore syntax relative to each root, or absolute
paths), known binary types, and images while OCR is not installed. Follows symlinks but never a loop (each directory and each file is
visited once, by device and inode). A file over `max_size`, a binary file with a text-like name and a
folder that cannot be listed are yielded with `skip` set to the reason, so they can be reported.
With report_all (the indexer's scan), every other entry is accounted for too: a known binary type, a
broken symlink, a second link to a file already listed and a non-regular file (FIFO, socket, device)
come with a skip reason, and an entry left out by rule (hidden, system folder, ignore file, exclude;
a folder counts once, it is not entered) comes with `ignored` set.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import ocr
from .extract import BINARY_EXTENSIONS, DEFAULT_MAX_SIZE, FORMATS, human_size, kind_of

IGNORE_FILES = (".gitignore", ".ignore", ".mlxembedignore")
SKIP_DIRS = {"node_modules", "__pycache__", ".git", ".hg", ".svn", "$RECYCLE.BIN", "System Volume Information",
             "__MACOSX", ".Trash", ".Trashes", ".Spotlight-V100", ".fseventsd", ".DocumentRevisions-V100",
             ".TemporaryItems", "lost+found", ".tox", ".mypy_cache", ".pytest_cache", ".venv", "venv",
             "bower_components", ".cache", "Caches"}
SKIP_DIR_SUFFIXES = (".app", ".photoslibrary", ".musiclibrary", ".tvlibrary", ".framework", ".bundle",
                     ".xcassets", ".imovielibrary", ".fcpbundle", ".lrdata", ".git")
SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Candidate:
    path: Path
    size: int
    mtime_ns: int
    kind: str | None          # extract.kind_of(path); None for a folder entry
    skip: str | None = None   # why it will not be indexed ("too large (...)", "permission denied" ...)
    is_dir: bool = False
    ignored: bool = False     # left out by rule (report_all only): counted, never stored


class IgnoreRules:
    """gitignore-style patterns anchored at `base`, matched by `pathspec` with Git's own rules (last match
    wins; `!` re-includes; a trailing `/` matches folders only; `**`, `[...]`, escapes)."""

    def __init__(self, base: Path, patterns: Iterable[str]):
        from pathspec import GitIgnoreSpec

        self.base = base
        # Git strips trailing blanks but keeps an escaped one; pathspec does the same with the raw line
        self.spec = GitIgnoreSpec.from_lines([p.rstrip("\n") for p in patterns])
        self.rules = self.spec.patterns if any(p.include is not None for p in self.spec.patterns) else []

    @classmethod
    def from_dir(cls, directory: Path) -> "IgnoreRules | None":
        patterns: list[str] = []
        for name in IGNORE_FILES:
            try:
                with open(directory / name, encoding="utf-8", errors="replace") as f:
                    patterns.extend(f.read(1 << 20).splitlines())
            except OSError:
                continue
        rules = cls(directory, patterns)
        return rules if rules.rules else None

    def match(self, path: Path, is_dir: bool) -> bool | None:
        """True = ignored, False = explicitly re-included, None = no rule applies."""
        if not self.rules:
            return None
        try:
            rel = path.relative_to(self.base).as_posix()
        except ValueError:
            return None
        # a folder is checked as "name/" so that "name/" patterns (folders only) apply to it alone
        return self.spec.check_file(rel + "/" if is_dir else rel).include


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def looks_binary(path: Path) -> bool:
    """NUL bytes (without a UTF-16/32 byte-order mark) in the first few KB."""
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return False  # extraction will report the real error
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return False
    return b"\x00" in head


def discover(roots: Iterable[str | os.PathLike], excludes: Iterable[str] = (), max_size: int | None = DEFAULT_MAX_SIZE,
             include_hidden: bool = False, report_all: bool = False) -> Iterator[Candidate]:
    """Yield every indexable file under `roots` (see the module docstring)."""
    excludes = list(excludes)
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    for root in roots:
        root = Path(os.path.abspath(os.path.expanduser(root)))
        absolute = [Path(os.path.abspath(os.path.expanduser(e))) for e in excludes if os.path.isabs(os.path.expanduser(e))]
        user_rules = IgnoreRules(root, [e for e in excludes if not os.path.isabs(os.path.expanduser(e))])
        try:
            st = root.stat()
        except OSError as exc:
            yield Candidate(root, 0, 0, None, _reason(exc), is_dir=True)
            continue
        if stat.S_ISREG(st.st_mode):
            yield from _file(root, st, max_size, seen_files, report_all)
            continue
        stack: list[tuple[Path, list[IgnoreRules]]] = [(root, [user_rules])]
        while stack:
            directory, rules = stack.pop()
            try:
                dst = directory.stat()
            except OSError as exc:
                yield Candidate(directory, 0, 0, None, _reason(exc), is_dir=True)
                continue
            key = (dst.st_dev, dst.st_ino)
            if key in seen_dirs:
                continue  # a symlink loop or a second path to the same folder
            seen_dirs.add(key)
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError as exc:
                yield Candidate(directory, 0, 0, None, _reason(exc), is_dir=True)
                continue
            local = IgnoreRules.from_dir(directory)
            here = rules + [local] if local else rules
            subdirs: list[Path] = []
            for entry in entries:
                path = Path(entry.path)
                if not include_hidden and is_hidden(entry.name):
                    if report_all:
                        yield Candidate(path, 0, 0, None, "hidden", ignored=True)
                    continue
                try:
                    is_dir = entry.is_dir(follow_symlinks=True)
                except OSError:
                    is_dir = False
                if _ignored(path, is_dir, here) or any(path == a or a in path.parents for a in absolute):
                    if report_all:
                        yield Candidate(path, 0, 0, None, "excluded by a rule", ignored=True)
                    continue
                if is_dir:
                    if entry.name in SKIP_DIRS or entry.name.endswith(SKIP_DIR_SUFFIXES) \
                            or os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                        if report_all:
                            yield Candidate(path, 0, 0, None, "system or tool folder", ignored=True)
                        continue
                    subdirs.append(path)
                    continue
                try:
                    fst = entry.stat(follow_symlinks=True)
                except FileNotFoundError:
                    if report_all and entry.is_symlink():
                        yield Candidate(path, 0, 0, kind_of(path), _broken_link(path))
                    continue  # else deleted since the listing
                except OSError as exc:
                    yield Candidate(path, 0, 0, kind_of(path), _reason(exc))
                    continue
                if stat.S_ISREG(fst.st_mode):
                    yield from _file(path, fst, max_size, seen_files, report_all)
                elif report_all:
                    yield Candidate(path, 0, fst.st_mtime_ns, kind_of(path),
                                    "not a regular file (FIFO, socket or device)")
            stack.extend((d, here) for d in reversed(subdirs))


def _file(path: Path, st: os.stat_result, max_size: int | None, seen: set,
          report_all: bool = False) -> Iterator[Candidate]:
    key = (st.st_dev, st.st_ino)
    if key in seen:  # a hard or symbolic link to a file we already have
        if report_all:
            yield Candidate(path, st.st_size, st.st_mtime_ns, kind_of(path), "link to a file listed already")
        return
    seen.add(key)
    kind = kind_of(path)
    if kind is None or path.suffix.lower() in BINARY_EXTENSIONS:
        if report_all:
            yield Candidate(path, st.st_size, st.st_mtime_ns, None, f"unsupported type ({path.suffix.lower()})")
        return
    if kind == "image" and not ocr.installed():
        if report_all:
            yield Candidate(path, st.st_size, st.st_mtime_ns, kind, ocr.NOT_INSTALLED)
        return
    skip = None
    if max_size is not None and st.st_size > max_size:
        skip = f"too large ({human_size(st.st_size)} > {human_size(max_size)})"
    elif path.suffix.lower() not in FORMATS and looks_binary(path):
        skip = "binary file"
    yield Candidate(path, st.st_size, st.st_mtime_ns, kind, skip)


def _ignored(path: Path, is_dir: bool, rules: list[IgnoreRules]) -> bool:
    verdict = None
    for r in rules:
        m = r.match(path, is_dir)
        if m is not None:
            verdict = m
    return bool(verdict)


def _broken_link(path: Path) -> str:
    try:
        return f"broken symlink (its target {Path(os.readlink(path)).name} is missing)"
    except OSError:
        return "broken symlink"


def _reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if getattr(exc, "errno", None) == 40:  # ELOOP
        return "symlink loop"
    return f"cannot read: {exc.strerror or exc}"

"""File tags: Finder tags on macOS, a sidecar JSON file elsewhere.

    store = default_store()          # FinderTags() on macOS, SidecarTags() elsewhere
    store.get(path) -> list[str];  store.set(path, tags)   # set([]) removes every tag

FinderTags writes the `com.apple.metadata:_kMDItemUserTags` extended attribute as Finder does: a binary
property list of strings "name\\n<colour>" (colour 0 = none; existing colours are kept). Setting an
empty list removes the attribute, so undo leaves no trace.

SidecarTags keeps {file name: [tags]} in `.mlx-embed-tags.json` in the file's folder (so tags travel with
the folder), written atomically (temporary file, fsync, rename); when no tag is left the sidecar is
deleted.
"""

from __future__ import annotations

import json
import os
import plistlib
import sys
from pathlib import Path
from typing import Protocol

SIDECAR = ".mlx-embed-tags.json"
FINDER_ATTR = "com.apple.metadata:_kMDItemUserTags"


class TagStore(Protocol):
    def get(self, path: Path) -> list[str]: ...

    def set(self, path: Path, tags: list[str]) -> None: ...


def default_store() -> TagStore:
    return FinderTags() if sys.platform == "darwin" else SidecarTags()


class SidecarTags:
    def _sidecar(self, path: Path) -> Path:
        return Path(path).parent / SIDECAR

    def _read(self, sidecar: Path) -> dict[str, list[str]]:
        try:
            data = json.loads(sidecar.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:
            raise OSError(f"{sidecar} is damaged (not JSON): fix or delete it") from None
        return {str(k): [str(t) for t in v] for k, v in data.items()} if isinstance(data, dict) else {}

    def get(self, path: Path) -> list[str]:
        return list(self._read(self._sidecar(path)).get(Path(path).name, []))

    def set(self, path: Path, tags: list[str]) -> None:
        sidecar = self._sidecar(path)
        data = self._read(sidecar)
        if tags:
            data[Path(path).name] = list(tags)
        else:
            data.pop(Path(path).name, None)
        if not data:
            if sidecar.exists():
                sidecar.unlink()
            return
        tmp = sidecar.with_name(sidecar.name + ".tmp")
        # ASCII escapes: a file name that is not UTF-8 (surrogate-escaped here) cannot be written as UTF-8
        # text, but "\\udce9" reads back as the very same name
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True, ensure_ascii=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, sidecar)


def encode_finder_tags(tags: list[str], colours: dict[str, int] | None = None) -> bytes:
    """The attribute value Finder writes: a binary plist of "name\\ncolour" strings."""
    colours = colours or {}
    return plistlib.dumps([f"{t}\n{colours.get(t, 0)}" for t in tags], fmt=plistlib.FMT_BINARY)


def decode_finder_tags(value: bytes) -> tuple[list[str], dict[str, int]]:
    """Tag names and their colours from the attribute value."""
    names, colours = [], {}
    for item in plistlib.loads(value):
        name, _, colour = str(item).partition("\n")
        names.append(name)
        colours[name] = int(colour) if colour.isdigit() else 0
    return names, colours


class FinderTags:
    """macOS Finder tags through the libc xattr calls (Python's os.*xattr do not exist on macOS)."""

    def __init__(self):
        import ctypes
        import ctypes.util

        self._c = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self._ctypes = ctypes

    def _raw_get(self, path: Path) -> bytes | None:
        c, ct = self._c, self._ctypes
        p, name = os.fsencode(path), FINDER_ATTR.encode()
        size = c.getxattr(p, name, None, 0, 0, 0)
        if size < 0:
            err = ct.get_errno()
            if err == 93:            # ENOATTR on macOS
                return None
            raise OSError(err, os.strerror(err), str(path))
        buf = ct.create_string_buffer(size)
        got = c.getxattr(p, name, buf, size, 0, 0)
        if got < 0:
            err = ct.get_errno()
            raise OSError(err, os.strerror(err), str(path))
        return buf.raw[:got]

    def get(self, path: Path) -> list[str]:
        raw = self._raw_get(path)
        return decode_finder_tags(raw)[0] if raw else []

    def set(self, path: Path, tags: list[str]) -> None:
        c, ct = self._c, self._ctypes
        p, name = os.fsencode(path), FINDER_ATTR.encode()
        raw = self._raw_get(path)
        colours = decode_finder_tags(raw)[1] if raw else {}
        if not tags:
            if raw is not None and c.removexattr(p, name, 0) < 0:
                err = ct.get_errno()
                raise OSError(err, os.strerror(err), str(path))
            return
        value = encode_finder_tags(tags, colours)
        if c.setxattr(p, name, value, len(value), 0, 0) < 0:
            err = ct.get_errno()
            raise OSError(err, os.strerror(err), str(path))

"""The journal: where journals live, how records are written, and what state a journal is in.

    default_journal_dir() -> Path      # env MLX_EMBED_JOURNAL_DIR, else <app data>/journals
    journals(journal_dir=None) -> [JournalInfo(path, state, created, mode, operations)]  # oldest first
    Journal.create(folder, header) / Journal(path).open() / .write(record) / .records() / .close()

A journal is a file of JSON lines: the plan first ({"type": "plan", ...}), then per step a "begin"
record before it happens and a "done", "failed" or "skipped" record after it, then "finished"; an undo
appends "undo-begin", per step "undone" / "undo-skipped" / "undo-failed", then "undo-finished". Each
record is flushed and fsynced; a process holds an exclusive lock on the journal while it works on it.
States (journal_state): applying (interrupted) | applied | undoing | undone.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ...errors import MlxEmbedError
from ...index.store import default_index_dir
from ...userdirs import create_private_file, make_private_dir
from . import fileops

JOURNAL_VERSION = 1


class JournalError(MlxEmbedError):
    """A journal that is missing, damaged, already undone, or in use by another process."""

    exit_code = 2


@dataclass
class JournalInfo:
    path: Path
    state: str                     # applying (interrupted) | applied | undoing | undone
    created: float
    mode: str
    operations: int


def default_journal_dir() -> Path:
    """MLX_EMBED_JOURNAL_DIR, else "journals" in the app-data folder the default index lives in."""
    env = os.environ.get("MLX_EMBED_JOURNAL_DIR")
    if env:
        return Path(env).expanduser()
    return default_index_dir() / "journals"


class Journal:
    """Append-only JSON lines, each fsynced; holds an exclusive lock while a process works on it."""

    def __init__(self, path: Path):
        self.path = path
        self._f = None

    @classmethod
    def create(cls, folder: Path, header: dict) -> "Journal":
        make_private_dir(folder)   # journals list every moved path: user-only (an existing folder keeps its mode)
        stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() % 10**9:09d}"
        j = cls(folder / f"{stamp}.journal")
        j.open(create=True)
        j.write(header)
        fileops.fsync_dir(folder)
        return j

    def open(self, create: bool = False) -> "Journal":
        try:
            self._f = create_private_file(self.path) if create else open(self.path, "r+", encoding="utf-8")
        except FileNotFoundError as exc:
            raise JournalError(f"Journal {self.path} does not exist.") from exc
        try:
            import fcntl  # noqa: PLC0415  (POSIX only: Windows has no flock, the journal goes unlocked)

            fcntl.flock(self._f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:
            pass
        except OSError as exc:
            self._f.close()
            raise JournalError(f"Journal {self.path} is in use by another mlx-embed process; wait for it "
                               f"to finish (or end it) and try again.") from exc
        if not create:
            self._drop_torn_tail()
        self._f.seek(0, os.SEEK_END)
        return self

    def _drop_torn_tail(self) -> None:
        """A crash in the middle of a write leaves a last line without its newline: cut it off, so the
        records appended next are whole lines (the torn record never counted: its step is re-checked)."""
        self._f.seek(0)
        data = self._f.read()
        if data and not data.endswith("\n"):
            keep = data.rfind("\n") + 1
            self._f.seek(0)
            self._f.truncate(len(data[:keep].encode("utf-8")))
            self._f.flush()
            os.fsync(self._f.fileno())

    def write(self, record: dict) -> None:
        self._f.write(json.dumps(record) + "\n")  # ASCII: a name that is not UTF-8 survives as \\udcXX
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def records(self) -> list[dict]:
        out = []
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    break          # a torn last line from a crash: everything before it counts
        if not out or out[0].get("type") != "plan":
            raise JournalError(f"{self.path} is not an mlx-embed journal.")
        return out


def journal_state(records: list[dict]) -> str:
    types = [r["type"] for r in records]
    if "undo-finished" in types:
        return "undone"
    if "undo-begin" in types:
        return "undoing"
    return "applied" if "finished" in types else "applying"


def journals(journal_dir: str | os.PathLike | None = None) -> list[JournalInfo]:
    """Every journal in the folder, oldest first."""
    folder = Path(journal_dir) if journal_dir else default_journal_dir()
    out = []
    for p in sorted(folder.glob("*.journal")):
        try:
            records = Journal(p).records()
        except (JournalError, OSError):
            continue
        head = records[0]
        out.append(JournalInfo(p, journal_state(records), head.get("created", 0.0), head.get("mode", "?"),
                               len(head.get("operations", []))))
    return out


def pick_journal(journal, journal_dir, states: tuple[str, ...], verb: str) -> Path:
    """`journal` if given, else the latest journal in `journal_dir` in one of `states`."""
    if journal:
        return Path(journal)
    candidates = [j for j in journals(journal_dir) if j.state in states]
    if not candidates:
        raise JournalError(f"Nothing to {verb}: no journal in {Path(journal_dir) if journal_dir else default_journal_dir()} "
                           f"is {' or '.join(states)}.")
    return candidates[-1].path

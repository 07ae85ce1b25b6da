"""What the index reports, in records and in words: the same wording for the CLI and the app.

    accounting_line(counts, ignored) -> "N files: a indexed, b pending, c skipped, d failed[; ...]"
    describe_run(stats, status) -> what a run did, then where every file stands (two lines)
    FolderInfo (a folder and the state of its entries), IndexStatus (the whole index: Index.status())
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..words import plural
from .store import STATES


def accounting_line(counts: dict[str, int], ignored: int = 0) -> str:
    """The one wording of where every entry stands: the CLI summary after add/update, `index status`
    and the app's Folders screen all print this, so their numbers always agree.

    indexed: searchable; pending: queued for embedding; skipped: deliberately not embedded (too large,
    binary or unsupported type, broken symlink, second link to a listed file, empty, FIFO...); failed:
    could not be read (permission, damaged or encrypted file, unreadable folder). `ignored` entries were
    left out by rule (hidden, system folders, ignore files, excludes) and are counted, not listed."""
    total = sum(counts.get(k, 0) for k in STATES)
    text = plural(total, "file") + ": " + ", ".join(f"{counts.get(k, 0):,} {k}" for k in STATES)
    if ignored:
        text += f"; {ignored:,} more left out by rule (hidden, system folders, ignore files, excludes)"
    return text


@dataclass
class FolderInfo:
    path: Path
    excludes: list[str]
    files: int                      # every entry with a state: indexed + pending + skipped + failed
    indexed: int
    scanned: float | None
    pending: int = 0
    skipped: int = 0
    failed: int = 0
    ignored: int = 0                # left out by rule at the last scan (not stored per file)

    @property
    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in STATES}

    def summary(self) -> str:
        return accounting_line(self.counts, self.ignored)


@dataclass
class IndexStatus:
    path: Path
    model: dict[str, Any] | None
    settings: dict[str, Any]
    folders: list[FolderInfo]
    counts: dict[str, int]                 # files by status: pending, indexed, skipped, failed
    chunks: int
    failures: list[tuple[str, str]]        # (path, reason) of failed files and unreadable folders
    skipped_reasons: dict[str, int]        # reason -> count
    run: dict[str, Any] | None             # the run in progress (pid, phase, done, total, eta_seconds), if any
    last_run: dict[str, Any] | None
    size_bytes: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    ignored: int = 0                       # entries left out by rule at the last scan

    def summary(self) -> str:
        return accounting_line(self.counts, self.ignored)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["summary"] = self.summary()
        for f, info in zip(d["folders"], self.folders):
            f["summary"] = info.summary()
        d["path"] = str(self.path)
        for f in d["folders"]:
            f["path"] = str(f["path"])
        d["failures"] = [{"path": p, "reason": r} for p, r in self.failures]
        return d


def describe_run(stats, status: IndexStatus) -> str:
    """What a run (RunStats) changed, then where every file stands: the same line `index status` prints.

    Chunk counts, which differ and say so: "chunks embedded" are the chunks this run ran through the model;
    "chunks reused" got their vectors without the model (copied from a file with identical content, or
    staged by a run stopped part-way through the file); "chunks stored" are all the index holds (every run's,
    minus those of deleted and changed files). On a new index, embedded + reused = stored."""
    indexed = plural(stats.indexed + stats.copied, "file") + " indexed"
    if stats.copied:      # indexed without the model: the same content as a file indexed already
        indexed += f" ({stats.copied:,} as a copy of an identical file)"
    parts = [indexed, plural(stats.chunks_embedded, "chunk") + " embedded"]
    if getattr(stats, "chunks_reused", 0):
        parts.append(plural(stats.chunks_reused, "chunk") + " reused")
    for key in ("moved", "touched", "deleted"):
        if getattr(stats, key):
            parts.append(f"{getattr(stats, key):,} {key}")
    return (f"{'Stopped' if stats.cancelled else 'Done'}: {', '.join(parts)} in {stats.seconds:.1f} s.\n"
            f"Index: {status.summary()}; {plural(status.chunks, 'chunk')} stored.")

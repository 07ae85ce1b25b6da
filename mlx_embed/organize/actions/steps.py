"""One step of a plan carried out, journaled first; how steps end; the tally of a run (Result).

    do_step(op, journal, tags) -> dict         # journal "begin" (with what undo needs), then do it;
                                                # returns the "done" record's details
    StepFailed / StepSkipped                    # how a step ends other than done, with the reason
    failure_reason(exc, path) -> str            # an OSError in words (permission, disk full, ...)
    Result(journal, done, failed, skipped, moved)   # what an apply, resume or undo did
    follow_move(index, old, new)                # the index follows a moved file (no re-embedding)
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from pathlib import Path

from . import fileops
from .journal import Journal
from .plans import Operation


@dataclass
class Result:
    journal: Path
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)       # op id -> reason
    skipped: dict[int, str] = field(default_factory=dict)      # op id -> reason (vanished, conflict)
    moved: list[tuple[Path, Path]] = field(default_factory=list)  # (old, new) of files that moved

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict:
        return {"journal": str(self.journal), "done": len(self.done),
                "failed": {str(k): v for k, v in self.failed.items()},
                "skipped": {str(k): v for k, v in self.skipped.items()},
                "moved": [[str(a), str(b)] for a, b in self.moved]}


class StepFailed(Exception):
    """The step could not be done (permission denied, disk full...): recorded as failed, the others go on."""


class StepSkipped(Exception):
    """The step had nothing to act on (its file vanished, its old name is taken): recorded as skipped."""


def failure_reason(exc: OSError, path) -> str:
    path = exc.filename or path
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied: {path} (read-only or not yours)"
    if exc.errno == errno.ENOSPC:
        return f"disk full writing {path}"
    return f"{exc.strerror or exc}: {path}"


def do_step(op: Operation, journal: Journal, tags) -> dict:
    """One step: journal 'begin' (with the facts undo needs), then do it. Returns the 'done' details."""
    if op.kind == "mkdir":
        d = Path(op.source)
        existed = d.is_dir()
        journal.write({"type": "begin", "id": op.id, "existed": existed})
        if not existed:
            try:
                fileops.mkdir(d)
            except FileExistsError:
                if not d.is_dir():
                    raise StepFailed(f"{d} exists and is not a folder") from None
                return {"created": False}
            except OSError as exc:
                raise StepFailed(failure_reason(exc, d.parent)) from exc
            fileops.fsync_dir(d.parent)
        return {"created": not existed}
    src = Path(op.source)
    if not src.is_file():
        raise StepSkipped(f"{src} vanished before it could be {op.kind}d" if op.kind != "tag"
                          else f"{src} vanished before it could be tagged")
    if op.sha256 and fileops.sha256(src) != op.sha256:
        raise StepSkipped(f"{src} changed since the plan was made: left as it is (make a new plan to include it)")
    if op.kind == "tag":
        try:
            before = tags.get(src)
        except OSError as exc:
            raise StepFailed(failure_reason(exc, src)) from exc
        after = before + [op.tag] if op.tag not in before else before
        journal.write({"type": "begin", "id": op.id, "before": before, "after": after})
        try:
            tags.set(src, after)
        except OSError as exc:
            raise StepFailed(failure_reason(exc, src)) from exc
        return {}
    digest = fileops.sha256(src) if op.kind == "copy" else None

    def claim(target: Path) -> None:            # journal the exact name before it is created
        journal.write({"type": "begin", "id": op.id, "target": str(target), "sha256": digest})

    target = fileops.free_name(Path(op.target))
    claim(target)
    try:
        if op.kind == "move":
            target = fileops.move(src, target, claim)
        else:
            target = fileops.copy(src, target, claim)
    except FileNotFoundError as exc:
        if not src.exists():
            raise StepSkipped(f"{src} vanished before it could be {op.kind}d") from exc
        raise StepFailed(failure_reason(exc, target.parent)) from exc
    except OSError as exc:
        raise StepFailed(failure_reason(exc, target.parent)) from exc
    return {"target": str(target)}


def follow_move(index, old: Path, new: Path) -> None:
    """Tell the index (an mlx_embed.index.Index, or None) that a file moved; its failure is ignored."""
    if index is None:
        return
    try:
        index.move_file(old, new)
    except Exception:  # noqa: BLE001  (the index is a cache: the next index run repairs it)
        pass

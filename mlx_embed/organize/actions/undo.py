"""Undo: reverse an apply (finished or interrupted), step by step from the last, judging from the disk.

    result = undo(journal=None, journal_dir=None, index=None, tags=None)   -> Result
             # the latest journal not yet undone, by default

Moved files go back to their old paths, copies are deleted (only if their content is still what was
copied), folders created by the apply are removed if empty, tags are set back to their previous list.
A path that has been taken since is never overwritten: that step is skipped (reported) and the file
stays. Undo is journaled too, so an interrupted undo is completed by running undo again.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .. import tags as tagging
from . import fileops
from .journal import Journal, JournalError, journal_state, pick_journal
from .plans import Operation
from .steps import Result, StepFailed, StepSkipped, failure_reason, follow_move


def undo(journal: str | os.PathLike | None = None, journal_dir: str | os.PathLike | None = None, index=None,
         tags: tagging.TagStore | None = None) -> Result:
    """Reverse an apply (the latest one not undone by default), even an interrupted one."""
    path = pick_journal(journal, journal_dir, ("applied", "applying", "undoing"), "undo")
    tags = tags or tagging.default_store()
    j = Journal(path).open()
    try:
        records = j.records()
        state = journal_state(records)
        if state == "undone":
            raise JournalError(f"{path} has already been undone.")
        if state != "undoing":
            j.write({"type": "undo-begin", "interrupted_apply": state == "applying"})
        ops = {op["id"]: Operation(**op) for op in records[0]["operations"]}
        began: dict[int, dict] = {}
        done: dict[int, dict] = {}
        for r in records:
            if r["type"] == "begin":
                began[r["id"]] = r
            elif r["type"] == "done":
                done[r["id"]] = r
        undone = {r["id"] for r in records if r["type"] in ("undone", "undo-skipped")}
        result = Result(path)
        for i in sorted(began, reverse=True):
            if i in undone:
                continue
            op = ops[i]
            try:
                moved = _reverse(op, began[i], done.get(i), tags)
            except StepSkipped as exc:
                j.write({"type": "undo-skipped", "id": i, "reason": str(exc)})
                result.skipped[i] = str(exc)
                continue
            except (StepFailed, OSError) as exc:
                reason = str(exc) if isinstance(exc, StepFailed) else failure_reason(exc, op.source)
                j.write({"type": "undo-failed", "id": i, "reason": reason})
                result.failed[i] = reason
                continue
            j.write({"type": "undone", "id": i})
            result.done.append(i)
            if moved:
                result.moved.append(moved)
                follow_move(index, moved[0], moved[1])
        if not result.failed:
            j.write({"type": "undo-finished"})
        return result
    finally:
        j.close()


def _reverse(op: Operation, begin: dict, done: dict | None, tags) -> tuple[Path, Path] | None:
    """Put one step back, judging from the disk what had happened. Returns (old, new) for a move back."""
    if op.kind == "mkdir":
        d = Path(op.source)
        if begin.get("existed") or not d.is_dir():
            return None
        try:
            d.rmdir()
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise StepSkipped(f"{d} is not empty (files were added since): the folder stays") from exc
            raise
        fileops.fsync_dir(d.parent)
        return None
    src = Path(op.source)
    if op.kind == "tag":
        if not src.exists():
            raise StepSkipped(f"{src} is gone: its tags cannot be restored")
        tags.set(src, begin["before"])
        return None
    target = Path((done or begin)["target"])
    part = fileops.partial_name(target)
    if part.exists():
        fileops.unlink(part)
    if op.kind == "copy":
        if not target.exists():
            return None
        if fileops.sha256(target) != begin.get("sha256"):
            raise StepSkipped(f"{target} has changed since it was copied: it stays")
        fileops.unlink(target)
        fileops.fsync_dir(target.parent)
        return None
    # move back
    if src.exists() and target.exists() and fileops.same_content(src, target):
        fileops.unlink(target)                  # the crash came between link (or copy) and unlink
        fileops.fsync_dir(target.parent)
        return None
    if not target.exists():
        if src.exists():
            return None                         # the move never happened
        raise StepSkipped(f"{target} is gone (deleted or moved since): {src} cannot be restored")
    if src.exists():
        raise StepSkipped(f"{src} is taken by another file now: {target} stays where it is")
    src.parent.mkdir(parents=True, exist_ok=True)
    fileops.move(target, src)
    return target, src

"""Crash recovery: finish a step that had begun (journaled "begin") when the process died.

    finish_step(op, begin, journal, tags) -> dict     # the "done" details, as steps.do_step gives

What had happened is judged from the disk, not from the journal alone: the source, the target named
in the "begin" record, whether they are the same inode or have the same content (SHA-256), and a
leftover partial copy. A copy whose target has the journaled hash is done; a move whose target exists
and whose source is gone is done; a move linked (or copied) but not yet unlinked gets its source
removed; a step that had not happened is done now. run.resume uses this; run.apply never needs it.
"""

from __future__ import annotations

from pathlib import Path

from . import fileops
from .journal import Journal
from .plans import Operation
from .steps import StepFailed, StepSkipped, do_step, failure_reason


def finish_step(op: Operation, begin: dict, journal: Journal, tags) -> dict:
    """Finish a step that had begun when the process died (resume)."""
    if op.kind == "mkdir":
        d = Path(op.source)
        if not d.is_dir():
            try:
                fileops.mkdir(d)
            except FileExistsError:
                pass
            except OSError as exc:
                raise StepFailed(failure_reason(exc, d.parent)) from exc
        return {"created": not begin.get("existed", False)}
    if op.kind == "tag":
        src = Path(op.source)
        if not src.exists():
            raise StepSkipped(f"{src} vanished")
        tags.set(src, begin["after"])
        return {}
    src, target = Path(op.source), Path(begin["target"])
    part = fileops.partial_name(target)
    if op.kind == "copy":
        if target.is_file() and fileops.sha256(target) == begin.get("sha256"):
            if part.exists():
                fileops.unlink(part)
            return {"target": str(target)}
        if part.exists():
            fileops.unlink(part)
        journal.write({"type": "begin-retry", "id": op.id})
        return do_step(op, journal, tags)
    # move
    if src.exists() and target.exists() and fileops.same_content(src, target):
        fileops.unlink(src)                     # linked (or copied) but not yet unlinked
        fileops.fsync_dir(src.parent)
        if part.exists():
            fileops.unlink(part)
        return {"target": str(target)}
    if not src.exists() and target.exists():
        return {"target": str(target)}          # the move had happened
    if src.exists():
        if part.exists():
            fileops.unlink(part)
        return do_step(op, journal, tags)       # it had not happened: do it now
    raise StepSkipped(f"{src} vanished")

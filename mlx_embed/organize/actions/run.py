"""Carry out a plan, journaling each step first; finish an interrupted one.

    result = apply(plan, journal_dir=None, index=None, tags=None)     -> Result
    result = resume(journal=None, journal_dir=None, index=None)       # the latest interrupted apply

Both walk the plan's steps in order: a step already ended in the journal counts as it ended; a step
that had begun is finished by recovery.finish_step; the others are done by steps.do_step. A step that
fails (permission denied, read-only folder, disk full) is recorded with its reason and the others go
on; a step whose file vanished is skipped. Once the journal is complete ("finished"), the index follows
the moves (the index is a cache, the files are the truth).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path

from .. import tags as tagging
from .journal import JOURNAL_VERSION, Journal, JournalError, default_journal_dir, journal_state, pick_journal
from .plans import Operation, Plan
from .recovery import finish_step
from .steps import Result, StepFailed, StepSkipped, do_step, failure_reason, follow_move


def apply(plan: Plan, journal_dir: str | os.PathLike | None = None, index=None,
          tags: tagging.TagStore | None = None) -> Result:
    """Carry out the plan, journaling each step first. Returns what was done, failed and skipped."""
    folder = Path(journal_dir) if journal_dir else default_journal_dir()
    header = {"type": "plan", "version": JOURNAL_VERSION, "created": time.time(), "mode": plan.mode,
              "cwd": os.getcwd(), "operations": [asdict(op) for op in plan.operations]}
    journal = Journal.create(folder, header)
    try:
        return _run(journal, [header], index, tags or tagging.default_store())
    finally:
        journal.close()


def resume(journal: str | os.PathLike | None = None, journal_dir: str | os.PathLike | None = None, index=None,
           tags: tagging.TagStore | None = None) -> Result:
    """Finish an interrupted apply (the latest one by default)."""
    path = pick_journal(journal, journal_dir, ("applying",), "resume")
    j = Journal(path).open()
    try:
        records = j.records()
        state = journal_state(records)
        if state != "applying":
            raise JournalError(f"{path} is {state}: there is nothing to resume.")
        return _run(j, records, index, tags or tagging.default_store())
    finally:
        j.close()


def _run(journal: Journal, records: list[dict], index, tags) -> Result:
    ops = [Operation(**op) for op in records[0]["operations"]]
    ended = {r["id"]: r for r in records if r["type"] in ("done", "failed", "skipped")}
    began = {r["id"]: r for r in records if r["type"] == "begin"}
    result = Result(journal.path)
    for r in ended.values():
        if r["type"] == "done":
            result.done.append(r["id"])
        elif r["type"] == "failed":
            result.failed[r["id"]] = r.get("reason", "")
        else:
            result.skipped[r["id"]] = r.get("reason", "")
    failed_dirs = {Path(ops[i].source): result.failed[i] for i in result.failed if ops[i].kind == "mkdir"}
    for op in ops:
        if op.id in ended:
            continue
        try:
            if op.id in began:
                outcome = finish_step(op, began[op.id], journal, tags)
            else:
                blocked = [d for d in failed_dirs if op.target and d in Path(op.target).parents]
                if blocked:
                    raise StepFailed(f"its folder could not be created ({failed_dirs[blocked[0]]})")
                outcome = do_step(op, journal, tags)
        except StepFailed as exc:
            journal.write({"type": "failed", "id": op.id, "reason": str(exc)})
            result.failed[op.id] = str(exc)
            if op.kind == "mkdir":
                failed_dirs[Path(op.source)] = str(exc)
            continue
        except StepSkipped as exc:
            journal.write({"type": "skipped", "id": op.id, "reason": str(exc)})
            result.skipped[op.id] = str(exc)
            continue
        except OSError as exc:              # while recovering a step: report it, go on with the others
            reason = failure_reason(exc, op.target or op.source)
            journal.write({"type": "failed", "id": op.id, "reason": reason})
            result.failed[op.id] = reason
            continue
        journal.write({"type": "done", "id": op.id, **outcome})
        result.done.append(op.id)
    journal.write({"type": "finished"})
    # the index follows the moves (after the journal is complete: the index is a cache, the files are truth)
    final = {r["id"]: r for r in journal.records() if r["type"] == "done"}
    for op in ops:
        if op.kind == "move" and op.id in final:
            old, new = Path(op.source), Path(final[op.id].get("target", op.target))
            result.moved.append((old, new))
            follow_move(index, old, new)
    return result

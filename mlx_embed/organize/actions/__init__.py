"""Apply a clustering or classification to the files: moves, copies or tags, journaled and undoable.

    plan = plan_groups(groups, mode="move", destination=None)   # groups: [{"name", "files"}] or a
                                                                 # Clustering/Classification .to_dict()
    plan = load_plan("plan.json", mode="copy", destination=None) # a JSON written by cluster/classify --json
    plan.operations  -> [Operation(id, kind, source, target, tag, note)]   # kind: mkdir|move|copy|tag
    plan.problems    -> ["...cannot write to /x", "...vanished"]            # the preview's warnings
    plan.describe()  -> lines for a preview;  nothing on disk changes before apply()
    result = apply(plan, journal_dir=None, index=None, tags=None)  -> Result(journal, done, failed,
                                                                            skipped, moved)
    result = undo(journal=None, journal_dir=None, index=None)      # the latest journal not yet undone
    result = resume(journal=None, journal_dir=None, index=None)    # finish an interrupted apply
    journals(journal_dir=None) -> [JournalInfo(path, state, created, mode, operations)]

Modules, lowest first:
    fileops.py   free names, no-replace move and copy, the disk primitives (link, unlink, mkdir, fsync)
    plans.py     Operation, Plan, plan_groups, load_plan, safe_folder_name: the preview, nothing on disk
    journal.py   Journal (fsynced JSON lines, locked), JournalError, journals, default_journal_dir
    steps.py     do_step (one step, journaled first), StepFailed/StepSkipped, Result, follow_move
    recovery.py  finish_step: a step that had begun when the process died, judged from the disk
    run.py       apply and resume: a plan's steps in order
    undo.py      undo: the steps reversed, last first

Guarantees:
- Nothing is overwritten: a name that is taken gets " (2)", " (3)"... (decided in the plan and checked
  again at the moment of the move). Moves are a hard link then an unlink (the link fails if the name is
  taken, atomically); where hard links are impossible (another volume, some file systems) the file is
  copied to a temporary name, fsynced, renamed into a free name, then the source is removed.
- Every step is journaled before it happens: the journal (JSON lines in `journal_dir`, default
  <app data>/journals, env MLX_EMBED_JOURNAL_DIR) gets the whole plan, then a "begin" record before each
  step and a "done"/"failed"/"skipped" record after it, each flushed and fsynced. A crash (even kill -9)
  mid-apply leaves a journal whose last step is found by looking at the disk (source, target, same inode,
  content hash): `undo` puts back whatever happened, `resume` finishes the rest. Undo is journaled too,
  so an interrupted undo is completed by running undo again.
- Undo restores exactly: moved files go back to their old paths, copies are deleted (only if their
  content is still what was copied), folders created by the apply are removed if empty, tags are set
  back to their previous list (an empty list removes the tag sidecar or attribute). A path that has been
  taken since is never overwritten: that step is reported as a conflict and the file stays.
- A source that vanished before its step is skipped and reported; a step that fails (permission
  denied, read-only folder, disk full) is recorded as failed with its reason and the others go on.
- The index follows moves (`index.move_file(old, new)`, no re-embedding) when an Index is given.
- Tags: Finder tags (the com.apple.metadata:_kMDItemUserTags extended attribute) on macOS; elsewhere a
  sidecar `.mlx-embed-tags.json` in the file's folder ({file name: [tags]}). See organize/tags.py.
"""

from .journal import JournalError, JournalInfo, default_journal_dir, journals
from .plans import Operation, Plan, load_plan, plan_groups, safe_folder_name
from .run import apply, resume
from .steps import Result
from .undo import undo

__all__ = [
    "plan_groups", "load_plan", "safe_folder_name", "Plan", "Operation",
    "apply", "resume", "undo", "Result",
    "journals", "default_journal_dir", "JournalInfo", "JournalError",
]

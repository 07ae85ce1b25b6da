"""`mlx-embed apply PLAN.json [--move|--copy|--tag] [--yes]`, `mlx-embed undo`, `mlx-embed resume`.

PLAN.json is the JSON of `mlx-embed cluster --json` or `mlx-embed classify --json` (its "groups").
Without --yes, apply only prints what it would do (nothing changes). With --yes every step is journaled
first (in --journal-dir, env MLX_EMBED_JOURNAL_DIR, default <app data>/journals); `undo` reverses the
latest apply, `resume` finishes an interrupted one. Names are never overwritten. Exit codes: 0 done,
1 some steps failed (see stderr), 2 bad arguments or nothing to undo/resume.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import error


def _journal_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--journal-dir", default=None, help="where journals are kept (env MLX_EMBED_JOURNAL_DIR)")
    p.add_argument("--index", "-i", default=os.environ.get("MLX_EMBED_INDEX"),
                   help="index that follows the moves (env MLX_EMBED_INDEX; default: the app-data index if it exists)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("apply", help="move, copy or tag files as a cluster/classify plan says (preview by default)",
                       description="Apply the groups of a `cluster --json` or `classify --json` output. "
                                   "Previews unless --yes is given.")
    p.add_argument("plan", metavar="PLAN.json")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--move", dest="mode", action="store_const", const="move", help="move files into group folders (default)")
    mode.add_argument("--copy", dest="mode", action="store_const", const="copy", help="copy files into group folders")
    mode.add_argument("--tag", dest="mode", action="store_const", const="tag",
                      help="tag files with their group (Finder tags on macOS, a sidecar file elsewhere)")
    p.set_defaults(mode="move")
    p.add_argument("--to", default=None, metavar="DIR", help="folder that receives the group folders "
                                                            "(default: the folder containing all the files)")
    p.add_argument("--only", action="append", default=None, metavar="GROUP", help="apply only this group (repeatable)")
    p.add_argument("--yes", "-y", action="store_true", help="really do it (default: preview only)")
    _journal_args(p)
    p.set_defaults(run=run_apply)

    u = sub.add_parser("undo", help="undo the latest apply (or the given journal)")
    u.add_argument("journal", nargs="?", default=None, metavar="JOURNAL")
    u.add_argument("--list", action="store_true", help="list the journals instead")
    _journal_args(u)
    u.set_defaults(run=run_undo)

    r = sub.add_parser("resume", help="finish an apply that was interrupted")
    r.add_argument("journal", nargs="?", default=None, metavar="JOURNAL")
    _journal_args(r)
    r.set_defaults(run=run_resume)


def _index(args):
    from .cluster import open_index

    return open_index(args.index, None)


def _report(args, result, verb: str) -> int:
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"{verb} {len(result.done)} step(s); journal {result.journal}")
    for i, reason in result.skipped.items():
        error(f"step {i} skipped: {reason}")
    for i, reason in result.failed.items():
        error(f"step {i} failed: {reason}")
    return 0 if result.ok else 1


def run_apply(args: argparse.Namespace) -> int:
    from ..organize import apply, load_plan

    plan = load_plan(args.plan, args.mode, args.to, args.only)
    if not args.yes:
        if args.json:
            json.dump({"preview": True, **plan.to_dict()}, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            for line in plan.describe():
                print(line)
            print(f"\npreview only: {sum(op.kind != 'mkdir' for op in plan.operations)} file(s) would change; "
                  f"run again with --yes to do it")
        return 0
    result = apply(plan, args.journal_dir, index=_index(args))
    return _report(args, result, "applied")


def run_undo(args: argparse.Namespace) -> int:
    from ..organize import journals, undo

    if args.list:
        items = journals(args.journal_dir)
        if args.json:
            json.dump([{"path": str(j.path), "state": j.state, "created": j.created, "mode": j.mode,
                        "operations": j.operations} for j in items], sys.stdout, indent=2)
            sys.stdout.write("\n")
        for j in [] if args.json else items:
            print(f"{j.path}  {j.state:<9} {j.mode:<5} {j.operations} step(s)")
        return 0
    return _report(args, undo(args.journal, args.journal_dir, index=_index(args)), "undid")


def run_resume(args: argparse.Namespace) -> int:
    from ..organize import resume

    return _report(args, resume(args.journal, args.journal_dir, index=_index(args)), "resumed; done")

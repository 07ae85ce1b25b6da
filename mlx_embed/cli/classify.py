"""`mlx-embed classify PATH... --labels labels.json`: put files under your labels, with reasons.

Labels without examples are matched zero-shot on their name and description; labels with example files
learn from them. `--correct FILE=LABEL` (repeatable) records a correction: the file becomes an example
of LABEL in labels.json (saved), and this run already uses it. `--json` prints the result with its
"groups", a plan for `mlx-embed apply` (unsure files are left out). `--init-labels FILE` writes a
documented starting label set (LABELS_FORMAT below is the same text, shown by --help).
"""

from __future__ import annotations

import argparse
import json
import sys

from ..words import plural
from . import error
from .cluster import add_common, load_vectors

LABELS_FORMAT = """\
label set (JSON; start from one with --init-labels labels.json):
  {"threshold": 0.7,
   "labels": [{"name": "Invoices", "description": "bills and receipts to pay",
               "examples": ["~/Documents/bill-2024-03.pdf"]},
              {"name": "Contracts", "description": "agreements signed by two parties"},
              "Notes"]}
  name         required, unique, not "unsure"; a label may be just its name (a string)
  description  a few words saying what belongs there
  examples     files that belong there: absolute, or relative to the label file
  threshold    confidence (0-1) under which a file is "unsure" (default 0.7)
  vectors      written by mlx-embed: cached vectors of the examples; keys starting with _ are notes

why: each file says why it got its label: the nearest example file (when the label has examples), or
the file's own words closest to the label; paths are shown relative to the folder classified."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="put files under your labels (zero-shot or from examples)",
                       description="Classify files under the labels of a label set, with the model's "
                                   "classification adapter. Files under --threshold confidence are 'unsure'.",
                       epilog=LABELS_FORMAT, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    # PATH is optional here only so that `classify --init-labels FILE` needs none (run() checks it)
    next(a for a in p._actions if a.dest == "paths").nargs = "*"
    p.add_argument("--labels", "-l", metavar="LABELS.json", help="the label set (JSON; format below)")
    p.add_argument("--init-labels", metavar="FILE", help="write a documented starting label set to FILE and exit")
    p.add_argument("--threshold", type=float, default=None,
                   help="confidence under which a file is 'unsure' (default: the label set's, else 0.7)")
    p.add_argument("--method", default="auto", choices=["auto", "zero-shot", "centroid", "logistic"])
    p.add_argument("--correct", action="append", default=[], metavar="FILE=LABEL",
                   help="FILE belongs to LABEL: save it as an example (repeatable)")
    p.set_defaults(run=run)


def init_labels(path: str) -> int:
    """Write the template label set to `path` (never over an existing file)."""
    from pathlib import Path

    from ..errors import InvalidArgumentError
    from ..organize.labelset import template

    target = Path(path).expanduser()
    try:
        with open(target, "x", encoding="utf-8") as f:
            f.write(json.dumps(template(), indent=2, ensure_ascii=False) + "\n")
    except FileExistsError as exc:
        raise InvalidArgumentError(f"{target} already exists: choose another name, or edit that file.") from exc
    except OSError as exc:
        raise InvalidArgumentError(f"cannot write {target} ({exc.strerror or exc}).") from exc
    error(f"wrote {target}: edit the labels, then run `mlx-embed classify FOLDER --labels {target}`")
    return 0


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import InvalidArgumentError
    from ..organize import LabelSet, classify
    from ..organize.classify import common_root, shown_path
    from ..organize.labelset import UNSURE, model_key

    if args.init_labels:
        return init_labels(args.init_labels)
    if not args.paths:
        raise InvalidArgumentError("name the files or folders to classify: mlx-embed classify FOLDER --labels "
                                   "labels.json")
    if not args.labels:
        raise InvalidArgumentError("--labels LABELS.json is required (write a starting set with "
                                   "`mlx-embed classify --init-labels labels.json`).")
    labels = LabelSet.load(args.labels)
    model, fv, _ = load_vectors(args, "classification")
    if args.correct:
        vectors = dict(zip(fv.paths, fv.vectors))
        for item in args.correct:
            file, sep, name = item.rpartition("=")
            if not sep or not file:
                raise InvalidArgumentError(f"--correct {item!r}: write FILE=LABEL.")
            path = Path(file).absolute()
            labels.correct(path, name, vectors.get(path.resolve()), model_key(model, fv.task))
        labels.save()
        error(f"saved {len(args.correct)} correction{'s' if len(args.correct) != 1 else ''} to {labels.path}")
    result = classify(model, fv, labels, threshold=args.threshold, method=args.method)
    # paths as the user thinks of them: relative to the folder given (or to what the paths share)
    single = Path(args.paths[0]).expanduser().resolve()
    root = single if len(args.paths) == 1 and single.is_dir() else common_root(fv.paths)
    if args.json:
        out = result.to_dict(root)
        out["root"] = str(root) if root is not None else None
        out["skipped"] = {str(p): r for p, r in fv.skipped.items()}
        from ..organize.actions.plans import source_hashes

        out["hashes"] = source_hashes(out["groups"]) if isinstance(out.get("groups"), list) else {}
        json.dump(out, sys.stdout, indent=2)  # ASCII: any file name reads back exactly
        sys.stdout.write("\n")
        return 0
    groups = result.by_label()
    print(f"{plural(len(fv), 'file')}{f' in {root}' if root is not None else ''}, method {result.method}, "
          f"threshold {result.threshold}")
    for name in [*labels.names, UNSURE]:
        members = [a for a in result.assignments if (a.label or UNSURE) == name]
        if not members:
            continue
        print(f"\n{name} ({len(groups[name])})")
        for a in members:
            guess = f" best guess {a.best!r}" if a.label is None else ""
            print(f"    {shown_path(a.path, root)}  {a.confidence:.2f}{guess}  — {a.explain(root)}")
    return 0

"""`mlx-embed classify PATH... --labels labels.json`: put files under your labels, with reasons.

labels.json: {"labels": [{"name": "Invoices", "description": "bills and receipts", "examples": [...]}],
"threshold": 0.7}. Labels without examples are matched zero-shot on their name and description; labels
with example files learn from them. `--correct FILE=LABEL` (repeatable) records a correction: the file
becomes an example of LABEL in labels.json (saved), and this run already uses it. `--json` prints the
result with its "groups", a plan for `mlx-embed apply` (unsure files are left out).
"""

from __future__ import annotations

import argparse
import json
import sys

from ..words import plural
from . import error
from .cluster import add_common, load_vectors


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="put files under your labels (zero-shot or from examples)",
                       description="Classify files under the labels of a label set, with the model's "
                                   "classification adapter. Files under --threshold confidence are 'unsure'.")
    add_common(p)
    p.add_argument("--labels", "-l", required=True, metavar="LABELS.json", help="the label set (JSON)")
    p.add_argument("--threshold", type=float, default=None,
                   help="confidence under which a file is 'unsure' (default: the label set's, else 0.7)")
    p.add_argument("--method", default="auto", choices=["auto", "zero-shot", "centroid", "logistic"])
    p.add_argument("--correct", action="append", default=[], metavar="FILE=LABEL",
                   help="FILE belongs to LABEL: save it as an example (repeatable)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import InvalidArgumentError
    from ..organize import LabelSet, classify
    from ..organize.labelset import UNSURE, model_key

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
        error(f"saved {len(args.correct)} correction(s) to {labels.path}")
    result = classify(model, fv, labels, threshold=args.threshold, method=args.method)
    if args.json:
        out = result.to_dict()
        out["skipped"] = {str(p): r for p, r in fv.skipped.items()}
        json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    groups = result.by_label()
    print(f"{plural(len(fv), 'file')}, method {result.method}, threshold {result.threshold}")
    for name in [*labels.names, UNSURE]:
        members = [a for a in result.assignments if (a.label or UNSURE) == name]
        if not members:
            continue
        print(f"\n{name} ({len(groups[name])})")
        for a in members:
            guess = f" best guess {a.best!r}" if a.label is None else ""
            print(f"    {a.path}  {a.confidence:.2f}{guess}  — {a.reason}")
    return 0

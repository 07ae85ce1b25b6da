"""`mlx-embed embed`: texts (arguments or stdin lines) to vectors."""

from __future__ import annotations

import argparse
import json
import sys

from . import add_model_argument, error


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="embed texts given as arguments or as lines on stdin",
                       description="Embed texts. With no TEXT arguments, reads one text per line from stdin.")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    add_model_argument(p)
    p.add_argument("--task", "-t", default=None, help="adapter: retrieval, text-matching, clustering, classification")
    p.add_argument("--prompt", "-p", default=None, dest="prompt_name", help="prompt name, e.g. query or document")
    p.add_argument("--dim", type=int, default=None, help="Matryoshka dimension (truncate and renormalise)")
    p.add_argument("--precision", default="float32", choices=["float32", "int8", "uint8", "binary", "ubinary"])
    p.add_argument("--max-length", type=int, default=None, help="truncate inputs to this many tokens")
    p.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"])
    p.add_argument("--json", action="store_true", help="print a JSON array of vectors (default: one vector a line, space-separated)")
    p.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    texts = args.texts or [line.rstrip("\n") for line in sys.stdin]
    if not texts:
        error("no input: give TEXT arguments or lines on stdin")
        return 2
    from .. import load

    from . import resolve_model

    model = load(resolve_model(args.model), dtype=args.dtype)
    vectors = model.encode(texts, task=args.task, prompt_name=args.prompt_name, truncate_dim=args.dim,
                           precision=args.precision, max_length=args.max_length,
                           show_progress_bar=args.progress)
    if args.json:
        json.dump(vectors.tolist(), sys.stdout)
        sys.stdout.write("\n")
    else:
        fmt = "{:.7g}" if args.precision == "float32" else "{}"
        for row in vectors:
            sys.stdout.write(" ".join(fmt.format(x) for x in row.tolist()) + "\n")
    return 0

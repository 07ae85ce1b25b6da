"""`mlx-embed info MODEL`: what a model is, as mlx-embed reads it."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a model: architecture, pooling, dims, tasks, prompts, memory")
    p.add_argument("model", metavar="MODEL", help="model folder or Hugging Face repo id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import load

    facts = load(args.model).describe()
    if args.json:
        json.dump(facts, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        if key == "memory_bytes":
            value = ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in value.items())
        elif isinstance(value, (list, dict)):
            value = json.dumps(value, ensure_ascii=False)
        print(f"{key:<{width}}  {value}")
    return 0

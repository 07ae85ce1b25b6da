"""`mlx-embed download REPO`: the one command that reaches the network, explicitly."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("download", help="download a model from Hugging Face into the local cache")
    p.add_argument("repo", metavar="REPO", help="Hugging Face repo id, e.g. jinaai/jina-embeddings-v5-text-small")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..encoder.hub import resolve_model_path

    print(resolve_model_path(args.repo, download=True))
    return 0

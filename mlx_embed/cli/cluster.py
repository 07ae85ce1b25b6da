"""`mlx-embed cluster PATH...` and `mlx-embed dupes PATH...`: group files by meaning, find near-duplicates.

`cluster --json` prints the clustering with its "groups": save it and give it to `mlx-embed apply`.
Stored index vectors are reused where they are the same model's vectors for the same adapter
(--index, env MLX_EMBED_INDEX, or the default index if it exists; --no-index to embed everything).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..words import plural
from . import add_model_argument, error


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="files and folders (searched recursively)")
    add_model_argument(p)
    p.add_argument("--index", "-i", default=os.environ.get("MLX_EMBED_INDEX"),
                   help="index folder or .db file whose vectors may be reused (env MLX_EMBED_INDEX; "
                        "default: the app-data index if it exists)")
    p.add_argument("--no-index", action="store_true", help="embed every file, never reuse index vectors")
    p.add_argument("--hidden", action="store_true", help="include hidden files and folders")
    p.add_argument("--max-chunks", type=int, default=4, metavar="N",
                   help="embed at most N chunks per file, spread over it (default 4)")
    p.add_argument("--max-tokens", type=int, default=256, metavar="N",
                   help="tokens per chunk (default 256, or the model's limit if lower)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.add_argument("--progress", action="store_true", help="show progress on stderr")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cluster", help="group files by meaning (clusters with labels, a 2-D map)",
                       description="Cluster files by meaning with the model's clustering adapter. "
                                   "k is chosen by the best silhouette unless --k is given.")
    add_common(p)
    p.add_argument("--k", type=int, default=None, help="number of clusters (default: chosen automatically)")
    p.add_argument("--method", default="kmeans", choices=["kmeans", "hdbscan", "agglomerative"],
                   help="kmeans (default), hdbscan (finds k, keeps noise apart), agglomerative")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same result)")
    p.add_argument("--min-cluster-size", type=int, default=None, help="hdbscan: smallest cluster")
    p.set_defaults(run=run_cluster)

    d = sub.add_parser("dupes", help="find near-duplicate files (text-matching adapter)",
                       description="Groups of files whose text-matching vectors have cosine similarity "
                                   ">= --threshold; byte-identical files are marked.")
    add_common(d)
    d.add_argument("--threshold", type=float, default=0.95, help="cosine similarity (default 0.95)")
    d.set_defaults(run=run_dupes)


def load_vectors(args: argparse.Namespace, task: str):
    """(model, FileVectors, index or None) for the command's paths."""
    from .. import load
    from ..errors import InvalidArgumentError
    from ..organize import collect_files, embed_files

    files = collect_files(args.paths, hidden=args.hidden)
    if not files:
        raise InvalidArgumentError(f"no files found under {', '.join(args.paths)}")
    from . import resolve_model

    args.model = resolve_model(args.model, args.index)
    model = load(args.model)
    index = None if args.no_index else open_index(args.index, model)
    progress = None
    if args.progress:
        def progress(done: int, total: int) -> None:
            print(f"\rembedding {done}/{total} files", end="" if done < total else "\n", file=sys.stderr)
    fv = embed_files(model, files, task, max_chunks=args.max_chunks, max_tokens=args.max_tokens, index=index,
                     progress=progress)
    for path, reason in fv.skipped.items():
        error(f"skipped {path}: {reason}")
    return model, fv, index


def open_index(path: str | None, model):
    """The index at `path` (or the default one if it exists), opened read-mostly; None if unusable."""
    from ..index import Index
    from ..index.store import resolve_db_path

    try:
        if path is None and not resolve_db_path(None).exists():
            return None
        return Index(path, model=model, create=False)
    except Exception:  # noqa: BLE001  (no index, another model's, damaged: embed instead)
        return None


def run_cluster(args: argparse.Namespace) -> int:
    from ..organize import cluster_files
    from ..organize.actions.plans import source_hashes

    model, fv, _ = load_vectors(args, "clustering")
    if not len(fv):
        error("no readable files to cluster")
        return 1
    result = cluster_files(fv, k=args.k, method=args.method, seed=args.seed, min_cluster_size=args.min_cluster_size,
                           embed=lambda terms: model.encode(terms, task="clustering"))  # group names by meaning
    if args.json:
        out = result.to_dict()
        out["skipped"] = {str(p): r for p, r in fv.skipped.items()}
        out["reused_index_vectors"] = fv.reused
        out["hashes"] = source_hashes(out["groups"])   # apply skips a file changed after this
        # ASCII JSON: a file name that is not UTF-8 travels as \udcXX, which `apply` reads back exactly
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"{plural(len(fv), 'file')}, {plural(result.k, 'cluster')} ({result.method}; {result.criterion})")
    if fv.reused:
        print(f"{fv.reused} vectors reused from the index")
    for c in result.clusters:
        print(f"\n[{c.id + 1}] {c.label}  ({plural(c.size, 'file')}, cohesion {c.cohesion:.2f})")
        print("    central: " + ", ".join(p.name for p in c.central))
        if c.outliers:
            print("    outliers: " + ", ".join(p.name for p in c.outliers))
        for p in c.files:
            print(f"    {p}")
    if result.noise:
        print(f"\nnoise ({plural(len(result.noise), 'file')} in no cluster)")
        for p in result.noise:
            print(f"    {p}")
    return 0


def run_dupes(args: argparse.Namespace) -> int:
    from ..organize import near_duplicates

    _, fv, _ = load_vectors(args, "text-matching")
    groups = near_duplicates(fv, args.threshold)
    if args.json:
        json.dump({"threshold": args.threshold, "groups": [g.to_dict() for g in groups],
                   "skipped": {str(p): r for p, r in fv.skipped.items()}}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not groups:
        print(f"no near-duplicates among {plural(len(fv), 'file')} (threshold {args.threshold})")
    for i, g in enumerate(groups, 1):
        same = {p for sub in g.identical for p in sub}
        print(f"[{i}] {plural(len(g.files), 'file')}, similarity {g.min_similarity:.3f}..{g.max_similarity:.3f}")
        for p in g.files:
            print(f"    {p}" + ("  (identical bytes)" if p in same else ""))
    return 0

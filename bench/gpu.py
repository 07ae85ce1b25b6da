"""The GPU path (bf16/fp16 weights, quantized matmuls, `mx.fast` kernels) on MLX's CUDA backend or Metal,
against references on the same device. Prints one table per section and writes one JSON.

    bash bench/gpu.sh                                  # on a lent CUDA machine (wheels, then the full run)
    python bench/gpu.py --device gpu --size full       # where mlx can already see a GPU
    python bench/gpu.py --device cpu --size tiny       # the same code on the CPU in seconds (its test)

Sections (keys of the JSON):
  parity      the random jina-v5-small fixture (full shape, four non-zero adapters), every task, padded
              batches: MLX fp32 / bf16 / fp16 / 8-bit / 4-bit against an fp32 reference, min and mean cosine.
              Reference: transformers Qwen3Model + peft in fp32 on the same device when torch is importable,
              else mlx-embed fp32 on the CPU (the JSON and the table say which).
  throughput  tokens/s of `encode` (default dtype: bf16 on a GPU) against sentence-transformers with the
              same weights and adapter (bf16 on a GPU, sdpa attention), same texts: real 20-512-token
              texts and a batch of 2K-token documents; the adapter switch time.
  long        one 32K-token input: seconds, and peak MLX memory above the weights against the bound below.
  search      brute-force dense scoring (what the index does) at 1M x 1024: MLX on the device vs NumPy.

A section that fails records its error and the run goes on (device time is scarce); the test fails on it.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import platform
import random
import statistics
import sys
import sysconfig
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mlx_embed  # noqa: E402  (OpenBLAS before mlx.core on a Linux CPU)
import mlx.core as mx  # noqa: E402

from bench import texts as real_texts  # noqa: E402
from mlx_embed.encoder.tokenizer import Tokenizer  # noqa: E402

TASKS = ("retrieval", "text-matching", "clustering", "classification")
VARIANTS = {"float32": ("float32", None), "bfloat16": ("bfloat16", None), "float16": ("float16", None),
            "8-bit": (None, 8), "4-bit": (None, 4)}  # quantized: on the device's default dtype
# The README's promise for one long input: attention runs in query blocks (or a fused kernel), so memory
# above the weights stays this small; materialising the scores would need heads x L^2 (32 GiB at 32K, bf16).
LONG_BOUND_BYTES = 4 << 30
PROMPT = "Document: "  # jina's document prompt, given explicitly to both sides
SEEDS_CLAIM_TOKENS_PER_S = 500.0  # "an RTX 4090 or M4 Max: above 500 tokens/s at batch 32 in bf16"
SIZES = {
    # parity texts, mixed texts, documents, document tokens, long tokens, search rows, search queries
    "full": dict(parity_texts=24, mixed_texts=512, docs=64, doc_tokens=2048, long_tokens=32768,
                 search_rows=1_000_000, queries=60),
    "tiny": dict(parity_texts=8, mixed_texts=24, docs=4, doc_tokens=256, long_tokens=2048,
                 search_rows=20_000, queries=10),
}


# --- set-up -----------------------------------------------------------------------------------------

def pick_device(name: str) -> mx.Device:
    if name == "cpu":
        mx.set_default_device(mx.cpu)
        return mx.cpu
    if not mx.is_available(mx.gpu):
        raise SystemExit("MLX sees no GPU here. On Linux install the CUDA backend (bench/gpu.sh carries the "
                         "mlx and mlx-cuda-13 wheels), on a Mac use Apple Silicon; or run with --device cpu.")
    mx.set_default_device(mx.gpu)
    return mx.gpu


def torch_device(device: str) -> str | None:
    """The torch device that matches MLX's, or None when torch is not importable."""
    try:
        import torch
    except ImportError:
        return None
    if device == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    return "mps" if torch.backends.mps.is_available() else None


def fixture(size: str, cache: Path) -> Path:
    from tests import model_fixtures

    if size == "full":
        from bench.encoder import full_fixture  # the encoder bench's: bf16 on disk, real vocabulary size

        return full_fixture()
    folder = cache / "jina-v5-tiny-random"
    if not (folder / "config.json").exists():
        model_fixtures.write_jina_v5(folder)  # alpha != r, four different non-zero adapters
    return folder


@functools.lru_cache(maxsize=None)
def corpus() -> tuple[str, ...]:
    """Real paragraphs: /usr/share/doc (as the other benches) plus Python's own stdlib sources, since
    slim images (the CUDA machine's) often ship /usr/share/doc without most of its files."""
    paragraphs = set(real_texts.real_paragraphs(10**6))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.glob("*.py"))[:400]:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        paragraphs.update(p.strip() for p in text.split("\n\n") if 20 <= len(p.strip()) <= 8000)
    return tuple(sorted(paragraphs))


def real_paragraphs(n: int, seed: int = 0, max_chars: int = 8000) -> list[str]:
    pool = [p for p in corpus() if len(p) <= max_chars]
    random.Random(seed).shuffle(pool)
    return pool[:n]


def token_texts(tokenizer, n: int, low: int, high: int, seed: int) -> list[str]:
    """n real paragraphs whose token counts (this model's tokenizer) fall in [low, high]."""
    pool = real_paragraphs(max(40 * n, 400), seed=seed, max_chars=4 * high)
    lengths = [len(i) for i in tokenizer.encode(pool, None)]
    picked = [t for t, n_tok in zip(pool, lengths) if low <= n_tok <= high]
    if len(picked) < n:
        raise RuntimeError(f"only {len(picked)} real paragraphs of {low}-{high} tokens found for {n} texts")
    return picked[:n]


def long_text(tokenizer, tokens: int, seed: int = 3) -> str:
    """Real paragraphs joined until the text holds at least `tokens` tokens."""
    paragraphs = real_paragraphs(10**6, seed=seed)
    out, count = [], 0
    for p in paragraphs:
        out.append(p)
        count += len(tokenizer.encode([p], None)[0])
        if count > tokens * 1.05:
            break
    if count < tokens:
        raise RuntimeError(f"the real paragraphs hold only {count} tokens, fewer than {tokens}")
    return "\n\n".join(out)


def free() -> None:
    gc.collect()
    mx.clear_cache()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def sync_torch(dev: str) -> None:
    import torch

    if dev == "cuda":
        torch.cuda.synchronize()


# --- references -------------------------------------------------------------------------------------

class TorchReference:
    """transformers Qwen3Model + peft with all four adapters, on `dev`, in fp32 (the parity oracle)."""

    def __init__(self, folder: Path, dev: str):
        import torch
        from peft import PeftModel
        from safetensors.torch import load_file
        from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3Model

        config = json.loads((folder / "config.json").read_text())
        config = {k: v for k, v in config.items() if k not in ("model_type", "architectures", "task_names")}
        with torch.device(dev):  # random init on the device: seconds instead of a minute on the CPU
            base = Qwen3Model(Qwen3Config(**config)).to(torch.float32)
        state = {}
        for f in sorted(folder.glob("*.safetensors")):
            state |= {k.removeprefix("model."): v.float() for k, v in load_file(str(f), device=dev).items()}
        missing, unexpected = base.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise RuntimeError(f"reference weights do not match: missing {missing[:3]} unexpected {unexpected[:3]}")
        del state
        self.model = PeftModel.from_pretrained(base, str(folder / "adapters" / TASKS[0]), adapter_name=TASKS[0])
        for task in TASKS[1:]:
            self.model.load_adapter(str(folder / "adapters" / task), adapter_name=task)
        self.model.eval()
        self.tok = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), pad_token="<|endoftext|>")
        self.tok.padding_side = "right"
        self.dev = dev
        self.attention = getattr(base.config, "_attn_implementation", "?")

    def embed(self, texts: list[str], task: str, batch: int) -> np.ndarray:
        import torch

        self.model.set_adapter(task)
        out = []
        for s in range(0, len(texts), batch):
            enc = self.tok(texts[s:s + batch], padding=True, return_tensors="pt").to(self.dev)
            with torch.inference_mode():
                hidden = self.model(**enc).last_hidden_state
            last = enc["attention_mask"].sum(1) - 1
            pooled = hidden[torch.arange(hidden.shape[0], device=self.dev), last]
            out.append(torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy())
        return np.concatenate(out)


def sentence_transformer(folder: Path, dev: str, dtype_name: str, work: Path):
    """sentence-transformers on the fixture's weights with the retrieval adapter (peft), last-token pooling.

    The fixture's config says model_type jina_embeddings_v5, which transformers does not know without the
    repo's own code (never run): a view folder links the same files under a plain Qwen3 config.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    view = work / "st-view"
    view.mkdir(parents=True, exist_ok=True)
    for f in [*folder.glob("*.safetensors"), folder / "tokenizer.json", folder / "tokenizer_config.json"]:
        if not (view / f.name).exists():
            (view / f.name).symlink_to(f.resolve())
    config = json.loads((folder / "config.json").read_text())
    config |= {"model_type": "qwen3", "architectures": ["Qwen3Model"]}
    config.pop("task_names", None)
    (view / "config.json").write_text(json.dumps(config))
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    (view / "modules.json").write_text(json.dumps(modules))
    (view / "1_Pooling").mkdir(exist_ok=True)
    (view / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": config["hidden_size"], "pooling_mode_lasttoken": True}))
    (view / "2_Normalize").mkdir(exist_ok=True)
    (view / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 32768, "do_lower_case": False}))
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype_name]
    model = SentenceTransformer(str(view), device=dev, model_kwargs={"dtype": dtype, "attn_implementation": "sdpa"},
                                local_files_only=True)
    model.load_adapter(str(folder / "adapters" / "retrieval"))
    return model


# --- sections ---------------------------------------------------------------------------------------

def section_parity(folder: Path, texts: list[str], dev: str | None, batch: int) -> dict[str, Any]:
    reference: dict[str, np.ndarray] = {}
    if dev is not None:
        ref = TorchReference(folder, dev)
        source = f"transformers + peft, fp32, {dev} ({ref.attention} attention)"
        for task in TASKS:
            reference[task] = ref.embed([PROMPT + t for t in texts], task, batch)
        del ref
        if dev == "cuda":
            import torch

            torch.cuda.empty_cache()
    else:
        source = "mlx-embed fp32 on the CPU (torch not importable)"
        device = mx.default_device()
        mx.set_default_device(mx.cpu)
        try:
            model = mlx_embed.load(folder, dtype="float32")
            for task in TASKS:
                reference[task] = model.encode(texts, task=task, prompt=PROMPT, batch_size=batch)
        finally:
            mx.set_default_device(device)
        del model
    rows = {}
    for name, (dtype, bits) in VARIANTS.items():
        free()
        model = mlx_embed.load(folder, dtype=dtype, quantize=bits)
        per_task = {}
        for task in TASKS:
            c = cosines(model.encode(texts, task=task, prompt=PROMPT, batch_size=batch), reference[task])
            per_task[task] = {"min": float(c.min()), "mean": float(c.mean())}
        rows[name] = {"dtype": str(model.dtype).removeprefix("mlx.core."), "quantize": bits,
                      "min": min(v["min"] for v in per_task.values()),
                      "mean": float(np.mean([v["mean"] for v in per_task.values()])), "tasks": per_task}
        del model
    return {"reference": source, "texts": len(texts), "batch_size": batch, "variants": rows}


def timed_encode(fn: Callable[[], Any], repeats: int = 1) -> float:
    fn()  # warm-up: kernels are compiled per shape on the first call (CUDA JIT, Metal pipelines)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def section_throughput(folder: Path, sets: dict[str, list[str]], dev: str | None, work: Path) -> dict[str, Any]:
    free()
    model = mlx_embed.load(folder)  # the default dtype: what a user gets on this device
    dtype = str(model.dtype).removeprefix("mlx.core.")
    out: dict[str, Any] = {"mlx_dtype": dtype, "sets": {}}
    st = None
    if dev is not None:
        st = sentence_transformer(folder, dev, dtype, work)
        out["reference"] = f"sentence-transformers {__import__('sentence_transformers').__version__}, {dtype}, " \
                           f"{dev}, sdpa, retrieval adapter via peft, batch 32"
    else:
        out["reference"] = "none (torch not importable)"
    for name, texts in sets.items():
        tokens = sum(len(i) for i in model.tokenizer.encode([PROMPT + t for t in texts], None))
        ours_vec = {}

        def ours():
            ours_vec["v"] = model.encode(texts, task="retrieval", prompt=PROMPT)

        mlx_s = timed_encode(ours)
        row = {"texts": len(texts), "tokens": tokens, "mlx_s": mlx_s, "mlx_tokens_per_s": tokens / mlx_s}
        if st is not None:
            ref_vec = {}

            def theirs():
                ref_vec["v"] = st.encode(texts, prompt=PROMPT, batch_size=32, normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False)
                sync_torch(dev)

            ref_s = timed_encode(theirs)
            row |= {"ref_s": ref_s, "ref_tokens_per_s": tokens / ref_s, "ratio": ref_s / mlx_s,
                    "min_cosine_mlx_vs_ref": float(cosines(ours_vec["v"], ref_vec["v"]).min())}
        row["vs_seeds_claim"] = row["mlx_tokens_per_s"] / SEEDS_CLAIM_TOKENS_PER_S
        out["sets"][name] = row
    switches = []
    for task in list(TASKS) * 5:
        start = time.perf_counter()
        model.set_task(task)
        switches.append((time.perf_counter() - start) * 1000)
    query = "Which planet is known as the Red Planet?"
    model.encode(query, task="retrieval")
    first = []
    for task in TASKS:  # a switch followed by one short query: what the user waits for
        start = time.perf_counter()
        model.encode(query, task=task)
        first.append((time.perf_counter() - start) * 1000)
    same = []
    for _ in TASKS:
        start = time.perf_counter()
        model.encode(query, task=TASKS[-1])
        same.append((time.perf_counter() - start) * 1000)
    out["switch_ms_max"] = max(switches)
    out["switch_ms_median"] = statistics.median(switches)
    out["query_after_switch_ms"] = statistics.median(first)
    out["query_same_task_ms"] = statistics.median(same)
    del model, st
    return out


def section_long(folder: Path, tokens: int, dtypes: list[str]) -> dict[str, Any]:
    from mlx_embed.models.base import SCORE_BYTES_LIMIT

    rows = {}
    for dtype in dtypes:
        free()
        model = mlx_embed.load(folder, dtype=dtype)
        text = long_text(model.tokenizer, tokens)
        weights = model.memory_bytes()["total"]  # base weights and all four adapters
        model.encode("warm-up", task="retrieval")
        free()
        mx.reset_peak_memory()
        times = []
        for _ in range(1 if dtype == "float32" else 2):  # the first run also plans kernels for this shape
            start = time.perf_counter()
            vector = model.encode(text, task="retrieval", max_length=tokens)
            times.append(time.perf_counter() - start)
        seconds = times[-1]
        peak = mx.get_peak_memory()
        cfg = model.config
        itemsize = 4 if dtype == "float32" else 2
        rows[dtype] = {"tokens": tokens, "seconds": seconds, "first_seconds": times[0],
                       "tokens_per_s": tokens / seconds,
                       "peak_bytes": peak, "weights_bytes": weights, "above_weights_bytes": peak - weights,
                       "bound_bytes": LONG_BOUND_BYTES, "within_bound": peak - weights <= LONG_BOUND_BYTES,
                       "full_scores_bytes": cfg["num_attention_heads"] * tokens * tokens * itemsize,
                       "finite": bool(np.isfinite(vector).all())}
        del model
    return {"score_bytes_limit": SCORE_BYTES_LIMIT, "dtypes": rows}


def section_search(rows: int, n_queries: int, gpu: bool, k: int = 10) -> dict[str, Any]:
    from bench.search import DIM, queries_from, synthetic
    from mlx_embed.index.search.vectors import VectorIndex, _best

    vectors16 = synthetic(rows, DIM)
    qs = queries_from(vectors16, n_queries)
    f32 = vectors16.astype(np.float32)

    def numpy_exact(q):
        return _best(f32 @ q, k)[0]

    index = VectorIndex(vectors16)  # the product's own path at this size (f16 + sign bits above 256 MB)
    store = mx.float16 if gpu else mx.float32  # half only pays on a GPU (the device policy)
    matrix = mx.array(vectors16).astype(store)
    mx.eval(matrix)

    select = {"op": "argpartition"}

    def mlx_top(q):
        scores = matrix @ mx.array(q).astype(store)
        if select["op"] == "argpartition":
            top = mx.argpartition(-scores, k - 1)[:k]
        else:
            top = mx.argsort(-scores)[:k]
        return np.array(top[mx.argsort(-scores[top])])

    try:
        mlx_top(qs[0])
    except Exception:  # a backend without a GPU partition kernel: a full sort instead (recorded)
        select["op"] = "argsort"

    def mlx_batch(q_all):
        scores = matrix @ mx.array(q_all).astype(store).T  # (rows, queries)
        if select["op"] == "argpartition":
            return np.array(mx.argpartition(-scores, k - 1, axis=0)[:k].T)
        return np.array(mx.argsort(-scores, axis=0)[:k].T)

    def timings(fn):
        fn(qs[0])
        ms, outs = [], []
        for q in qs:
            start = time.perf_counter()
            outs.append(fn(q))
            ms.append((time.perf_counter() - start) * 1000)
        return ms, outs

    exact_ms, exact = timings(numpy_exact)
    truth = [set(map(int, r)) for r in exact]
    out = {"rows": rows, "dim": DIM, "queries": n_queries, "k": k, "mlx_dtype": str(store).removeprefix("mlx.core."),
           "index_path": "exact f32" if index.f32 is not None else "f16 + sign-bit prefilter", "paths": {}}
    for name, fn in [("numpy exact f32", None), ("index VectorIndex.top", lambda q: index.top(q, k)[0]),
                     ("mlx matvec + top-k", mlx_top)]:
        ms, got = (exact_ms, exact) if fn is None else timings(fn)
        recall = float(np.mean([len(truth[i] & set(map(int, g))) / k for i, g in enumerate(got)]))
        out["paths"][name] = {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
                              "recall_at_10": recall}
    mlx_batch(qs)
    start = time.perf_counter()
    got = mlx_batch(qs)
    batch_ms = (time.perf_counter() - start) * 1000
    recall = float(np.mean([len(truth[i] & set(map(int, g))) / k for i, g in enumerate(got)]))
    out["paths"][f"mlx batched ({n_queries} queries), per query"] = {
        "p50_ms": batch_ms / n_queries, "p95_ms": batch_ms / n_queries, "recall_at_10": recall}
    out["mlx_select_op"] = select["op"]
    out["speedup_mlx_vs_numpy_p50"] = out["paths"]["numpy exact f32"]["p50_ms"] / \
        out["paths"]["mlx matvec + top-k"]["p50_ms"]
    del matrix
    free()
    return out


# --- report -----------------------------------------------------------------------------------------

def environment(device: str, dev: str | None) -> dict[str, Any]:
    env = {"machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.system()} {platform.release()}",
           "python": platform.python_version(), "mlx": mx.__version__, "mlx_device": str(mx.default_device()),
           "mlx_device_info": {k: str(v) for k, v in mx.device_info().items()} if device == "gpu" else {},
           "torch_device": dev,
           "env_vars": {k: os.environ.get(k) for k in ("CUDA_HOME", "NVIDIA_TF32_OVERRIDE", "MLX_CUDA_USE_CUDNN_SDPA")}}
    if dev is not None:
        import torch

        env["torch"] = torch.__version__
        if dev == "cuda":
            env["gpu"] = torch.cuda.get_device_name(0)
    return env


def tables(r: dict[str, Any]) -> str:
    lines = [f"mlx {r['env']['mlx']} on {r['env']['mlx_device']} {r['env'].get('gpu', '')}; size {r['size']}"]
    p = r.get("parity", {})
    if "variants" in p:
        lines += ["", f"Parity vs {p['reference']} ({p['texts']} texts x 4 tasks, batches of {p['batch_size']})", "",
                  "| variant | " + " | ".join(f"{t} min" for t in TASKS) + " | min | mean |",
                  "|---|" + "---|" * (len(TASKS) + 2)]
        for name, v in p["variants"].items():
            lines.append(f"| {name} | " + " | ".join(f"{v['tasks'][t]['min']:.6f}" for t in TASKS)
                         + f" | {v['min']:.6f} | {v['mean']:.6f} |")
    t = r.get("throughput", {})
    if "sets" in t:
        lines += ["", f"Throughput, mlx-embed {t['mlx_dtype']} vs {t['reference']}", "",
                  "| texts | n | tokens | mlx tokens/s | reference tokens/s | ratio | x 500 tok/s claim | min cos |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, s in t["sets"].items():
            ref = f"{s['ref_tokens_per_s']:.0f}" if "ref_s" in s else "-"
            ratio = f"{s['ratio']:.2f}x" if "ratio" in s else "-"
            cos = f"{s['min_cosine_mlx_vs_ref']:.5f}" if "ratio" in s else "-"
            lines.append(f"| {name} | {s['texts']} | {s['tokens']} | {s['mlx_tokens_per_s']:.0f} | {ref} | {ratio} "
                         f"| {s['vs_seeds_claim']:.2f} | {cos} |")
        lines.append(f"adapter switch: max {t['switch_ms_max']:.3f} ms, median {t['switch_ms_median']:.3f} ms; "
                     f"one query after a switch {t['query_after_switch_ms']:.1f} ms, same task "
                     f"{t['query_same_task_ms']:.1f} ms")
    g = r.get("long", {})
    if "dtypes" in g:
        lines += ["", "One long input", "", "| dtype | tokens | s | tokens/s | peak MiB | above weights MiB "
                  "| bound MiB | within | full score matrix MiB |", "|---|---|---|---|---|---|---|---|---|"]
        for name, v in g["dtypes"].items():
            lines.append(f"| {name} | {v['tokens']} | {v['seconds']:.2f} | {v['tokens_per_s']:.0f} "
                         f"| {v['peak_bytes'] / 2**20:.0f} | {v['above_weights_bytes'] / 2**20:.0f} "
                         f"| {v['bound_bytes'] / 2**20:.0f} | {v['within_bound']} "
                         f"| {v['full_scores_bytes'] / 2**20:.0f} |")
    s = r.get("search", {})
    if "paths" in s:
        lines += ["", f"Search core, {s['rows']} x {s['dim']} ({s['mlx_dtype']} on the MLX device), "
                  f"{s['queries']} queries, top-{s['k']}", "", "| path | p50 ms | p95 ms | recall@10 |",
                  "|---|---|---|---|"]
        for name, v in s["paths"].items():
            lines.append(f"| {name} | {v['p50_ms']:.2f} | {v['p95_ms']:.2f} | {v['recall_at_10']:.3f} |")
    for name in ("parity", "throughput", "long", "search"):
        if "error" in r.get(name, {}):
            lines.append(f"\n{name} FAILED: {r[name]['error'].splitlines()[-1]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("gpu", "cpu"), default="gpu")
    parser.add_argument("--size", choices=tuple(SIZES), default="full")
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/gpu-<device>-<size>.json)")
    for key, value in SIZES["full"].items():
        parser.add_argument("--" + key.replace("_", "-"), type=int, default=None,
                            help=f"default {value} (full) / {SIZES['tiny'][key]} (tiny)")
    parser.add_argument("--sections", default="parity,throughput,long,search")
    parser.add_argument("--no-reference", action="store_true", help="skip torch even when importable")
    args = parser.parse_args(argv)
    sizes = {k: getattr(args, k) if getattr(args, k) is not None else v for k, v in SIZES[args.size].items()}
    out_path = Path(args.out or ROOT / f"bench/results/gpu-{args.device}-{args.size}.json")
    pick_device(args.device)
    dev = None if args.no_reference else torch_device(args.device)
    work = Path(tempfile.mkdtemp(prefix="mlx-embed-gpu-bench-"))
    started = time.perf_counter()
    results: dict[str, Any] = {"size": args.size, "device": args.device, "sizes": sizes,
                               "env": environment(args.device, dev)}
    folder = fixture(args.size, Path(os.environ.get("MLX_EMBED_BENCH_CACHE", "/tmp/mlx-embed-bench")))
    results["fixture"] = str(folder)
    tokenizer = Tokenizer.from_file(folder / "tokenizer.json")
    wanted = args.sections.split(",")
    jobs = {
        "parity": lambda: section_parity(folder, token_texts(tokenizer, sizes["parity_texts"], 3, 512, seed=11),
                                         dev, batch=8),
        "throughput": lambda: section_throughput(folder, {
            "mixed 20-512 tokens": token_texts(tokenizer, sizes["mixed_texts"], 20, 512, seed=12),
            f"documents {sizes['doc_tokens']} tokens": [
                _truncate(tokenizer, long_text(tokenizer, sizes["doc_tokens"], seed=20 + i), sizes["doc_tokens"])
                for i in range(sizes["docs"])]}, dev, work),
        "long": lambda: section_long(folder, sizes["long_tokens"], ["bfloat16", "float32"] if args.device == "gpu"
                                     else ["float32"]),
        "search": lambda: section_search(sizes["search_rows"], sizes["queries"], args.device == "gpu"),
    }
    for name in wanted:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            results[name] = jobs[name]()
        except Exception as exc:  # keep the other sections' numbers: device time is scarce
            results[name] = {"error": "".join(traceback.format_exception(exc))[-3000:]}
            print(f"{name} failed: {exc!r}", file=sys.stderr)
        results[name]["seconds_section"] = time.perf_counter() - start
        results[name]["cpu_seconds_section"] = time.process_time() - cpu
        print(f"[{name} done in {results[name]['seconds_section']:.1f} s, "
              f"{results[name]['cpu_seconds_section']:.1f} s CPU]", file=sys.stderr, flush=True)
        results["seconds_total"] = time.perf_counter() - started
        write_json(out_path, results)  # after every section: a run cut short by its time limit keeps the rest
    print(tables(results))
    print(f"\ntotal {results['seconds_total']:.1f} s; JSON: {out_path}")
    return 1 if any("error" in results[n] for n in wanted) else 0


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(path)


def _truncate(tokenizer, text: str, tokens: int) -> str:
    """The text cut to about `tokens` tokens (by characters, so a document is an ordinary string)."""
    n = len(tokenizer.encode([text], None)[0])
    return text[: int(len(text) * tokens / n)]


if __name__ == "__main__":
    sys.exit(main())

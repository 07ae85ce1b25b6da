"""Fusion: how the semantic, keyword and name lists of files become one ranking, by the query's shape.

    query_shape(query) -> "question" | "lookup"
    fuse(lists, raw, shape) -> {file id: fused score}

Three lists of files, each min-max scaled: by their best chunk's cosine (a file's first chunk counts
LEAD_BONUS more), by their best chunk's BM25 over the query's content words, by the share of those
words their file name holds. A lookup (names, jargon, a page's summary) sums them, equal weights for
meaning and words; a natural-language question is led by meaning and words only re-rank near-ties
among the semantic matches. On the development set (bench/search_devset.py) this held on both query
kinds and both sub-corpora, against weight sweeps, RRF (k 10 to 60), z-score and max-only scaling,
weights from score peakedness, BM25 over whole files and sums of passage scores
(`bench/search_quality.py --variants` sets the constants here and reruns the main ones; the searcher
reads them from this module at each query). Two tiers sit above every fused score: a file whose name
(or name without extension) equals the query (NAME_TIER), then one with a chunk that holds a "quoted
phrase" verbatim (PHRASE_TIER).
"""

from __future__ import annotations

import re

RRF_K = 60                # also orders a file's passages: each list adds 1 / (RRF_K + rank) to a chunk
# A file's opening (title, summary, NAME/DESCRIPTION) says what it is about better than a passage deep
# inside: its cosine counts this much more in the file's semantic score (dev set: +0.04 MRR on
# questions, +0.025 on known items, on code and on prose alike).
LEAD_BONUS = 0.1
FUSION = "convex"
WEIGHTS = {"semantic": 1.0, "keyword": 1.0, "name": 0.5}     # lookups: a sum of scaled scores
QUESTION_BOOST = {"keyword": 0.1, "name": 0.05}               # questions: raise a semantic match by at most this
NAME_TIER, PHRASE_TIER = 20.0, 10.0  # above any fused score (at most the sum of WEIGHTS)
QUESTION_WORDS = frozenset("how what which where why when who whom whose can could should would is are "
                           "am was were does do did may might shall will".split())
# a word that is code or a path, not English: snake_case, dotted.name, file.ext, CamelCase, --flag, f()
_IDENTIFIER = re.compile(r"\w_\w|\w\.\w|[a-z][A-Z]|^--?\w|\(\)|::|/")


def query_shape(query: str) -> str:
    """"question" for a sentence typed in natural language ("how do I see which process holds a port",
    "...?"), unless one of its words looks like an identifier or a file name; "lookup" otherwise."""
    tokens = re.findall(r"\w+", query.lower())
    if not tokens or any(_IDENTIFIER.search(t) for t in query.replace('"', " ").split()):
        return "lookup"
    return "question" if tokens[0] in QUESTION_WORDS or query.rstrip().endswith("?") else "lookup"


def fuse(lists: dict[str, list[int]], raw: dict[str, dict[int, float]], shape: str = "lookup") -> dict[int, float]:
    """File id -> fused score. Each list's scores are scaled to [0, 1] by its best and worst score (the
    name list's score is already a fraction). A lookup sums weight x scaled score over the lists
    (WEIGHTS). A question is led by meaning: a semantic match's score is raised by at most
    QUESTION_BOOST x its keyword and name scores, so words re-rank semantic matches but cannot pull a
    file the model finds unrelated above them (BM25 on question wording is noisy); files found only by
    words come after them. FUSION = "rrf": reciprocal rank fusion, the sum of
    weight / (RRF_K + rank), for comparison in bench/search_quality.py."""
    if FUSION == "rrf":
        fused: dict[int, float] = {}
        for name, order in lists.items():
            for rank, fid in enumerate(order):
                fused[fid] = fused.get(fid, 0.0) + WEIGHTS.get(name, 1.0) / (RRF_K + rank)
        return fused
    scaled = {name: _scaled(order, raw.get(name, {}), name == "name") for name, order in lists.items()}
    semantic = scaled.get("semantic")
    fused = {}
    if shape == "question" and semantic:
        for name, scores in scaled.items():
            for fid, v in scores.items():
                if name == "semantic":
                    fused[fid] = fused.get(fid, 0.0) + v
                elif fid in semantic:
                    fused[fid] = fused.get(fid, 0.0) + QUESTION_BOOST.get(name, 0.0) * v * semantic[fid]
                else:  # below the semantic matches (the tail of a long list), in the words' order
                    fused[fid] = fused.get(fid, 0.0) + 1e-3 * v
        return fused
    for name, scores in scaled.items():
        w = WEIGHTS.get(name, 1.0)
        for fid, v in scores.items():
            fused[fid] = fused.get(fid, 0.0) + w * v
    return fused


def _scaled(order: list[int], vals: dict[int, float], fraction: bool) -> dict[int, float]:
    if fraction or not vals:
        return {fid: vals.get(fid, 1.0) for fid in order}
    hi, lo = max(vals.values()), min(vals.values())
    return {fid: (vals[fid] - lo) / (hi - lo) if hi > lo else 1.0 for fid in order}

"""Find similar: the indexed files most like a given file, and "more / less like this" on a search.

    find_similar(index, path, k=10, folder=None, kinds=None) -> Similar(source, results, duplicates, ...)
    refine(index, query, more=(), less=(), k=10, **filters) -> list[SearchResult]     (Rocchio)

The source: an indexed file gives its stored chunk vectors (no model call); a file whose bytes equal an
indexed file's (same hash) borrows that file's vectors (no model call either); any other readable file
is read, chunked and embedded as the index would (the retrieval adapter's document prompt, so its
vectors compare with the stored ones) and nothing is stored.

Candidates (so a call stays cheap at 100k chunks): the CANDIDATES files whose mean vector is closest to
the source's mean, plus the files of the PROBE_DEPTH nearest chunks of each of PROBE_CHUNKS source
chunks (spread over the file). Each candidate is scored on these signals (all cosines of unit vectors):
- mean:    the file's mean chunk vector against the source's ("one plain vector per file");
- max:     the best chunk pair;
- chamfer: each chunk's best match on the other side, averaged both ways (a file that matches the
           source all along, not in one passage only);
- first:   the first chunks (titles, headers and summaries tend to open a file);
- lexical: TF-IDF cosine of the sampled texts (sublinear tf, words of 3+ letters, English stop words,
           as clustering's lexical block), IDF over the source and the candidates;
- name:    shared words of the file names (split at _ - . and case changes), and the same folder;
- prf:     pseudo-relevance feedback: closeness to the source's mean moved towards the mean vectors of
           the PRF_TOP best files of a first pass (a file like the source's neighbours is likely like it).
lexical and name (Python over text) are computed for the RESCORE best candidates by the vector signals.
The score is a weighted sum (WEIGHTS, chosen on the organise dev sets by bench/similar.py: precision@5
of same-group neighbours; see its docstring and the README for the figures). Measured there: mean and
chamfer add nothing once max, first, lexical and prf are in (weight 0; chamfer still finds copies).

Near-identical copies (same bytes, or chamfer and lexical cosine >= DUPLICATE with a similar number of chunks)
are not results: they are listed apart in `Similar.duplicates`. Each result carries the best-matching
passage pair (a passage of the source and one of the result).

The index holds retrieval-adapter vectors; a model's text-matching adapter would give vectors that do
not compare with them, so find_similar never uses it (no model run for an indexed file is the point).
"""

from __future__ import annotations

import os
import re
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from .search.query import FileFilter, parse_query
from .search.results import Passage, SearchResult, make_passage

CANDIDATES = 150            # files taken by mean-vector closeness
PRF_TOP = 5                 # pseudo-relevance feedback: the first pass's best files that refine the second
RESCORE = 60                # the best of them by the vector signals get the word and name signals
PROBE_CHUNKS, PROBE_DEPTH = 4, 100   # source chunks whose nearest chunks add candidates, and how many each
SOURCE_CHUNKS = 32          # at most this many source chunks (spread) are compared chunk by chunk
EMBED_CHUNKS = 64           # an outside file: at most this many chunks embedded (spread over it)
LEX_CHARS = 6000            # text per file for the lexical profile
DUPLICATE = (0.97, 0.9)     # chamfer and lexical cosine at or above these (and chunk counts within 20%):
                            # a near-identical copy (one word changed in a one-line note: 0.975 and 0.92)
WEIGHTS = {"mean": 0.0, "max": 0.2, "chamfer": 0.0, "first": 0.2, "lexical": 0.5, "name": 0.05, "prf": 0.2}
ROCCHIO = (1.0, 0.75, 0.25)  # alpha (the query), beta (more like), gamma (less like)
WORD = re.compile(r"(?u)\b[^\W\d_]{3,}\b")
NAME_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


@dataclass
class Match:
    path: Path
    score: float
    kind: str | None
    size: int
    modified: float
    passage: Passage | None            # the result's passage that matched best ...
    source_passage: Passage | None     # ... and the source's passage it matched
    signals: dict[str, float] = field(default_factory=dict)
    duplicate: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "score": round(self.score, 4), "kind": self.kind, "size": self.size,
                "modified": self.modified, "duplicate": self.duplicate,
                "signals": {k: round(v, 4) for k, v in self.signals.items()},
                "passage": _passage_dict(self.passage), "source_passage": _passage_dict(self.source_passage)}


@dataclass
class Similar:
    source: Path
    results: list[Match]               # best first, near-identical copies left out
    duplicates: list[Match]            # near-identical copies of the source
    stored: bool                       # the source's vectors came from the index (no model call)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"source": str(self.source), "stored_vectors": self.stored, "seconds": round(self.seconds, 4),
                "results": [m.to_dict() for m in self.results], "duplicates": [m.to_dict() for m in self.duplicates]}


def _passage_dict(p: Passage | None) -> dict | None:
    return None if p is None else {"text": p.text, "start": p.start, "end": p.end, "page": p.page}


# --- per-file arrays over the searcher's vectors (rebuilt when it reloads) -------------------------------------
class _Files:
    """Chunk rows grouped by file, each file's unit mean vector and first chunk, for one VectorIndex."""

    def __init__(self, searcher):
        import scipy.sparse as sp

        vi, cf = searcher.vectors, searcher.chunk_file
        n_files = len(searcher.file_ids)
        live = np.flatnonzero(cf >= 0)
        self.order = live[np.argsort(cf[live], kind="stable")]
        counts = np.bincount(cf[live], minlength=n_files)
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.counts = counts
        pick = sp.csc_matrix((np.ones(len(live), np.float32), (cf[live], live)), shape=(n_files, vi.n))
        if vi.f32 is not None:
            means = np.asarray(pick @ vi.f32, dtype=np.float32)
        else:
            means = np.zeros((n_files, vi.dim), np.float32)
            for s in range(0, vi.n, 65536):             # blocks: no float32 copy of a float16 index
                e = min(vi.n, s + 65536)
                means += pick[:, s:e] @ rows_f32(vi, np.arange(s, e))
        self.means = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        first = np.full(n_files, -1, np.int64)
        lead = np.flatnonzero(searcher.lead & (cf >= 0))
        first[cf[lead]] = lead
        self.first = first
        self.where = {p: i for i, p in enumerate(searcher.file_paths)}
        self.terms: dict[int, Counter] = {}             # file position -> word counts (filled on demand)
        self.names: dict[int, set[str]] = {}            # file position -> its name's words (on demand)


_CACHE: "weakref.WeakKeyDictionary[Any, _Files]" = weakref.WeakKeyDictionary()


def _files(searcher) -> _Files:
    searcher.refresh()
    vi = searcher.vectors
    got = _CACHE.get(vi)
    if got is None:
        got = _CACHE[vi] = _Files(searcher)
    return got


def rows_f32(vi, rows: np.ndarray) -> np.ndarray:
    """Unit float32 vectors of these rows of a VectorIndex, whatever it keeps (float32, float16, bits)."""
    if vi.f32 is not None:
        return vi.f32[rows]
    if vi.f16 is not None:
        return vi.f16[rows].astype(np.float32)
    bits = np.ascontiguousarray(vi.cols[:, rows].T).view(np.uint8)
    return (np.unpackbits(bits, axis=1).astype(np.float32) * 2 - 1) / np.sqrt(vi.dim)


# --- the source -----------------------------------------------------------------------------------------------------
@dataclass
class _Source:
    path: Path
    pos: int | None                    # its row in the searcher's files (an indexed file)
    digest: str | None
    chunks: list[tuple[int | None, int, int | None, str]]    # (chunk id, start, page, text)
    vectors: np.ndarray                # (m, d) unit
    stored: bool


def _source(index, path) -> _Source:
    from .indexer import file_hash

    p = Path(os.path.abspath(os.path.expanduser(str(path))))
    store, binary = index.store, index.settings.binary
    row = store.indexed_file(str(p))
    if row is not None:
        chunks, vecs = store.file_chunks(row[0], binary)
        return _Source(p, None, row[1], chunks, vecs, True)
    if not p.is_file():
        raise InvalidArgumentError(f"{p} is not a file (or does not exist): give a readable file to compare.")
    try:
        digest = file_hash(p)
    except OSError as exc:
        raise InvalidArgumentError(f"{p} cannot be read ({exc.strerror or exc}).") from None
    twins = store.files_with_hash(digest)
    for twin in twins:                  # the same bytes are indexed under another name: reuse its vectors
        chunks, vecs = store.file_chunks(twin, binary)
        if len(vecs):
            return _Source(p, None, digest, chunks, vecs, True)
    return _embedded(index, p, digest)


def _embedded(index, p: Path, digest: str) -> _Source:
    from .chunk import chunk_text
    from .extract import ExtractionError, extract

    try:
        ex = extract(p, index.settings.max_size)
    except ExtractionError as exc:
        raise InvalidArgumentError(f"{p}: {exc.reason}; cannot compare it with the indexed files.") from None
    if not ex.text.strip():
        raise InvalidArgumentError(f"{p} has no text to compare.")
    if index.model_identity is None:
        raise InvalidArgumentError("The index has no vectors yet: index a folder first (mlx-embed index add).")
    encoder = index.encoder
    chunks = [c for c in chunk_text(ex.text, encoder.model.tokenizer, encoder.max_chunk_tokens,
                                    index.settings.overlap, ex.pages) if c.text.strip()]
    chunks = [chunks[i] for i in _spread(len(chunks), EMBED_CHUNKS)]
    vecs = encoder.documents([c.text for c in chunks])
    if index.settings.binary:          # compare as the stored bits are compared
        vecs = np.where(vecs > 0, 1.0, -1.0).astype(np.float32) / np.sqrt(vecs.shape[1])
    return _Source(p, None, digest, [(None, c.start, c.page, c.text) for c in chunks], vecs, False)


def _spread(n: int, most: int) -> list[int]:
    if n <= most:
        return list(range(n))
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, most)})


# --- signals --------------------------------------------------------------------------------------------------------
def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _words(text: str) -> Counter:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return Counter(w for w in (m.lower() for m in WORD.findall(text)) if w not in ENGLISH_STOP_WORDS)


def _lexical(src: Counter, cands: list[Counter]) -> np.ndarray:
    """TF-IDF cosine (sublinear tf; IDF over the source and the candidates) of the source with each."""
    df: Counter = Counter()
    for c in [src, *cands]:
        df.update(c.keys())
    n = len(cands) + 1

    def weights(c: Counter) -> dict[str, float]:
        w = {t: (1 + np.log(x)) * (np.log((1 + n) / (1 + df[t])) + 1) for t, x in c.items()}
        norm = np.sqrt(sum(v * v for v in w.values())) or 1.0
        return {t: v / norm for t, v in w.items()}

    s = weights(src)
    return np.array([sum(v * s.get(t, 0.0) for t, v in weights(c).items()) for c in cands], np.float32)


def _name_words(path: Path) -> set[str]:
    return {w.lower() for w in NAME_PART.findall(path.stem) if len(w) >= 3 and not w.isdigit()}


def _name(src: Path, a: set[str], other: str, files: "_Files", pos: int) -> float:
    b = files.names.get(pos)
    if b is None:
        b = files.names[pos] = _name_words(Path(other))
    shared = len(a & b) / len(a | b) if a and b else 0.0
    return 0.5 * shared + 0.5 * float(str(src.parent) == os.path.dirname(other))


def _segment_max(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.maximum.reduceat(values, starts, axis=0)


# --- find similar ---------------------------------------------------------------------------------------------------
def find_similar(index, path, k: int = 10, folder=None, kinds=None, weights: dict[str, float] | None = None
                 ) -> Similar:
    """The `k` indexed files most like `path` (see the module docstring). `weights`: for measuring only."""
    if k < 1:
        raise InvalidArgumentError(f"k={k}: ask for at least one file.")
    t0 = time.perf_counter()
    weights = {**WEIGHTS, **(weights or {})}
    searcher = index._searcher
    src = _source(index, path)
    files = _files(searcher)
    vi = searcher.vectors
    src.pos = files.where.get(str(src.path))
    if not vi.n or not len(src.vectors):
        return Similar(src.path, [], [], src.stored, time.perf_counter() - t0)
    mask = searcher._file_mask(FileFilter.of(folder, kinds))
    vecs = src.vectors[_spread(len(src.vectors), SOURCE_CHUNKS)]
    mean = _unit(src.vectors.mean(axis=0))
    n_files = len(files.means)
    mean_sim = files.means @ mean
    allowed = files.counts > 0
    if mask is not None:
        allowed &= mask
    if src.pos is not None:
        allowed[src.pos] = False
    ranked = np.where(allowed, mean_sim, -np.inf)
    take = min(CANDIDATES, int(allowed.sum()))
    if take == 0:
        return Similar(src.path, [], [], src.stored, time.perf_counter() - t0)
    cand = set(np.argpartition(-ranked, take - 1)[:take].tolist()) if take < n_files else set(np.flatnonzero(allowed).tolist())
    chunk_mask = (searcher.chunk_file >= 0) & allowed[np.maximum(searcher.chunk_file, 0)]
    probes = src.vectors[_spread(len(src.vectors), PROBE_CHUNKS)]
    if vi.f32 is not None:          # one pass over the vectors for all probes
        best = np.where(chunk_mask, (vi.f32 @ probes.T).max(axis=1), -np.inf)
        depth = min(PROBE_DEPTH * len(probes), int(chunk_mask.sum()))
        if depth:
            cand.update(searcher.chunk_file[np.argpartition(-best, depth - 1)[:depth]].tolist())
    else:                           # float16 / bits (a large index): one pass with the source's mean
        rows, _ = vi.top(mean, PROBE_DEPTH * len(probes), chunk_mask)
        cand.update(searcher.chunk_file[rows].tolist())
    cand_pos = np.array(sorted(c for c in cand if allowed[c]), dtype=np.int64)

    # chunk by chunk: every chunk of every candidate against the source's chunks
    seg = [files.order[files.offsets[c]:files.offsets[c + 1]] for c in cand_pos]
    rows = np.concatenate(seg)
    starts = np.concatenate([[0], np.cumsum([len(s) for s in seg])[:-1]]).astype(np.int64)
    sims = rows_f32(vi, rows) @ vecs.T                      # (rows, m)
    row_best = sims.max(axis=1)
    per_src = _segment_max(sims, starts)                    # (files, m): each source chunk's best match
    to_src = np.add.reduceat(row_best, starts) / files.counts[cand_pos]
    signals = {
        "mean": mean_sim[cand_pos],
        "max": _segment_max(row_best, starts),
        "chamfer": 0.5 * (per_src.mean(axis=1) + to_src),
        "first": np.where(files.first[cand_pos] >= 0,
                          rows_f32(vi, np.maximum(files.first[cand_pos], 0)) @ src.vectors[0], 0.0).astype(np.float32),
    }
    # words and names (slower: Python over text) for the best candidates by the vector signals only
    pre = sum(weights.get(name, 0.0) * values for name, values in signals.items())
    keep = np.sort(np.argsort(-pre, kind="stable")[:max(RESCORE, 2 * k)])
    cand_pos, starts_all = cand_pos[keep], starts
    signals = {name: values[keep] for name, values in signals.items()}
    per_file = [(starts_all[i], starts_all[i + 1] if i + 1 < len(starts_all) else len(rows)) for i in keep]
    rows_kept = np.concatenate([rows[a:b] for a, b in per_file])
    sims = np.concatenate([sims[a:b] for a, b in per_file])
    starts = np.concatenate([[0], np.cumsum([b - a for a, b in per_file])[:-1]]).astype(np.int64)
    rows = rows_kept
    src_words = _name_words(src.path)
    signals["name"] = np.array([_name(src.path, src_words, searcher.file_paths[c], files, int(c))
                                for c in cand_pos], np.float32)
    signals["lexical"] = lexical = _lexical_signal(index, files, searcher, src, cand_pos)
    score = sum(weights.get(name, 0.0) * values for name, values in signals.items())
    # pseudo-relevance feedback: the source's mean moved towards its PRF_TOP best files' means, then
    # each candidate's closeness to that (a file like the source's neighbours is likely like the source)
    top = cand_pos[np.argsort(-score, kind="stable")[:PRF_TOP]]
    signals["prf"] = files.means[cand_pos] @ _unit(mean + files.means[top].mean(axis=0))
    score = score + weights.get("prf", 0.0) * signals["prf"]

    fids = [int(searcher.file_ids[c]) for c in cand_pos]
    hashes = index.store.file_hashes(fids) if src.digest else {}
    order = np.argsort(-score, kind="stable")
    results, duplicates = [], []
    n_src = len(src.vectors)
    for i in order:
        c = int(cand_pos[i])
        same_bytes = src.digest is not None and hashes.get(fids[i]) == src.digest
        near = (signals["chamfer"][i] >= DUPLICATE[0] and lexical[i] >= DUPLICATE[1]
                and 0.8 <= files.counts[c] / n_src <= 1.25)
        dup = bool(same_bytes or near)
        if not dup and len(results) >= k:
            continue
        results_or = duplicates if dup else results
        results_or.append((i, c, dup))
        if len(results) >= k and len(duplicates) >= 10:
            break
    out = [_match(index, searcher, files, src, vecs, sims, rows, starts, signals, score, i, c, dup)
           for i, c, dup in results + duplicates]
    return Similar(src.path, [m for m in out if not m.duplicate], [m for m in out if m.duplicate], src.stored,
                   time.perf_counter() - t0)


def _lexical_signal(index, files: _Files, searcher, src: _Source, cand_pos: np.ndarray) -> np.ndarray:
    missing = [int(c) for c in cand_pos if int(c) not in files.terms]
    if missing:
        texts = index.store.files_text([int(searcher.file_ids[c]) for c in missing], LEX_CHARS)
        for c in missing:
            files.terms[c] = _words(texts.get(int(searcher.file_ids[c]), ""))
    src_terms = files.terms.get(src.pos) if src.pos is not None else None
    if src_terms is None:
        text, size = [], 0
        for _cid, _start, _page, t in src.chunks:
            if size >= LEX_CHARS:
                break
            text.append(t)
            size += len(t)
        src_terms = _words("\n".join(text)[:LEX_CHARS])
    return _lexical(src_terms, [files.terms[int(c)] for c in cand_pos])


def _match(index, searcher, files, src, vecs, sims, rows, starts, signals, score, i, c, dup) -> Match:
    fid = int(searcher.file_ids[c])
    end = starts[i + 1] if i + 1 < len(starts) else len(rows)
    block = sims[starts[i]:end]
    r, j = np.unravel_index(int(np.argmax(block)), block.shape)
    cid = int(searcher.chunk_ids[rows[starts[i] + r]])
    got = index.store.chunk_texts(fid, [cid]).get(cid)
    passage = make_passage(got[2], got[0], got[1], None, float(block[r, j])) if got else None
    src_i = _spread(len(src.vectors), SOURCE_CHUNKS)[j]
    _, s_start, s_page, s_text = src.chunks[src_i]
    frow = index.store.indexed_files([fid]).get(fid, (searcher.file_paths[c], None, 0, 0))
    return Match(Path(frow[0]), float(score[i]), frow[1], frow[2], frow[3] / 1e9, passage,
                 make_passage(s_text, s_start, s_page, None, float(block[r, j])),
                 {name: float(v[i]) for name, v in signals.items()}, dup)


# --- more / less like this --------------------------------------------------------------------------------------------
def refine(index, query: str, more=(), less=(), k: int = 10, folder=None, kinds=None, modified_after=None,
           modified_before=None, mode: str = "hybrid", passages: int = 3) -> list[SearchResult]:
    """`query`'s search with its vector moved towards the files in `more` and away from those in `less`
    (Rocchio: alpha q + beta mean(more) - gamma mean(less), renormalised; each file by its mean chunk
    vector). Files not indexed raise InvalidArgumentError. Keyword and name matches are as for search."""
    if not query or not query.strip():
        raise InvalidArgumentError("Empty query.")
    if index.model_identity is None:
        raise InvalidArgumentError("The index has no vectors yet: index a folder first.")
    parsed = parse_query(query)
    files = _files(index._searcher)
    alpha, beta, gamma = ROCCHIO
    q = alpha * index.encoder.query(parsed.text)
    for paths, w in ((more, beta), (less, -gamma)):
        pos = []
        for p in paths:
            key = os.path.abspath(os.path.expanduser(str(p)))
            if key not in files.where:
                raise InvalidArgumentError(f"{key} is not an indexed file: only indexed files can refine a search.")
            pos.append(files.where[key])
        if pos:
            q = q + w * files.means[pos].mean(axis=0)
    q = _unit(np.asarray(q, np.float32))
    return index._searcher.search(query, q, k, folder, kinds, modified_after, modified_before, mode, passages,
                                  parsed=parsed)

"""Hybrid search: dense cosine over in-memory vectors + FTS5 BM25 + file names, fused per file.

    Searcher(store, binary=False).search(query, query_vector, k=10, folder=None, kinds=None,
        modified_after=None, modified_before=None, mode="hybrid", passages=3) -> list[SearchResult]
    VectorIndex(vectors, binary).top(q, n, mask) -> (rows, scores)     the brute-force core (bench/)

Ranking: three lists of files, each min-max scaled: by their best chunk's cosine (a file's first chunk
counts LEAD_BONUS more), by their best chunk's BM25 over the query's content words (stop words and
question wording dropped), by the share of those words their file name holds. They are fused by the
query's shape (`query_shape`): a lookup (names, jargon, a page's summary) sums them, equal weights for
meaning and words; a natural-language question is led by meaning and words only re-rank near-ties
among the semantic matches (`fuse`). On the development set (bench/search_devset.py) this held on both
query kinds and on both sub-corpora, against weight sweeps, RRF (k 10 to 60), z-score and max-only
scaling, weights from score peakedness, BM25 over whole files and sums of passage scores
(`bench/search_quality.py --variants` reruns the main ones). Two tiers sit above
every fused score: a file whose name (or name without extension) equals the query, then a file with a
chunk that holds a "quoted phrase" of the query verbatim. One result per file, with its best passages:
a window of the chunk around the matched words, and the character spans of those words.

Vectors are loaded from the store once and kept in memory (a float32 copy, exact and fastest, up to
EXACT_BYTES; above that float16 with a sign-bit Hamming prefilter and exact rescoring of PREFILTER
candidates; a binary index keeps only the bits and rescores with the query's float values), and
reloaded when the store's generation changes.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

RRF_K = 60
# A file's opening (title, summary, NAME/DESCRIPTION) says what it is about better than a passage deep
# inside: its cosine counts this much more in the file's semantic score (dev set: +0.04 MRR on
# questions, +0.025 on known items, on code and on prose alike).
LEAD_BONUS = 0.1
FUSION = "convex"
WEIGHTS = {"semantic": 1.0, "keyword": 1.0, "name": 0.5}     # lookups: a sum of scaled scores
QUESTION_BOOST = {"keyword": 0.1, "name": 0.05}               # questions: raise a semantic match by at most this
EXACT_BYTES = 256 << 20   # keep a float32 copy (exact, fastest) up to this size, else float16 + bits
PREFILTER = 1000          # candidates from the sign-bit prefilter, rescored exactly
COARSE_MIN, COARSE_WORDS = 200_000, 4   # above this many rows, a first pass over the first 256 bits
SNIPPET_CHARS = 320
RELOAD_INTERVAL = 1.0
NAME_TIER, PHRASE_TIER = 20.0, 10.0  # above any fused score (at most the sum of WEIGHTS)
# Words that say nothing about the files wanted: function words and the wording of a question ("how do
# I", "what is the best way to"). BM25 and the name match ignore them; the embedded text keeps them.
STOPWORDS = frozenset("""a an and are as at be been being but by for from has have had how i in into is am
it its of on or that the their there these this those to was were what when where which who whom whose
why will with you your do does did doing can could should would shall may might must about than then
them they we our us me my mine myself not no so if also just only very some any something anything
way ways best easiest want need please using via one own other others such each here get""".split())
QUESTION_WORDS = frozenset("how what which where why when who whom whose can could should would is are "
                           "am was were does do did may might shall will".split())
# a word that is code or a path, not English: snake_case, dotted.name, file.ext, CamelCase, --flag, f()
_IDENTIFIER = re.compile(r"\w_\w|\w\.\w|[a-z][A-Z]|^--?\w|\(\)|::|/")
_HAS_BITCOUNT = hasattr(np, "bitwise_count")
_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


@dataclass
class Passage:
    text: str
    start: int                      # character range in the file's extracted text
    end: int
    page: int | None
    highlights: list[tuple[int, int]] = field(default_factory=list)  # spans in `text`
    score: float = 0.0

    def marked(self, before: str = "**", after: str = "**") -> str:
        out, pos = [], 0
        for s, e in self.highlights:
            out += [self.text[pos:s], before, self.text[s:e], after]
            pos = e
        out.append(self.text[pos:])
        return "".join(out)


@dataclass
class SearchResult:
    path: Path
    score: float
    kind: str | None
    size: int
    modified: float                 # seconds since the epoch
    passages: list[Passage]
    matched: list[str]              # why: "name", "phrase", "semantic", "keyword"
    similarity: float | None = None  # best chunk cosine, if the file was among the dense hits

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        for p, src in zip(d["passages"], self.passages):
            p["marked"] = src.marked()
        return d


# --- the vector core --------------------------------------------------------------------------------
class VectorIndex:
    """Brute-force nearest neighbours. `vectors`: (n, d) float16 (normalised), or (n, d/8) uint8 bits."""

    def __init__(self, vectors: np.ndarray, binary: bool = False, exact_bytes: int = EXACT_BYTES):
        self.binary = binary
        self.n = len(vectors)
        self.f32 = self.f16 = self.cols = None
        bits = None
        if binary:
            bits = np.ascontiguousarray(vectors, dtype=np.uint8)
            self.dim = bits.shape[1] * 8 if self.n else 0
        else:
            vectors = np.asarray(vectors)
            self.dim = vectors.shape[1] if vectors.ndim == 2 else 0
            if self.n * self.dim * 4 <= exact_bytes:
                self.f32 = np.ascontiguousarray(vectors, dtype=np.float32)
            else:
                self.f16 = np.ascontiguousarray(vectors, dtype=np.float16)
                bits = np.packbits(self.f16 > 0, axis=1)
        if bits is not None:
            # column-major words: the Hamming distance is a few passes over contiguous memory
            words = bits.view(np.uint64) if bits.shape[1] % 8 == 0 else bits
            self.cols = np.ascontiguousarray(words.T)

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.f32, self.f16, self.cols) if a is not None)

    def hamming(self, q: np.ndarray, words: int | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        """Bits that differ between sign(q) and the stored sign bits, (n,) uint16: over the first `words`
        columns only, and for `rows` only, if given."""
        qbits = np.packbits(np.asarray(q) > 0)
        qw = qbits.view(np.uint64) if self.cols.dtype == np.uint64 else qbits
        cols = self.cols[: words or len(self.cols)]
        n = self.n if rows is None else len(rows)
        dist = np.zeros(n, dtype=np.uint16)
        block = 1 << 16
        x = np.empty(min(n, block), dtype=cols.dtype)
        for s in range(0, n, block):  # blocks stay in cache across the passes over the columns
            e = min(n, s + block)
            acc, buf = dist[s:e], x[: e - s]
            for j in range(len(cols)):
                src = cols[j, s:e] if rows is None else cols[j, rows[s:e]]
                np.bitwise_xor(src, qw[j], out=buf)
                acc += np.bitwise_count(buf) if _HAS_BITCOUNT else _POPCOUNT8[buf.view(np.uint8)].reshape(
                    e - s, -1).sum(axis=1, dtype=np.uint16)
        return dist

    def top(self, q: np.ndarray, n: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the `n` best cosine scores (best first), and the scores."""
        if self.n == 0 or n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = np.asarray(q, dtype=np.float32)
        if self.f32 is not None:
            scores = self.f32 @ q
            if mask is not None:
                scores[~mask] = -np.inf
            return _best(scores, n)
        # sign-bit prefilter (Hamming distance), then exact rescoring of the candidates
        m = max(n * 4, PREFILTER)
        rows = None
        if self.n > COARSE_MIN and len(self.cols) > COARSE_WORDS and self.cols.dtype == np.uint64:
            # coarse pass over the first 256 bits, then the full bits for the best few percent
            dist = self.hamming(q, COARSE_WORDS)
            if mask is not None:
                dist[~mask] = np.iinfo(np.uint16).max
            rows = _smallest(dist, max(20 * m, self.n // 50))
        dist = self.hamming(q, rows=rows)
        if mask is not None:
            dist[~mask[rows] if rows is not None else ~mask] = np.iinfo(np.uint16).max
        cand = _smallest(dist, m)
        if rows is not None:
            cand = rows[cand]
        if mask is not None:
            cand = cand[mask[cand]]
        if self.f16 is not None:
            scores = self.f16[cand].astype(np.float32) @ q
        else:
            rows = np.ascontiguousarray(self.cols[:, cand].T).view(np.uint8)
            signs = np.unpackbits(rows, axis=1).astype(np.float32) * 2 - 1
            scores = signs @ q / np.sqrt(self.dim)
        order, best = _best(scores, n)
        return cand[order], best


def _smallest(dist: np.ndarray, m: int) -> np.ndarray:
    """Indices of (about) the m smallest Hamming distances: a histogram threshold, no sort."""
    if m >= len(dist):
        return np.arange(len(dist))
    counts = np.cumsum(np.bincount(dist))
    idx = np.flatnonzero(dist <= int(np.searchsorted(counts, m)))
    if len(idx) > 4 * m:  # many ties at the threshold (few bits): cut them down
        idx = idx[np.argpartition(dist[idx], m - 1)[:m]]
    return idx


def _best(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    n = min(n, len(scores))
    if n < len(scores):
        idx = np.argpartition(-scores, n - 1)[:n]
    else:
        idx = np.arange(len(scores))
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    keep = np.isfinite(scores[idx])
    return idx[keep], scores[idx][keep]


# --- query parsing and highlighting -----------------------------------------------------------------
def parse_query(query: str) -> tuple[list[str], list[str], str]:
    """(words, quoted phrases, text to embed)."""
    phrases = [" ".join(p.split()) for p in re.findall(r'"([^"]+)"', query) if p.strip()]
    rest = re.sub(r'"[^"]*"', " ", query)
    words = [w for w in re.findall(r"\w+", rest.lower()) if w not in STOPWORDS]
    if not words and not phrases:
        words = re.findall(r"\w+", rest.lower())
    plain = " ".join(query.replace('"', " ").split())
    return words, phrases, plain


def _stem(word: str) -> str:
    return word[: max(4, len(word) - 2)] if len(word) > 5 else word


def highlight_regex(words: list[str], phrases: list[str]) -> re.Pattern | None:
    parts = [r"\s+".join(re.escape(w) for w in p.split()) for p in sorted(phrases, key=len, reverse=True)]
    parts += [rf"\b{re.escape(_stem(w))}\w*" for w in sorted(set(words), key=len, reverse=True) if len(w) > 1]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def make_passage(text: str, start: int, page: int | None, rx: re.Pattern | None, score: float) -> Passage:
    """The SNIPPET_CHARS window of a chunk with the most matched words, and their spans in it."""
    spans = [m.span() for m in rx.finditer(text)] if rx else []
    lo, hi = 0, min(len(text), SNIPPET_CHARS)
    if spans and len(text) > SNIPPET_CHARS:
        best, best_n = spans[0][0], 0
        for s, _ in spans:
            n = sum(1 for a, b in spans if s <= a and b <= s + SNIPPET_CHARS)
            if n > best_n:
                best, best_n = s, n
        lo = max(0, best - SNIPPET_CHARS // 5)
        hi = min(len(text), lo + SNIPPET_CHARS)
        lo = max(0, hi - SNIPPET_CHARS)
    if lo > 0:  # snap to word boundaries
        sp = text.find(" ", lo, lo + 30)
        lo = sp + 1 if sp != -1 else lo
    if hi < len(text):
        sp = text.rfind(" ", hi - 30, hi)
        hi = sp if sp > lo else hi
    window = text[lo:hi]
    lead = len(window) - len(window.lstrip())
    window = window.strip()
    lo += lead
    marks = [(s - lo, e - lo) for s, e in spans if s >= lo and e <= lo + len(window)]
    return Passage(window, start + lo, start + lo + len(window), page, marks, score)


def _fts_expression(words: list[str], phrases: list[str]) -> str | None:
    terms = [f'"{w}"' for w in words] + ['"' + p.replace('"', "") + '"' for p in phrases]
    return " OR ".join(terms) if terms else None


def _to_ns(when: datetime | float | int | None) -> int | None:
    if when is None:
        return None
    if isinstance(when, datetime):
        when = when.timestamp()
    return int(float(when) * 1e9)


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


# --- the searcher -----------------------------------------------------------------------------------
class Searcher:
    def __init__(self, store, binary: bool = False):
        self.store = store
        self.binary = binary
        self._lock = threading.Lock()
        self._gen: tuple[int, int] | None = None
        self._loaded_at = 0.0
        self.vectors = VectorIndex(np.zeros((0, 0), dtype=np.float16), binary)
        self.chunk_ids = np.zeros(0, dtype=np.int64)
        self.lead = np.zeros(0, dtype=bool)             # the chunk opens its file (seq 0)
        self.chunk_file = np.zeros(0, dtype=np.int64)   # position in the file arrays
        self.file_ids = np.zeros(0, dtype=np.int64)
        self.file_paths: list[str] = []
        self.file_kinds = np.zeros(0, dtype=object)
        self.file_mtime = np.zeros(0, dtype=np.int64)
        self.names: dict[str, list[int]] = {}
        self.name_words: dict[str, set[int]] = {}

    # loading ------------------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        gen = self.store.generation()
        with self._lock:
            if gen == self._gen and not force:
                return
            if (self._gen is not None and not force and time.monotonic() - self._loaded_at < RELOAD_INTERVAL
                    and self.store.get("run")):
                return  # a run is writing: reload at most once a second (stale hits are dropped)
            self._load()
            self._gen = gen
            self._loaded_at = time.monotonic()

    def _load(self) -> None:
        db = self.store.db
        files = db.execute("SELECT id, path, kind, mtime_ns FROM files WHERE status = 'indexed' ORDER BY id").fetchall()
        self.file_ids = np.array([r[0] for r in files], dtype=np.int64)
        self.file_paths = [r[1] for r in files]
        self.file_kinds = np.array([r[2] or "" for r in files], dtype=object)
        self.file_mtime = np.array([r[3] for r in files], dtype=np.int64)
        self.names, self.name_words = {}, {}
        for pos, path in enumerate(self.file_paths):
            name = os.path.basename(path).lower()
            for key in {name, os.path.splitext(name)[0]}:
                self.names.setdefault(key, []).append(pos)
            for w in set(re.findall(r"[^\W_]+", name)):
                self.name_words.setdefault(w, set()).add(pos)
        ids, fids, blobs, lead = [], [], [], []
        for cid, fid, vec, first in db.execute("SELECT v.chunk_id, v.file_id, v.vec, c.seq = 0 FROM vectors v "
                                               "JOIN chunks c ON c.id = v.chunk_id ORDER BY v.chunk_id"):
            ids.append(cid)
            fids.append(fid)
            blobs.append(vec)
            lead.append(first)
        self.chunk_ids = np.array(ids, dtype=np.int64)
        self.lead = np.array(lead, dtype=bool)
        pos = np.searchsorted(self.file_ids, np.array(fids, dtype=np.int64))
        pos = np.minimum(pos, max(0, len(self.file_ids) - 1))
        live = (self.file_ids[pos] == np.array(fids, dtype=np.int64)) if len(self.file_ids) else np.zeros(len(ids), bool)
        self.chunk_file = np.where(live, pos, -1)
        if blobs:
            raw = np.frombuffer(b"".join(blobs), dtype=np.uint8 if self.binary else np.float16)
            mat = raw.reshape(len(blobs), -1)
        else:
            mat = np.zeros((0, 0), dtype=np.uint8 if self.binary else np.float16)
        self.vectors = VectorIndex(mat, self.binary)

    # filters -------------------------------------------------------------------------------------
    def _file_mask(self, folder, kinds, after, before) -> np.ndarray | None:
        if folder is None and not kinds and after is None and before is None:
            return None
        mask = np.ones(len(self.file_ids), dtype=bool)
        if folder is not None:
            root = os.path.abspath(os.path.expanduser(str(folder))).rstrip(os.sep)
            mask &= np.array([p == root or p.startswith(root + os.sep) for p in self.file_paths], dtype=bool)
        if kinds:
            kinds = {k.lower().lstrip(".") for k in kinds}
            mask &= np.array([k in kinds or os.path.splitext(p)[1].lower().lstrip(".") in kinds
                              for k, p in zip(self.file_kinds, self.file_paths)], dtype=bool)
        if after is not None:
            mask &= self.file_mtime >= _to_ns(after)
        if before is not None:
            mask &= self.file_mtime < _to_ns(before)
        return mask

    def _filter_sql(self, folder, kinds, after, before) -> tuple[str, list]:
        sql, args = "", []
        if folder is not None:
            root = os.path.abspath(os.path.expanduser(str(folder))).rstrip(os.sep)
            esc = root.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sql += " AND (f.path = ? OR f.path LIKE ? ESCAPE '\\')"
            args += [root, esc + os.sep + "%"]
        if kinds:
            ks = sorted({k.lower().lstrip(".") for k in kinds})
            sql += f" AND (f.kind IN ({','.join('?' * len(ks))})" + "".join(" OR f.path LIKE ?" for _ in ks) + ")"
            args += ks + [f"%.{k}" for k in ks]
        if after is not None:
            sql += " AND f.mtime_ns >= ?"
            args.append(_to_ns(after))
        if before is not None:
            sql += " AND f.mtime_ns < ?"
            args.append(_to_ns(before))
        return sql, args

    # search --------------------------------------------------------------------------------------
    def search(self, query: str, query_vector: np.ndarray | None, k: int = 10, folder=None, kinds=None,
               modified_after=None, modified_before=None, mode: str = "hybrid", passages: int = 3) -> list[SearchResult]:
        if mode not in ("hybrid", "dense", "keyword"):
            raise ValueError(f"mode={mode!r}: use hybrid, dense or keyword")
        self.refresh()
        words, phrases, _ = parse_query(query)
        depth = max(100, 10 * k)
        chunk_score: dict[int, float] = {}       # chunk id -> fused chunk-level score (passage order)
        file_lists: dict[str, list[int]] = {}    # list name -> file ids, best first
        raw: dict[str, dict[int, float]] = {}    # list name -> file id -> its best score in that list
        similarity: dict[int, float] = {}
        chunk_file: dict[int, int] = {}
        worded: set[int] = set()                 # chunks that hold query words (keyword or phrase hits)

        file_mask = self._file_mask(folder, kinds, modified_after, modified_before)
        if mode in ("hybrid", "dense") and query_vector is not None and self.vectors.n:
            mask = self.chunk_file >= 0
            if file_mask is not None:
                mask &= np.where(self.chunk_file >= 0, file_mask[np.maximum(self.chunk_file, 0)], False)
            rows, scores = self.vectors.top(query_vector, depth, mask)
            ranking: dict[int, float] = {}
            for rank, (r, s) in enumerate(zip(rows, scores)):
                cid, fid = int(self.chunk_ids[r]), int(self.file_ids[self.chunk_file[r]])
                chunk_score[cid] = chunk_score.get(cid, 0.0) + 1.0 / (RRF_K + rank)
                chunk_file[cid] = fid
                similarity.setdefault(fid, float(s))
                ranking[fid] = max(ranking.get(fid, -np.inf), float(s) + LEAD_BONUS * self.lead[r])
            file_lists["semantic"] = sorted(ranking, key=ranking.get, reverse=True)
            raw["semantic"] = ranking
        fsql, fargs = self._filter_sql(folder, kinds, modified_after, modified_before)
        expr = _fts_expression(words, phrases)
        db = self.store.db
        if mode in ("hybrid", "keyword") and expr:
            rows = db.execute("SELECT c.id, c.file_id, -bm25(chunks_fts) AS s FROM chunks_fts JOIN chunks c "
                              "ON c.id = chunks_fts.rowid JOIN files f ON f.id = c.file_id WHERE chunks_fts MATCH ?" + fsql +
                              " ORDER BY s DESC LIMIT ?", [expr, *fargs, depth]).fetchall()
            order, best = [], {}
            for rank, (cid, fid, score) in enumerate(rows):
                chunk_score[cid] = chunk_score.get(cid, 0.0) + 1.0 / (RRF_K + rank)
                chunk_file[cid] = fid
                worded.add(cid)
                if fid not in best:
                    best[fid] = score
                    order.append(fid)
            file_lists["keyword"] = order
            raw["keyword"] = best
        tiers: dict[int, float] = {}
        reasons: dict[int, set[str]] = {}
        if mode == "hybrid":
            self._name_matches(query, words, file_mask, tiers, file_lists, reasons, raw)
            for phrase in phrases:
                rows = db.execute("SELECT c.id, c.file_id, c.text FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
                                  "JOIN files f ON f.id = c.file_id WHERE chunks_fts MATCH ?" + fsql + " LIMIT 500",
                                  ['"' + phrase.replace('"', "") + '"', *fargs]).fetchall()
                needle = phrase.casefold()
                for cid, fid, text in rows:
                    if needle in " ".join(text.split()).casefold():
                        tiers[fid] = max(tiers.get(fid, 0.0), PHRASE_TIER)
                        reasons.setdefault(fid, set()).add("phrase")
                        chunk_score[cid] = chunk_score.get(cid, 0.0) + 1.0
                        chunk_file[cid] = fid
                        worded.add(cid)
        fused = fuse(file_lists, raw, query_shape(query))
        for name, order in file_lists.items():
            for fid in order:
                reasons.setdefault(fid, set()).add(name)
        ranked = sorted(fused, key=lambda f: (tiers.get(f, 0.0) + fused[f]), reverse=True)
        return self._results(ranked, k, fused, tiers, reasons, similarity, chunk_score, chunk_file, worded,
                             highlight_regex(words, phrases), passages)

    def _name_matches(self, query, words, file_mask, tiers, file_lists, reasons, raw=None) -> None:
        q = " ".join(query.replace('"', " ").split()).lower()
        for pos in self.names.get(q, []):
            if file_mask is None or file_mask[pos]:
                fid = int(self.file_ids[pos])
                tiers[fid] = NAME_TIER
                reasons.setdefault(fid, set()).add("name")
        if not words:
            return
        counts: dict[int, int] = {}
        for w in set(words):
            for pos in self.name_words.get(w, ()):
                counts[pos] = counts.get(pos, 0) + 1
        need = max(1, (len(set(words)) + 1) // 2)
        hits = [(n, pos) for pos, n in counts.items() if n >= need and (file_mask is None or file_mask[pos])]
        hits.sort(key=lambda t: (-t[0], len(self.file_paths[t[1]])))
        file_lists["name"] = [int(self.file_ids[pos]) for _, pos in hits[:200]]
        if raw is not None:
            raw["name"] = {int(self.file_ids[pos]): n / len(set(words)) for n, pos in hits[:200]}

    def _results(self, ranked, k, fused, tiers, reasons, similarity, chunk_score, chunk_file, worded, rx, n_passages):
        db = self.store.db
        by_file: dict[int, list[int]] = {}
        for cid, fid in chunk_file.items():
            by_file.setdefault(fid, []).append(cid)
        out: list[SearchResult] = []
        for start in range(0, len(ranked), max(k, 1)):
            if len(out) >= k:
                break
            group = ranked[start:start + max(k, 1)]
            frows = {r[0]: r for r in db.execute(
                f"SELECT id, path, kind, size, mtime_ns FROM files WHERE status = 'indexed' AND id IN "
                f"({','.join('?' * len(group))})", group)}
            for fid in group:
                if len(out) >= k:
                    break
                frow = frows.get(fid)
                if frow is None:
                    continue  # deleted since the vectors were loaded
                # passages that show the query's words first, then the semantically closest
                cids = sorted(by_file.get(fid, []), key=lambda c: (c in worded, chunk_score.get(c, 0.0)),
                              reverse=True)[:n_passages]
                rows = {r[0]: r for r in db.execute(
                    f'SELECT id, start, "end", page, text FROM chunks WHERE file_id = ? AND id IN ({",".join("?" * len(cids))})',
                    [fid, *cids])} if cids else {}
                if not rows:
                    rows = {r[0]: r for r in db.execute(
                        'SELECT id, start, "end", page, text FROM chunks WHERE file_id = ? ORDER BY seq LIMIT 1', (fid,))}
                    cids = list(rows)
                if not rows:
                    continue
                passages = [make_passage(rows[c][4], rows[c][1], rows[c][3], rx, chunk_score.get(c, 0.0))
                            for c in cids if c in rows]
                order = ["name", "phrase", "semantic", "keyword"]
                out.append(SearchResult(
                    path=Path(frow[1]), score=round(tiers.get(fid, 0.0) + fused.get(fid, 0.0), 6), kind=frow[2],
                    size=frow[3], modified=frow[4] / 1e9, passages=passages,
                    matched=[r for r in order if r in reasons.get(fid, ())], similarity=similarity.get(fid)))
        return out

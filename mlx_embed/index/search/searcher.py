"""The searcher: joins the vector core, the store's keyword hits, name matches and fusion into results.

    Searcher(store, binary=False).search(query, query_vector, k=10, folder=None, kinds=None,
        modified_after=None, modified_before=None, mode="hybrid", passages=3, parsed=None)
        -> list[SearchResult]

The store's vectors and the indexed files' names are loaded once and kept in memory (a VectorIndex),
and reloaded when the store's generation changes. A keyword hit counts only if it holds one of the
query's Snowball stems (stems.py), the test its highlights use. One result per content: identical
copies (same hash) are shown once, the others listed in `copies`. Its passages are its chunks that
best match: a "quoted phrase" found verbatim first, then those that hold the query's words (so what is
bold is there to see), each group by cosine, plus the lead bonus for the file's opening, plus the
share of the query's words they hold (PASSAGE_WORDS).
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import numpy as np

from . import fusion
from .query import FileFilter, Query, parse_query
from .results import SearchResult, make_passage
from .stems import QueryTerms
from .vectors import VectorIndex

RELOAD_INTERVAL = 1.0
MATCH_ORDER = ("name", "phrase", "semantic", "keyword")   # how SearchResult.matched lists the reasons
# A passage's score: cosine + LEAD_BONUS if it opens the file + this x the share of the query's words
# it holds. The words weigh about as much as a clearly closer meaning (cosines of one file's chunks
# differ by ~0.1), so a chunk with the words and the meaning (a module's docstring) beats one with
# only the words (a stray use near the end).
PASSAGE_WORDS = 0.15
PASSAGE_CANDIDATES = 4    # a file's semantically closest chunks read to pick its passages from


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
        self._by_file = np.zeros(0, dtype=np.int64)
        self._file_start = np.zeros(1, dtype=np.int64)
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
        files = self.store.searchable_files()
        self.file_ids = np.array([r[0] for r in files], dtype=np.int64)
        self.file_paths = [r[1] for r in files]
        self.file_kinds = np.array([r[2] for r in files], dtype=object)
        self.file_mtime = np.array([r[3] for r in files], dtype=np.int64)
        self.names, self.name_words = {}, {}
        for pos, path in enumerate(self.file_paths):
            name = os.path.basename(path).lower()
            for key in {name, os.path.splitext(name)[0]}:
                self.names.setdefault(key, []).append(pos)
            for w in set(re.findall(r"[^\W_]+", name)):
                self.name_words.setdefault(w, set()).add(pos)
        self.chunk_ids, fids, self.lead, mat = self.store.all_vectors(self.binary)
        pos = np.searchsorted(self.file_ids, fids)
        pos = np.minimum(pos, max(0, len(self.file_ids) - 1))
        live = (self.file_ids[pos] == fids) if len(self.file_ids) else np.zeros(len(fids), bool)
        self.chunk_file = np.where(live, pos, -1)
        # a file's rows: self._by_file[self._file_start[p]:self._file_start[p + 1]] for file position p
        self._by_file = np.argsort(self.chunk_file, kind="stable")
        self._file_start = np.searchsorted(self.chunk_file[self._by_file], np.arange(len(self.file_ids) + 1))
        self.vectors = VectorIndex(mat, self.binary)

    def _file_mask(self, where: FileFilter) -> np.ndarray | None:
        if not where.active:
            return None
        mask = np.ones(len(self.file_ids), dtype=bool)
        if where.folder is not None:
            root = where.folder
            mask &= np.array([p == root or p.startswith(root + os.sep) for p in self.file_paths], dtype=bool)
        if where.kinds:
            mask &= np.array([k in where.kinds or os.path.splitext(p)[1].lower().lstrip(".") in where.kinds
                              for k, p in zip(self.file_kinds, self.file_paths)], dtype=bool)
        if where.after_ns is not None:
            mask &= self.file_mtime >= where.after_ns
        if where.before_ns is not None:
            mask &= self.file_mtime < where.before_ns
        return mask

    # search --------------------------------------------------------------------------------------
    def search(self, query: str, query_vector: np.ndarray | None, k: int = 10, folder=None, kinds=None,
               modified_after=None, modified_before=None, mode: str = "hybrid", passages: int = 3,
               parsed: Query | None = None) -> list[SearchResult]:
        """`parsed`: parse_query(query), if the caller has it already (it embedded `parsed.text`)."""
        if mode not in ("hybrid", "dense", "keyword"):
            raise ValueError(f"mode={mode!r}: use hybrid, dense or keyword")
        self.refresh()
        words, phrases, _ = parsed if parsed is not None else parse_query(query)
        terms = QueryTerms.of(words, phrases)
        rrf_k = fusion.RRF_K
        depth = max(100, 10 * k)
        chunk_score: dict[int, float] = {}       # chunk id -> fused chunk-level score (passage order)
        file_lists: dict[str, list[int]] = {}    # list name -> file ids, best first
        raw: dict[str, dict[int, float]] = {}    # list name -> file id -> its best score in that list
        similarity: dict[int, float] = {}
        chunk_file: dict[int, int] = {}
        cover: dict[int, float] = {}             # chunk id -> share of the query's stems it holds
        cover_top = 0.0                          # ... in the best keyword chunk

        where = FileFilter.of(folder, kinds, modified_after, modified_before)
        file_mask = self._file_mask(where)
        if mode in ("hybrid", "dense") and query_vector is not None and self.vectors.n:
            mask = self.chunk_file >= 0
            if file_mask is not None:
                mask &= np.where(self.chunk_file >= 0, file_mask[np.maximum(self.chunk_file, 0)], False)
            rows, scores = self.vectors.top(query_vector, depth, mask)
            ranking: dict[int, float] = {}
            for rank, (r, s) in enumerate(zip(rows, scores)):
                cid, fid = int(self.chunk_ids[r]), int(self.file_ids[self.chunk_file[r]])
                chunk_score[cid] = chunk_score.get(cid, 0.0) + 1.0 / (rrf_k + rank)
                chunk_file[cid] = fid
                similarity.setdefault(fid, float(s))
                ranking[fid] = max(ranking.get(fid, -np.inf), float(s) + fusion.LEAD_BONUS * self.lead[r])
            file_lists["semantic"] = sorted(ranking, key=ranking.get, reverse=True)
            raw["semantic"] = ranking
        if mode in ("hybrid", "keyword") and (words or phrases):
            order, best = [], {}
            n_stems = max(1, len(terms.stems) + len(terms.phrases))
            rank = 0
            for cid, fid, score, text in self.store.keyword_hit_texts(words, phrases, depth, **where.as_sql_args()):
                held = terms.matched(text)
                if not held:
                    continue  # FTS5's porter stem matched, Snowball's does not ("General" for "generate")
                cover[cid] = min(1.0, len(held) / n_stems)
                chunk_score[cid] = chunk_score.get(cid, 0.0) + 1.0 / (rrf_k + rank)
                rank += 1
                chunk_file[cid] = fid
                if fid not in best:
                    best[fid] = score
                    order.append(fid)
                    if len(order) == 1:
                        cover_top = cover[cid]
            file_lists["keyword"] = order
            raw["keyword"] = best
        tiers: dict[int, float] = {}
        reasons: dict[int, set[str]] = {}
        phrased: set[int] = set()
        if mode == "hybrid":
            self._name_matches(query, words, file_mask, tiers, file_lists, reasons, raw)
            for phrase in phrases:
                needle = phrase.casefold()
                for cid, fid, text in self.store.phrase_candidates(phrase, 500, **where.as_sql_args()):
                    if needle in " ".join(text.split()).casefold():
                        tiers[fid] = max(tiers.get(fid, 0.0), fusion.PHRASE_TIER)
                        reasons.setdefault(fid, set()).add("phrase")
                        phrased.add(cid)
                        chunk_file[cid] = fid
        facts = fusion.evidence(file_lists, raw, len(terms.stems), cover_top)
        fused = fusion.fuse(file_lists, raw, fusion.gate(facts))
        for name, order in file_lists.items():
            for fid in order:
                reasons.setdefault(fid, set()).add(name)
        ranked = sorted(fused, key=lambda f: (tiers.get(f, 0.0) + fused[f]), reverse=True)
        return self._results(ranked, k, fused, tiers, reasons, similarity, chunk_file, cover, phrased, terms,
                             query_vector, passages)

    def _name_matches(self, query, words, file_mask, tiers, file_lists, reasons, raw=None) -> None:
        q = " ".join(query.replace('"', " ").split()).lower()
        for pos in self.names.get(q, []):
            if file_mask is None or file_mask[pos]:
                fid = int(self.file_ids[pos])
                tiers[fid] = fusion.NAME_TIER
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

    def _passages(self, fid: int, hits: list[int], cover, phrased, terms: QueryTerms, qvec, n: int):
        """The file's n best-matching chunks as passages (see PASSAGE_WORDS), best first."""
        pos = int(np.searchsorted(self.file_ids, fid))
        cos: dict[int, float] = {}
        if pos < len(self.file_ids) and self.file_ids[pos] == fid:
            rows = self._by_file[self._file_start[pos]:self._file_start[pos + 1]]
            if len(rows):
                sims = (self.vectors.scores(qvec, rows) if qvec is not None and self.vectors.n
                        else np.zeros(len(rows), dtype=np.float32)) + fusion.LEAD_BONUS * self.lead[rows]
                top = np.argsort(-sims, kind="stable")[:PASSAGE_CANDIDATES]
                cos = {int(self.chunk_ids[rows[i]]): float(sims[i]) for i in top}
        cids = list(dict.fromkeys([*hits, *cos]))
        texts = self.store.chunk_texts(fid, cids) if cids else {}
        if not texts:
            texts = self.store.chunk_texts(fid, [])
        n_stems = max(1, len(terms.stems) + len(terms.phrases))

        def score(cid: int) -> float:
            words = cover.get(cid)
            if words is None:
                words = min(1.0, len(terms.matched(texts[cid][2])) / n_stems) if terms.stems or terms.phrases else 0.0
            return (cid in phrased) + (words > 0) + cos.get(cid, 0.0) + PASSAGE_WORDS * words

        scores = {c: score(c) for c in texts}  # once each: matching a chunk's words costs a regex pass
        best = sorted(texts, key=scores.__getitem__, reverse=True)[:n]
        return [make_passage(texts[c][2], texts[c][0], texts[c][1], terms, round(scores[c], 6)) for c in best]

    def _results(self, ranked, k, fused, tiers, reasons, similarity, chunk_file, cover, phrased, terms, qvec,
                 n_passages):
        by_file: dict[int, list[int]] = {}
        for cid, fid in chunk_file.items():
            if cid in cover or cid in phrased:
                by_file.setdefault(fid, []).append(cid)
        out: list[SearchResult] = []
        shown: set[int] = set()                  # files shown, and their identical copies
        for start in range(0, len(ranked), max(k, 1)):
            if len(out) >= k:
                break
            group = [f for f in ranked[start:start + max(k, 1)] if f not in shown]
            frows = self.store.indexed_files(group) if group else {}
            copies = self.store.content_copies(list(frows))
            for fid in group:
                if len(out) >= k:
                    break
                frow = frows.get(fid)
                if frow is None or fid in shown:
                    continue  # deleted since the vectors were loaded, or a copy of a file shown
                passages = self._passages(fid, by_file.get(fid, []), cover, phrased, terms, qvec, n_passages)
                if not passages:
                    continue
                twins = copies.get(fid, [])
                shown.add(fid)
                shown.update(o for o, _ in twins)
                path, kind, size, mtime_ns = frow
                out.append(SearchResult(
                    path=Path(path), score=round(tiers.get(fid, 0.0) + fused.get(fid, 0.0), 6), kind=kind,
                    size=size, modified=mtime_ns / 1e9, passages=passages,
                    matched=[r for r in MATCH_ORDER if r in reasons.get(fid, ())], similarity=similarity.get(fid),
                    copies=[Path(p) for _, p in twins]))
        return out

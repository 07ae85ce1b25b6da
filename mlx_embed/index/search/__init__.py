"""Hybrid search: dense cosine over in-memory vectors + FTS5 BM25 + file names, fused per file.

Modules: query (parse_query: content words, "quoted phrases", the text to embed; stop words; file
filters), vectors (VectorIndex: the brute-force vector core), fusion (evidence, gate and fuse: how the
semantic, keyword and name lists become one ranking; the tiers above it), results (SearchResult,
Passage, passage windows), stems (the Snowball stems that decide keyword hits and highlights),
searcher (Searcher: joins them over the store).
"""

from __future__ import annotations

from .fusion import evidence, fuse, gate
from .query import FileFilter, Query, parse_query
from .results import Passage, SearchResult
from .searcher import Searcher
from .vectors import VectorIndex

__all__ = ["Searcher", "SearchResult", "Passage", "Query", "FileFilter", "parse_query", "evidence", "gate", "fuse",
           "VectorIndex"]

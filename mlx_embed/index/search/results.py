"""What a search returns: files (SearchResult) with their best passages (Passage), and how a passage
is cut from a chunk around the query's words, with the spans to highlight.

    make_passage(chunk text, chunk start, page, terms, score) -> Passage    (a SNIPPET_CHARS window)

Highlights are the words whose Snowball stem is one of the query's, and "quoted phrases" verbatim
(stems.QueryTerms): the same test that decided the chunk was a keyword hit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .stems import QueryTerms

SNIPPET_CHARS = 320


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
    # other indexed files with the same content (same hash): shown once, "also in N places"
    copies: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        d["copies"] = [str(p) for p in self.copies]
        for p, src in zip(d["passages"], self.passages):
            p["marked"] = src.marked()
        return d


def make_passage(text: str, start: int, page: int | None, terms: QueryTerms | None, score: float) -> Passage:
    """The SNIPPET_CHARS window of a chunk with the most matched words, and their spans in it."""
    spans = terms.spans(text) if terms is not None else []
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

"""Split text into overlapping windows of the active model's tokens, keeping character ranges.

    chunk_text(text, tokenizer, max_tokens, overlap, pages=None) -> list[Chunk(start, end, page, text)]

`tokenizer` is the model's (mlx_embed.encoder.tokenizer.Tokenizer, anything with `offsets(text)`, or a
`tokenizers.Tokenizer`). A window ends at the best break (blank line, line end, sentence end, space)
in its last quarter, so passages read well; consecutive windows share about `overlap` tokens.
`page` is the 1-based page (PDF) or slide (PPTX) of the chunk: with `pages`, chunks never cross a page.

It streams: the text is tokenised a segment at a time and only the token spans of the window being cut
(about one segment) are held, so memory does not grow with the length of a line or a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

SEGMENT_CHARS = 200_000  # tokenise long texts in pieces (tokenizer memory grows with input length)


@dataclass(frozen=True)
class Chunk:
    start: int
    end: int
    page: int | None
    text: str


def token_spans(text: str, tokenizer) -> list[tuple[int, int]]:
    """(start, end) character span of every real token of `text` (special tokens dropped)."""
    return [span for part in _span_segments(text, tokenizer) for span in part]


def _span_segments(text: str, tokenizer) -> Iterator[list[tuple[int, int]]]:
    """token_spans a segment (about SEGMENT_CHARS, cut at a line end or space) at a time."""
    pos = 0
    while pos < len(text):
        end = min(len(text), pos + SEGMENT_CHARS)
        if end < len(text):
            cut = text.rfind("\n", pos + SEGMENT_CHARS // 2, end)
            if cut == -1:
                cut = text.rfind(" ", pos + SEGMENT_CHARS // 2, end)
            end = cut + 1 if cut != -1 else end
        piece = text[pos:end]
        if hasattr(tokenizer, "offsets"):
            offsets = tokenizer.offsets(piece)
        else:
            offsets = tokenizer.encode(piece, add_special_tokens=False).offsets
        yield [(pos + s, pos + e) for s, e in offsets if e > s]
        pos = end


_BREAKS = [(re.compile(r"\n\s*\n"), 4), (re.compile(r"\n"), 3), (re.compile(r"[.!?。！？][\"')\]]?\s"), 2),
           (re.compile(r"[;:,]\s"), 1)]


def _break_score(gap: str) -> int:
    for rx, score in _BREAKS:
        if rx.search(gap):
            return score
    return 0


def _word_start(text: str, pos: int, limit: int = 24) -> int:
    """Move a boundary that falls inside a word (sub-word tokens) back to the word's start."""
    stop = max(0, pos - limit)
    while pos > stop and text[pos - 1].isalnum() and text[pos].isalnum():
        pos -= 1
    return pos


def _word_end(text: str, pos: int, limit: int = 24) -> int:
    stop = min(len(text), pos + limit)
    while pos < stop and text[pos - 1].isalnum() and text[pos].isalnum():
        pos += 1
    return pos


def chunk_text(text: str, tokenizer, max_tokens: int, overlap: int = 0,
               pages: list[tuple[int, int]] | None = None) -> list[Chunk]:
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    overlap = max(0, min(overlap, max_tokens // 2))
    if pages:  # chunks never cross a page: each page is chunked on its own
        out: list[Chunk] = []
        for number, (a, b) in enumerate(pages, 1):
            for c in chunk_text(text[a:b], tokenizer, max_tokens, overlap):
                out.append(Chunk(a + c.start, a + c.end, number, c.text))
        return out
    segments = _span_segments(text, tokenizer)
    spans: list[tuple[int, int]] = []    # the spans from token number `base` on (earlier ones are cut)
    exhausted = False
    chunks: list[Chunk] = []
    i = 0
    while True:
        # window i..i+max_tokens and one token past it: enough to cut exactly as with every span at hand
        while not exhausted and len(spans) <= i + max_tokens:
            part = next(segments, None)
            if part is None:
                exhausted = True
            else:
                spans.extend(part)
        n = len(spans)   # the true count once exhausted; before that, more than the window needs
        if i >= n:
            break
        j = min(n, i + max_tokens)
        if j < n:  # end at the best break in the last quarter of the window
            best, best_score = j, -1
            for k in range(j, max(i + 1, j - max_tokens // 4) - 1, -1):
                gap = text[spans[k - 1][1]:spans[k][0] + 1] if k < n else ""
                score = _break_score(gap)
                if score > best_score:
                    best, best_score = k, score
                    if score == 4:
                        break
            j = best
        start, end = _word_start(text, spans[i][0]), _word_end(text, spans[j - 1][1])
        body = text[start:end]
        if body.strip():
            chunks.append(Chunk(start, end, None, body))
        if j >= n:
            break
        nxt = max(i + 1, j - overlap)
        for k in range(nxt, j):  # start the overlap at a line break when there is one
            if _break_score(text[spans[k - 1][1]:spans[k][0]]) >= 3:
                nxt = k
                break
        i = nxt
        if i > 4 * max_tokens:   # drop the spans already cut (indices shift by i)
            del spans[:i]
            i = 0
    return chunks

"""One vector per file, for clustering, classification and near-duplicates.

    embed_files(model, files, task="clustering", *, max_tokens=256, max_chunks=4, index=None,
                progress=None) -> FileVectors
    combine_chunks(chunk_vectors, weights) -> (d,) unit vector

How a long file becomes one vector: its text is cut into chunks of at most `max_tokens` tokens (the
index's chunker, mlx_embed.index.chunk); at most `max_chunks` of them, spread
evenly over the file (first and last included; see file_chunks), are embedded with the task's adapter and the model's
default (document) prompt; the file's vector is the mean of the unit chunk vectors weighted by each
chunk's token count, renormalised to unit length. So a 2-chunk file whose first chunk is three times
longer leans three quarters towards it, and a file of one chunk gets exactly that chunk's vector.
The default budget, 4 chunks of 256 tokens, bounds the model time per file. More text per file does not
cluster better (MiniLM, k-means on meaning and words, true k, mean of 3 seeds; bench/organize.py
--quality --chunks C --tokens T): 2 x 128 / 4 x 256 / 8 x 256 tokens gave V-measure 0.954 / 0.924 /
0.909 on the 59-file test set, 0.951 / 0.951 / (not run) on the 311-file dev set, 0.967 / 0.973 / 0.973
on the 177-file validation set; with automatic k 0.943 / 0.905 / 0.909, 0.951 / 0.951, 0.963 / 0.957 /
0.950. Classification was not measured at other budgets, so the default stays.

Stored index vectors (`index`: an mlx_embed.index.Index opened with the same model) are reused when
they are the same model's vectors for the same adapter: the index embeds with the retrieval adapter, so
for a model with adapters (jina) clustering and classification always re-embed; for a model without
adapters (MiniLM) every task uses the same weights and the stored chunk vectors are reused (their plain
mean, renormalised). Files the index does not hold are embedded. `FileVectors.reused` counts the reused.

Each file's text for words (cluster labels, the lexical block of clustering, zero-shot's label-word
match) is sampled the same way: the whole text up to 12,000 characters, else 6 windows spread from its
start to its end (sample_text).

`progress(done_files, total_files)` is called between batches, and also between files while reading
takes long (an image or a scanned PDF read by OCR costs seconds: a batch of 64 screenshots would
otherwise show no progress, and allow no cancel, for minutes); raise from it to cancel.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..index.chunk import chunk_text
from .files import FileText, UnreadableFileError, read_text

LABEL_TEXT_CHARS = 12_000     # text kept per file for words (labels, lexical features); bounds memory at 10k files
TEXT_PIECES = 6               # ... taken as this many pieces spread over the file (the start is the first)
FILES_PER_BATCH = 64
DEFAULT_CHUNKS = 4            # chunks embedded per file ...
DEFAULT_TOKENS = 256          # ... of at most this many tokens (model limit permitting): 1k tokens a file
READ_REPORT_SECONDS = 1.0     # progress while reading a batch at most this often (OCR'd files are slow)
CHARS_PER_TOKEN = 8           # a window of max_tokens * 8 characters holds max_tokens tokens (or all there is)


@dataclass
class FileVectors:
    """Unit vectors (n, d) float32 for `paths`, in order; files that could not be read are in `skipped`."""

    paths: list[Path]
    vectors: np.ndarray
    texts: list[str]                      # each file's text, sampled over it (vectors.sample_text)
    task: str | None
    model_name: str
    skipped: dict[Path, str] = field(default_factory=dict)   # path -> reason
    reused: int = 0                       # vectors taken from the index instead of embedded

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, paths: Sequence[Path]) -> "FileVectors":
        where = {p: i for i, p in enumerate(self.paths)}
        rows = [where[Path(p)] for p in paths]
        return FileVectors([self.paths[i] for i in rows], self.vectors[rows], [self.texts[i] for i in rows],
                           self.task, self.model_name, {}, 0)


def combine_chunks(chunk_vectors: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """Length-weighted mean of unit chunk vectors, renormalised (the first chunk if they cancel out)."""
    v = np.asarray(chunk_vectors, dtype=np.float32)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    w = np.asarray(weights, dtype=np.float32)
    if v.ndim != 2 or len(w) != len(v) or not len(v) or (w < 0).any() or w.sum() <= 0:
        raise ValueError("combine_chunks needs one non-negative weight per chunk vector, not all zero.")
    mean = (w[:, None] * v).sum(axis=0) / w.sum()
    norm = float(np.linalg.norm(mean))
    return v[0] if norm < 1e-6 else (mean / norm).astype(np.float32)


def pick_chunks(n: int, max_chunks: int) -> list[int]:
    """Indices of at most `max_chunks` of `n` chunks, evenly spread, first and last included."""
    if n <= max_chunks:
        return list(range(n))
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, max_chunks)})


def sample_text(text: str, chars: int = LABEL_TEXT_CHARS, pieces: int = TEXT_PIECES) -> str:
    """At most `chars` characters of `text`: all of it, or `pieces` windows spread evenly from its start
    to its end (a file's words come from all of it, as its vector does, not from its first pages only)."""
    if len(text) <= chars:
        return text
    width = chars // pieces
    starts = np.linspace(0, len(text) - width, pieces).astype(int).tolist()
    return "\n".join(text[s:s + width] for s in starts)


def chunk_texts(text: str, tokenizer, max_tokens: int) -> list[str]:
    """The text cut into pieces of at most `max_tokens` tokens (the index's chunker, no overlap)."""
    return [c.text for c in chunk_text(text, tokenizer, max_tokens, 0) if c.text.strip()]


def file_chunks(text: str, tokenizer, max_tokens: int, max_chunks: int) -> list[str]:
    """At most `max_chunks` chunks of at most `max_tokens` tokens, spread evenly over `text`.

    A long text is not tokenised whole: `max_chunks` evenly spaced windows of characters (generous for
    `max_tokens` tokens) are cut first and each gives its first chunk, so the cost follows the chunks used."""
    window = max_tokens * CHARS_PER_TOKEN
    if len(text) <= window * max_chunks:
        chunks = chunk_texts(text, tokenizer, max_tokens)
        return [chunks[i] for i in pick_chunks(len(chunks), max_chunks)]
    out = []
    for start in np.linspace(0, len(text) - window, max_chunks).astype(int).tolist():
        pieces = chunk_texts(text[start:start + window], tokenizer, max_tokens)
        if pieces:
            out.append(pieces[0])
    return out


def embed_files(model, files: Sequence[str | os.PathLike], task: str | None = "clustering", *,
                max_tokens: int | None = None, max_chunks: int = DEFAULT_CHUNKS, index=None,
                progress: Callable[[int, int], None] | None = None) -> FileVectors:
    """Read, chunk and embed `files` with `model` (an EmbeddingModel); one unit vector per file."""
    paths = [Path(f) for f in files]
    resolved = model.resolve_task(task)
    reuse = _vectors_from_index(index, paths, model, resolved)
    # Leave room for the prompt and special tokens inside the model's limit.
    limit = min(max_tokens or DEFAULT_TOKENS, model.max_length)
    prefix = model.resolve_prompt(None, None)
    room = max(8, limit - model.tokenizer.special_token_count() - len(model.tokenizer.encode([prefix], None)[0]))
    kept, vectors, texts, skipped = [], [], [], {}
    done = 0
    reported = time.monotonic()
    if progress is not None:        # the count at once, not only after the first batch (tens of seconds)
        progress(0, len(paths))
    for start in range(0, len(paths), FILES_PER_BATCH):
        batch = paths[start:start + FILES_PER_BATCH]
        pieces, owners, file_texts = [], [], {}
        for i, path in enumerate(batch):
            if progress is not None and i and time.monotonic() - reported > READ_REPORT_SECONDS:
                progress(done + i, len(paths))
                reported = time.monotonic()
            try:
                got: FileText = read_text(path)
            except UnreadableFileError as exc:
                skipped[path] = str(exc).removeprefix(f"{path}: ")
                continue
            file_texts[path] = got.text
            if path in reuse:
                continue
            for piece in file_chunks(got.text, model.tokenizer, room, max_chunks):
                pieces.append(prefix + piece)
                owners.append(path)
        ids = model.tokenizer.encode(pieces, limit) if pieces else []
        chunk_vecs = model.embed_token_ids(ids, resolved) if ids else np.zeros((0, model.dim), np.float32)
        by_file: dict[Path, list[int]] = {}
        for row, owner in enumerate(owners):
            by_file.setdefault(owner, []).append(row)
        for path in batch:
            if path not in file_texts:
                continue
            if path in reuse:
                vec = reuse[path]
            elif path in by_file:
                rows = by_file[path]
                vec = combine_chunks(chunk_vecs[rows], [len(ids[r]) for r in rows])
            else:
                skipped[path] = "no text"
                continue
            kept.append(path)
            vectors.append(vec)
            texts.append(sample_text(file_texts[path]))
        done += len(batch)
        if progress is not None:
            progress(done, len(paths))
            reported = time.monotonic()
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), model.dim)
    return FileVectors(kept, matrix, texts, resolved, model.name, skipped,
                       sum(1 for p in kept if p in reuse))


def _vectors_from_index(index, paths: list[Path], model, task: str | None) -> dict[Path, np.ndarray]:
    """Stored vectors the index can give for this model and adapter, else {} (see the module doc).

    A reused file's vector is the length-blind mean of all its stored chunk vectors, renormalised; a
    binary or Matryoshka-truncated index is not reused (its vectors are not the model's full vectors)."""
    if index is None or model.tasks:        # models with adapters: the index holds retrieval vectors only
        return {}
    settings = getattr(index, "settings", None)
    if settings is not None and (getattr(settings, "binary", False) or getattr(settings, "vector_dim", None)
                                 not in (None, model.dim)):
        return {}
    try:
        got = index.vectors_for_files(paths, task="retrieval")
    except Exception:  # noqa: BLE001  (another model's index, or an empty one: embed instead)
        return {}
    out = {}
    for path, chunks in got.items():
        chunks = np.atleast_2d(np.asarray(chunks, dtype=np.float32))
        if chunks.shape[1] == model.dim and len(chunks):
            out[Path(path)] = combine_chunks(chunks, np.ones(len(chunks)))
    return out

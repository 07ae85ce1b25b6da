"""The vector core: brute-force nearest neighbours over the index's chunk vectors, in memory.

    VectorIndex(vectors, binary=False).top(q, n, mask=None) -> (rows, scores)     best first
    .scores(q, rows) -> cosines of those rows

A float32 copy (exact, fastest) up to EXACT_BYTES; above that float16 with a sign-bit Hamming prefilter
and exact rescoring of PREFILTER candidates (a first pass over the first 256 bits above COARSE_MIN
rows); a binary index keeps only the bits and rescores with the query's float values.
"""

from __future__ import annotations

import numpy as np

EXACT_BYTES = 256 << 20   # keep a float32 copy (exact, fastest) up to this size, else float16 + bits
PREFILTER = 1000          # candidates from the sign-bit prefilter, rescored exactly
COARSE_MIN, COARSE_WORDS = 200_000, 4   # above this many rows, a first pass over the first 256 bits
_HAS_BITCOUNT = hasattr(np, "bitwise_count")
_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


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

    def scores(self, q: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosine of the query with these rows (exact; a binary index: its sign estimate)."""
        q = np.asarray(q, dtype=np.float32)
        if self.f32 is not None:
            return self.f32[rows] @ q
        if self.f16 is not None:
            return self.f16[rows].astype(np.float32) @ q
        bits = np.ascontiguousarray(self.cols[:, rows].T).view(np.uint8)
        return (np.unpackbits(bits, axis=1)[:, : self.dim].astype(np.float32) * 2 - 1) @ q / np.sqrt(self.dim)

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

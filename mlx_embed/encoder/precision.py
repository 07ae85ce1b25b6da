"""From pooled float vectors to the requested output, in sentence-transformers' order: truncate
(Matryoshka), normalise (`finish`), then the output precision (`quantize_embeddings`, as
sentence-transformers names it: int8/uint8 buckets or packed bits; not the model's weights)."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError

PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")


def check_truncate_dim(truncate_dim: int | None, dim: int) -> None:
    if truncate_dim is None:
        return
    if not isinstance(truncate_dim, (int, np.integer)) or not 1 <= truncate_dim <= dim:
        raise InvalidArgumentError(f"truncate_dim={truncate_dim!r} is out of range: use 1..{dim} "
                                   f"(the model's dimension), or None for all {dim}.")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise InvalidArgumentError(f"precision={precision!r} is not supported; use one of {', '.join(PRECISIONS)}.")


def finish(vectors: np.ndarray, truncate_dim: int | None, normalize: bool) -> np.ndarray:
    """Matryoshka truncation, then L2 normalisation (so truncated vectors are renormalised)."""
    if truncate_dim is not None:
        vectors = vectors[:, :truncate_dim]
    if normalize:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def quantize_embeddings(vectors: np.ndarray, precision: str, ranges: np.ndarray | None = None) -> np.ndarray:
    """sentence-transformers' output precisions.

    int8/uint8: 256 buckets per dimension between that dimension's min and max over `ranges`
    (shape (2, d)) or, by default, over the vectors themselves; binary/ubinary: one bit per dimension
    (x > 0), packed, with binary offset by -128 into int8.
    """
    check_precision(precision)
    if precision == "float32":
        return vectors.astype(np.float32)
    if precision in ("int8", "uint8"):
        if ranges is None:
            if len(vectors) < 2:
                raise InvalidArgumentError(
                    f"precision={precision!r} calibrates each dimension on the batch itself, which needs "
                    "at least 2 texts; encode more texts at once or use float32/binary.")
            ranges = np.stack([vectors.min(axis=0), vectors.max(axis=0)])
        starts = ranges[0].astype(np.float32)
        steps = (ranges[1].astype(np.float32) - starts) / 255
        steps = np.where(steps == 0, 1, steps)
        buckets = np.clip(np.floor((vectors - starts) / steps), 0, 255)
        return buckets.astype(np.uint8) if precision == "uint8" else (buckets - 128).astype(np.int8)
    bits = np.packbits(vectors > 0, axis=-1)
    return bits if precision == "ubinary" else (bits.astype(np.int16) - 128).astype(np.int8)

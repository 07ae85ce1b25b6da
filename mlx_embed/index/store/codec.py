"""The vector blob format, in one place: how a chunk's vector is stored and read back.

    encode_vectors(vectors, binary) -> [bytes]      one blob per row: float16, or packed sign bits
    decode_vectors(blobs, binary) -> (n, d) float16 | (n, d/8) uint8 bits    as stored (search keeps this)
    unit_vectors(blobs, binary) -> (n, d) float32   for reuse (clustering); bits become +-1/sqrt(d)
    encode_staged(vector) / decode_staged(blob)     float32 vectors of a file only partly embedded yet
"""

from __future__ import annotations

import numpy as np


def encode_vectors(vectors: np.ndarray, binary: bool) -> list[bytes]:
    if binary:
        return [row.tobytes() for row in np.packbits(vectors > 0, axis=1)]
    return [row.tobytes() for row in vectors.astype(np.float16)]


def decode_vectors(blobs: list[bytes], binary: bool) -> np.ndarray:
    dtype = np.uint8 if binary else np.float16
    if not blobs:
        return np.zeros((0, 0), dtype=dtype)
    return np.frombuffer(b"".join(blobs), dtype=dtype).reshape(len(blobs), -1)


def unit_vectors(blobs: list[bytes], binary: bool) -> np.ndarray:
    raw = decode_vectors(blobs, binary)
    if binary:
        signs = np.unpackbits(raw, axis=1).astype(np.float32) * 2 - 1
        return signs / np.sqrt(signs.shape[1])
    return raw.astype(np.float32)


def encode_staged(vector: np.ndarray) -> bytes:
    return vector.astype(np.float32).tobytes()


def decode_staged(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)

"""The transcendental steps of a forward (softmax, SiLU, GELU), fast on every backend.

MLX's Linux x86 CPU build evaluates exp, sigmoid and erf one element at a time: 15-40 ns an element
(bench/profile_encoder.py), 8-10x slower than NumPy's SIMD ufuncs, while its matrix products run at
BLAS speed. On a GPU (Metal, CUDA) and in Apple's CPU build they are fast. So on an x86 CPU these few
steps run through NumPy on the same memory (no copy in, one copy out), in cache-sized blocks on every
core; everywhere else they are the plain MLX ops. Both agree to float32 rounding (tests/test_kernels.py).

MLX_EMBED_CPU_MATH=mlx|numpy overrides the choice (default: auto).
"""

from __future__ import annotations

import math
import os
import platform
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import mlx.core as mx
import mlx.nn as nn
import numpy as np

BLOCK_ELEMENTS = 1 << 15  # a block's intermediates stay in L1/L2 between the passes of one kernel


def numpy_math() -> bool:
    """Whether the transcendental steps go through NumPy (x86 CPU) or stay MLX ops."""
    setting = os.environ.get("MLX_EMBED_CPU_MATH", "auto")
    if setting in ("numpy", "mlx"):
        return setting == "numpy"
    return mx.default_device() == mx.cpu and _x86()


@lru_cache(maxsize=1)
def _x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="mlx-embed-math")


@lru_cache(maxsize=1)
def _workers() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def _numpy_ok(*arrays: mx.array) -> bool:
    return numpy_math() and all(a.dtype == mx.float32 for a in arrays)


def _on_numpy(kernel, *arrays: mx.array) -> mx.array:
    """kernel(out_block, *input_blocks) over row blocks of the arrays' NumPy views; one MLX array back."""
    inputs = [np.asarray(a).reshape(-1, a.shape[-1]) for a in arrays]
    out = np.empty(inputs[0].shape, dtype=np.float32)
    _run_blocks(kernel, out, *inputs)
    return mx.array(out).reshape(arrays[0].shape)


def _run_blocks(kernel, out: np.ndarray, *inputs: np.ndarray) -> None:
    """kernel(out_block, *input_blocks) over row blocks of 2-D arrays, one share of rows per core."""
    rows, width = out.shape
    step = max(1, BLOCK_ELEMENTS // max(1, width))

    def share(lo: int, hi: int) -> None:
        for s in range(lo, hi, step):
            e = min(hi, s + step)
            kernel(out[s:e], *(a[s:e] for a in inputs))

    workers = min(_workers(), max(1, rows * width // (4 * BLOCK_ELEMENTS)))
    if workers == 1:
        share(0, rows)
        return
    bounds = [rows * i // workers for i in range(workers + 1)]
    list(_pool().map(lambda i: share(bounds[i], bounds[i + 1]), range(workers)))


# --- SwiGLU: silu(gate) * up -------------------------------------------------------------------

def swiglu(gate: mx.array, up: mx.array) -> mx.array:
    if not _numpy_ok(gate, up) or gate.shape != up.shape:
        return nn.silu(gate) * up
    return _on_numpy(_swiglu_block, gate, up)


def _swiglu_block(out: np.ndarray, g: np.ndarray, u: np.ndarray) -> None:
    np.negative(g, out=out)
    with np.errstate(over="ignore"):  # exp(-g) = inf for g < -88 gives g / inf = -0, the right limit
        np.exp(out, out=out)
    out += 1.0
    np.divide(g, out, out=out)
    out *= u


# --- GELU (exact, erf) -------------------------------------------------------------------------

def gelu(x: mx.array) -> mx.array:
    if not _numpy_ok(x):
        return nn.gelu(x)
    return _on_numpy(_gelu_block, x)


# erfc(z) = t * P(t) * exp(-z^2), t = 1 / (1 + p z), z >= 0, absolute error below 1.5e-7
# (Abramowitz and Stegun 7.1.26): five terms, so few passes over each block.
_ERFC_P = 0.3275911
_ERFC = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _gelu_block(out: np.ndarray, x: np.ndarray) -> None:
    # gelu(x) = x * Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2: half of erfc(|x| / sqrt 2), mirrored for x > 0.
    z = np.abs(x)
    z *= np.float32(1 / math.sqrt(2))
    t = z * np.float32(_ERFC_P)
    t += 1.0
    np.reciprocal(t, out=t)
    np.multiply(t, np.float32(_ERFC[-1]), out=out)
    for c in reversed(_ERFC[:-1]):
        out += np.float32(c)
        out *= t
    z *= z
    np.negative(z, out=z)
    np.exp(z, out=z)
    out *= z
    out *= np.float32(0.5)  # out = Phi(-|x|)
    np.subtract(1.0, out, out=out, where=x > 0)  # Phi(x) = 1 - Phi(-x)
    out *= x


# --- softmax over the last axis ------------------------------------------------------------------

def softmax(scores: mx.array) -> mx.array:
    """Softmax over the last axis in float32; -inf entries (masked) get 0."""
    if not _numpy_ok(scores):
        return mx.softmax(scores, axis=-1, precise=True)
    return _on_numpy(_softmax_block, scores)


def _softmax_block(out: np.ndarray, s: np.ndarray) -> None:
    np.subtract(s, s.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)

"""The steps of a forward that MLX's x86 CPU build runs slowly: softmax, SiLU, GELU, norms, RoPE.

MLX's Linux x86 CPU build evaluates exp, sigmoid and erf one element at a time: 15-40 ns an element
(bench/profile_encoder.py), 8-10x slower than NumPy's SIMD ufuncs, while its matrix products run at
BLAS speed. On a GPU (Metal, CUDA) and in Apple's CPU build they are fast. So on an x86 CPU these few
steps run through NumPy on the same memory (no copy in, none out), in cache-sized blocks; everywhere
else they are the plain MLX ops. RoPE goes the same way because it also moves the head axis forward
in its one pass. Both paths agree to float32 rounding (tests/test_kernels.py).

MLX_EMBED_CPU_MATH=mlx|numpy overrides the choice (default: auto).
"""

from __future__ import annotations

import math
import os
import platform
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


def _numpy_ok(*arrays: mx.array) -> bool:
    return numpy_math() and all(a.dtype == mx.float32 for a in arrays)


def _on_numpy(kernel, *arrays: mx.array, reuse: bool = False) -> mx.array:
    """kernel(out_block, *input_blocks) over row blocks of the arrays' NumPy views; one MLX array back.

    reuse=True: the first array is a temporary only this call reads (a matrix product's output), so
    the result is written over it: no new buffer to fault in and fill. Kernels must therefore allow
    `out` to be their first input.
    """
    inputs = [np.asarray(a).reshape(-1, a.shape[-1]) for a in arrays]
    result, out = _output(arrays[0], reuse)
    _run_blocks(kernel, out.reshape(inputs[0].shape), *inputs)
    return result()


def _output(x: mx.array, reuse: bool):
    """Where a kernel over `x` writes: x itself when reuse allows it and its memory is one writeable
    block, else a fresh array of x's shape (`_fresh`)."""
    view = np.asarray(x)
    if reuse and view.flags.writeable and view.flags.c_contiguous:
        return (lambda: x), view
    return _fresh(x.shape)


def _fresh(shape: tuple[int, ...]):
    """An output to fill through NumPy: (a function giving the MLX array afterwards, its NumPy view).

    The kernel writes straight into a new MLX array's memory: building an MLX array from a NumPy
    result would copy it, a pass as slow as the cheaper half of a kernel.
    """
    result = mx.zeros(shape, dtype=mx.float32)
    mx.eval(result)
    view = np.asarray(result)
    if view.flags.writeable and view.flags.c_contiguous:
        return (lambda: result), view
    view = np.empty(shape, dtype=np.float32)  # a build whose zeros are a broadcast view: copy back
    return (lambda: mx.array(view)), view


def _run_blocks(kernel, out: np.ndarray, *inputs: np.ndarray) -> None:
    """kernel(out_block, *input_blocks) over cache-sized row blocks of 2-D arrays, on this thread.

    One thread, measured: NumPy's many short calls per block make two threads fight over the GIL,
    and two were 12-25% slower than one on a 2-core x86 machine (MLX keeps the other core busy
    between kernels anyway)."""
    rows, width = out.shape
    step = max(1, BLOCK_ELEMENTS // max(1, width))
    for s in range(0, rows, step):
        e = min(rows, s + step)
        kernel(out[s:e], *(a[s:e] for a in inputs))


# --- SwiGLU: silu(gate) * up -------------------------------------------------------------------

def swiglu(gate: mx.array, up: mx.array, reuse: bool = False) -> mx.array:
    """silu(gate) * up; reuse=True writes over `gate` (a temporary nobody else reads)."""
    if not _numpy_ok(gate, up) or gate.shape != up.shape:
        return nn.silu(gate) * up
    return _on_numpy(_swiglu_block, gate, up, reuse=reuse)


def _swiglu_block(out: np.ndarray, g: np.ndarray, u: np.ndarray) -> None:
    d = np.negative(g)
    with np.errstate(over="ignore"):  # exp(-g) = inf for g < -88 gives g / inf = -0, the right limit
        np.exp(d, out=d)
    d += 1.0
    np.divide(g, d, out=out)  # the last read of g: out may be g
    out *= u


# --- GELU (exact, erf) -------------------------------------------------------------------------

def gelu(x: mx.array, reuse: bool = False) -> mx.array:
    """Exact (erf) GELU; reuse=True writes over `x` (a temporary nobody else reads)."""
    if not _numpy_ok(x):
        return nn.gelu(x)
    return _on_numpy(_gelu_block, x, reuse=reuse)


# erfc(z) = t * P(t) * exp(-z^2), t = 1 / (1 + p z), z >= 0, absolute error below 1.5e-7
# (Abramowitz and Stegun 7.1.26): five terms, so few passes over each block. The coefficients are
# halved here, so the polynomial gives Phi(-|x|) = erfc(|x| / sqrt 2) / 2 directly.
_ERFC_P = 0.3275911
_HALF_ERFC = tuple(c / 2 for c in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))


def _gelu_block(out: np.ndarray, x: np.ndarray) -> None:
    # gelu(x) = x * Phi(x) = max(x, 0) - |x| * Phi(-|x|) for either sign: no masked (where=) pass,
    # which NumPy runs 30x slower than a plain one. Every read of x comes before out is written.
    z = np.abs(x)
    e = np.multiply(x, x)
    e *= np.float32(-0.5)
    np.exp(e, out=e)
    m = np.maximum(x, np.float32(0))
    t = z * np.float32(_ERFC_P / math.sqrt(2))
    t += 1.0
    np.reciprocal(t, out=t)
    np.multiply(t, np.float32(_HALF_ERFC[-1]), out=out)
    for c in reversed(_HALF_ERFC[:-1]):
        out += np.float32(c)
        out *= t
    out *= e
    out *= z
    np.subtract(m, out, out=out)


# --- softmax over the last axis ------------------------------------------------------------------

def softmax(scores: mx.array) -> mx.array:
    """Softmax over the last axis in float32; -inf entries (masked) get 0."""
    if not _numpy_ok(scores):
        return mx.softmax(scores, axis=-1, precise=True)
    return _on_numpy(_exp_normalise, scores)


def attention_weights(scores: mx.array, scale: float, bias: np.ndarray | None) -> mx.array:
    """softmax(scale * scores + bias) over the last axis of (B, H, R, K) float32 scores (NumPy path),
    written over `scores`, which must be a temporary only this call reads.

    `bias` (0 or -inf; shape (B or 1, R or 1, K)) is the mask, added inside the same pass as the
    scale, so neither a masked copy of the scores nor a scaled copy of the queries is ever made.
    """
    sn = np.asarray(scores)
    B, H, R, K = sn.shape
    result, out = _output(scores, reuse=True)
    heads = max(1, BLOCK_ELEMENTS // (R * K))  # whole heads in a block while a head is small
    rows = R if heads > 1 else max(1, BLOCK_ELEMENTS // K)
    for b in range(B):
        bb = None if bias is None else bias[min(b, bias.shape[0] - 1)]
        for h0 in range(0, H, heads):
            for r0 in range(0, R, rows):
                dst = out[b, h0:h0 + heads, r0:r0 + rows]
                np.multiply(sn[b, h0:h0 + heads, r0:r0 + rows], np.float32(scale), out=dst)
                if bb is not None:
                    dst += bb if bb.shape[0] == 1 else bb[r0:r0 + rows]
                flat = dst.reshape(-1, K)
                _exp_normalise(flat, flat)
    return result()


def _exp_normalise(out: np.ndarray, logits: np.ndarray) -> None:
    """Softmax of the rows of a 2-D block of logits into `out` (which may be `logits`).

    One max for the whole block instead of one per row (a row-wise NumPy max over short rows costs
    as much as the rest together). exp(x - c) then never overflows, and rows whose own maximum lies
    far below c (sum < 1e-20, i.e. more than 46 below) are redone with their own maximum, so no row
    loses precision to underflow. Row sums are a matrix product with ones: BLAS, not a reduction loop.
    """
    e = np.subtract(logits, logits.max())
    np.exp(e, out=e)
    sums = e @ np.ones((e.shape[1], 1), dtype=np.float32)
    low = np.flatnonzero(sums[:, 0] < 1e-20)
    if low.size:
        redo = logits[low] - logits[low].max(axis=1, keepdims=True)
        np.exp(redo, out=redo)
        e[low] = redo
        sums[low] = redo.sum(axis=1, keepdims=True)
    np.reciprocal(sums, out=sums)
    np.multiply(e, sums, out=out)  # the last read of logits is above: out may be logits


# --- RMSNorm over the last axis ------------------------------------------------------------------

def rms_norm(x: mx.array, weight: mx.array, eps: float, reuse: bool = False) -> mx.array:
    """RMSNorm with the mean of squares as a BLAS matrix-vector product (5% of a Qwen3 encode,
    measured); reuse=True writes over `x` (a temporary nobody else reads)."""
    if not _numpy_ok(x, weight):
        return mx.fast.rms_norm(x, weight, eps)
    w = np.asarray(weight)
    mean = np.full((x.shape[-1], 1), 1.0 / x.shape[-1], dtype=np.float32)

    def block(out: np.ndarray, x: np.ndarray) -> None:
        scale = np.square(x) @ mean
        scale += np.float32(eps)
        np.sqrt(scale, out=scale)
        np.reciprocal(scale, out=scale)
        np.multiply(x, scale, out=out)  # the last read of x: out may be x
        out *= w

    return _on_numpy(block, x, reuse=reuse)


# --- LayerNorm over the last axis, with the residual add before it ---------------------------------

def layer_norm(x: mx.array, weight: mx.array | None, bias: mx.array | None, eps: float,
               residual: mx.array | None = None, reuse: bool = False) -> mx.array:
    """LayerNorm(x + residual); reuse=True writes over `x` (a temporary nobody else reads).

    MLX's CPU kernel runs at about 5 ns an element inside a forward; this is two BLAS matrix-vector
    products (mean, variance) and a few passes per cache block, with the residual add (BERT's add &
    norm) in the same pass. 6% of a MiniLM encode, measured."""
    params = [p for p in (weight, bias) if p is not None]
    if not _numpy_ok(x, *params) or (residual is not None and (residual.dtype != x.dtype or residual.shape != x.shape)):
        return mx.fast.layer_norm(x if residual is None else x + residual, weight, bias, eps)
    w = None if weight is None else np.asarray(weight)
    b = None if bias is None else np.asarray(bias)
    mean = np.full((x.shape[-1], 1), 1.0 / x.shape[-1], dtype=np.float32)

    def block(out: np.ndarray, x: np.ndarray, r: np.ndarray | None = None) -> None:
        if r is not None:
            np.add(x, r, out=out)
            x = out
        np.subtract(x, x @ mean, out=out)  # centred first, then squared: no cancellation
        scale = np.square(out) @ mean
        scale += np.float32(eps)
        np.sqrt(scale, out=scale)
        np.reciprocal(scale, out=scale)
        out *= scale
        if w is not None:
            out *= w
        if b is not None:
            out += b

    # out may be x: x is read (into out or for its mean) before out is written
    return _on_numpy(block, x, *(() if residual is None else (residual,)), reuse=reuse)


# --- rotary position embedding (rotate-half layout), heads moved forward -------------------------

def rope_tables(length: int, dims: int, base: float | None, scale: float,
                freqs: mx.array | None) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of every position's angles, (length, dims / 2), computed as transformers does:
    float32 inverse frequencies times float32 positions."""
    if freqs is not None:
        inv = (1.0 / np.asarray(freqs, dtype=np.float32)).astype(np.float32)
    else:
        inv = (1.0 / (np.float32(base) ** (np.arange(0, dims, 2).astype(np.float32) / np.float32(dims)))).astype(np.float32)
    angles = (np.arange(length, dtype=np.float32)[:, None] * np.float32(scale)) * inv[None, :]
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def rope(x: mx.array, tables: tuple[np.ndarray, np.ndarray]) -> mx.array:
    """(B, L, H, D) -> (B, H, L, D), each position rotated; the move of the head axis happens in the
    same pass (MLX would copy for the transpose, then again for the rotation)."""
    B, L, H, D = x.shape
    cos, sin = tables
    half = D // 2
    xn = np.asarray(x)
    result, out = _fresh((B, H, L, D))
    rows = max(1, BLOCK_ELEMENTS // (H * D))

    def chunk(b: int, lo: int, hi: int) -> None:
        xs = xn[b, lo:hi]
        os = out[b, :, lo:hi].transpose(1, 0, 2)  # (n, H, D) view of the heads-first output
        c, s = cos[lo:hi, None, :], sin[lo:hi, None, :]
        x1, x2 = xs[..., :half], xs[..., half:]
        o1, o2 = os[..., :half], os[..., half:]
        tmp = np.multiply(x2, s)
        np.multiply(x1, c, out=o1)
        o1 -= tmp
        np.multiply(x1, s, out=tmp)
        np.multiply(x2, c, out=o2)
        o2 += tmp

    for b in range(B):
        for lo in range(0, L, rows):
            chunk(b, lo, min(L, lo + rows))
    return result()

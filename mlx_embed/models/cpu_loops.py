"""Compiled float32 loops (numba) for the element-wise steps of a forward on an x86 CPU.

Each loop makes one pass over its rows with every step of the operation fused into it, and LLVM
vectorises it (AVX2/AVX-512): GELU runs at ~0.5 ns an element here against 3.9 ns for the best
sequence of NumPy ufuncs, which needs a pass over memory per arithmetic step. The loops work in
place, on one array: given an input and an output that may be the same, LLVM checks for overlap at
run time and falls back to scalar code when they are (2.3x slower). No libm call sits in a loop
(numba's pip build has no vector math library, and one scalar call stops the vectoriser): exp is
Cephes' expf polynomial with 2^k written into the exponent bits, erf a rational fit.

Loaded on first use by `kernels` (importing numba costs ~0.3 s); compiled once per machine into
numba's on-disk cache.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

F = np.float32

# numba's fastmath=True would add 'nnan' and 'ninf': the attention mask is -inf, so only these.
_FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}


def _jit(fn):
    # error_model="numpy": no zero-division branch in each division, which also stops the vectoriser.
    return njit(fastmath=_FAST, error_model="numpy", nogil=True, cache=True)(fn)


def _inline(fn):
    return njit(fastmath=_FAST, error_model="numpy", inline="always", cache=True)(fn)


@intrinsic
def _float_from_bits(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


_LOG2E = F(1.4426950408889634)
_LN2_HI, _LN2_LO = F(0.693359375), F(-2.12194440e-4)
_EXP_LOW = F(-87.0)  # e^x below: 0 (also for a -inf mask); lower, 2^k leaves the normal range


@_inline
def _exp(x):
    """e^x, relative error < 1e-7 for -87 < x <= 88; 0 below, e^88 above (Cephes expf)."""
    c = min(max(x, _EXP_LOW), F(88.0))
    k = np.floor(c * _LOG2E + F(0.5))
    r = c - k * _LN2_HI - k * _LN2_LO
    p = F(1.9875691500e-4)
    p = p * r + F(1.3981999507e-3)
    p = p * r + F(8.3334519073e-3)
    p = p * r + F(4.1665795894e-2)
    p = p * r + F(1.6666665459e-1)
    p = p * r + F(5.0000001201e-1)
    p = p * r * r + r + F(1.0)
    e = p * _float_from_bits((np.int32(k) + np.int32(127)) << 23)
    return e if x > _EXP_LOW else F(0.0)


# erf(z) = z P(z^2) / Q(z^2) on [-4, 4] (|erf| rounds to 1 beyond): Eigen's float fit, ~2 ulp.
# GELU through 1 + erf(x / sqrt 2) cancels for x < -3, where the absolute error stays below 1e-6 on
# values under 1e-3; the exp an erfc form needs there costs 2.7x the whole loop.
_P = tuple(F(c) for c in (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
                          -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                          -1.60960333262415e-02))
_Q = tuple(F(c) for c in (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                          -7.37332916720468e-03, -1.42647390514189e-02))
_P0, _P1, _P2, _P3, _P4, _P5, _P6 = _P
_Q0, _Q1, _Q2, _Q3, _Q4 = _Q
_SQRT_HALF = F(0.7071067811865476)


@_inline
def _gelu(x):
    z = min(max(x * _SQRT_HALF, F(-4.0)), F(4.0))
    z2 = z * z
    p = ((((((_P0 * z2 + _P1) * z2 + _P2) * z2 + _P3) * z2 + _P4) * z2 + _P5) * z2 + _P6) * z
    q = (((_Q0 * z2 + _Q1) * z2 + _Q2) * z2 + _Q3) * z2 + _Q4
    return F(0.5) * x * (F(1.0) + p / q)


@_jit
def gelu(x):
    """x = GELU(x) (exact, erf form), in place over 2-D x."""
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] = _gelu(x[i, j])


@_jit
def swiglu(g, u):
    """g = silu(g) * u, in place over 2-D g; u must not overlap g."""
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            g[i, j] = g[i, j] * u[i, j] / (F(1.0) + _exp(-g[i, j]))


@_inline
def _row_max(row):
    # four running maxima: one is a chain of dependent compares that LLVM does not vectorise
    # (a float max reduction needs no-NaN math), 1.6x slower on rows of 64-128
    t0 = t1 = t2 = t3 = F(-np.inf)
    n = row.shape[0]
    k = 0
    while k + 4 <= n:
        t0, t1 = max(t0, row[k]), max(t1, row[k + 1])
        t2, t3 = max(t2, row[k + 2]), max(t3, row[k + 3])
        k += 4
    while k < n:
        t0 = max(t0, row[k])
        k += 1
    return max(max(t0, t1), max(t2, t3))


@_jit
def attention_softmax(s, scale, bias):
    """s = softmax(scale * s + bias) over the last axis of (B, H, R, K) scores, in place; bias (1 or
    B, 1 or R, K) holds 0 and -inf (the mask). Every row keeps at least one key."""
    B, H, R, K = s.shape
    for b in range(B):
        bb = b if bias.shape[0] > 1 else 0
        for h in range(H):
            for r in range(R):
                mask = bias[bb, r if bias.shape[1] > 1 else 0]
                row = s[b, h, r]
                for k in range(K):
                    row[k] = row[k] * scale + mask[k]
                top = _row_max(row)
                total = F(0.0)
                for k in range(K):
                    e = _exp(row[k] - top)
                    row[k] = e
                    total += e
                inv = F(1.0) / total
                for k in range(K):
                    row[k] *= inv


@_jit
def rms_norm(x, w, eps):
    """x = x / sqrt(mean(x^2) + eps) * w over the rows of 2-D x, in place."""
    n, d = x.shape
    for i in range(n):
        row = x[i]
        ss = F(0.0)
        for j in range(d):
            ss += row[j] * row[j]
        inv = F(1.0) / np.sqrt(ss / F(d) + eps)
        for j in range(d):
            row[j] = row[j] * inv * w[j]


@_jit
def layer_norm(x, residual, has_residual, w, b, eps):
    """x = LayerNorm(x (+ residual)) * w + b over the rows of 2-D x, in place, with the variance of
    the centred row (no cancellation); residual must not overlap x."""
    n, d = x.shape
    for i in range(n):
        row = x[i]
        if has_residual:
            res = residual[i]
            for j in range(d):
                row[j] += res[j]
        total = F(0.0)
        for j in range(d):
            total += row[j]
        mean = total / F(d)
        var = F(0.0)
        for j in range(d):
            c = row[j] - mean
            row[j] = c
            var += c * c
        inv = F(1.0) / np.sqrt(var / F(d) + eps)
        for j in range(d):
            row[j] = row[j] * inv * w[j] + b[j]


@_jit
def rope(x, slots, cos, sin, out):
    """Rotate-half RoPE of (T, H, D) token rows x into (B, H, L, D) out, row i at its (text,
    position) slot: the move into the padded, heads-first layout happens in the same pass.
    cos, sin: (> max position, D / 2)."""
    T, H, D = x.shape
    half = D // 2
    for i in range(T):
        b, t = slots[i, 0], slots[i, 1]
        c, s = cos[t], sin[t]
        for h in range(H):
            src, dst = x[i, h], out[b, h, t]
            for j in range(half):
                x1, x2 = src[j], src[j + half]
                dst[j] = x1 * c[j] - x2 * s[j]
                dst[j + half] = x2 * c[j] + x1 * s[j]


@_jit
def move_rows(rows, heads, slots, into_heads):
    """Copy between (T, H, D) token rows and the padded (B, H, L, D) heads-first layout, row i at
    its (text, position) slot: rows -> heads when into_heads, else heads -> rows (pads dropped)."""
    T, H, D = rows.shape
    for i in range(T):
        b, t = slots[i, 0], slots[i, 1]
        for h in range(H):
            src, dst = (rows[i, h], heads[b, h, t]) if into_heads else (heads[b, h, t], rows[i, h])
            for j in range(D):
                dst[j] = src[j]

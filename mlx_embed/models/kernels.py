"""The steps of a forward that MLX's x86 CPU build runs slowly: softmax, SiLU, GELU, norms, RoPE.

MLX's Linux x86 CPU build evaluates exp, sigmoid and erf one element at a time: 15-40 ns an element
(bench/profile_encoder.py), while its matrix products run at BLAS speed. On a GPU (Metal, CUDA) and
in Apple's CPU build they are fast. So on an x86 CPU these few steps run as compiled loops
(`cpu_loops`, numba) over the same memory (no copy in, none out), each a single fused pass; everywhere
else they are the plain MLX ops. RoPE goes the same way because it also moves the head axis forward
in its one pass. Both paths agree to float32 rounding (tests/test_kernels.py).

MLX_EMBED_CPU_MATH=mlx|loops overrides the choice (default: auto).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import platform
import warnings
from functools import lru_cache

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from ..errors import InvalidArgumentError


# Below this many tokens in one encode call, and until the loops are loaded, the MLX ops run: loading
# the loops (numba's import and its compiled-code cache) costs ~0.6 s once per process, more than
# MLX's slow element-wise ops cost a short query. `mlx-embed embed "a query"` stays at 0.35 s instead
# of 1.0 s; long-running processes load them up front (`load_loops`), after which any size uses them.
LOAD_LOOPS_TOKENS = 512
_workload: contextvars.ContextVar[int | None] = contextvars.ContextVar("mlx_embed_workload", default=None)


def cpu_loops() -> bool:
    """Whether these steps run as compiled loops (x86 CPU) or stay MLX ops."""
    setting = os.environ.get("MLX_EMBED_CPU_MATH", "auto")
    if setting == "mlx":
        return False
    if setting == "loops":
        if _loops() is None:
            raise InvalidArgumentError("MLX_EMBED_CPU_MATH=loops needs numba: pip install numba "
                                       "(or unset MLX_EMBED_CPU_MATH).")
        return True
    if not (mx.default_device() == mx.cpu and _x86()):
        return False
    if _loops.cache_info().currsize == 0:  # not loaded yet: only for a workload worth the load
        tokens = _workload.get()
        if tokens is not None and tokens < LOAD_LOOPS_TOKENS:
            return False
    return _loops() is not None


def load_loops() -> bool:
    """Load the compiled loops now, where this machine runs them, each one run once so its machine
    code is read from numba's cache (or compiled, the first time on a machine); whether they are on."""
    if not cpu_loops():
        return False
    loops, rows = _loops(), np.ones((2, 8), np.float32)
    loops.gelu(rows.copy())
    loops.swiglu(rows.copy(), rows)
    loops.rms_norm(rows.copy(), rows[0], np.float32(1e-6))
    loops.layer_norm(rows.copy(), rows, True, rows[0], rows[0], np.float32(1e-6))
    loops.attention_softmax(np.ones((1, 1, 2, 8), np.float32), np.float32(1.0), np.zeros((1, 1, 8), np.float32))
    slots, heads = np.zeros((2, 2), np.int64), np.empty((1, 1, 2, 8), np.float32)
    slots[1, 1] = 1
    loops.rope(np.ones((2, 1, 8), np.float32), slots, rows[:, :4].copy(), rows[:, :4].copy(), heads)
    loops.move_rows(np.ones((2, 1, 8), np.float32), heads, slots, True)
    return True


@contextlib.contextmanager
def workload(tokens: int):
    """Within it, the forward belongs to an encode call of `tokens` tokens (see LOAD_LOOPS_TOKENS)."""
    mark = _workload.set(tokens)
    try:
        yield
    finally:
        _workload.reset(mark)


@lru_cache(maxsize=1)
def _x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")


@lru_cache(maxsize=1)
def _loops():
    """The compiled loops, imported on first use (numba takes ~0.3 s to import); None without numba
    (the MLX ops then run, slower), with a warning when numba is there but failed."""
    try:
        from . import cpu_loops as loops
    except ImportError:
        return None
    except Exception as exc:  # e.g. no writable cache folder for the compiled code
        warnings.warn(f"The compiled CPU loops are off ({exc}); the encoder runs MLX's slower CPU ops. "
                      "Set NUMBA_CACHE_DIR to a writable folder to turn them on.", RuntimeWarning, stacklevel=3)
        return None
    return loops


def _loops_ok(*arrays: mx.array) -> bool:
    return cpu_loops() and all(a.dtype == mx.float32 for a in arrays)


def _target(x: mx.array, reuse: bool):
    """The array a loop works on in place: (a function giving the MLX result afterwards, its NumPy
    view as rows).

    reuse=True: x is a temporary only this call reads (a matrix product's output), so the loop runs
    on x itself when its memory is one writeable block: no new buffer to fault in and fill.
    Otherwise a fresh array holding a copy of x."""
    view = np.asarray(x)
    if reuse and view.flags.writeable and view.flags.c_contiguous:
        return (lambda: x), _rows(view)
    result, out = _fresh(x.shape)
    np.copyto(out, view)
    return result, _rows(out)


def _fresh(shape: tuple[int, ...]):
    """A new MLX array a loop writes straight into, with its NumPy view: building an MLX array
    from a NumPy result would copy it, a pass as slow as a loop."""
    result = mx.zeros(shape, dtype=mx.float32)
    mx.eval(result)
    view = np.asarray(result)
    if view.flags.writeable and view.flags.c_contiguous:
        return (lambda: result), view
    view = np.empty(shape, dtype=np.float32)  # a build whose zeros are a broadcast view: copy back
    return (lambda: mx.array(view)), view


def _rows(a: mx.array | np.ndarray) -> np.ndarray:
    """A 2-D NumPy view (rows, last axis) of a's memory; a strided view stays strided."""
    a = np.asarray(a)
    return a.reshape(-1, a.shape[-1]) if a.ndim != 2 else a


# --- activations -----------------------------------------------------------------------------

def swiglu(gate: mx.array, up: mx.array, reuse: bool = False) -> mx.array:
    """silu(gate) * up; reuse=True writes over `gate` (a temporary nobody else reads)."""
    if not _loops_ok(gate, up) or gate.shape != up.shape:
        return nn.silu(gate) * up
    result, out = _target(gate, reuse)
    _loops().swiglu(out, _rows(up))
    return result()


def gelu(x: mx.array, reuse: bool = False) -> mx.array:
    """Exact (erf) GELU; reuse=True writes over `x` (a temporary nobody else reads)."""
    if not _loops_ok(x):
        return nn.gelu(x)
    result, out = _target(x, reuse)
    _loops().gelu(out)
    return result()


# --- softmax over the last axis ------------------------------------------------------------------

def attention_weights(scores: mx.array, scale: float, bias: np.ndarray | None) -> mx.array:
    """softmax(scale * scores + bias) over the last axis of (B, H, R, K) float32 scores (loops path),
    written over `scores`, which must be a temporary only this call reads.

    `bias` (0 or -inf; shape (B or 1, R or 1, K)) is the mask, added inside the same pass as the
    scale, so neither a masked copy of the scores nor a scaled copy of the queries is ever made.
    """
    result, out = _target(scores, reuse=True)
    if bias is None:
        bias = np.zeros((1, 1, scores.shape[-1]), np.float32)
    _loops().attention_softmax(out.reshape(scores.shape), np.float32(scale), bias)
    return result()


# --- norms over the last axis ----------------------------------------------------------------------

def rms_norm(x: mx.array, weight: mx.array, eps: float, reuse: bool = False) -> mx.array:
    """RMSNorm; reuse=True writes over `x` (a temporary nobody else reads)."""
    if not _loops_ok(x, weight):
        return mx.fast.rms_norm(x, weight, eps)
    result, out = _target(x, reuse)
    _loops().rms_norm(out, np.asarray(weight), np.float32(eps))
    return result()


def layer_norm(x: mx.array, weight: mx.array | None, bias: mx.array | None, eps: float,
               residual: mx.array | None = None, reuse: bool = False) -> mx.array:
    """LayerNorm(x + residual), the residual add (BERT's add & norm) in the same pass; reuse=True
    writes over `x` (a temporary nobody else reads)."""
    params = [p for p in (weight, bias) if p is not None]
    if not _loops_ok(x, *params) or (residual is not None and (residual.dtype != x.dtype or residual.shape != x.shape)):
        return mx.fast.layer_norm(x if residual is None else x + residual, weight, bias, eps)
    d = x.shape[-1]
    w = np.ones(d, np.float32) if weight is None else np.asarray(weight)
    b = np.zeros(d, np.float32) if bias is None else np.asarray(bias)
    result, out = _target(x, reuse)
    _loops().layer_norm(out, out if residual is None else _rows(residual), residual is not None, w, b,
                        np.float32(eps))
    return result()


# --- token rows <-> padded heads-first layout (see base.Packing) ---------------------------------

def to_heads(x: mx.array, tokens) -> mx.array:
    """(T, H, D) rows of the real tokens -> (B, H, L, D), zeros at the pads, for attention."""
    T, H, D = x.shape
    if not _loops_ok(x):
        return tokens.unpack(x).transpose(0, 2, 1, 3)
    result, out = _fresh((tokens.batch, H, tokens.length, D))
    _loops().move_rows(np.asarray(x), out, tokens.slots, True)
    return result()


def from_heads(y: mx.array, tokens) -> mx.array:
    """(B, H, L, D) attention output -> (T, H * D) rows of the real tokens."""
    B, H, L, D = y.shape
    if not _loops_ok(y):
        return tokens.pack(y.transpose(0, 2, 1, 3)).reshape(-1, H * D)
    result, out = _fresh((tokens.count, H, D))
    _loops().move_rows(out, np.asarray(y), tokens.slots, False)
    return result().reshape(-1, H * D)


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


def rope(x: mx.array, tables: tuple[np.ndarray, np.ndarray], tokens) -> mx.array:
    """(T, H, D) rows of the real tokens -> (B, H, L, D), each rotated by its position; the move
    into the padded, heads-first layout happens in the same pass (MLX would scatter, transpose and
    rotate in three)."""
    T, H, D = x.shape
    result, out = _fresh((tokens.batch, H, tokens.length, D))
    _loops().rope(np.asarray(x), tokens.slots, tables[0], tables[1], out)
    return result()

"""What every architecture shares: config reading, RoPE set-up, masks and attention dispatch."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from ..errors import ModelFormatError
from . import kernels

# Above this many bytes for one attention score matrix, attention runs in query blocks: the CPU
# kernel materialises the whole (B, H, L, L) matrix, which for a 32K input would be tens of GB.
SCORE_BYTES_LIMIT = 256 * 1024 * 1024
# From this many queries on, causal attention on the CPU runs as two query halves (Qwen3-0.6B shape,
# 32 texts: attention 3.06 s -> 2.73 s in bench/profile_encoder.py); shorter inputs keep one product.
CAUSAL_SPLIT = 64


@dataclasses.dataclass
class BaseArgs:
    @classmethod
    def from_config(cls, config: dict[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [f.name for f in dataclasses.fields(cls)
                   if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                   and f.name not in config]
        if missing:
            raise ModelFormatError(f"config.json lacks {', '.join(missing)}, which this architecture needs.")
        return cls(**{k: v for k, v in config.items() if k in names})


def rope_settings(config: dict[str, Any], head_dim: int) -> dict[str, Any]:
    """Keyword arguments for `mx.fast.rope` from a config (transformers 4 or 5 layout).

    transformers 5 nests theta and scaling under `rope_parameters`; older configs keep `rope_theta`
    and `rope_scaling` at the top.
    """
    params = dict(config.get("rope_parameters") or {})
    scaling = config.get("rope_scaling") or {k: v for k, v in params.items() if k != "rope_theta"}
    theta = config.get("rope_theta", params.get("rope_theta"))
    if theta is None:
        theta = 10000.0
    kind = (scaling or {}).get("rope_type", (scaling or {}).get("type", "default"))
    if kind == "default":
        return {"base": float(theta), "scale": 1.0, "freqs": None}
    if kind == "linear":
        return {"base": float(theta), "scale": 1.0 / float(scaling["factor"]), "freqs": None}
    if kind == "llama3":
        return {"base": None, "scale": 1.0, "freqs": _llama3_freqs(float(theta), head_dim, scaling)}
    raise ModelFormatError(
        f"config.json asks for RoPE scaling '{kind}', which mlx-embed does not implement "
        "(supported: default, linear, llama3)."
    )


def _llama3_freqs(theta: float, dims: int, scaling: dict[str, Any]) -> mx.array:
    factor = float(scaling["factor"])
    low = float(scaling.get("low_freq_factor", 1.0))
    high = float(scaling.get("high_freq_factor", 4.0))
    old_context = float(scaling.get("original_max_position_embeddings", 8192))
    freqs = theta ** (mx.arange(0, dims, 2, dtype=mx.float32) / dims)
    wavelens = 2 * math.pi * freqs
    freqs = mx.where(wavelens > old_context / low, freqs * factor, freqs)
    is_medium = (wavelens > old_context / high) & (wavelens < old_context / low)
    smooth = (old_context / wavelens - low) / (high - low)
    smoothed = freqs / ((1 - smooth) / factor + smooth)
    return mx.where(is_medium, smoothed, freqs)


class Packing:
    """Where the real tokens of a right-padded (B, L) batch sit. Every per-token layer (linear
    layers, norms, the MLP) runs on their T rows only, no pad row computed; attention alone sees the
    padded (B, H, L, D) layout, which `kernels.to_heads` / `from_heads` and RoPE move the rows into
    and out of."""

    def __init__(self, lengths: mx.array, length: int):
        n = np.asarray(lengths).astype(np.int64)
        self.batch, self.length, self.count = len(n), length, int(n.sum())
        text = np.repeat(np.arange(len(n)), n)
        position = np.arange(self.count) - np.repeat(np.cumsum(n) - n, n)
        self.slots = np.stack([text, position], axis=1)  # (T, 2): each row's (text, position)
        self.positions = mx.array(position.astype(np.int32))
        self._rows = None if self.count == len(n) * length else mx.array((text * length + position).astype(np.int32))

    def pack(self, x: mx.array) -> mx.array:
        """(B, L, ...) -> (T, ...), the real tokens' entries in order."""
        flat = x.reshape(self.batch * self.length, *x.shape[2:])
        return flat if self._rows is None else flat[self._rows]

    def unpack(self, x: mx.array) -> mx.array:
        """(T, ...) -> (B, L, ...), zeros at the pads."""
        if self._rows is not None:
            padded = mx.zeros((self.batch * self.length, *x.shape[1:]), dtype=x.dtype)
            padded[self._rows] = x
            x = padded
        return x.reshape(self.batch, self.length, *x.shape[1:])


class RoPE(nn.Module):
    """Rotary position embedding of (T, H, D) token rows, returned in the padded heads-first layout
    attention reads: (B, H, L, D)."""

    def __init__(self, dims: int, base: float | None, scale: float, freqs: mx.array | None):
        super().__init__()
        self.dims, self.base, self.scale = dims, base, scale
        self._freqs = freqs
        self._tables: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, x: mx.array, tokens: Packing) -> mx.array:
        if kernels.cpu_loops() and x.dtype == mx.float32 and x.shape[-1] == self.dims:
            L = tokens.length
            if self._tables is None or self._tables[0].shape[0] < L:
                self._tables = kernels.rope_tables(1 << max(7, (L - 1).bit_length()), self.dims, self.base,
                                                   self.scale, self._freqs)
            return kernels.rope(x, self._tables, tokens)
        return mx.fast.rope(tokens.unpack(x).transpose(0, 2, 1, 3), self.dims, traditional=False, base=self.base,
                            scale=self.scale, offset=0, freqs=self._freqs)


class TokenEmbedding(nn.Embedding):
    """A lookup table (token, position or token-type rows): nn.Embedding (same parameters and
    checkpoint keys) whose table may stay in the half precision it was stored in.

    A lookup table does no arithmetic, so a bfloat16/float16 table read as float32 rows gives exactly
    the values a float32 copy would, at half the memory (jina-v5-small's 151669-token table: 311 MB
    saved). `encoder.weights.build_network` sets `rows_dtype` when it keeps a table so; None means the rows
    come out in the table's own dtype."""

    rows_dtype: mx.Dtype | None = None

    def __call__(self, x: mx.array) -> mx.array:
        rows = self.weight[x]
        return rows if self.rows_dtype is None else rows.astype(self.rows_dtype)

    def widen(self) -> None:
        """Store the table in `rows_dtype` itself, for code that computes on the whole table
        (quantizing it), not only on looked-up rows."""
        if self.rows_dtype is not None:
            self.weight = self.weight.astype(self.rows_dtype)
            object.__setattr__(self, "rows_dtype", None)


def widen_tables(network: nn.Module) -> None:
    """Every TokenEmbedding of `network` stored in its rows' dtype (`TokenEmbedding.widen`)."""
    for module in network.modules():
        if isinstance(module, TokenEmbedding):
            module.widen()


class RMSNorm(nn.RMSNorm):
    """nn.RMSNorm (same parameters), computed by `kernels.rms_norm`; reuse=True lets it write over
    x, a temporary the caller hands over."""

    def __call__(self, x: mx.array, reuse: bool = False) -> mx.array:
        return kernels.rms_norm(x, self["weight"], self.eps, reuse)


class LayerNorm(nn.LayerNorm):
    """nn.LayerNorm (same parameters) of x, or of x + residual in one step (`kernels.layer_norm`);
    reuse=True lets it write over x, a temporary the caller hands over."""

    def __call__(self, x: mx.array, residual: mx.array | None = None, reuse: bool = False) -> mx.array:
        return kernels.layer_norm(x, self.get("weight"), self.get("bias"), self.eps, residual, reuse)


def key_padding_mask(lengths: mx.array, length: int) -> mx.array:
    """(B, 1, 1, L) boolean mask, True where a key is a real token."""
    return (mx.arange(length)[None, :] < lengths[:, None])[:, None, None, :]


def attention(q: mx.array, k: mx.array, v: mx.array, *, scale: float, causal: bool,
              key_mask: mx.array | None = None) -> mx.array:
    """Scaled dot-product attention over (B, H, L, D) inputs, bounded in memory for long inputs.

    Masks are boolean, never additive -inf: a fully masked row would turn into NaN and poison the
    batch through 0 x NaN. With right padding, a causal mask alone already keeps real tokens away
    from the pads, so causal models need no key mask.
    """
    B, H, L, _ = q.shape
    # Any GPU's fused kernel (Metal; cuDNN on CUDA, half precision only) never materialises the scores.
    fused = mx.default_device().type == mx.DeviceType.gpu and key_mask is None and q.dtype != mx.float32
    sdpa = _sdpa_cpu_loops if kernels.cpu_loops() and q.dtype == mx.float32 else _sdpa
    fits = B * H * L * L * 4 <= SCORE_BYTES_LIMIT
    if fits and causal and sdpa is _sdpa_cpu_loops and L >= CAUSAL_SPLIT:
        # The first half of the queries never sees the second half of the keys: run the halves
        # apart and a quarter of the score products, softmax and value products is never done.
        half = L // 2
        return mx.concatenate([sdpa(q, k, v, scale, causal, key_mask, 0, half),
                               sdpa(q, k, v, scale, causal, key_mask, half, L)], axis=2)
    if fits or fused:
        return sdpa(q, k, v, scale, causal, key_mask, 0, L)
    block = max(16, SCORE_BYTES_LIMIT // (B * H * L * 4))
    outputs = []
    for start in range(0, L, block):
        out = sdpa(q, k, v, scale, causal, key_mask, start, min(L, start + block))
        mx.eval(out)  # bound the live score matrices to one block
        outputs.append(out)
    return mx.concatenate(outputs, axis=2)


def _sdpa(q, k, v, scale, causal, key_mask, start, stop):
    """MLX's kernel for queries start:stop (keys beyond `stop` are never seen by a causal query)."""
    L = q.shape[2]
    keys = stop if causal else k.shape[2]
    if start == 0 and stop == L:
        mask = "causal" if causal and key_mask is None else _combine(causal, key_mask, 0, L, L)
    else:
        mask = _combine(causal, key_mask, start, stop, keys)
    return mx.fast.scaled_dot_product_attention(
        q[:, :, start:stop], k[:, :, :keys], v[:, :, :keys], scale=scale, mask=mask)


def _sdpa_cpu_loops(q, k, v, scale, causal, key_mask, start, stop):
    """The same attention with the softmax in `kernels` (MLX's CPU exp is slow; its GEMMs are not).

    The query heads that share a key/value head are stacked along the rows, so each (batch, group)
    is one matrix product against its keys, not `n_rep` small ones. Scale and mask are applied in
    the softmax's own pass.
    """
    B, H, _, D = q.shape
    n_kv = k.shape[1]
    rep, rows = H // n_kv, stop - start
    keys = stop if causal else k.shape[2]
    qg = q[:, :, start:stop].reshape(B, n_kv, rep * rows, D)
    scores = (qg @ k[:, :, :keys].swapaxes(-1, -2)).reshape(B, H, rows, keys)
    weights = kernels.attention_weights(scores, scale, _bias(causal, key_mask, start, stop, keys))
    return (weights.reshape(B, n_kv, rep * rows, keys) @ v[:, :, :keys]).reshape(B, H, rows, D)


def _bias(causal: bool, key_mask: mx.array | None, start: int, stop: int, keys: int) -> np.ndarray | None:
    """`_combine`'s mask as a NumPy (B or 1, rows or 1, keys) float32 array of 0 and -inf."""
    mask = _combine(causal, key_mask, start, stop, keys)
    if mask is None:
        return None
    allowed = np.asarray(mask).reshape(-1, mask.shape[-2], keys)
    return np.where(allowed, np.float32(0), np.float32(-np.inf)).astype(np.float32)


def _combine(causal: bool, key_mask: mx.array | None, start: int, stop: int, keys: int) -> mx.array | None:
    mask = None
    if causal:
        mask = mx.arange(start, stop)[:, None] >= mx.arange(keys)[None, :]
    if key_mask is not None:
        km = key_mask[..., :keys]
        mask = km if mask is None else mask & km
    return mask

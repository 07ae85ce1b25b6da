"""What every architecture shares: config reading, RoPE set-up, masks and attention dispatch."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from ..errors import ModelFormatError

# Above this many bytes for one attention score matrix, attention runs in query blocks: the CPU
# kernel materialises the whole (B, H, L, L) matrix, which for a 32K input would be tens of GB.
SCORE_BYTES_LIMIT = 256 * 1024 * 1024


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


class RoPE(nn.Module):
    def __init__(self, dims: int, base: float | None, scale: float, freqs: mx.array | None):
        super().__init__()
        self.dims, self.base, self.scale = dims, base, scale
        self._freqs = freqs

    def __call__(self, x: mx.array) -> mx.array:
        return mx.fast.rope(x, self.dims, traditional=False, base=self.base, scale=self.scale,
                            offset=0, freqs=self._freqs)


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
    if B * H * L * L * 4 <= SCORE_BYTES_LIMIT or mx.default_device() == mx.gpu and key_mask is None:
        mask = "causal" if causal and key_mask is None else _combine(causal, key_mask, 0, L, L)
        return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)
    block = max(16, SCORE_BYTES_LIMIT // (B * H * L * 4))
    outputs = []
    for start in range(0, L, block):
        stop = min(L, start + block)
        keys_end = stop if causal else L
        mask = _combine(causal, key_mask, start, stop, keys_end)
        out = mx.fast.scaled_dot_product_attention(
            q[:, :, start:stop], k[:, :, :keys_end], v[:, :, :keys_end], scale=scale, mask=mask)
        mx.eval(out)  # bound the live score matrices to one block
        outputs.append(out)
    return mx.concatenate(outputs, axis=2)


def _combine(causal: bool, key_mask: mx.array | None, start: int, stop: int, keys: int) -> mx.array | None:
    mask = None
    if causal:
        mask = mx.arange(start, stop)[:, None] >= mx.arange(keys)[None, :]
    if key_mask is not None:
        km = key_mask[..., :keys]
        mask = km if mask is None else mask & km
    return mask

"""From token states to one vector per text: last-token, mean or CLS pooling (`pool`).

Then `precision` makes the requested output (sentence-transformers' order: pool, truncate, normalise,
output precision)."""

from __future__ import annotations

import mlx.core as mx

from ..errors import InvalidArgumentError

POOLING_MODES = ("lasttoken", "mean", "cls")


def pool(hidden: mx.array, lengths: mx.array, mode: str) -> mx.array:
    """(B, L, D) states of right-padded sequences -> (B, D) float32."""
    hidden = hidden.astype(mx.float32)
    if mode == "lasttoken":
        # The last real token, found from the lengths (never by token id: Qwen pads with the EOS id).
        index = (lengths - 1)[:, None, None]
        return mx.take_along_axis(hidden, index, axis=1)[:, 0]
    if mode == "cls":
        return hidden[:, 0]
    if mode == "mean":
        mask = (mx.arange(hidden.shape[1])[None, :] < lengths[:, None]).astype(mx.float32)
        summed = (hidden * mask[..., None]).sum(axis=1)
        return summed / mx.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
    raise InvalidArgumentError(f"Unknown pooling mode {mode!r}; supported: {', '.join(POOLING_MODES)}.")

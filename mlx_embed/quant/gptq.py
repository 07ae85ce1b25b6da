"""GPTQ (Frantar et al. 2022) for `convert`'s linear layers: round one input column at a time, push its
error onto the columns not yet rounded, weighted by the inverse Hessian of the layer's calibration
inputs (`input_hessians` records X^T X of each layer's inputs on calibration texts)."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ..encoder.lora import replace_module
from ..encoder.quantized_checkpoint import pack


class _Recorder(nn.Module):
    """Runs a linear layer and adds its inputs' X^T X to a running sum."""

    def __init__(self, linear: nn.Module):
        super().__init__()
        self.linear = linear
        object.__setattr__(self, "xtx", None)

    def __call__(self, x: mx.array) -> mx.array:
        flat = x.reshape(-1, x.shape[-1]).astype(mx.float32)
        xtx = flat.T @ flat
        object.__setattr__(self, "xtx", xtx if self.xtx is None else self.xtx + xtx)
        return self.linear(x)


def input_hessians(model, paths: list[str], texts: list[str], max_length: int = 256) -> dict[str, "np.ndarray"]:
    """X^T X of each linear layer's inputs over `texts` (one text per pass: no padding rows)."""
    import numpy as np

    network = model.network
    recorders = {p: _Recorder(m) for p, m in network.named_modules() if p in set(paths)}
    for path, recorder in recorders.items():
        replace_module(network, path, recorder)
    try:
        for ids in model.tokenizer.encode(texts, min(max_length, model.max_length)):
            hidden = network(mx.array([ids], dtype=mx.int32), mx.array([len(ids)]))
            mx.eval(hidden, [r.xtx for r in recorders.values()])
    finally:
        for path, recorder in recorders.items():
            replace_module(network, path, recorder.linear)
    return {p: np.array(r.xtx, dtype=np.float64) for p, r in recorders.items()}


def gptq_quantize(weight: mx.array, hessian, group_size: int, bits: int, block: int = 128, damp: float = 0.01):
    """(packed uint32 weight, scales, biases) in MLX's affine layout, integers chosen by GPTQ.

    Columns are rounded in order of falling Hessian diagonal ("act-order": the input channels with the
    largest activations first, so the error of rounding them is pushed onto channels that matter less),
    on grids fixed beforehand from each group's original range ("static groups": a group's columns are
    no longer contiguous in that order). On all-MiniLM-L6-v2's default mixed plan, against contiguous
    order with grids from the columns as updated: cosine to float32 mean / min 0.99202 / 0.9751 ->
    0.99232 / 0.9815 (docstring retrieval set and 300 held-out paragraphs); the lowest rose on both
    retrieval sets measured, the mean by 0.0002-0.0003.
    """
    import numpy as np

    w = np.array(weight.astype(mx.float32), dtype=np.float32)
    rows, cols = w.shape
    top = 2 ** bits - 1
    h = hessian.copy()
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h += damp * np.mean(np.diag(h)) * np.eye(cols)
    grouped = w.reshape(rows, cols // group_size, group_size)
    lows = np.minimum(grouped.min(-1), 0.0)
    scales = np.maximum((np.maximum(grouped.max(-1), 0.0) - lows) / top, 1e-8)
    order = np.argsort(-np.diag(h), kind="stable")
    w, h = w[:, order], h[np.ix_(order, order)]
    try:
        hinv = np.linalg.cholesky(np.linalg.inv(h)).T.astype(np.float32)  # upper Cholesky factor of H^-1
    except np.linalg.LinAlgError:
        hinv = None
    q = np.zeros((rows, cols), dtype=np.uint32)
    for start in range(0, cols, block):
        end = min(start + block, cols)
        part = w[:, start:end].copy()
        errors = np.zeros_like(part)
        for i in range(end - start):
            col = start + i
            group = order[col] // group_size
            lo, scale = lows[:, group], scales[:, group]
            ints = np.clip(np.round((part[:, i] - lo) / scale), 0, top)
            q[:, order[col]] = ints
            if hinv is None:
                continue
            err = (part[:, i] - (ints * scale + lo)) / hinv[col, col]
            part[:, i:] -= np.outer(err, hinv[col, col:end])
            errors[:, i] = err
        if hinv is not None:
            w[:, end:] -= errors @ hinv[start:end, end:]
    return mx.array(pack(q, bits)), mx.array(scales), mx.array(lows)

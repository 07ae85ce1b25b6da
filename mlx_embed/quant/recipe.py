"""Quantization recipes: which bits and group size each layer gets (`mlx-embed convert --recipe`).

A recipe turns (network, bits, group_size) into a plan: module path -> {"bits", "group_size", "mode"}
for the layers to quantize. `convert` writes the plan as mlx-lm does: the most common setting is the
global `quantization` entry of config.json and every other layer gets a per-layer override, so any
mlx-lm-style loader rebuilds the same layers.

- "uniform": every linear and embedding layer at `bits` / `group_size` (plain round-to-nearest
  unless calibrated).
- "mixed" (the default at 4 bits): a greedy bit allocation, llama.cpp K-quant style but per tensor
  and exact. Every tensor may take any affine setting of 3, 4, 5, 6 or 8 bits with group 64 or 128
  (32 where 64 does not fit); its predicted cost to the output is `sensitivity x relative round-off
  error`, the error measured on the tensor's own weights for each setting. Starting from the
  cheapest setting everywhere, the change that removes the most predicted loss per extra stored bit
  is taken until the average reaches the budget (4.5 bits per weight by default, scales and biases
  included). Linear layers' sensitivities come from their role and depth (measured on
  all-MiniLM-L6-v2: cosine loss on /usr/share/doc text with only that tensor quantized, divided by
  its relative error); the token table's is measured on the model being converted (`table_gain`),
  because it is the one that differs most between models (MiniLM's 3-bit table costs 0.005 cosine,
  the random jina-v5-small shape's 0.10). On MiniLM the table gets 3 bits and the linear layers 5
  to 8; on the jina-v5-small shape the table gets 4. Linear layers are GPTQ-calibrated by default,
  tables get a data-free clip search (`clip_search.clip_search_quantize`).

Roles come from the module names every architecture we load uses (Qwen3/EuroBERT `q_proj` ...
`down_proj`, BERT `query` ... `output.dense`), so one rule set covers them all.
"""

from __future__ import annotations

import re
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from ..encoder.pooling import pool
from ..errors import InvalidArgumentError
from ..encoder.quantized_checkpoint import setting_bits

RECIPES = {"uniform": "every linear and embedding layer at --bits / --group-size",
           "mixed": "3 to 8 bits per tensor, allocated greedily by measured sensitivity within a 4.5 "
                    "bits-per-weight budget; GPTQ-calibrated"}
DEFAULT_BUDGET = 4.5
MIXED_BITS = (3, 4, 5, 6, 8)
MIXED_GROUPS = (32, 64, 128)
# 3 bits only for token tables: a linear layer's sensitivity comes from the role table, not from the
# model, and where it is underestimated 3 bits cost much (the random jina-v5-small shape: cosine 0.85
# with 3-bit query/key/MLP layers against 0.90 for plain 4-bit); on MiniLM no linear layer goes below 5.
LINEAR_MIN_BITS = 4
# Output-cosine loss per unit of relative squared round-off error (|dW|^2 / |W|^2), by role; x is
# the block's depth, (index + 1) / blocks. Measured on all-MiniLM-L6-v2 with each tensor alone at
# nvfp4: MLP input 0.13-0.23 at every depth; MLP output 0.07 rising to 0.19 in the last block;
# value and attention output 0.02 rising to 0.37 / 0.33 in the last block; query/key 0.006-0.04;
# token table 0.165, position 0.022, token type 0.10 (tiny, so it gets 8 bits for almost nothing).
# The token table's is measured per model by `table_gain`; EMBED_GAIN is the fallback without texts
# (MiniLM's measured mean loss times TABLE_SAFETY, rounded: 0.3 measured its lowest cosine best).
SENSITIVITY = {"embed": lambda x: EMBED_GAIN, "embed_aux": lambda x: 0.1, "mlp_in": lambda x: 0.17,
               "mlp_out": lambda x: 0.07 + 0.12 * x ** 2, "attn_v": lambda x: 0.02 + 0.35 * x ** 4,
               "attn_o": lambda x: 0.02 + 0.3 * x ** 8, "attn_qk": lambda x: 0.017, "other": lambda x: 0.1}
_PATTERNS = (("embed_aux", r"(^|\.)(position_embeddings|token_type_embeddings)$"),
             ("embed", r"(^|\.)(embed_tokens|word_embeddings|tok_embeddings|wte)$"),
             ("attn_v", r"(^|\.)(v_proj|value)$"),
             ("attn_o", r"(\.o_proj|attention\.output\.dense)$"),
             ("attn_qk", r"(^|\.)(q_proj|k_proj|query|key)$"),
             ("mlp_in", r"(\.gate_proj|\.up_proj|intermediate\.dense)$"),
             ("mlp_out", r"(\.down_proj|\.output\.dense)$"))
EMBED_GAIN = 0.3
SAMPLE_ROWS = 256  # rows per tensor the relative error is measured on (all rows of smaller tensors)


def role(path: str) -> str:
    """What a layer does, from its module path ("other" when no pattern fits)."""
    return next((name for name, pattern in _PATTERNS if re.search(pattern, path)), "other")


def layer_index(path: str) -> int | None:
    """The transformer block a module belongs to (the first integer in its path)."""
    match = re.search(r"\.(\d+)\.", f".{path}.")
    return int(match.group(1)) if match else None


def stored_bits(shape: tuple[int, ...], setting: dict[str, Any] | None, float_bits: int = 16) -> float:
    """Bits stored for one weight tensor: packed integers plus scales (and biases) per group."""
    count = 1
    for n in shape:
        count *= n
    if setting is None:
        return float(count * float_bits)
    return count * setting_bits(setting)


def bits_per_weight(shapes: dict[str, tuple[int, ...]], plan: dict[str, dict[str, Any]], float_bits: int = 16) -> float:
    """Average bits per weight over all linear and embedding weights (float ones count `float_bits`)."""
    total = sum(stored_bits(s, None, 1) for s in shapes.values())
    return sum(stored_bits(s, plan.get(p), float_bits) for p, s in shapes.items()) / total


def candidate_shapes(network: nn.Module) -> dict[str, tuple[int, ...]]:
    """Shapes of every linear and embedding weight (the tensors bits-per-weight is averaged over)."""
    return {p: tuple(m.weight.shape) for p, m in network.named_modules()
            if hasattr(m, "to_quantized") and "weight" in m}


def _setting(bits: int, group_size: int) -> dict[str, Any]:
    return {"group_size": group_size, "bits": bits, "mode": "affine"}


def relative_error(weight: mx.array, bits: int, group_size: int, rows: int = SAMPLE_ROWS) -> float:
    """|W - round(W)|^2 / |W|^2 for round-to-nearest at this setting, on up to `rows` evenly spaced rows."""
    if weight.shape[0] > rows:
        weight = weight[mx.linspace(0, weight.shape[0] - 1, rows).astype(mx.int32)]
    w = weight.astype(mx.float32)
    back = mx.dequantize(*mx.quantize(w, group_size=group_size, bits=bits), group_size=group_size, bits=bits)
    return float(mx.sum((back - w) ** 2) / mx.maximum(mx.sum(w * w), 1e-30))


def sensitivity(path: str, depth: int) -> float:
    """Predicted output-cosine loss per unit of relative squared error for the tensor at `path`."""
    i = layer_index(path)
    return SENSITIVITY[role(path)](1.0 if i is None else (i + 1) / depth)


def allocate(shapes: dict[str, tuple[int, ...]], losses: dict[str, dict[tuple[int, int], float]],
             budget: float) -> dict[str, dict[str, Any]]:
    """The greedy allocation: cheapest setting everywhere, then, while the average stays within
    `budget` bits per weight, the single change (any tensor, to any costlier setting) that removes
    the most predicted loss per extra stored bit.

    losses: path -> {(bits, group_size): predicted loss}; paths missing from it stay float. Every
    costlier setting is a candidate, not only the next one on a tensor's convex hull, so a table too
    big for its best next step can still take a smaller one with the bits that are left.
    """
    total = sum(stored_bits(s, None, 1) for s in shapes.values())
    limit = budget * total + 1e-6
    size = {p: stored_bits(shapes[p], None, 1) for p in losses}
    cost = {p: {k: setting_bits(_setting(*k)) * size[p] for k in options} for p, options in losses.items()}
    choice = {p: min(options, key=lambda k: (cost[p][k], options[k])) for p, options in losses.items()}
    spent = sum(stored_bits(s, None, 16) for p, s in shapes.items() if p not in losses)
    spent += sum(cost[p][k] for p, k in choice.items())
    if spent > limit:
        raise InvalidArgumentError(f"--max-bpw {budget} is below what the mixed recipe needs here "
                                   f"({spent / total:.2f} bits per weight at its coarsest).")
    while True:
        best = None
        for path, options in losses.items():
            now = choice[path]
            for key, loss in options.items():
                extra, gain = cost[path][key] - cost[path][now], options[now] - loss
                if extra > 0 and gain > 0 and spent + extra <= limit and (best is None or gain / extra > best[0]):
                    best = (gain / extra, path, key, extra)
        if best is None:
            break
        _, path, key, extra = best
        choice[path], spent = key, spent + extra
    return {p: _setting(*k) for p, k in choice.items()}


TABLE_SAFETY = 2.0  # the lowest cosines lose about twice the mean (MiniLM, 3-bit table)


def table_gain(network: nn.Module, path: str, batches: list[mx.array]) -> float:
    """The token table's measured sensitivity: mean cosine loss of the mean-pooled last hidden states
    on `batches` (token ids, one text each) with only this table at 3 bits, per unit of its relative
    error, times TABLE_SAFETY. Role tables cannot know it: on all-MiniLM-L6-v2 (post-norm) a 3-bit
    table costs 0.005 cosine, on the random jina-v5-small shape (pre-norm) 0.10."""
    module = dict(network.named_modules())[path]
    weight = module.weight
    groups = [g for g in (64, 128, 32) if weight.shape[-1] % g == 0]
    if not groups or not batches:
        return sensitivity(path, 1)
    g = groups[0]

    def pooled() -> mx.array:
        lengths = [mx.array([ids.shape[1]]) for ids in batches]
        vectors = mx.concatenate([pool(network(ids, n), n, "mean") for ids, n in zip(batches, lengths)])
        return vectors / mx.linalg.norm(vectors, axis=-1, keepdims=True)

    reference = pooled()
    module.weight = mx.dequantize(*mx.quantize(weight, group_size=g, bits=3), group_size=g, bits=3)
    try:
        loss = float(1 - mx.mean(mx.sum(pooled() * reference, axis=-1)))
    finally:
        module.weight = weight
    return TABLE_SAFETY * max(loss, 0.0) / max(relative_error(weight, 3, g), 1e-12)


def plan(network: nn.Module, recipe: str, bits: int, group_size: int, budget: float = DEFAULT_BUDGET,
         gains: dict[str, float] | None = None) -> dict[str, dict[str, Any]]:
    """Module path -> quantization setting for the layers to quantize under `recipe`.

    gains: measured sensitivities that replace the role table's for those paths (`convert` measures
    the token table's on the calibration texts: `table_gain`).
    """
    if recipe not in RECIPES:
        raise InvalidArgumentError(f"Unknown recipe {recipe!r}; use one of: {', '.join(RECIPES)}.")
    shapes = candidate_shapes(network)
    if recipe == "uniform":
        return {p: _setting(bits, group_size) for p, s in shapes.items() if s[-1] % group_size == 0}
    if bits != 4:
        raise InvalidArgumentError(f"The 'mixed' recipe is a 4-bit recipe; use --bits 4 or --recipe uniform "
                                   f"for {bits} bits.")
    if not 3.6 <= budget <= 8.5:
        raise InvalidArgumentError(f"--max-bpw {budget} is out of range; the mixed recipe spends 3.6 to 8.5 bits "
                                   "per weight (4.5 is the default).")
    modules = dict(network.named_modules())
    depth = 1 + max((layer_index(p) or 0) for p in shapes)
    losses = {}
    for path, shape in shapes.items():
        weight = modules[path].weight
        gain = (gains or {}).get(path, sensitivity(path, depth))
        groups = [g for g in MIXED_GROUPS if shape[-1] % g == 0]
        groups = [g for g in groups if g >= 64] or groups  # group 32 only where 64 does not fit
        widths = MIXED_BITS if role(path) == "embed" else [b for b in MIXED_BITS if b >= LINEAR_MIN_BITS]
        options = {(b, g): gain * relative_error(weight, b, g) for b in widths for g in groups
                   if (shape[-1] * b) % 32 == 0}
        if options:
            losses[path] = options
    return allocate(shapes, losses, budget)


def config_entry(layers: dict[str, dict[str, Any]], shapes: dict[str, tuple[int, ...]]) -> dict[str, Any]:
    """config.json's `quantization`: the most common setting, overrides for the rest, false for float."""
    if not layers:
        raise InvalidArgumentError("No linear or embedding layer fits the group size; try --group-size 32.")
    counts: dict[tuple, int] = {}
    for s in layers.values():
        key = (s["group_size"], s["bits"], s["mode"])
        counts[key] = counts.get(key, 0) + 1
    group_size, bits, mode = max(counts, key=lambda k: (counts[k], -k[1]))
    entry: dict[str, Any] = {"group_size": group_size, "bits": bits, "mode": mode}
    for path in sorted(shapes):
        s = layers.get(path)
        if s is None:
            entry[path] = False
        elif (s["group_size"], s["bits"], s["mode"]) != (group_size, bits, mode):
            entry[path] = dict(s)
    return entry

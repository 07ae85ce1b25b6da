"""Quantization recipes: which bits and group size each layer gets (`mlx-embed convert --recipe`).

A recipe turns (network, bits, group_size) into a plan: module path -> {"bits", "group_size", "mode"}
for the layers to quantize. `convert` writes the plan as mlx-lm does: the most common setting is the
global `quantization` entry of config.json and every other layer gets a per-layer override, so any
mlx-lm-style loader rebuilds the same layers.

- "uniform": every linear and embedding layer at `bits` / `group_size` (plain round-to-nearest
  unless calibrated).
- "mixed" (the default at 4 bits): llama.cpp K-quant-style mixed precision, chosen by measuring
  per-tensor sensitivity on all-MiniLM-L6-v2 (bench/convert.py): query/key projections and the token
  embeddings barely move the output, so they take the coarser 4-bit group-128 grid (4.25 bits per
  weight); the bits saved go to the tensors that matter most (attention values and output, the MLP,
  deepest blocks first, then the first block) at 6 bits, greedily until the average reaches the
  budget (4.5 bits per weight by default). It is calibrated with GPTQ by default.

Roles come from the module names every architecture we load uses (Qwen3/EuroBERT `q_proj` ...
`down_proj`, BERT `query` ... `output.dense`), so one rule set covers them all.
"""

from __future__ import annotations

import re
from typing import Any

import mlx.nn as nn

from .errors import InvalidArgumentError

RECIPES = {"uniform": "every linear and embedding layer at --bits / --group-size",
           "mixed": "4-bit base, 4-bit group-128 for query/key/embeddings, 6 bits for the most sensitive "
                    "tensors within a 4.5 bits-per-weight budget; GPTQ-calibrated"}
DEFAULT_BUDGET = 4.5
HIGH_BITS = 6
# Role -> how much its error moves the final embedding. Measured on all-MiniLM-L6-v2 (cosine loss on
# /usr/share/doc text with only that tensor at 4-bit g64, layers 3-5): value 0.0014-0.0050, MLP in
# 0.0020-0.0040, attention output 0.0003-0.0027, MLP out 0.0006-0.0021, query/key <= 0.0004; all
# embeddings 0.004 for half the weights. The loss grows with depth; the first block follows llama.cpp.
ROLE_WEIGHT = {"attn_v": 3.0, "mlp_in": 2.5, "attn_o": 2.0, "mlp_out": 1.5, "attn_qk": 0.2, "embed": 0.0}
COARSE_ROLES = ("attn_qk", "embed")  # cheap to get wrong: they fund the upgrades
_PATTERNS = (("embed", r"(^|\.)(embed_tokens|word_embeddings|position_embeddings|token_type_embeddings)$"),
             ("attn_v", r"(^|\.)(v_proj|value)$"),
             ("attn_o", r"(\.o_proj|attention\.output\.dense)$"),
             ("attn_qk", r"(^|\.)(q_proj|k_proj|query|key)$"),
             ("mlp_in", r"(\.gate_proj|\.up_proj|intermediate\.dense)$"),
             ("mlp_out", r"(\.down_proj|\.output\.dense)$"))


def role(path: str) -> str:
    """What a layer does, from its module path ("other" when no pattern fits)."""
    return next((name for name, pattern in _PATTERNS if re.search(pattern, path)), "other")


def layer_index(path: str) -> int | None:
    """The transformer block a module belongs to (the first integer in its path)."""
    match = re.search(r"\.(\d+)\.", f".{path}.")
    return int(match.group(1)) if match else None


def stored_bits(shape: tuple[int, ...], setting: dict[str, Any] | None, float_bits: int = 16) -> float:
    """Bits stored for one weight tensor: packed integers plus fp16 scale and bias per group."""
    count = 1
    for n in shape:
        count *= n
    if setting is None:
        return float(count * float_bits)
    return count * (setting["bits"] + 32 / setting["group_size"])


def bits_per_weight(shapes: dict[str, tuple[int, ...]], plan: dict[str, dict[str, Any]], float_bits: int = 16) -> float:
    """Average bits per weight over all linear and embedding weights (float ones count `float_bits`)."""
    total = sum(stored_bits(s, None, 1) for s in shapes.values())
    return sum(stored_bits(s, plan.get(p), float_bits) for p, s in shapes.items()) / total


def candidate_shapes(network: nn.Module) -> dict[str, tuple[int, ...]]:
    """Shapes of every linear and embedding weight (the tensors bits-per-weight is averaged over)."""
    return {p: tuple(m.weight.shape) for p, m in network.named_modules()
            if hasattr(m, "to_quantized") and "weight" in m}


def plan(network: nn.Module, recipe: str, bits: int, group_size: int,
         budget: float = DEFAULT_BUDGET) -> dict[str, dict[str, Any]]:
    """Module path -> quantization setting for the layers to quantize under `recipe`."""
    if recipe not in RECIPES:
        raise InvalidArgumentError(f"Unknown recipe {recipe!r}; use one of: {', '.join(RECIPES)}.")
    shapes = candidate_shapes(network)

    def setting(b: int, g: int) -> dict[str, Any]:
        return {"group_size": g, "bits": b, "mode": "affine"}

    def fits(shape: tuple[int, ...], g: int) -> bool:
        return shape[-1] % g == 0

    if recipe == "uniform":
        return {p: setting(bits, group_size) for p, s in shapes.items() if fits(s, group_size)}
    if bits != 4:
        raise InvalidArgumentError(f"The 'mixed' recipe is a 4-bit recipe; use --bits 4 or --recipe uniform "
                                   f"for {bits} bits.")
    if not 4.0 <= budget <= 8.0:
        raise InvalidArgumentError(f"--max-bpw {budget} is out of range; the mixed recipe spends 4.25 to 6.5 bits "
                                   "per weight (4.5 is the default).")
    out = {p: setting(4, group_size) for p, s in shapes.items() if fits(s, group_size)}
    for p in out:
        if role(p) in COARSE_ROLES and fits(shapes[p], 128):
            out[p] = setting(4, 128)
    depth = 1 + max((layer_index(p) or 0) for p in shapes)

    def priority(path: str) -> float:
        i = layer_index(path)
        # deepest blocks matter most (their error is not washed out by later norms), then the first
        position = 1.0 if i is None else max((i + 1) / depth, 1.0 if i == 0 else 0.0)
        return ROLE_WEIGHT.get(role(path), 1.0) * position

    upgrades = sorted((p for p in out if ROLE_WEIGHT.get(role(p), 1.0) > 0.5 and fits(shapes[p], 64)),
                      key=lambda p: (-priority(p), p))
    for path in upgrades:
        trial = {**out, path: setting(HIGH_BITS, 64)}
        if bits_per_weight(shapes, trial) <= budget + 1e-9:
            out = trial
    return out


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

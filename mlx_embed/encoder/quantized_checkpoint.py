"""MLX-format quantized checkpoints, as mlx-lm and mlx-community write them.

config.json carries a `quantization` entry: `{"group_size": 64, "bits": 4, "mode": "affine"}`, plus
optional per-layer overrides keyed by module path (`"layers.0.mlp.down_proj": {"bits": 8, ...}` or
`false`). A quantized layer is stored as `<path>.weight` (packed uint32), `<path>.scales` and, in
affine mode, `<path>.biases`. Layers with scales in the checkpoint are built as QuantizedLinear /
QuantizedEmbedding before the weights load; all others stay float. Every number is checked against
the shapes the model's config implies, so a wrong entry is refused instead of giving wrong vectors.
Also here: `quantize_on_load` (whether `load(quantize=N)` still quantizes), `describe` (for `info`),
`setting_bits` and `pack`, MLX's affine layout as `convert` writes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from ..errors import ModelFormatError

AFFINE_BITS = (2, 3, 4, 5, 6, 8)
GROUP_SIZES = (32, 64, 128)
# The float modes allow exactly one (bits, group_size) and store no biases.
FLOAT_MODES = {"mxfp4": (4, 32), "mxfp8": (8, 32), "nvfp4": (4, 16)}


def _fail(message: str) -> ModelFormatError:
    return ModelFormatError(f"{message} Re-convert the model (`mlx-embed convert`) or re-download it.")


def check_params(params: Any, where: str) -> dict[str, Any]:
    """Validate one quantization setting; `where` names the config key for the message."""
    if not isinstance(params, dict):
        raise ModelFormatError(f"{where} should be an object like {{\"group_size\": 64, \"bits\": 4}}, "
                               f"found {params!r}.")
    mode = params.get("mode", "affine")
    bits, group_size = params.get("bits"), params.get("group_size")
    if mode == "affine":
        if bits not in AFFINE_BITS or isinstance(bits, bool):
            raise ModelFormatError(f"{where}: bits={bits!r} is not supported; MLX affine quantization uses "
                                   f"{', '.join(map(str, AFFINE_BITS))} bits.")
        if group_size not in GROUP_SIZES or isinstance(group_size, bool):
            raise ModelFormatError(f"{where}: group_size={group_size!r} is not supported; use one of "
                                   f"{', '.join(map(str, GROUP_SIZES))}.")
    elif mode in FLOAT_MODES:
        if (bits, group_size) != FLOAT_MODES[mode]:
            raise ModelFormatError(f"{where}: mode {mode!r} needs bits={FLOAT_MODES[mode][0]} and "
                                   f"group_size={FLOAT_MODES[mode][1]}, found bits={bits!r}, "
                                   f"group_size={group_size!r}.")
    else:
        raise ModelFormatError(f"{where}: quantization mode {mode!r} is not supported; use affine, "
                               f"{', '.join(FLOAT_MODES)}.")
    return {"group_size": group_size, "bits": bits, "mode": mode}


def checkpoint_entry(config: dict[str, Any], config_path: Path) -> dict[str, Any] | None:
    """The validated global `quantization` entry of config.json, or None for a float checkpoint."""
    entry = config.get("quantization")
    if entry is None:
        other = config.get("quantization_config")
        if isinstance(other, dict) and other.get("quant_method"):
            raise ModelFormatError(
                f"{config_path}: the weights are quantized with {other['quant_method']!r} (quantization_config), "
                "which mlx-embed does not read. Use the float model, or an MLX-format checkpoint "
                "(`mlx-embed convert`).")
        return None
    return check_params(entry, f"{config_path}: 'quantization'")


def _override(entry: dict[str, Any], path: str) -> tuple[str | None, Any]:
    """The per-layer entry for module `path`: exact, or under a prefix such as mlx-lm's `model.`."""
    if path in entry:
        return path, entry[path]
    for key, value in entry.items():
        if key.endswith("." + path) and isinstance(value, (dict, bool)):
            return key, value
    return None, None


def weight_file(folder: Path, key: str) -> str:
    """Which file holds `key` (for messages): the index's entry, or the single safetensors file."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        import json

        try:
            weight_map = json.loads(index.read_text()).get("weight_map") or {}
        except (OSError, ValueError):
            weight_map = {}
        for name, file in weight_map.items():
            if name == key or name.endswith("." + key):
                return str(folder / file)
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    return str(files[0]) if len(files) == 1 else str(folder)


def apply(network: nn.Module, config: dict[str, Any], weights: dict[str, mx.array], folder: Path) -> int:
    """Turn the layers the checkpoint stores quantized into quantized layers; return how many.

    `weights` are the sanitised checkpoint tensors (keys equal the network's parameter paths).
    """
    config_path = folder / "config.json"
    entry = checkpoint_entry(config, config_path)
    raw = config.get("quantization") or {}
    scaled = {k.removesuffix(".scales") for k in weights if k.endswith(".scales")}
    if entry is None:
        packed = sorted(k for k, v in weights.items() if k.endswith(".weight") and v.dtype in (mx.uint32, mx.uint8))
        if scaled or packed:
            key = f"{sorted(scaled)[0]}.scales" if scaled else packed[0]
            raise _fail(f"'{key}' in {weight_file(folder, key)} is quantized, but {config_path} has no "
                                "'quantization' entry (group_size, bits), so the layers cannot be rebuilt.")
        return 0
    params: dict[str, dict[str, Any]] = {}
    for path, module in network.named_modules():
        if not hasattr(module, "to_quantized") or "weight" not in module:
            continue
        key, override = _override(raw, path)
        where = f"{config_path}: 'quantization.{key}'"
        if override is False:
            if path in scaled:
                raise _fail(f"{where} is false (not quantized), but {weight_file(folder, path + '.scales')} "
                                    f"holds '{path}.scales'.")
            continue
        if path not in scaled:
            stored = weights.get(f"{path}.weight")
            if isinstance(override, dict) or (stored is not None and stored.dtype in (mx.uint32, mx.uint8)):
                file = weight_file(folder, f"{path}.weight")
                raise _fail(f"'{path}.scales' is missing from {file}: '{path}.weight' is quantized "
                                    "but its scales are not stored. The checkpoint is incomplete.")
            continue
        layer = check_params({**entry, **override} if isinstance(override, dict) else entry,
                             where if key else f"{config_path}: 'quantization'")
        _check_shapes(path, module, layer, weights, folder, where if key else f"{config_path}'s 'quantization'")
        params[path] = layer
    stray = sorted(scaled - set(params))
    if stray:
        key = f"{stray[0]}.scales"
        raise _fail(f"'{key}' in {weight_file(folder, key)} belongs to no linear or embedding layer "
                            "of this model: the checkpoint and config.json disagree.")
    nn.quantize(network, class_predicate=lambda path, _: dict(params[path]) if path in params else False)
    return len(params)


def _check_shapes(path: str, module: nn.Module, p: dict[str, Any], weights: dict[str, mx.array], folder: Path,
                  where: str) -> None:
    out_dim, in_dim = module.weight.shape
    bits, group_size = p["bits"], p["group_size"]
    if in_dim % group_size or (in_dim * bits) % 32:
        raise _fail(f"{where}: group_size {group_size} / {bits} bits do not fit '{path}', whose input "
                            f"dimension is {in_dim}.")
    expected = {f"{path}.weight": (out_dim, in_dim * bits // 32), f"{path}.scales": (out_dim, in_dim // group_size)}
    if p["mode"] == "affine":
        expected[f"{path}.biases"] = expected[f"{path}.scales"]
    for key, shape in expected.items():
        if key not in weights:
            raise _fail(f"'{key}' is missing from {weight_file(folder, f'{path}.weight')}; "
                                f"{p['mode']} quantization stores weight, scales and biases.")
        if tuple(weights[key].shape) != shape:
            raise _fail(f"'{key}' in {weight_file(folder, key)} has shape {tuple(weights[key].shape)}, but "
                                f"{where} says bits={bits}, group_size={group_size}, which for this layer means "
                                f"{shape}. The quantization entry does not match the weights.")


def setting_bits(setting: dict[str, Any]) -> float:
    """Stored bits per weight of one setting: the integers plus fp16 scale (and bias, affine) per group;
    the float modes store an 8-bit scale per group and no bias."""
    extra = 8 if setting.get("mode", "affine") != "affine" else 32
    return setting["bits"] + extra / setting["group_size"]


def nominal_bits(config: dict[str, Any]) -> int | None:
    """The bits a checkpoint is known by: those it was converted for when mlx-embed wrote it, else its
    global `quantization` entry's. A mixed checkpoint's global entry is only its most common layer
    setting (5 bits for MiniLM's 4-bit recipe), not what its user asked for."""
    entry = config.get("quantization")
    return (config.get("mlx_embed") or {}).get("bits") or (entry.get("bits") if isinstance(entry, dict) else None)


def quantize_on_load(config: dict[str, Any], quantize: int | None, folder: Path) -> bool:
    """Whether `load(quantize=...)` should still quantize: not if the checkpoint already is."""
    entry = config.get("quantization")
    if not quantize or not isinstance(entry, dict):
        return bool(quantize)
    nominal = nominal_bits(config)
    if nominal != quantize:
        # A no-op, not an error: the app passes its quantize setting with whatever model is picked.
        import warnings

        widths = sorted({v["bits"] for v in entry.values() if isinstance(v, dict)} | {entry.get("bits")})
        stored = f"{nominal}-bit" + (f" mixed, {widths[0]} to {widths[-1]} bits per layer" if len(widths) > 1 else "")
        warnings.warn(f"{folder} is already quantized ({stored}), so quantize={quantize} is ignored and its own "
                      f"quantization is used. For {quantize} bits, convert the float model: mlx-embed convert "
                      f"FLOAT_MODEL OUT --bits {quantize}.", AlreadyQuantizedWarning, stacklevel=3)
    return False


class AlreadyQuantizedWarning(UserWarning):
    """load(quantize=N) was given a checkpoint that is already quantized with other bits."""


def describe(network: nn.Module, nominal_bits: int | None = None) -> dict[str, Any] | None:
    """Bits and group size of the quantized layers (for `info` and the app), None for a float network.

    nominal_bits: the bits a mixed checkpoint was converted for (`convert --bits 4`), reported as its
    "bits" beside the list of layer settings; without it a mixed network reports its lowest setting.
    "summary" says it in words, e.g. "4-bit mixed (3 to 8 bits per layer), 4.50 bits per weight".
    """
    layers = [m for _, m in network.named_modules() if isinstance(m, (nn.QuantizedLinear, nn.QuantizedEmbedding))]
    if not layers:
        return None
    settings = sorted({(m.bits, m.group_size, m.mode) for m in layers})
    floats = sum(1 for _, m in network.named_modules() if isinstance(m, (nn.Linear, nn.Embedding)))
    out: dict[str, Any] = {"bits": settings[0][0], "group_size": settings[0][1], "mode": settings[0][2]}
    if len(settings) > 1:
        out["mixed"] = [{"bits": b, "group_size": g, "mode": m} for b, g, m in settings]
        out["bits"] = nominal_bits or out["bits"]
    # stored bits over all linear/embedding weights (setting_bits: integers + scales, biases)
    weights = [(m.weight.size * 32 // m.bits,
                setting_bits({"bits": m.bits, "group_size": m.group_size, "mode": m.mode})) for m in layers]
    weights += [(m.weight.size, 16.0) for _, m in network.named_modules() if isinstance(m, (nn.Linear, nn.Embedding))]
    out["bits_per_weight"] = round(sum(n * b for n, b in weights) / sum(n for n, _ in weights), 3)
    widths = sorted({b for b, _, _ in settings})
    kind = (f"{out['bits']}-bit mixed ({widths[0]} to {widths[-1]} bits per layer)" if len(settings) > 1
            else f"{out['bits']}-bit, group {out['group_size']}" + ("" if out["mode"] == "affine" else f" {out['mode']}"))
    out["summary"] = f"{kind}, {out['bits_per_weight']:.2f} bits per weight" + (
        f", {floats} layers float" if floats else "")
    return out | {"quantized_layers": len(layers), "float_layers": floats}


def pack(q: "np.ndarray", bits: int) -> "np.ndarray":
    """MLX's affine packing: each row a little-endian bit stream of `bits`-bit integers in uint32 words."""
    import numpy as np

    rows, cols = q.shape
    if 32 % bits == 0:  # whole values per word: one shift per position
        per = 32 // bits
        packed = np.zeros((rows, cols // per), dtype=np.uint32)
        for j in range(per):
            packed |= q[:, j::per].astype(np.uint32) << np.uint32(bits * j)
        return packed
    wide = q.astype(np.uint64)
    packed = np.zeros((rows, cols * bits // 32), dtype=np.uint64)
    for j in range(cols):  # 3, 5, 6 bits: a value may straddle two words
        word, offset = divmod(j * bits, 32)
        packed[:, word] |= (wide[:, j] << np.uint64(offset)) & np.uint64(0xFFFFFFFF)
        if offset + bits > 32:
            packed[:, word + 1] |= wide[:, j] >> np.uint64(32 - offset)
    return packed.astype(np.uint32)

"""A model folder's network: its safetensors read (`read_weights`), checked against the shapes its
config implies (`weight_mismatches`, shared with the GGUF reader) and loaded (`build_network`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from ..errors import ModelFormatError
from ..models import architecture_for
from ..models.base import TokenEmbedding
from . import quantized_checkpoint as checkpoint
from .facts import read_json


def read_weights(folder: Path) -> dict[str, mx.array]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = read_json(index).get("weight_map") or {}
        files = [folder / f for f in sorted(set(weight_map.values()))]
    else:
        files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelFormatError(
            f"{folder} holds no *.safetensors weights (PyTorch .bin pickles are not loaded, for safety). "
            "Download the model's safetensors files.")
    weights: dict[str, mx.array] = {}
    for path in files:
        if not path.is_file():
            raise ModelFormatError(f"{path} is listed in {index.name} but missing. Re-download the model.")
        try:
            weights.update(mx.load(str(path)))
        except Exception as exc:
            raise ModelFormatError(f"{path} could not be read ({exc}); the file is corrupt or truncated. "
                                   "Re-download the model.") from exc
    return weights



def weight_mismatches(network: nn.Module, weights: dict[str, mx.array]
                      ) -> tuple[list[str], list[str], tuple[str, tuple, tuple] | None]:
    """(missing keys, unexpected keys, the first (key, shape, expected shape) whose shape differs)
    of `weights` against `network`'s parameters; each caller words its own message."""
    expected = dict(nn.utils.tree_flatten(network.parameters()))
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    for key, value in weights.items():
        if key in expected and tuple(value.shape) != tuple(expected[key].shape):
            return missing, unexpected, (key, tuple(value.shape), tuple(expected[key].shape))
    return missing, unexpected, None


def build_network(folder: Path, config: dict[str, Any], dtype: mx.Dtype, weights: dict[str, mx.array] | None = None
                  ) -> nn.Module:
    """The architecture's network with the checkpoint's weights in `dtype`, except embedding tables
    stored in half precision, which stay so in a float32 network (exact; `_half_tables`)."""
    arch = architecture_for(config, str(folder / "config.json"))
    network = arch.Model(arch.ModelArgs.from_config(config))
    weights = arch.sanitize(read_weights(folder) if weights is None else weights)
    checkpoint.apply(network, config, weights, folder)  # layers stored quantized (MLX format)
    tables = _half_tables(network, weights, dtype)
    weights = {k: v.astype(dtype) if mx.issubdtype(v.dtype, mx.floating) and k not in tables else v
               for k, v in weights.items()}
    missing, unexpected, wrong = weight_mismatches(network, weights)
    if missing or unexpected:
        detail = (f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}" if missing else "") + \
                 (f" unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}" if unexpected else "")
        raise ModelFormatError(f"The weights in {folder} do not match its config.json: {detail.strip()}. "
                               "Re-download the model, or check that config.json belongs to these weights.")
    if wrong:
        key, shape, implied = wrong
        raise ModelFormatError(f"Weight '{key}' in {folder} has shape {shape} but config.json "
                               f"implies {implied}. The checkpoint and config disagree.")
    network.load_weights(list(weights.items()), strict=True)
    for module in tables.values():
        object.__setattr__(module, "rows_dtype", dtype)
    network.eval()
    return network


def _half_tables(network: nn.Module, weights: dict[str, mx.array], dtype: mx.Dtype) -> dict[str, nn.Module]:
    """Embedding tables stored in half precision that a float32 model keeps as stored (weight key ->
    module): their rows are converted when looked up, exactly (see models.base.TokenEmbedding)."""
    if dtype != mx.float32:
        return {}
    return {f"{path}.weight": m for path, m in network.named_modules()
            if isinstance(m, TokenEmbedding) and weights.get(f"{path}.weight") is not None
            and weights[f"{path}.weight"].dtype in (mx.bfloat16, mx.float16)}

"""One module per architecture; `ARCHITECTURES` maps a config's model_type to its module.

Each module exposes `ModelArgs.from_config(config)`, `Model(args)` whose call maps right-padded
(input_ids, lengths) to token states, `sanitize(weights)` for checkpoint key fix-ups, and `CAUSAL`.
"""

from __future__ import annotations

from types import ModuleType

from ..errors import ModelFormatError
from . import qwen3

ARCHITECTURES: dict[str, ModuleType] = {
    "qwen3": qwen3,
    "jina_embeddings_v5": qwen3,
}


def architecture_for(config: dict, source: str = "config.json") -> ModuleType:
    model_type = config.get("model_type")
    if model_type in ARCHITECTURES:
        return ARCHITECTURES[model_type]
    raise ModelFormatError(
        f"{source}: model_type {model_type!r} (architectures {config.get('architectures')}) is not "
        f"supported. Supported model types: {', '.join(sorted(ARCHITECTURES))}."
    )

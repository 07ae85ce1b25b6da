"""One module per architecture; `ARCHITECTURES` maps a config's model_type to its module.

Each module exposes `ModelArgs.from_config(config)`, `Model(args)` whose call maps right-padded
(input_ids, lengths) to token states, `sanitize(weights)` for checkpoint key fix-ups, and `CAUSAL`.
"""

from __future__ import annotations

from types import ModuleType

from ..errors import ModelFormatError
from . import bert, eurobert, qwen3

ARCHITECTURES: dict[str, ModuleType] = {
    "qwen3": qwen3,
    "jina_embeddings_v5": qwen3,
    "bert": bert,
    "eurobert": eurobert,
}

# Class names in config.json `architectures`, for configs whose model_type is not one of the above.
ARCHITECTURE_NAMES: dict[str, ModuleType] = {
    "Qwen3Model": qwen3, "Qwen3ForCausalLM": qwen3,
    "BertModel": bert, "BertForMaskedLM": bert,
    "EuroBertModel": eurobert, "EuroBertForMaskedLM": eurobert,
}

# jina-embeddings-v5 names one model_type ("jina_embeddings_v5") and one class ("JinaEmbeddingsV5Model")
# for two backbones: Qwen3 (text-small) and EuroBERT (text-nano). Keys only EuroBertConfig writes
# tell them apart, as do EuroBERT names anywhere in the config (auto_map, _name_or_path).
_EUROBERT_KEYS = ("mask_token_id", "classifier_pooling", "clf_pooling")
_QWEN3_KEYS = ("use_sliding_window", "max_window_layers", "layer_types", "sliding_window")


def architecture_for(config: dict, source: str = "config.json") -> ModuleType:
    """The architecture module for a config: by model_type, else by the `architectures` class names."""
    model_type = config.get("model_type")
    if model_type == "jina_embeddings_v5":
        return eurobert if is_eurobert_backbone(config) else qwen3
    if model_type in ARCHITECTURES:
        return ARCHITECTURES[model_type]
    for name in config.get("architectures") or []:
        if name in ARCHITECTURE_NAMES:
            return ARCHITECTURE_NAMES[name]
    raise ModelFormatError(
        f"{source}: model_type {model_type!r} (architectures {config.get('architectures')}) is not "
        f"supported. Supported model types: {', '.join(sorted(ARCHITECTURES))}; supported architectures: "
        f"{', '.join(sorted(ARCHITECTURE_NAMES))}."
    )


def is_eurobert_backbone(config: dict) -> bool:
    """Whether a jina-embeddings-v5 config describes the EuroBERT (nano) backbone, from its data only."""
    names = [*(config.get("architectures") or []), str(config.get("_name_or_path", ""))]
    for value in (config.get("auto_map") or {}).values():
        names += value if isinstance(value, list) else [str(value)]
    text = " ".join(names).lower()
    if "eurobert" in text or "v5-text-nano" in text:
        return True
    if "qwen3" in text or "v5-text-small" in text:
        return False
    return any(k in config for k in _EUROBERT_KEYS) and not any(k in config for k in _QWEN3_KEYS)

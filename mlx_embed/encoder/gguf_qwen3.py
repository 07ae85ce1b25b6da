"""A Qwen3 encoder from a GGUF file: llama.cpp's tensor names and metadata mapped onto models/qwen3.py,
its tokenizer and its profile (`read_qwen3_gguf`). `load()` turns the parts into an EmbeddingModel.

Supported: architecture "qwen3" (jina-embeddings-v5-text-small per-task models, Qwen3-Embedding) in
any tensor type (`gguf_file` reads them). Everything is dequantized to the working dtype: on the CPU,
float32 is the fast path.

llama.cpp does not permute q/k for Qwen3 (only its llama-family converters do), so the weights map
one to one onto models/qwen3.py. The tokenizer is the `tokenizer.json` next to the file if there is
one (checked against the GGUF vocabulary), else a byte-level BPE rebuilt from the GGUF metadata.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from ..errors import ModelFormatError
from ..models import qwen3
from .facts import JINA_V5_PROMPTS, QWEN3_EMBEDDING_PROMPTS, STANDARD_TASKS, Profile
from .gguf_file import FILE_TYPES, open_gguf, read_tensors
from .profile import st_prompts
from .tokenizer import Tokenizer
from .weights import weight_mismatches


# llama.cpp tensor name -> models/qwen3.py parameter (blk.N.* -> layers.N.*).
QWEN3_TENSORS = {
    "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm", "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
}
QWEN3_GLOBAL_TENSORS = {"token_embd": "embed_tokens", "output_norm": "norm", "output": None}  # no LM head

POOLING_TYPES = {1: "mean", 2: "cls", 3: "lasttoken"}  # llama.cpp LLAMA_POOLING_TYPE_*; 4 = RANK (reranker)

# Token types (llama.cpp / SentencePiece): the vocabulary padding rows are UNUSED.
TOKEN_CONTROL, TOKEN_USER_DEFINED, TOKEN_UNUSED = 3, 4, 5
# tokenizer.ggml.pre -> (split regex or None for GPT-2's built into ByteLevel, NFC normaliser)
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
PRE_TOKENIZERS = {"qwen2": (QWEN2_REGEX, True), "gpt-2": (None, False), "gpt2": (None, False)}


def read_qwen3_gguf(path: Path, dtype: mx.Dtype) -> tuple[nn.Module, dict[str, Any], Tokenizer, Profile]:
    """(network in `dtype`, transformers-style config, tokenizer, profile) of one .gguf file."""
    path = Path(path)
    metadata, infos, data_start = open_gguf(path)
    arch = metadata.get("general.architecture")
    if arch != "qwen3":
        raise ModelFormatError(
            f"{path} is a GGUF of architecture {arch!r}; mlx-embed reads GGUF files of architecture 'qwen3' "
            "(jina-embeddings-v5-text-small, Qwen3-Embedding). For other models (e.g. jina-embeddings-v5-text-"
            "nano, EuroBERT) use their Hugging Face safetensors repository instead.")
    if metadata.get("qwen3.pooling_type") == 4:
        raise ModelFormatError(f"{path} is a reranker (pooling type RANK), not an embedding model.")
    tensors = read_tensors(path, infos, data_start, skip={"output.weight"})  # the LM head: unused
    config = qwen3_config(path, metadata, tensors)
    weights = qwen3_weights(path, tensors)
    network = qwen3.Model(qwen3.ModelArgs.from_config(config))
    load_weights(path, network, weights, dtype)
    tokenizer = gguf_tokenizer(path, metadata, config["vocab_size"])
    config["gguf"]["tokenizer"] = tokenizer.source
    return network, config, tokenizer, gguf_profile(path, metadata, config)


# --- the network --------------------------------------------------------------------------------
def qwen3_config(path: Path, meta: dict[str, Any], tensors: dict[str, mx.array]) -> dict[str, Any]:
    """A transformers-style Qwen3 config from `qwen3.*` metadata (and tensor shapes where it is silent)."""
    def get(key: str, default: Any = ...) -> Any:
        value = meta.get(f"qwen3.{key}", default)
        if value is ...:
            raise ModelFormatError(f"{path} lacks the metadata key 'qwen3.{key}'; the file is incomplete. "
                                   "Re-download or re-convert it.")
        if isinstance(value, list):  # per-layer values (llama.cpp allows arrays): must all agree here
            if len(set(value)) != 1:
                raise ModelFormatError(f"{path}: 'qwen3.{key}' differs between layers ({value[:4]}...); "
                                       "mlx-embed supports uniform Qwen3 layers only.")
            value = value[0]
        return value

    if "token_embd.weight" not in tensors or "blk.0.attn_q_norm.weight" not in tensors:
        raise ModelFormatError(f"{path} lacks token_embd.weight or blk.0.attn_q_norm.weight: not a complete "
                               "Qwen3 GGUF. Re-download or re-convert it.")
    heads = int(get("attention.head_count"))
    head_dim = int(get("attention.key_length", tensors["blk.0.attn_q_norm.weight"].shape[0]))
    if get("rope.dimension_count", head_dim) != head_dim:
        raise ModelFormatError(f"{path}: partial rotary embedding (rope.dimension_count "
                               f"{get('rope.dimension_count')} of head size {head_dim}) is not supported.")
    if get("attention.causal", True) is False:
        raise ModelFormatError(f"{path} declares non-causal attention, which the Qwen3 encoder does not have.")
    scaling = str(get("rope.scaling.type", "none"))
    rope_scaling = None if scaling == "none" else {"rope_type": scaling, "factor": get("rope.scaling.factor", 1.0)}
    file_type = meta.get("general.file_type")
    return {
        "model_type": "qwen3", "architectures": ["Qwen3Model"],
        "hidden_size": int(get("embedding_length")), "num_hidden_layers": int(get("block_count")),
        "intermediate_size": int(get("feed_forward_length")), "num_attention_heads": heads,
        "num_key_value_heads": int(get("attention.head_count_kv", heads)), "head_dim": head_dim,
        "rms_norm_eps": float(get("attention.layer_norm_rms_epsilon", 1e-6)),
        "max_position_embeddings": int(get("context_length", 32768)),
        "rope_theta": float(get("rope.freq_base", 10000.0)),  # llama.cpp's default when the key is absent
        "rope_scaling": rope_scaling, "vocab_size": int(tensors["token_embd.weight"].shape[0]),
        "_name_or_path": str(meta.get("general.name") or path.stem),
        "gguf": {"file": path.name, "file_type": FILE_TYPES.get(file_type, file_type)},
    }


def qwen3_weights(path: Path, tensors: dict[str, mx.array]) -> dict[str, mx.array]:
    weights = {}
    for name, value in tensors.items():
        base, _, suffix = name.rpartition(".")
        match = re.fullmatch(r"blk\.(\d+)\.(\w+)", base)
        if match and match.group(2) in QWEN3_TENSORS and suffix == "weight":
            weights[f"layers.{match.group(1)}.{QWEN3_TENSORS[match.group(2)]}.weight"] = value
        elif base in QWEN3_GLOBAL_TENSORS and suffix == "weight":
            if QWEN3_GLOBAL_TENSORS[base]:
                weights[f"{QWEN3_GLOBAL_TENSORS[base]}.weight"] = value
        else:
            raise ModelFormatError(f"{path} holds tensor '{name}', which a Qwen3 encoder does not have "
                                   "(a reranker head, biases or a different architecture?). Refusing to load it "
                                   "rather than give wrong vectors.")
    return weights


def load_weights(path: Path, network: nn.Module, weights: dict[str, mx.array], dtype: mx.Dtype) -> None:
    missing, unexpected, wrong = weight_mismatches(network, weights)
    if missing:
        raise ModelFormatError(f"{path} lacks {len(missing)} tensor(s) its metadata implies (e.g. {missing[0]}); "
                               "the file is incomplete. Re-download or re-convert it.")
    if unexpected:
        raise ModelFormatError(f"{path} holds {len(unexpected)} tensor(s) its metadata does not imply (e.g. "
                               f"{unexpected[0]}); the file is inconsistent. Re-download or re-convert it.")
    if wrong:
        key, shape, implied = wrong
        raise ModelFormatError(f"{path}: tensor for '{key}' has shape {shape} but the metadata "
                               f"implies {implied}. The file is inconsistent.")
    network.load_weights([(k, v.astype(dtype)) for k, v in weights.items()], strict=True)
    mx.eval(network.parameters())
    network.eval()


# --- the tokenizer ------------------------------------------------------------------------------
def gguf_tokenizer(path: Path, meta: dict[str, Any], n_embeddings: int) -> Tokenizer:
    """tokenizer.json next to the file (checked against the GGUF vocabulary), else one rebuilt from metadata."""
    sibling = path.parent / "tokenizer.json"
    if sibling.is_file():
        tokenizer = Tokenizer.from_file(sibling)
        _check_sibling(path, sibling, tokenizer, meta)
    else:
        tokenizer = Tokenizer(tokenizer_from_metadata(path, meta), f"{path.name} (GGUF metadata)")
    if tokenizer.vocab_size > n_embeddings:
        raise ModelFormatError(f"The tokenizer of {path} has {tokenizer.vocab_size} tokens but the model embeds "
                               f"only {n_embeddings}: they do not belong together.")
    return tokenizer


def _check_sibling(path: Path, sibling: Path, tokenizer: Tokenizer, meta: dict[str, Any]) -> None:
    tokens = meta.get("tokenizer.ggml.tokens")
    if not tokens:
        return
    types = meta.get("tokenizer.ggml.token_type") or [1] * len(tokens)
    hf = tokenizer._tok
    for i in range(0, len(tokens), max(1, len(tokens) // 512)):
        if types[i] == TOKEN_UNUSED:
            continue
        if hf.id_to_token(i) != tokens[i]:
            raise ModelFormatError(
                f"{sibling} does not belong to {path.name}: token {i} is {hf.id_to_token(i)!r} there but "
                f"{tokens[i]!r} in the GGUF. Remove or replace that tokenizer.json.")


def tokenizer_from_metadata(path: Path, meta: dict[str, Any]):
    """A `tokenizers` byte-level BPE equal to the Hugging Face tokenizer llama.cpp converted."""
    from tokenizers import AddedToken, Regex, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers import Tokenizer as HFTokenizer

    hint = (f"Put the model's tokenizer.json next to the file ({path.parent / 'tokenizer.json'}); "
            "mlx-embed then uses it instead.")
    kind, pre = meta.get("tokenizer.ggml.model"), meta.get("tokenizer.ggml.pre", "default")
    tokens, merges = meta.get("tokenizer.ggml.tokens"), meta.get("tokenizer.ggml.merges")
    if kind != "gpt2" or not tokens or not merges:
        raise ModelFormatError(f"{path}: mlx-embed rebuilds only byte-level BPE tokenizers ('gpt2' with merges) "
                               f"from GGUF metadata; this file has tokenizer model {kind!r}. {hint}")
    if pre not in PRE_TOKENIZERS:
        raise ModelFormatError(f"{path}: the pre-tokenizer {pre!r} is not one mlx-embed can rebuild exactly "
                               f"(supported: {', '.join(PRE_TOKENIZERS)}). {hint}")
    types = meta.get("tokenizer.ggml.token_type") or [1] * len(tokens)
    vocab: dict[str, int] = {}
    for i, (token, kind_of) in enumerate(zip(tokens, types)):
        if kind_of != TOKEN_UNUSED:
            vocab.setdefault(token, i)
    pairs = [tuple(m.split(" ")) for m in merges]
    if any(len(p) != 2 for p in pairs):
        raise ModelFormatError(f"{path}: tokenizer.ggml.merges has malformed entries. {hint}")
    tok = HFTokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False))
    regex, nfc = PRE_TOKENIZERS[pre]
    if nfc:
        tok.normalizer = normalizers.NFC()
    if regex is None:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    added = [(i, AddedToken(tokens[i], special=t == TOKEN_CONTROL, normalized=False))
             for i, t in enumerate(types) if t in (TOKEN_CONTROL, TOKEN_USER_DEFINED)]
    tok.add_special_tokens([a for _, a in added if a.special])
    tok.add_tokens([a for _, a in added if not a.special])
    for i, a in added:
        if tok.token_to_id(a.content) != i:
            raise ModelFormatError(f"{path}: the added token {a.content!r} could not keep its id {i}. {hint}")
    ends = {}
    for role in ("bos", "eos"):
        token_id = meta.get(f"tokenizer.ggml.{role}_token_id")
        if meta.get(f"tokenizer.ggml.add_{role}_token") and token_id is not None:
            ends[role] = (tokens[token_id], token_id)
    if ends:  # what llama.cpp adds (add_bos_token / add_eos_token, set from the HF post-processor)
        def sequence(seq: str, type_id: int) -> list[str]:
            return ([f"{ends['bos'][0]}:{type_id}"] if "bos" in ends else []) + [f"${seq}:{type_id}"] + \
                   ([f"{ends['eos'][0]}:{type_id}"] if "eos" in ends else [])
        tok.post_processor = processors.TemplateProcessing(
            single=sequence("A", 0), pair=sequence("A", 0) + sequence("B", 1),
            special_tokens=sorted(set(ends.values())))
    return tok


# --- prompts and pooling ------------------------------------------------------------------------
def gguf_profile(path: Path, meta: dict[str, Any], config: dict[str, Any]) -> Profile:
    """What the file's name and metadata say about use: jina per-task files get Query:/Document: prompts."""
    name = str(meta.get("general.name") or path.stem)
    parts = [path.stem, name] + [str(meta.get(f"general.{k}") or "") for k in ("basename", "finetune")]
    label = re.sub(r"[\s_]+", "-", " ".join(parts).lower())
    merged = next((t for t in STANDARD_TASKS if re.search(rf"(^|-){t}\b", label)), None)
    if "jina-embeddings-v5" in label or re.search(r"(^|-)v5-(text-)?(small|nano)\b", label):
        kind, prompts, default = "jina-v5-merged", JINA_V5_PROMPTS, "document"
    elif "qwen3-embedding" in label:
        kind, prompts, default, merged = "qwen3-embedding", QWEN3_EMBEDDING_PROMPTS, None, None
    else:
        kind, prompts, default, merged = "qwen3", {}, None, None
    prompts, default = st_prompts(path.parent, prompts, default)
    pooling = POOLING_TYPES.get(meta.get("qwen3.pooling_type"), "lasttoken")  # NONE/absent: Qwen3's own
    return Profile(name=name, kind=kind, prompts=dict(prompts), default_prompt_name=default, pooling=pooling,
                   max_length=config["max_position_embeddings"], merged_task=merged)

"""GGUF files, as llama.cpp's convert_hf_to_gguf.py and llama-quantize write them.

Supported: architecture "qwen3" (jina-embeddings-v5-text-small per-task models, Qwen3-Embedding) in
any tensor type. A small parser here reads the header (fast even for Qwen's 151k-token vocabulary).
Files of F32/F16/BF16/Q4_0/Q8_0 tensors are then read with `mx.load` (exact); others (Q4_K_M, Q6_K,
Q4_1...) are decoded here in MLX, or for rarer types (Q5_K, Q3_K, IQ...) with the `gguf` package.
Everything is dequantized to the working dtype: on the CPU, float32 is the fast path.

llama.cpp does not permute q/k for Qwen3 (only its llama-family converters do), so the weights map
one to one onto models/qwen3.py. The tokenizer is the `tokenizer.json` next to the file if there is
one (checked against the GGUF vocabulary), else a byte-level BPE rebuilt from the GGUF metadata.
"""

from __future__ import annotations

import mmap
import re
import struct
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from .embedder import EmbeddingModel
from .errors import ModelFormatError
from .loading import JINA_V5_PROMPTS, QWEN3_EMBEDDING_PROMPTS, STANDARD_TASKS, Profile, read_json
from .models import qwen3
from .tokenization import Tokenizer

# llama.cpp tensor name -> models/qwen3.py parameter (blk.N.* -> layers.N.*).
QWEN3_TENSORS = {
    "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm", "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
}
QWEN3_GLOBAL_TENSORS = {"token_embd": "embed_tokens", "output_norm": "norm", "output": None}  # no LM head

POOLING_TYPES = {1: "mean", 2: "cls", 3: "lasttoken"}  # llama.cpp LLAMA_POOLING_TYPE_*; 4 = RANK (reranker)
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
              11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
              17: "Q5_K_M", 18: "Q6_K", 32: "BF16"}

# Token types (llama.cpp / SentencePiece): the vocabulary padding rows are UNUSED.
TOKEN_CONTROL, TOKEN_USER_DEFINED, TOKEN_UNUSED = 3, 4, 5
# tokenizer.ggml.pre -> (split regex or None for GPT-2's built into ByteLevel, NFC normaliser)
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
PRE_TOKENIZERS = {"qwen2": (QWEN2_REGEX, True), "gpt-2": (None, False), "gpt2": (None, False)}


def load_gguf(path: Path, dtype: mx.Dtype, quantize: int | None = None) -> EmbeddingModel:
    """A ready EmbeddingModel from one .gguf file (see the module docstring for what is supported)."""
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
    if quantize:
        nn.quantize(network, group_size=64, bits=quantize,
                    class_predicate=lambda _, m: isinstance(m, (nn.Linear, nn.Embedding))
                    and m.weight.shape[-1] % 64 == 0)
        mx.eval(network.parameters())  # evaluated here, not lazily in a worker thread (see loading.load)
    tokenizer = gguf_tokenizer(path, metadata, config["vocab_size"])
    config["gguf"]["tokenizer"] = tokenizer.source
    profile = gguf_profile(path, metadata, config)
    return EmbeddingModel(network=network, tokenizer=tokenizer, profile=profile, path=path, config=config,
                          tasks=(), lora_layers=[], dtype=dtype, quantize=quantize)


# --- reading the file ---------------------------------------------------------------------------
# mx.load decodes these GGML types exactly (Q4_0/Q8_0 as MLX (weight, scales, biases) triplets). It also
# accepts K-quants, but as float16 and, for Q4_K, wrongly (MLX 0.32's gguflib gives the high-nibble
# sub-blocks the previous sub-block's scale and min), and Q4_1 was mis-read before MLX 0.32: files with
# any other type are decoded here instead.
MLX_LOAD_TYPES = {0, 1, 2, 8, 30}  # F32, F16, Q4_0, Q8_0, BF16


def read_gguf(path: Path, use_mx_load: bool = True) -> tuple[dict[str, Any], dict[str, mx.array]]:
    """(metadata as plain Python values, float tensors by llama.cpp name)."""
    metadata, infos, data_start = open_gguf(path)
    return metadata, read_tensors(path, infos, data_start, use_mx_load=use_mx_load)


def open_gguf(path: Path) -> tuple[dict[str, Any], list[tuple[str, tuple[int, ...], int, int]], int]:
    """read_header with the errors a user can act on."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ModelFormatError(f"{path} is not a GGUF file (it does not start with 'GGUF'). "
                               "Re-download it, or pass a model folder.")
    try:
        metadata, infos, data_start = read_header(path)
    except (EOFError, ValueError, UnicodeDecodeError, OverflowError, MemoryError) as exc:
        raise ModelFormatError(_damaged(path, f"unreadable header: {exc or 'it ends early'}")) from exc
    return metadata, infos, data_start


def _damaged(path: Path, detail: str) -> str:
    return (f"{path} is truncated or corrupt ({detail}). Re-download it (an interrupted download leaves a "
            "partial file).")


def _fold_triplets(arrays: dict[str, mx.array]) -> dict[str, mx.array]:
    """mx.load's (name.weight, name.scales, name.biases) Q4_0/Q8_0 triplets -> float32 weights."""
    out = {}
    for key in [k for k in arrays if k.endswith(".scales")]:
        base = key.removesuffix(".scales")
        weight_key = base + ".weight" if base + ".weight" in arrays else base
        w, scales, biases = arrays.pop(weight_key), arrays.pop(key), arrays.pop(base + ".biases")
        bits = w.shape[-1] // scales.shape[-1]  # uint32 words per 32-value group = bits
        # float32 scales: dequantizing with the stored float16 ones would round the result to float16.
        out[weight_key] = mx.dequantize(w, scales.astype(mx.float32), biases.astype(mx.float32),
                                        group_size=32, bits=bits)
        mx.eval(out[weight_key])
    return out | arrays


_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_NUMPY = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "?", 10: "<u8", 11: "<i8",
          12: "<f8"}
_STRING, _ARRAY = 8, 9


class _Header:
    """A bounds-checked reader over the GGUF header (the metadata and the tensor table)."""

    def __init__(self, buf: mmap.mmap):
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise EOFError
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        n = self.take("<Q")
        if self.pos + n > len(self.buf):
            raise EOFError
        self.pos += n
        return self.buf[self.pos - n:self.pos].decode("utf-8", errors="replace")

    def value(self, vtype: int) -> Any:
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            itype, count = self.take("<I"), self.take("<Q")
            if itype == _STRING:
                if count > len(self.buf) - self.pos:
                    raise EOFError
                return [self.string() for _ in range(count)]
            if itype not in _NUMPY:
                raise ValueError(f"array of value type {itype}")
            nbytes = count * np.dtype(_NUMPY[itype]).itemsize
            if self.pos + nbytes > len(self.buf):
                raise EOFError
            items = np.frombuffer(self.buf[self.pos:self.pos + nbytes], dtype=_NUMPY[itype]).tolist()
            self.pos += nbytes
            return items
        if vtype not in _SCALARS:
            raise ValueError(f"value type {vtype}")
        return self.take(_SCALARS[vtype])


def read_header(path: Path) -> tuple[dict[str, Any], list[tuple[str, tuple[int, ...], int, int]], int]:
    """(metadata, [(name, shape, GGML type, offset)], byte offset of the tensor data). Fast for big vocabularies."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        h = _Header(buf)
        h.take("<I")  # magic, checked by the caller
        version = h.take("<I")
        if version not in (2, 3):
            raise ValueError(f"GGUF version {version}; versions 2 and 3 (little-endian) are supported")
        n_tensors, n_kv = h.take("<Q"), h.take("<Q")
        metadata = {}
        for _ in range(n_kv):
            key = h.string()
            metadata[key] = h.value(h.take("<I"))
        infos = []
        for _ in range(n_tensors):
            name = h.string()
            dims = [h.take("<Q") for _ in range(h.take("<I"))]
            infos.append((name, tuple(reversed(dims)), h.take("<I"), h.take("<Q")))
        alignment = int(metadata.get("general.alignment", 32))
        return metadata, infos, -(-h.pos // alignment) * alignment


def read_tensors(path: Path, infos: list[tuple[str, tuple[int, ...], int, int]], data_start: int,
                 use_mx_load: bool = True, skip: set[str] = frozenset()) -> dict[str, mx.array]:
    """Every tensor as float: with mx.load when it reads them all exactly, else decoded here."""
    if use_mx_load and all(ggml_type in MLX_LOAD_TYPES for _, _, ggml_type, _ in infos):
        try:
            tensors = _fold_triplets(mx.load(str(path)))
        except Exception as exc:
            raise ModelFormatError(_damaged(path, str(exc))) from exc
        return {k: v for k, v in tensors.items() if k not in skip}
    size = path.stat().st_size
    data = np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
    tensors = {}
    for name, shape, ggml_type, offset in infos:
        if name in skip:
            continue
        block, type_size, decode = _block_format(path, name, ggml_type)
        count = int(np.prod(shape))
        if not shape or shape[-1] % block:
            raise ModelFormatError(_damaged(path, f"tensor '{name}' of shape {shape} is not whole blocks of "
                                                  f"{block} values"))
        start, nbytes = data_start + offset, count // block * type_size
        if start + nbytes > size:
            raise ModelFormatError(_damaged(path, f"tensor '{name}' ends at byte {start + nbytes}, the file "
                                                  f"has {size} bytes"))
        raw = data[start:start + nbytes]
        if decode is not None:
            tensors[name] = decode(mx.array(raw).reshape(-1, type_size)).reshape(shape)
        else:
            tensors[name] = mx.array(_gguf_dequantize(path, name, raw, shape, ggml_type, block, type_size))
        mx.eval(tensors[name])
    return tensors


def _block_format(path: Path, name: str, ggml_type: int):
    if ggml_type in _MLX_DECODERS:
        return _MLX_DECODERS[ggml_type]
    try:
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
    except ImportError as exc:
        raise ModelFormatError(f"{path}: tensor '{name}' has GGML type {ggml_type}; decoding it needs the "
                               "`gguf` package: pip install gguf") from exc
    try:
        return (*GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)], None)
    except (ValueError, KeyError):
        raise ModelFormatError(f"{path}: tensor '{name}' has GGML type {ggml_type}, which the installed `gguf` "
                               "package does not know. Upgrade it (pip install -U gguf) or use another "
                               "quantization of this model (F16, Q8_0, Q4_K_M).") from None


def _gguf_dequantize(path: Path, name: str, raw: np.ndarray, shape: tuple[int, ...], ggml_type: int, block: int,
                     type_size: int) -> np.ndarray:
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize

    qtype = GGMLQuantizationType(ggml_type)
    try:
        return dequantize(raw.reshape(*shape[:-1], shape[-1] // block * type_size), qtype)
    except NotImplementedError:
        raise ModelFormatError(f"{path}: tensor '{name}' is {qtype.name}, which the `gguf` package cannot "
                               "dequantize. Use another quantization of this model (F16, Q8_0, Q4_K_M).") from None


# Decoders of the types jina publishes most (F16, Q8_0, Q4_K_M = Q4_K + Q6_K, Q4_0/Q4_1), on (n, block
# bytes) uint8 arrays -> (n, values) float. Block layouts as in ggml-common.h; the tests compare each with
# the `gguf` package's reference dequantizer. About 4x faster than numpy for Q4_K.
def _f16(pair: mx.array) -> mx.array:
    return mx.view(pair, mx.float16).reshape(-1, 1).astype(mx.float32)


def _nibbles(qs: mx.array) -> mx.array:
    """Low nibbles of all bytes, then high nibbles (Q4_0/Q4_1 order), as float32."""
    return mx.concatenate([qs & 15, qs >> 4], axis=1).astype(mx.float32)


def _q4_0(blocks: mx.array) -> mx.array:
    return _f16(blocks[:, 0:2]) * (_nibbles(blocks[:, 2:]) - 8)


def _q4_1(blocks: mx.array) -> mx.array:
    return _f16(blocks[:, 0:2]) * _nibbles(blocks[:, 4:]) + _f16(blocks[:, 2:4])


def _q8_0(blocks: mx.array) -> mx.array:
    return _f16(blocks[:, 0:2]) * mx.view(blocks[:, 2:], mx.int8).astype(mx.float32)


def _q4_k(blocks: mx.array) -> mx.array:
    """f16 d, f16 dmin, 12 bytes of 6-bit (scale, min) x 8 sub-blocks, 128 bytes of nibbles (low: even)."""
    n = blocks.shape[0]
    low, high, mixed = blocks[:, 4:8], blocks[:, 8:12], blocks[:, 12:16]
    scale = mx.concatenate([low & 63, (mixed & 15) | ((low >> 2) & 48)], axis=1).astype(mx.float32)
    minimum = mx.concatenate([high & 63, (mixed >> 4) | ((high >> 2) & 48)], axis=1).astype(mx.float32)
    qs = blocks[:, 16:].reshape(n, 4, 1, 32)
    q = mx.concatenate([qs & 15, qs >> 4], axis=2).reshape(n, 8, 32).astype(mx.float32)
    d, dmin = _f16(blocks[:, 0:2]), _f16(blocks[:, 2:4])
    return ((d * scale)[..., None] * q - (dmin * minimum)[..., None]).reshape(n, 256)


def _q6_k(blocks: mx.array) -> mx.array:
    """128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8 sub-block scales, f16 d."""
    n = blocks.shape[0]
    ql, qh = blocks[:, :128].reshape(n, 2, 1, 64), blocks[:, 128:192].reshape(n, 2, 1, 32)
    scale = mx.view(blocks[:, 192:208], mx.int8).astype(mx.float32)
    low = mx.concatenate([ql & 15, ql >> 4], axis=2).reshape(n, 8, 32)
    high = mx.concatenate([qh & 3, (qh >> 2) & 3, (qh >> 4) & 3, qh >> 6], axis=2).reshape(n, 8, 32)
    q = ((low | (high << 4)).astype(mx.float32) - 32).reshape(n, 16, 16)
    return ((_f16(blocks[:, 208:210]) * scale)[..., None] * q).reshape(n, 256)


# GGML type id -> (values per block, bytes per block, decoder)
_MLX_DECODERS = {
    0: (1, 4, lambda b: mx.view(b, mx.float32)), 1: (1, 2, lambda b: mx.view(b, mx.float16)),
    30: (1, 2, lambda b: mx.view(b, mx.bfloat16)), 2: (32, 18, _q4_0), 3: (32, 20, _q4_1), 8: (32, 34, _q8_0),
    12: (256, 144, _q4_k), 14: (256, 210, _q6_k),
}


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
    expected = dict(nn.utils.tree_flatten(network.parameters()))
    missing = sorted(set(expected) - set(weights))
    if missing:
        raise ModelFormatError(f"{path} lacks {len(missing)} tensor(s) its metadata implies (e.g. {missing[0]}); "
                               "the file is incomplete. Re-download or re-convert it.")
    for key, value in weights.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ModelFormatError(f"{path}: tensor for '{key}' has shape {tuple(value.shape)} but the metadata "
                                   f"implies {tuple(expected[key].shape)}. The file is inconsistent.")
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
    st_path = path.parent / "config_sentence_transformers.json"
    st = read_json(st_path) if st_path.is_file() else {}
    if "prompts" in st:
        prompts = {str(k): str(v) for k, v in (st["prompts"] or {}).items()}
        default = st.get("default_prompt_name", default if default in prompts else None)
    pooling = POOLING_TYPES.get(meta.get("qwen3.pooling_type"), "lasttoken")  # NONE/absent: Qwen3's own
    return Profile(name=name, kind=kind, prompts=dict(prompts), default_prompt_name=default, pooling=pooling,
                   max_length=config["max_position_embeddings"], merged_task=merged)


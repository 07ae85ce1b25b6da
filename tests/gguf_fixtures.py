"""GGUF files of the random fixture models, written the way llama.cpp's convert_hf_to_gguf.py does for Qwen3.

`write_qwen3_gguf(folder, path, outtype)` follows convert_hf_to_gguf's Qwen3Model (= Qwen2Model, no q/k
permutation): TextModel.set_gguf_parameters' keys, `_set_vocab_gpt2` (tokens, token types with [PADn]
UNUSED rows up to config.vocab_size, merges and bos/eos/add_eos through gguf.SpecialVocab, as the
converter does), `_try_set_pooling_type`, and prepare_tensors' type rules (1-D and *_norm tensors F32).
outtype "F16" and "Q8_0" are the converter's; "Q4_0", "Q4_1", "Q5_0" and "Q4_K_M" stand in for llama-quantize (Q4_K_M:
Q6_K for attn_v and ffn_down of the first layer, Q4_K elsewhere), with simple numpy K-quant encoders
below whose output the `gguf` package's reference dequantizers read back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HF_TO_GGUF = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def gguf_name(hf_name: str) -> str:
    name = hf_name.removeprefix("model.").removesuffix(".weight")
    if name == "embed_tokens":
        return "token_embd.weight"
    if name == "norm":
        return "output_norm.weight"
    _, layer, rest = name.split(".", 2)
    return f"blk.{layer}.{HF_TO_GGUF[rest]}.weight"


def use_qwen2_pretokenizer(folder: Path) -> None:
    """Give a fixture's tokenizer.json Qwen2/Qwen3's normaliser, pre-tokenizer and post-processor."""
    path = Path(folder) / "tokenizer.json"
    tok = json.loads(path.read_text(encoding="utf-8"))
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    tok["normalizer"] = {"type": "NFC"}
    tok["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": QWEN2_REGEX}, "behavior": "Isolated", "invert": False}, byte_level]}
    post = tok.get("post_processor")
    tok["post_processor"] = {"type": "Sequence", "processors": [byte_level] + ([post] if post else [])}
    path.write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")


def vocab_entries(folder: Path, vocab_size: int) -> tuple[list[str], list[int]]:
    """get_vocab_base(): every id up to config.vocab_size, added tokens CONTROL/USER_DEFINED."""
    import gguf

    data = json.loads((Path(folder) / "tokenizer.json").read_text(encoding="utf-8"))
    reverse = {i: t for t, i in data["model"]["vocab"].items()}
    added = {a["id"]: a for a in data.get("added_tokens", [])}
    tokens, types = [], []
    for i in range(vocab_size):
        if i in added:
            content = added[i]["content"]
            looks_special = content.startswith("<|") and content.endswith("|>")
            tokens.append(content)
            control = added[i]["special"] or looks_special
            types.append(gguf.TokenType.CONTROL if control else gguf.TokenType.USER_DEFINED)
        elif i in reverse:
            tokens.append(reverse[i])
            types.append(gguf.TokenType.NORMAL)
        else:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
    return tokens, types


def write_qwen3_gguf(folder: Path, path: Path, outtype: str = "F16", *, name: str | None = None,
                     pre: str = "qwen2", pooling: str | None = "lasttoken", vocab: bool = True,
                     arch: str = "qwen3") -> Path:
    """Convert a safetensors fixture folder (Qwen3 weights, tokenizer.json) to one GGUF file."""
    import gguf
    from safetensors.numpy import load_file

    folder, path = Path(folder), Path(path)
    config = json.loads((folder / "config.json").read_text())
    weights = {}
    for f in sorted(folder.glob("*.safetensors")):
        weights |= {k: v.astype(np.float32) for k, v in load_file(str(f)).items()}
    file_types = {"F32": gguf.LlamaFileType.ALL_F32, "F16": gguf.LlamaFileType.MOSTLY_F16,
                  "Q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "Q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
                  "Q4_1": gguf.LlamaFileType.MOSTLY_Q4_1,
                  "Q5_0": gguf.LlamaFileType.MOSTLY_Q5_0, "Q4_K_M": gguf.LlamaFileType.MOSTLY_Q4_K_M}
    w = gguf.GGUFWriter(str(path), arch)
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name(name or folder.name)
    w.add_block_count(config["num_hidden_layers"])
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(config["num_attention_heads"])
    w.add_head_count_kv(config["num_key_value_heads"])
    w.add_rope_freq_base(config["rope_theta"])
    w.add_layer_norm_rms_eps(config["rms_norm_eps"])
    w.add_key_length(config["head_dim"])
    w.add_value_length(config["head_dim"])
    w.add_file_type(file_types[outtype])
    if pooling:
        w.add_pooling_type({"lasttoken": gguf.PoolingType.LAST, "mean": gguf.PoolingType.MEAN,
                            "rank": gguf.PoolingType.RANK}[pooling])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    if vocab:
        tokens, types = vocab_entries(folder, config["vocab_size"])
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(pre)
        w.add_token_list(tokens)
        w.add_token_types(types)
        gguf.SpecialVocab(folder, load_merges=True).add_to_gguf(w)
    for hf_name, data in weights.items():
        if hf_name.startswith("lm_head."):
            continue
        new_name = gguf_name(hf_name)
        qtype = tensor_type(new_name, data, outtype)
        w.add_tensor(new_name, encode(data, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def tensor_type(name: str, data: np.ndarray, outtype: str):
    from gguf import GGMLQuantizationType as T

    if data.ndim <= 1 or name.endswith("_norm.weight"):
        return T.F32
    if outtype == "Q4_K_M":
        return T.Q6_K if name in ("blk.0.attn_v.weight", "blk.0.ffn_down.weight") else T.Q4_K
    return T[outtype]


def encode(data: np.ndarray, qtype) -> np.ndarray:
    from gguf import GGMLQuantizationType as T
    from gguf.quants import quantize

    if qtype == T.Q4_K:
        return quantize_q4_k(data)
    if qtype == T.Q6_K:
        return quantize_q6_k(data)
    return quantize(data, qtype)


def _f16_bytes(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float16).view(np.uint8).reshape(x.shape[0], 2)


def quantize_q4_k(data: np.ndarray) -> np.ndarray:
    """Q4_K blocks of 256 values: 8 sub-blocks x (6-bit scale, 6-bit min), 4-bit quants (x = d*sc*q - dmin*m)."""
    rows, cols = data.shape
    x = data.reshape(-1, 8, 32).astype(np.float32)
    n = x.shape[0]
    mins = np.maximum(-x.min(axis=-1), 0.0)
    scales = (x.max(axis=-1) + mins) / 15.0
    d = (scales.max(axis=-1) / 63.0).astype(np.float16).astype(np.float32)
    dmin = (mins.max(axis=-1) / 63.0).astype(np.float16).astype(np.float32)
    sc = np.clip(np.round(scales / np.where(d > 0, d, 1)[:, None]), 0, 63).astype(np.uint8)
    m = np.clip(np.round(mins / np.where(dmin > 0, dmin, 1)[:, None]), 0, 63).astype(np.uint8)
    step = (d[:, None] * sc)[..., None]
    q = np.clip(np.round((x + (dmin[:, None] * m)[..., None]) / np.where(step > 0, step, 1)), 0, 15).astype(np.uint8)
    packed = np.empty((n, 12), np.uint8)
    packed[:, 0:4] = sc[:, :4] | ((sc[:, 4:] >> 4) << 6)
    packed[:, 4:8] = m[:, :4] | ((m[:, 4:] >> 4) << 6)
    packed[:, 8:12] = (sc[:, 4:] & 0xF) | ((m[:, 4:] & 0xF) << 4)
    qs = (q[:, 0::2] | (q[:, 1::2] << 4)).reshape(n, 128)  # sub-block 2i: low nibbles, 2i+1: high
    blocks = np.concatenate([_f16_bytes(d), _f16_bytes(dmin), packed, qs], axis=1)
    return blocks.reshape(rows, cols // 256 * 144)


def quantize_q6_k(data: np.ndarray) -> np.ndarray:
    """Q6_K blocks of 256 values: 16 sub-blocks x int8 scale, 6-bit quants (x = d*sc*(q-32))."""
    rows, cols = data.shape
    x = data.reshape(-1, 16, 16).astype(np.float32)
    n = x.shape[0]
    scales = np.abs(x).max(axis=-1) / 31.0
    d = (scales.max(axis=-1) / 127.0).astype(np.float16).astype(np.float32)
    sc = np.clip(np.round(scales / np.where(d > 0, d, 1)[:, None]), 0, 127).astype(np.int8)
    step = (d[:, None] * sc)[..., None]
    q = (np.clip(np.round(x / np.where(step > 0, step, 1)), -32, 31) + 32).astype(np.uint8).reshape(n, 256)
    low, high = q & 0xF, q >> 4
    ql = np.zeros((n, 128), np.uint8)
    qh = np.zeros((n, 64), np.uint8)
    for h in range(2):
        for s in range(2):
            ql[:, h * 64:(h + 1) * 64] |= low[:, h * 128 + s * 64:h * 128 + (s + 1) * 64] << (4 * s)
        for s in range(4):
            qh[:, h * 32:(h + 1) * 32] |= high[:, h * 128 + s * 32:h * 128 + (s + 1) * 32] << (2 * s)
    blocks = np.concatenate([ql, qh, sc.view(np.uint8), _f16_bytes(d)], axis=1)
    return blocks.reshape(rows, cols // 256 * 210)


WHITESPACE_CORPUS = """Line one\n\nLine two\r\n\r\n    indented code\n\tTabbed\t\tvalue\n
I'VE SAID IT'S, they'll, we'd, You'RE, she's IT'SOK I'LLGO we'dbe they'REady 'quoted' \"double\" ''' ``` ...
Numbers: 1 12 123 1234 12345 3.14159 2024-01-31 +49 (0)30 1234567 €12,50 $3.99 100%
   leading spaces    and trailing   \n\n\n    x = {k: v for k, v in zip(a, b)}  # comment\n
!!!??? ------======= ~~~ <tag attr="1"/> café naïve résumé e\u0301 Ångström ﬁ ½
""" + "\nSOKOL\nLLGOOD\nREady" * 20  # merges across the contraction boundary ('S|OKOL, 'LL|GOOD, 'RE|ady)


def write_bpe_tokenizer(folder: Path, pre: str, vocab_size: int = 1500) -> Path:
    """A byte-level BPE trained with Qwen2's ("qwen2") or GPT-2's ("gpt-2") pre-tokenizer on text rich in
    whitespace, digits and contractions, so that pre-tokenizer differences change the ids; it appends
    <|endoftext|> like Qwen3-Embedding's tokenizer. Writes tokenizer.json, tokenizer_config.json, config.json."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    from .model_fixtures import CORPUS, EOS

    tok = Tokenizer(models.BPE())
    if pre == "qwen2":
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS, "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    chunks = [WHITESPACE_CORPUS * 3] + CORPUS.split("\n\n")
    tok.train_from_iterator(chunks, trainer)
    tok.post_processor = processors.TemplateProcessing(single=f"$A:0 {EOS}:0", pair=f"$A:0 {EOS}:0 $B:1 {EOS}:1",
                                                       special_tokens=[(EOS, tok.token_to_id(EOS))])
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": EOS, "pad_token": EOS}))
    (folder / "config.json").write_text(json.dumps({"vocab_size": tok.get_vocab_size() + 8, "eos_token_id": 0}))
    return folder


def write_vocab_gguf(folder: Path, path: Path, pre: str) -> Path:
    """A vocabulary-only GGUF (convert_hf_to_gguf --vocab-only) of `folder`'s tokenizer."""
    import gguf

    config = json.loads((Path(folder) / "config.json").read_text())
    w = gguf.GGUFWriter(str(path), "qwen3")
    tokens, types = vocab_entries(folder, config["vocab_size"])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    gguf.SpecialVocab(folder, load_merges=True).add_to_gguf(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()
    return Path(path)

"""Writers of random-weight models in the real Hugging Face layouts, for parity tests and benchmarks.

`write_jina_v5(folder)` writes what jinaai/jina-embeddings-v5-text-small ships: a Qwen3 config with
model_type jina_embeddings_v5 and task_names, bare Qwen3Model safetensors, one PEFT LoRA adapter per
task under adapters/<task>/ (non-zero A and B that differ per task), a byte-level BPE tokenizer.json
trained here whose post-processor appends <|endoftext|>, and config_sentence_transformers.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TASKS = ("retrieval", "text-matching", "clustering", "classification")
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
EOS = "<|endoftext|>"

TINY = dict(hidden_size=64, num_hidden_layers=2, intermediate_size=128, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16)
FULL = dict(hidden_size=1024, num_hidden_layers=28, intermediate_size=3072, num_attention_heads=16,
            num_key_value_heads=8, head_dim=128)

CORPUS = """
The quick brown fox jumps over the lazy dog. Mars, known for its reddish appearance, is often referred
to as the Red Planet. Venus is often called Earth's twin because of its similar size and proximity.
Jupiter, the largest planet in our solar system, has a prominent red spot. Saturn is famous for its rings.
Le renard brun rapide saute par-dessus le chien paresseux. Der schnelle braune Fuchs springt über den Hund.
El zorro marrón rápido salta sobre el perro perezoso. Быстрая коричневая лиса прыгает через ленивую собаку.
敏捷的棕色狐狸跳过了懒狗。 素早い茶色の狐がのろまな犬を飛び越える。 빠른 갈색 여우가 게으른 개를 뛰어넘는다.
def encode(texts, task="retrieval"): return model.embed(texts) # Python source code with symbols {}[]()
Contract renewal terms with the landlord are due in March. Invoices, receipts and tax documents 2024.
""" * 4


def write_tokenizer(folder: Path, append_eos: bool = True, vocab_size: int = 600) -> int:
    """Train a small byte-level BPE tokenizer; return its vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS, "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS.split("\n"), trainer)
    eos_id = tok.token_to_id(EOS)
    if append_eos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"$A:0 {EOS}:0", pair=f"$A:0 {EOS}:0 $B:1 {EOS}:1", special_tokens=[(EOS, eos_id)])
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "eos_token": EOS, "pad_token": EOS,
        "model_max_length": 32768, "padding_side": "right", "clean_up_tokenization_spaces": False,
    }, indent=2))
    return tok.get_vocab_size()


def qwen3_config(shape: dict, vocab_size: int, rope_theta: float = 3.5e6, **extra) -> dict:
    return {
        "architectures": ["Qwen3Model"], "model_type": "qwen3", "vocab_size": vocab_size,
        "rms_norm_eps": 1e-6, "max_position_embeddings": 32768, "rope_theta": rope_theta, "rope_scaling": None,
        "hidden_act": "silu", "attention_bias": False, "attention_dropout": 0.0, "tie_word_embeddings": True,
        "torch_dtype": "float32", "bos_token_id": 0, "eos_token_id": 0, **shape, **extra,
    }


def random_qwen3_weights(config: dict, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, inter, hd = config["hidden_size"], config["intermediate_size"], config["head_dim"]
    nq, nkv = config["num_attention_heads"], config["num_key_value_heads"]

    def dense(out_dim: int, in_dim: int) -> np.ndarray:
        return (rng.standard_normal((out_dim, in_dim), dtype=np.float32) / np.sqrt(in_dim)).astype(np.float32)

    def norm(n: int) -> np.ndarray:
        return (1.0 + 0.2 * rng.standard_normal(n)).astype(np.float32)

    w = {"embed_tokens.weight": rng.standard_normal((config["vocab_size"], h), dtype=np.float32),
         "norm.weight": norm(h)}
    for i in range(config["num_hidden_layers"]):
        p = f"layers.{i}."
        w |= {p + "input_layernorm.weight": norm(h), p + "post_attention_layernorm.weight": norm(h),
              p + "self_attn.q_proj.weight": dense(nq * hd, h), p + "self_attn.k_proj.weight": dense(nkv * hd, h),
              p + "self_attn.v_proj.weight": dense(nkv * hd, h), p + "self_attn.o_proj.weight": dense(h, nq * hd),
              p + "self_attn.q_norm.weight": norm(hd), p + "self_attn.k_norm.weight": norm(hd),
              p + "mlp.gate_proj.weight": dense(inter, h), p + "mlp.up_proj.weight": dense(inter, h),
              p + "mlp.down_proj.weight": dense(h, inter)}
    return w


def random_lora(config: dict, rank: int, seed: int) -> dict[str, np.ndarray]:
    """PEFT-named LoRA weights for every target of every layer; B is non-zero (unlike a fresh PEFT init)."""
    rng = np.random.default_rng(seed)
    h, inter, hd = config["hidden_size"], config["intermediate_size"], config["head_dim"]
    nq, nkv = config["num_attention_heads"], config["num_key_value_heads"]
    shapes = {"q_proj": (nq * hd, h), "k_proj": (nkv * hd, h), "v_proj": (nkv * hd, h), "o_proj": (h, nq * hd),
              "gate_proj": (inter, h), "up_proj": (inter, h), "down_proj": (h, inter)}
    out = {}
    for i in range(config["num_hidden_layers"]):
        for name, (o, n) in shapes.items():
            sub = "self_attn" if name.endswith(("q_proj", "k_proj", "v_proj", "o_proj")) else "mlp"
            key = f"base_model.model.layers.{i}.{sub}.{name}"
            out[f"{key}.lora_A.weight"] = (0.5 * rng.standard_normal((rank, n)) / np.sqrt(n)).astype(np.float32)
            out[f"{key}.lora_B.weight"] = (0.5 * rng.standard_normal((o, rank)) / np.sqrt(rank)).astype(np.float32)
    return out


def save_safetensors(tensors: dict[str, np.ndarray], path: Path, dtype: str = "float32") -> None:
    import torch
    from safetensors.torch import save_file

    torch_dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    save_file({k: torch.from_numpy(np.ascontiguousarray(v)).to(torch_dtype) for k, v in tensors.items()},
              str(path), metadata={"format": "pt"})


def save_weights(weights: dict[str, np.ndarray], folder: Path, dtype: str, shards: int, prefix: str) -> None:
    weights = {prefix + k: v for k, v in weights.items()}
    if shards <= 1:
        save_safetensors(weights, folder / "model.safetensors", dtype)
        return
    keys = sorted(weights)
    weight_map = {}
    for s in range(shards):
        name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = keys[s::shards]
        save_safetensors({k: weights[k] for k in part}, folder / name, dtype)
        weight_map |= {k: name for k in part}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


def write_jina_v5(folder: Path, *, shape: dict = TINY, layout: str = "adapters", tasks=TASKS,
                  lora_rank: int = 8, lora_alpha: float = 16.0, dtype: str = "float32", shards: int = 1,
                  prefix: str = "", append_eos: bool = True, seed: int = 0, vocab_size: int | None = None,
                  merged_task: str = "retrieval") -> Path:
    """Write a random jina-v5-small-shaped model.

    layout: "adapters" (the base repo with adapters/<task>/), "merged" (a per-task repo with one
    adapter folded into the weights), "qwen3-embedding" (plain Qwen3 with instruction prompts).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tok_vocab = write_tokenizer(folder, append_eos=append_eos)
    config = qwen3_config(shape, vocab_size or tok_vocab, torch_dtype=dtype)
    weights = random_qwen3_weights(config, seed)
    prompts = {"query": "Query: ", "document": "Document: "}
    if layout == "adapters":
        config |= {"architectures": ["JinaEmbeddingsV5Model"], "model_type": "jina_embeddings_v5",
                   "task_names": list(tasks), "_name_or_path": "jinaai/jina-embeddings-v5-text-small"}
        for k, task in enumerate(tasks):
            write_adapter(folder / "adapters" / task, random_lora(config, lora_rank, seed + 101 + k),
                          lora_rank, lora_alpha)
    elif layout == "merged":
        k = list(TASKS).index(merged_task)
        lora = random_lora(config, lora_rank, seed + 101 + k)
        for key in list(weights):
            a = lora.get(f"base_model.model.{key.removesuffix('.weight')}.lora_A.weight")
            if a is not None:
                b = lora[f"base_model.model.{key.removesuffix('.weight')}.lora_B.weight"]
                weights[key] = weights[key] + (b @ a) * (lora_alpha / lora_rank)
        config["_name_or_path"] = f"jinaai/jina-embeddings-v5-text-small-{merged_task}"
    elif layout == "qwen3-embedding":
        config["_name_or_path"] = "Qwen/Qwen3-Embedding-0.6B"
        prompts = {"query": "Instruct: Given a web search query, retrieve relevant passages that answer the "
                            "query\nQuery:", "document": ""}
    else:
        raise ValueError(layout)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": prompts, "default_prompt_name": "document" if layout != "qwen3-embedding" else None,
         "similarity_fn_name": "cosine"}, indent=2))
    save_weights(weights, folder, dtype, shards, prefix)
    return folder


def write_adapter(folder: Path, tensors: dict[str, np.ndarray], rank: int, alpha: float, **settings) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    config = {"peft_type": "LORA", "task_type": "FEATURE_EXTRACTION", "r": rank, "lora_alpha": alpha,
              "lora_dropout": 0.1, "target_modules": list(TARGETS), "bias": "none", "use_dora": False,
              "use_rslora": False, "fan_in_fan_out": False, "inference_mode": True, "modules_to_save": None,
              "base_model_name_or_path": "jinaai/jina-embeddings-v5-text-small", **settings}
    (folder / "adapter_config.json").write_text(json.dumps(config, indent=2))
    save_safetensors(tensors, folder / "adapter_model.safetensors")


# --- BERT (sentence-transformers layout) --------------------------------------------------------------

BERT_TINY = dict(hidden_size=64, num_hidden_layers=2, intermediate_size=128, num_attention_heads=4)
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write_wordpiece_tokenizer(folder: Path, vocab_size: int = 800, lowercase: bool = True) -> int:
    """Train a small BERT WordPiece tokenizer ([CLS] text [SEP]); write tokenizer.json and vocab.txt."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=BERT_SPECIALS, show_progress=False)
    tok.train_from_iterator(CORPUS.split("\n"), trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    (folder / "vocab.txt").write_text("".join(f"{t}\n" for t, _ in vocab), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "BertTokenizer", "do_lower_case": lowercase, "unk_token": "[UNK]", "sep_token": "[SEP]",
        "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]", "model_max_length": 512,
    }, indent=2))
    return tok.get_vocab_size()


def random_bert_weights(config: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """BertModel keys (pooler included), random but well-scaled."""
    rng = np.random.default_rng(seed)
    h, inter = config["hidden_size"], config["intermediate_size"]

    def dense(prefix: str, out_dim: int, in_dim: int) -> dict[str, np.ndarray]:
        return {prefix + ".weight": (rng.standard_normal((out_dim, in_dim)) / np.sqrt(in_dim)).astype(np.float32),
                prefix + ".bias": (0.1 * rng.standard_normal(out_dim)).astype(np.float32)}

    def layer_norm(prefix: str) -> dict[str, np.ndarray]:
        return {prefix + ".weight": (1.0 + 0.2 * rng.standard_normal(h)).astype(np.float32),
                prefix + ".bias": (0.1 * rng.standard_normal(h)).astype(np.float32)}

    w = {"embeddings.word_embeddings.weight": rng.standard_normal((config["vocab_size"], h)).astype(np.float32),
         "embeddings.position_embeddings.weight":
             (0.5 * rng.standard_normal((config["max_position_embeddings"], h))).astype(np.float32),
         "embeddings.token_type_embeddings.weight":
             (0.5 * rng.standard_normal((config["type_vocab_size"], h))).astype(np.float32),
         **layer_norm("embeddings.LayerNorm"), **dense("pooler.dense", h, h)}
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for name in ("query", "key", "value"):
            w |= dense(p + "attention.self." + name, h, h)
        w |= dense(p + "attention.output.dense", h, h) | layer_norm(p + "attention.output.LayerNorm")
        w |= dense(p + "intermediate.dense", inter, h) | dense(p + "output.dense", h, inter)
        w |= layer_norm(p + "output.LayerNorm")
    return w


def write_bert(folder: Path, *, shape: dict = BERT_TINY, pooling: str = "mean", normalize: bool = True,
               prompts: dict[str, str] | None = None, default_prompt_name: str | None = None,
               max_seq_length: int | None = 128, max_position_embeddings: int = 512, lowercase: bool = True,
               do_lower_case: bool = False, prefix: str = "", hidden_act: str = "gelu", seed: int = 0) -> Path:
    """Write a random BERT sentence-transformers model (all-MiniLM / bge / e5 layout).

    pooling: "mean" | "cls" | "lasttoken" (1_Pooling/config.json, legacy boolean keys); normalize adds a
    Normalize module; prefix ("bert." as in BertForMaskedLM saves) is put on every weight key.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = write_wordpiece_tokenizer(folder, lowercase=lowercase)
    config = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": vocab_size, "hidden_act": hidden_act,
              "max_position_embeddings": max_position_embeddings, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
              "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "pad_token_id": 0,
              "position_embedding_type": "absolute", "initializer_range": 0.02, **shape}
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    weights = random_bert_weights(config, seed)
    weights["embeddings.position_ids"] = np.arange(max_position_embeddings, dtype=np.int64)[None]
    save_safetensors_mixed({prefix + k: v for k, v in weights.items()}, folder / "model.safetensors")
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    (folder / "modules.json").write_text(json.dumps(modules, indent=2))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    legacy = {"cls": "pooling_mode_cls_token", "mean": "pooling_mode_mean_tokens",
              "lasttoken": "pooling_mode_lasttoken", "max": "pooling_mode_max_tokens"}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": shape["hidden_size"], **{key: mode == pooling for mode, key in legacy.items()}},
        indent=2))
    sbert = {"do_lower_case": do_lower_case}
    if max_seq_length is not None:
        sbert["max_seq_length"] = max_seq_length
    (folder / "sentence_bert_config.json").write_text(json.dumps(sbert, indent=2))
    st = {"prompts": prompts or {}, "default_prompt_name": default_prompt_name, "similarity_fn_name": "cosine"}
    (folder / "config_sentence_transformers.json").write_text(json.dumps(st, indent=2))
    return folder


def save_safetensors_mixed(tensors: dict[str, np.ndarray], path: Path) -> None:
    """Like save_safetensors, but keeps integer buffers (position_ids) as they are."""
    import torch
    from safetensors.torch import save_file

    save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()}, str(path),
              metadata={"format": "pt"})


# --- jina-embeddings-v5-text-nano (EuroBERT backbone) --------------------------------------------------

EUROBERT_TINY = dict(hidden_size=64, num_hidden_layers=2, intermediate_size=160, num_attention_heads=4,
                     num_key_value_heads=2, head_dim=16)
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|mask|>"]
NANO_EOS = "<|end_of_text|>"


def write_llama3_style_tokenizer(folder: Path, prepend_bos: bool = False, vocab_size: int = 700) -> dict[str, int]:
    """A small byte-level BPE tokenizer named like EuroBERT's (Llama-3 specials); its post-processor
    appends <|end_of_text|> (and prepends <|begin_of_text|> if asked). Returns the special ids."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=LLAMA3_SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS.split("\n"), trainer)
    ids = {name: tok.token_to_id(name) for name in LLAMA3_SPECIALS}
    bos = "<|begin_of_text|>:0 " if prepend_bos else ""
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos}$A:0 {NANO_EOS}:0", pair=f"{bos}$A:0 {NANO_EOS}:0 $B:1 {NANO_EOS}:1",
        special_tokens=[(name, ids[name]) for name in LLAMA3_SPECIALS[:2]])
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin_of_text|>", "eos_token": NANO_EOS,
        "pad_token": NANO_EOS, "mask_token": "<|mask|>", "model_max_length": 32768, "padding_side": "right",
        "clean_up_tokenization_spaces": False,
    }, indent=2))
    return {"vocab_size": tok.get_vocab_size(), "bos": ids["<|begin_of_text|>"], "eos": ids[NANO_EOS],
            "mask": ids["<|mask|>"]}


def random_eurobert_weights(config: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """EuroBertModel keys: the Qwen3 layout without q_norm/k_norm, plus biases if the config asks."""
    weights = {k: v for k, v in random_qwen3_weights(config, seed).items()
               if not k.endswith(("q_norm.weight", "k_norm.weight"))}
    rng = np.random.default_rng(seed + 7)
    for key in list(weights):
        proj = key.rsplit(".", 2)[-2]
        wants_bias = (config.get("attention_bias") and proj in ("q_proj", "k_proj", "v_proj", "o_proj")) or (
            config.get("mlp_bias") and proj in ("gate_proj", "up_proj", "down_proj"))
        if wants_bias and key.endswith(".weight"):
            weights[key.removesuffix("weight") + "bias"] = (0.1 * rng.standard_normal(weights[key].shape[0])
                                                            ).astype(np.float32)
    return weights


def write_jina_v5_nano(folder: Path, *, shape: dict = EUROBERT_TINY, layout: str = "adapters", tasks=TASKS,
                       config_style: str = "jina", lora_rank: int = 8, lora_alpha: float = 16.0,
                       rope_theta: float = 160000.0, bias: bool = False, prepend_bos: bool = False,
                       prefix: str = "", dtype: str = "float32", seed: int = 0,
                       merged_task: str = "retrieval") -> Path:
    """Write a random jina-embeddings-v5-text-nano-shaped model.

    config_style: how config.json names the backbone. "jina": model_type jina_embeddings_v5,
    architectures [JinaEmbeddingsV5Model], auto_map to the repo's own code, EuroBertConfig keys (what the
    nano repo is expected to ship); "eurobert": model_type eurobert, architectures [EuroBertModel];
    "jina-named": model_type jina_embeddings_v5 without EuroBERT-only keys, identified by _name_or_path.
    layout: "adapters" (adapters/<task>/) or "merged" (one adapter folded into the weights).
    The folder also holds a custom_st.py that raises if anything ever runs it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    special = write_llama3_style_tokenizer(folder, prepend_bos=prepend_bos)
    config = {
        "architectures": ["EuroBertModel"], "model_type": "eurobert", "vocab_size": special["vocab_size"],
        "hidden_act": "silu", "rms_norm_eps": 1e-5, "max_position_embeddings": 32768,
        "rope_parameters": {"rope_theta": rope_theta, "rope_type": "default"}, "attention_bias": bias,
        "attention_dropout": 0.0, "mlp_bias": bias, "bos_token_id": special["bos"], "eos_token_id": special["eos"],
        "pad_token_id": special["eos"], "mask_token_id": special["mask"], "classifier_pooling": "late",
        "tie_word_embeddings": False, "initializer_range": 0.02, "dtype": dtype, **shape,
    }
    name = "jinaai/jina-embeddings-v5-text-nano" + (f"-{merged_task}" if layout == "merged" else "")
    if config_style in ("jina", "jina-named"):
        config |= {"architectures": ["JinaEmbeddingsV5Model"], "model_type": "jina_embeddings_v5",
                   "auto_map": {"AutoConfig": "configuration_jina_embeddings_v5.JinaEmbeddingsV5Config",
                                "AutoModel": "modeling_jina_embeddings_v5.JinaEmbeddingsV5Model"}}
    if config_style == "jina-named":
        del config["mask_token_id"], config["classifier_pooling"]
        config["_name_or_path"] = name
    elif config_style not in ("jina", "eurobert"):
        raise ValueError(config_style)
    weights = random_eurobert_weights(config, seed)
    if layout == "adapters":
        config["task_names"] = list(tasks)
        for k, task in enumerate(tasks):
            write_adapter(folder / "adapters" / task, random_lora(config, lora_rank, seed + 101 + k), lora_rank,
                          lora_alpha, base_model_name_or_path="jinaai/jina-embeddings-v5-text-nano")
    elif layout == "merged":
        lora = random_lora(config, lora_rank, seed + 101 + list(TASKS).index(merged_task))
        for key in list(weights):
            stem = f"base_model.model.{key.removesuffix('.weight')}"
            if f"{stem}.lora_A.weight" in lora:
                weights[key] = weights[key] + (lora[f"{stem}.lora_B.weight"] @ lora[f"{stem}.lora_A.weight"]
                                               ) * (lora_alpha / lora_rank)
        config["_name_or_path"] = name
    else:
        raise ValueError(layout)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": {"query": "Query: ", "document": "Document: "}, "default_prompt_name": "document",
         "similarity_fn_name": "cosine"}, indent=2))
    (folder / "modules.json").write_text(json.dumps(
        [{"idx": 0, "name": "0", "path": "", "type": "custom_st.Transformer"}], indent=2))
    (folder / "custom_st.py").write_text('raise RuntimeError("mlx-embed must never run code from a model folder")\n')
    save_weights(weights, folder, dtype, 1, prefix)
    return folder

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

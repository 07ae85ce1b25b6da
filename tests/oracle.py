"""Reference embeddings from transformers (+ peft): the oracle every model path is checked against."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch


@lru_cache(maxsize=8)
def qwen3_reference(folder: str, task: str | None):
    """transformers Qwen3Model on `folder`'s weights, with `task`'s PEFT adapter applied (or none)."""
    from safetensors.torch import load_file
    from transformers import Qwen3Config, Qwen3Model

    folder_p = Path(folder)
    config = json.loads((folder_p / "config.json").read_text())
    config = {k: v for k, v in config.items() if k not in ("model_type", "architectures", "task_names")}
    model = Qwen3Model(Qwen3Config(**config)).to(torch.float32)
    state = {}
    for f in sorted(folder_p.glob("*.safetensors")):
        state |= {k.removeprefix("model."): v.float() for k, v in load_file(str(f)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    if task is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(folder_p / "adapters" / task))
    model.eval()
    return model


@lru_cache(maxsize=8)
def reference_tokenizer(folder: str):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_file=str(Path(folder) / "tokenizer.json"), pad_token="<|endoftext|>")


def qwen3_embed(folder: Path, texts: list[str], task: str | None = None, prefix: str = "",
                max_length: int | None = None, padding_side: str = "right") -> np.ndarray:
    """Last-token pooled, L2-normalised reference vectors for `texts`, as one padded batch."""
    tok = reference_tokenizer(str(folder))
    tok.padding_side = padding_side
    model = qwen3_reference(str(folder), task)
    batch = tok([prefix + t for t in texts], padding=True, truncation=max_length is not None,
                max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    if padding_side == "left":
        pooled = hidden[:, -1]
    else:
        last = batch["attention_mask"].sum(dim=1) - 1
        pooled = hidden[torch.arange(hidden.shape[0]), last]
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return (a * b).sum(-1)


# --- sentence-transformers (BERT-family models) -------------------------------------------------------

@lru_cache(maxsize=4)
def st_model(folder: str):
    """sentence-transformers' own pipeline for `folder` (modules.json: Transformer, Pooling, Normalize)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(folder, device="cpu")


def st_embed(folder: Path, texts: list[str], *, batch_size: int = 32, max_seq_length: int | None = None,
             **kwargs) -> np.ndarray:
    """float32 reference vectors from SentenceTransformer.encode (padded batches of `batch_size`)."""
    model = st_model(str(folder))
    saved = model.max_seq_length
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    try:
        out = model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False, **kwargs)
    finally:
        model.max_seq_length = saved
    return np.asarray(out, dtype=np.float32)


def st_token_ids(folder: Path, texts: list[str], max_seq_length: int | None = None) -> list[list[int]]:
    """The token ids sentence-transformers feeds its transformer (truncated, specials included)."""
    model = st_model(str(folder))
    saved = model.max_seq_length
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    try:
        ids, mask = [], []
        for start in range(0, len(texts), 64):
            chunk = texts[start:start + 64]
            features = model.preprocess(chunk) if hasattr(model, "preprocess") else model.tokenize(chunk)
            ids += features["input_ids"].tolist()
            mask += features["attention_mask"].tolist()
    finally:
        model.max_seq_length = saved
    return [[t for t, m in zip(row, mrow) if m] for row, mrow in zip(ids, mask)]


# --- EuroBERT / jina-embeddings-v5-text-nano ----------------------------------------------------------

@lru_cache(maxsize=8)
def eurobert_reference(folder: str, task: str | None):
    """transformers EuroBertModel on `folder`'s weights, with `task`'s PEFT adapter applied (or none)."""
    from safetensors.torch import load_file
    from transformers import EuroBertConfig, EuroBertModel

    folder_p = Path(folder)
    config = json.loads((folder_p / "config.json").read_text())
    config = {k: v for k, v in config.items()
              if k not in ("model_type", "architectures", "task_names", "auto_map", "_name_or_path")}
    model = EuroBertModel(EuroBertConfig(**config)).to(torch.float32)
    state = {}
    for f in sorted(folder_p.glob("*.safetensors")):
        state |= {k.removeprefix("model."): v.float() for k, v in load_file(str(f)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    if task is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(folder_p / "adapters" / task))
    model.eval()
    return model


@lru_cache(maxsize=8)
def folder_tokenizer(folder: str):
    """transformers' fast tokenizer on tokenizer.json, with the pad token tokenizer_config.json names."""
    from transformers import PreTrainedTokenizerFast

    settings = json.loads((Path(folder) / "tokenizer_config.json").read_text())
    return PreTrainedTokenizerFast(tokenizer_file=str(Path(folder) / "tokenizer.json"),
                                   pad_token=settings["pad_token"])


def eurobert_embed(folder: Path, texts: list[str], task: str | None = None, prefix: str = "",
                   max_length: int | None = None) -> np.ndarray:
    """Last-real-token pooled, L2-normalised reference vectors, as one right-padded batch with its
    attention mask (what the nano's own `encode` does)."""
    tok = folder_tokenizer(str(folder))
    tok.padding_side = "right"
    model = eurobert_reference(str(folder), task)
    batch = tok([prefix + t for t in texts], padding=True, truncation=max_length is not None,
                max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    last = batch["attention_mask"].sum(dim=1) - 1
    pooled = hidden[torch.arange(hidden.shape[0]), last]
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()

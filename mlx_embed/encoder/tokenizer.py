"""Tokenisation with the model's own tokenizer.json, post-processor included.

The post-processor adds what the model was trained with (Qwen3's trailing <|endoftext|>, BERT's
[CLS] ... [SEP]); last-token pooling reads that final token, so truncation must keep it. The
`tokenizers` library reserves room for the post-processor's tokens when it truncates, exactly as
transformers' fast tokenizers do.
"""

from __future__ import annotations

import threading
from pathlib import Path

from tokenizers import Encoding, Tokenizer as _HFTokenizer

from ..errors import ModelFormatError


class Tokenizer:
    def __init__(self, hf_tokenizer: _HFTokenizer, source: str = "tokenizer.json"):
        self._tok = hf_tokenizer
        self._tok.no_padding()
        self._tok.no_truncation()
        self._lock = threading.Lock()  # truncation is tokenizer state; keep per-call settings atomic
        self.source = source

    @classmethod
    def from_file(cls, path: Path) -> "Tokenizer":
        if not path.is_file():
            raise ModelFormatError(f"{path} is missing: the model folder needs its tokenizer.json.")
        try:
            return cls(_HFTokenizer.from_file(str(path)), str(path))
        except Exception as exc:
            raise ModelFormatError(f"{path} could not be read as a tokenizer ({exc}). Re-download the model.") from exc

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def encode_batch(self, texts: list[str], max_length: int | None) -> list[Encoding]:
        with self._lock:
            if max_length:
                self._tok.enable_truncation(max_length)
            else:
                self._tok.no_truncation()
            return self._tok.encode_batch(texts, add_special_tokens=True)

    def encode(self, texts: list[str], max_length: int | None) -> list[list[int]]:
        """Token ids of each text, special tokens included, truncated to `max_length`."""
        return [e.ids for e in self.encode_batch(texts, max_length)]

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.encode_batch(texts, None)]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of every token of `text` (special tokens get (0, 0)), for chunking."""
        return self.encode_batch([text], None)[0].offsets

    def special_token_count(self) -> int:
        return self._tok.post_processor.num_special_tokens_to_add(False) if self._tok.post_processor else 0

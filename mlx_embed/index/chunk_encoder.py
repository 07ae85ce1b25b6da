"""How the index turns text into vectors: chunks as documents, queries as queries, retrieval task.

    ChunkEncoder(model, chunk_tokens, vector_dim)
        .max_chunk_tokens               room left for chunk text (prompt, header, special tokens removed)
        .documents(texts, cancel) -> float32 (n, d) normalised, with timings (tokenise / model)
        .query(text) -> float32 (d,)
Chunks are embedded with the retrieval task and the document prompt ("Document: " for jina-v5),
queries with the query prompt, exactly as `EmbeddingModel.encode_document` / `encode_query` do.
"""

from __future__ import annotations

import threading
import time

import numpy as np

TASK = "retrieval"
EMBED_BATCH = 32  # chunks per model call (cancel is checked between calls)


class ChunkEncoder:
    def __init__(self, model, chunk_tokens: int = 256, vector_dim: int | None = None):
        from ..encoder.precision import check_truncate_dim

        self.model = model
        self.vector_dim = vector_dim
        check_truncate_dim(vector_dim, model.dim)
        self.task = model.resolve_task(TASK)
        self.doc_prefix = model.resolve_prompt("document" if "document" in model.prompts else None,
                                               None if "document" in model.prompts else "")
        self.limit = min(chunk_tokens, model.max_length)
        tok = model.tokenizer
        prefix_tokens = len(tok.encode([self.doc_prefix], None)[0]) if self.doc_prefix else tok.special_token_count()
        self.max_chunk_tokens = max(16, self.limit - prefix_tokens - 1)
        self.timings = {"tokenise": 0.0, "model": 0.0}
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self.vector_dim or self.model.dim

    def documents(self, texts: list[str], cancel: threading.Event | None = None) -> np.ndarray | None:
        """Normalised vectors of chunk texts; None if cancelled part-way."""
        from ..encoder.precision import finish

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for s in range(0, len(texts), EMBED_BATCH):
            if cancel is not None and cancel.is_set():
                return None
            t0 = time.perf_counter()
            # chunks are sized to fit `limit`; truncate only at the model's own maximum
            ids = self.model.tokenizer.encode([self.doc_prefix + t for t in texts[s:s + EMBED_BATCH]],
                                              self.model.max_length)
            t1 = time.perf_counter()
            raw = self.model.embed_token_ids(ids, self.task)
            out[s:s + EMBED_BATCH] = finish(raw, self.vector_dim, True)
            t2 = time.perf_counter()
            self.timings["tokenise"] += t1 - t0
            self.timings["model"] += t2 - t1
        return out

    def query(self, text: str) -> np.ndarray:
        return self.model.encode_query(text, task=TASK, truncate_dim=self.vector_dim).astype(np.float32)

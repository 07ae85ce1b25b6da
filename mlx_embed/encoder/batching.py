"""Length-sorted batches under a token budget, split where padding would cost more than a new batch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

DEFAULT_BATCH_TOKENS = 8192
# What one more batch costs, in padded tokens of work: the per-op dispatch of a forward and the pass
# over the weights that every batch makes, which small matrix products do not hide (measured in
# bench/batching.py).
BATCH_OVERHEAD_TOKENS = 128
# Attention grows with the square of the length: each slot of an L-token padded row costs L / ATTENTION_SPAN
# tokens of linear-layer work; the per-token layers cost 1 a real token and nothing a pad (they skip
# the pads: models.base.Packing). In FLOPs the span would be ~3800 (Qwen3-0.6B) and ~2300 (MiniLM),
# but attention's small products and softmax run ~4x slower per FLOP than the linear layers: timed
# per stage (bench/profile_encoder.py), the span is 1100 and 530.
ATTENTION_SPAN = 768


def plan_batches(lengths: Sequence[int], max_tokens: int = DEFAULT_BATCH_TOKENS,
                 max_batch_size: int | None = None) -> list[list[int]]:
    """Group indices into batches, longest first, each with at most `max_tokens` padded tokens.

    The texts are sorted by length and cut into runs so that the work (per-token layers on the real
    tokens, attention on the padded batch) plus a fixed cost per batch is least (dynamic programming
    over the cut points): similar lengths share a batch, and a short tail never pads up to a long head.
    A text longer than the budget gets a batch of its own. The caller restores input order.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    if not order:
        return []
    sorted_len = np.array([lengths[i] for i in order], dtype=np.float64)
    n = len(order)
    total = np.concatenate([[0.0], np.cumsum(sorted_len)])  # total[i]: tokens of the i longest texts
    cap = n if max_batch_size is None else max(1, max_batch_size)
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    cut = np.zeros(n + 1, dtype=np.int64)
    for end in range(1, n + 1):
        starts = np.arange(max(0, end - cap), end)
        longest = sorted_len[starts]  # the first text of a run is its longest
        size = end - starts
        padded = size * longest
        fits = (padded <= max_tokens) | (size == 1)
        # per-token layers run on the real tokens only (models.base.Packing); attention on the padded batch
        real = total[end] - total[starts]
        cost = np.where(fits, best[starts] + real + padded * longest / ATTENTION_SPAN + BATCH_OVERHEAD_TOKENS,
                        np.inf)
        pick = int(np.argmin(cost))
        best[end], cut[end] = cost[pick], starts[pick]
    batches: list[list[int]] = []
    end = n
    while end > 0:
        start = int(cut[end])
        batches.append(order[start:end])
        end = start
    return batches[::-1]


def pad(sequences: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad token ids into a (B, L) int32 array; also return the (B,) lengths."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int32)
    ids = np.full((len(sequences), int(lengths.max())), pad_id, dtype=np.int32)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
    return ids, lengths


def iter_progress(items: Sequence, total: int, enabled: bool, desc: str) -> Iterator:
    if not enabled:
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, total=total, desc=desc, unit="batch", leave=False)

"""Length-sorted batches under a token budget, so padding and wasted compute stay small."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

DEFAULT_BATCH_TOKENS = 8192


def plan_batches(lengths: Sequence[int], max_tokens: int = DEFAULT_BATCH_TOKENS,
                 max_batch_size: int | None = None) -> list[list[int]]:
    """Group indices into batches, longest first, each with at most `max_tokens` padded tokens.

    A text longer than the budget gets a batch of its own. The caller restores input order.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        padded_len = lengths[current[0]] if current else lengths[i]  # first is the longest
        too_many = max_batch_size is not None and len(current) >= max_batch_size
        if current and (too_many or padded_len * (len(current) + 1) > max_tokens):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


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

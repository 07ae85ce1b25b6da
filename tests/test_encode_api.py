"""The encode API: Matryoshka, precision, batching, adapter switching, task/prompt validation."""

from __future__ import annotations

import time

import mlx.core as mx
from mlx.utils import tree_flatten
import numpy as np
import pytest

import mlx_embed
from mlx_embed.encoder.batching import pad, plan_batches

TEXTS = ["alpha", "Mars is red " * 20, "", "Le renard brun", "short one", "x " * 50, "日本語のテキスト"]


@pytest.fixture(scope="module")
def model(jina_tiny):
    return mlx_embed.load(jina_tiny)


def test_matryoshka_truncates_then_renormalises(model):
    full = model.encode(TEXTS, task="retrieval", normalize_embeddings=False)
    for d in (32, 48, 64):
        small = model.encode(TEXTS, task="retrieval", truncate_dim=d)
        assert small.shape == (len(TEXTS), d)
        expected = full[:, :d] / np.linalg.norm(full[:, :d], axis=1, keepdims=True)
        np.testing.assert_allclose(small, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(small, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("bad", [0, -1, 65, 1.5])
def test_truncate_dim_out_of_range(model, bad):
    with pytest.raises(ValueError, match="truncate_dim"):
        model.encode("a", truncate_dim=bad)


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
def test_precision_matches_sentence_transformers(model, precision):
    from sentence_transformers.util import quantize_embeddings

    floats = model.encode(TEXTS, task="clustering")
    ours = model.encode(TEXTS, task="clustering", precision=precision)
    theirs = quantize_embeddings(floats, precision=precision)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_unknown_task_and_prompt_name_list_the_valid_ones(model):
    with pytest.raises(ValueError, match="retrieval, text-matching, clustering, classification"):
        model.encode("a", task="summarisation")
    with pytest.raises(ValueError, match="query, document"):
        model.encode("a", prompt_name="passage")
    with pytest.raises(ValueError, match="precision"):
        model.encode("a", precision="float8")
    with pytest.raises(ValueError, match="not a string"):
        model.encode(["a", 3])


def test_empty_list_gives_empty_matrix(model):
    out = model.encode([], task="retrieval")
    assert out.shape == (0, model.dim)


def test_adapter_round_trip_is_bit_identical_and_cheap(model):
    before = sum(v.nbytes for _, v in tree_flatten(model.network.parameters()))
    a = model.encode(TEXTS, task="retrieval")
    c = model.encode(TEXTS, task="clustering")
    b = model.encode(TEXTS, task="retrieval")
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    after = sum(v.nbytes for _, v in tree_flatten(model.network.parameters()))
    assert before == after
    # Base weights are the same arrays, not copies, whichever adapter is active.
    q = model.network.layers[0].self_attn.q_proj.linear.weight
    model.set_task("classification")
    assert model.network.layers[0].self_attn.q_proj.linear.weight is q
    start = time.perf_counter()
    for task in ["retrieval", "clustering"] * 50:
        model.set_task(task)
    assert (time.perf_counter() - start) / 100 < 0.02


def test_every_adapter_is_different(model):
    vecs = {t: model.encode(TEXTS[:2], task=t) for t in model.tasks}
    tasks = list(vecs)
    for i, t in enumerate(tasks):
        for u in tasks[i + 1:]:
            assert not np.allclose(vecs[t], vecs[u]), (t, u)


def test_batch_plan_respects_budget_and_order():
    lengths = [5, 100, 7, 3, 100, 50, 1, 2000]
    batches = plan_batches(lengths, max_tokens=256)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 256
        assert [lengths[i] for i in b] == sorted((lengths[i] for i in b), reverse=True)
    assert [7] in batches  # longer than the budget: a batch of its own
    assert all(len(b) <= 2 for b in plan_batches(lengths, max_tokens=10**6, max_batch_size=2))


def test_order_restored_whatever_the_batching(model):
    ref = model.encode(TEXTS, task="retrieval")
    for budget, size in [(16, 64), (64, 2), (10**6, 1)]:
        out = model.encode(TEXTS, task="retrieval", max_batch_tokens=budget, batch_size=size)
        np.testing.assert_allclose(out, ref, atol=2e-6)


def test_pad_is_right_padding():
    ids, lengths = pad([[1, 2, 3], [4]], pad_id=9)
    assert ids.tolist() == [[1, 2, 3], [4, 9, 9]] and lengths.tolist() == [3, 1]


def test_long_input_runs_attention_in_blocks_with_bounded_memory(model, monkeypatch):
    """A long input must not materialise the whole (L x L) score matrix."""
    from mlx_embed.models import base

    text = "The red planet Mars. " * 1100  # ~ 8K tokens
    n = len(model.tokenizer.encode([text], None)[0])
    assert n > 6000
    reference = model.encode(text, task="retrieval")
    monkeypatch.setattr(base, "SCORE_BYTES_LIMIT", 8 * 1024 * 1024)
    calls = []

    def counting(real):
        def run(q, k, v, scale, causal, key_mask, start, stop):
            calls.append(stop - start)
            return real(q, k, v, scale, causal, key_mask, start, stop)
        return run

    for name in ("_sdpa", "_sdpa_cpu_loops"):  # MLX's kernel, or the CPU path's (models/kernels.py)
        monkeypatch.setattr(base, name, counting(getattr(base, name)))
    mx.clear_cache()
    mx.reset_peak_memory()
    blocked = model.encode(text, task="retrieval")
    peak = mx.get_peak_memory()
    assert calls and max(calls) < n  # queries were split into blocks
    full_scores = 4 * 4 * n * n  # one layer's (H, L, L) float32 score matrix
    assert peak < full_scores / 2, (peak, full_scores)
    assert float(reference @ blocked) >= 0.99999

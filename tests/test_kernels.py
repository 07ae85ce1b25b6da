"""The CPU fast paths: compiled softmax/SiLU/GELU loops and cost-based batching give the same results as the
plain MLX ops and the old greedy batching, on hard inputs as well as on a real model."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn

from mlx_embed.encoder.batching import plan_batches
from mlx_embed.models import kernels
from mlx_embed.models.base import Packing


@pytest.fixture
def loops_path(monkeypatch):
    monkeypatch.setenv("MLX_EMBED_CPU_MATH", "loops")
    assert kernels.cpu_loops()


def _exact(fn, x: np.ndarray) -> np.ndarray:
    return fn(x.astype(np.float64))


def test_swiglu_matches_float64(loops_path):
    rng = np.random.default_rng(0)
    g = rng.normal(0, 6, (3, 77, 515)).astype(np.float32)
    g[0, 0, :6] = [0.0, -0.0, 88.0, -88.0, 1e-30, -120.0]  # exp overflow/underflow edges
    u = rng.normal(0, 1, g.shape).astype(np.float32)
    out = np.array(kernels.swiglu(mx.array(g), mx.array(u)))
    ref = _exact(lambda a: a / (1 + np.exp(-a)), g) * u
    assert out.shape == g.shape and np.isfinite(out).all()
    np.testing.assert_allclose(out, ref, rtol=2e-6, atol=2e-6)


def test_swiglu_reads_strided_views(loops_path):
    gate_up = mx.random.normal((2, 9, 64), key=mx.random.key(1))
    gate, up = gate_up[..., :32], gate_up[..., 32:]
    np.testing.assert_allclose(np.array(kernels.swiglu(gate, up)), np.array(nn.silu(gate) * up),
                               rtol=1e-5, atol=1e-6)


def test_gelu_matches_erf_to_float32_rounding(loops_path):
    from scipy.special import erfc

    x = np.concatenate([np.linspace(-12, 12, 100_003), [0.0, -0.0, 1e-8, -1e-8, 40.0, -40.0]]).astype(np.float32)
    out = np.array(kernels.gelu(mx.array(x.reshape(7, -1))))
    ref = _exact(lambda a: 0.5 * a * erfc(-a / np.sqrt(2)), x).reshape(7, -1)
    # to float32 rounding for x > -1; below, 1 + erf cancels, and the error stays under 1e-6 absolute
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)
    upper = x.reshape(7, -1) > -1
    np.testing.assert_allclose(out[upper], ref[upper], rtol=1e-6, atol=1.5e-7)


def test_attention_softmax_with_masked_entries(loops_path):
    rng = np.random.default_rng(2)
    s = rng.normal(0, 30, (4, 3, 33, 65)).astype(np.float32)
    s[..., 40:] = -np.inf  # masked keys
    s[0, 0, 0, :3] = [1e4, 1e4 - 1, -1e4]  # huge logits must not overflow
    out = np.array(kernels.attention_weights(mx.array(s), 1.0, None))
    e = np.exp(s.astype(np.float64) - s.max(-1, keepdims=True))
    np.testing.assert_allclose(out, e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)
    assert (out[..., 40:] == 0).all()


@pytest.mark.parametrize("settings", [{"base": 1e6, "scale": 1.0, "freqs": None},
                                      {"base": 10000.0, "scale": 0.25, "freqs": None},
                                      {"base": None, "scale": 1.0, "freqs": "llama3"}])
def test_rope_matches_mlx_fast_and_moves_heads_forward(loops_path, settings):
    from mlx_embed.models.base import RoPE, _llama3_freqs

    if settings["freqs"] == "llama3":
        settings = {**settings, "freqs": _llama3_freqs(5e5, 64, {"factor": 8.0, "original_max_position_embeddings": 512})}
    tokens = Packing(mx.array([1500, 700]), 1500)  # positions up to 1500; the second text padded
    x = mx.random.normal((2200, 3, 64), key=mx.random.key(6))  # the real tokens' rows
    rope = RoPE(64, **settings)
    fast = rope(x, tokens)
    padded = tokens.unpack(x)
    plain = mx.fast.rope(padded.transpose(0, 2, 1, 3), 64, traditional=False, offset=0, **settings)
    assert fast.shape == (2, 3, 1500, 64)
    # transformers' float32 angles and MLX's own differ by float32 rounding of position x frequency
    np.testing.assert_allclose(np.array(fast), np.array(plain), atol=2e-3)
    np.testing.assert_allclose(np.array(fast)[:, :, :64], np.array(plain)[:, :, :64], atol=2e-5)
    assert (np.array(fast)[1, :, 700:] == 0).all() and (np.array(padded)[1, 700:] == 0).all()


@pytest.mark.parametrize("lengths", [[5, 2, 3], [4, 4]])
@pytest.mark.parametrize("math", ["loops", "mlx"])
def test_token_rows_to_heads_and_back(monkeypatch, lengths, math):
    """Packing keeps the real tokens' rows only; to_heads puts row (text, position) at [text, :,
    position] with zeros at the pads, from_heads takes exactly those rows back, on both paths."""
    monkeypatch.setenv("MLX_EMBED_CPU_MATH", math)
    tokens = Packing(mx.array(lengths), max(lengths))
    ids = mx.arange(len(lengths) * max(lengths)).reshape(len(lengths), -1)
    rows = np.array(tokens.pack(ids))
    expected = [b * max(lengths) + t for b, n in enumerate(lengths) for t in range(n)]
    assert rows.tolist() == expected and np.array(tokens.positions).tolist() == [t for n in lengths for t in range(n)]
    x = mx.random.normal((sum(lengths), 3, 8), key=mx.random.key(1))
    heads = kernels.to_heads(x, tokens)
    assert heads.shape == (len(lengths), 3, max(lengths), 8)
    h = np.array(heads)
    for i, (b, t) in enumerate((b, t) for b, n in enumerate(lengths) for t in range(n)):
        assert np.array_equal(h[b, :, t], np.array(x[i]))
    for b, n in enumerate(lengths):
        assert (h[b, :, n:] == 0).all()
    assert np.array_equal(np.array(kernels.from_heads(heads, tokens)), np.array(x).reshape(len(x), -1))


def test_switch_between_paths(monkeypatch):
    x = mx.random.normal((5, 40), key=mx.random.key(3))
    monkeypatch.setenv("MLX_EMBED_CPU_MATH", "mlx")
    assert not kernels.cpu_loops()
    plain = np.array(kernels.gelu(x))
    monkeypatch.setenv("MLX_EMBED_CPU_MATH", "loops")
    np.testing.assert_allclose(np.array(kernels.gelu(x)), plain, rtol=1e-5, atol=1e-6)
    half = x.astype(mx.bfloat16)  # the loops are float32 only: other dtypes stay on the MLX ops
    assert mx.array_equal(kernels.gelu(half), nn.gelu(half)).item()


@pytest.mark.parametrize("which", ["jina", "minilm"])
def test_model_vectors_identical_across_paths(which, jina_tiny, minilm_path, monkeypatch):
    import mlx_embed

    texts = ["a short one", "a much longer sentence " * 12, "", "一些中文文本和标点。", "x" * 3]
    path = jina_tiny if which == "jina" else minilm_path
    model = mlx_embed.load(path)
    monkeypatch.setenv("MLX_EMBED_CPU_MATH", "mlx")
    plain = model.encode(texts)
    monkeypatch.setenv("MLX_EMBED_CPU_MATH", "loops")
    fast = model.encode(texts)
    cos = (plain * fast).sum(1)
    assert cos.min() >= 0.999999, cos


def _attention_work(lengths, batches):
    return sum(len(b) * max(lengths[i] for i in b) ** 2 for b in batches)


def test_batches_cut_where_padding_costs_more_than_a_batch():
    """Per-token layers skip the pads (base.Packing), so padding costs attention work only: the plan
    cuts where the long texts' attention would pad, not for every short text's few pads."""
    rng = np.random.default_rng(4)
    lengths = [int(n) for n in np.concatenate([rng.integers(8, 40, 60), rng.integers(200, 512, 8)])]
    batches = plan_batches(lengths, max_tokens=8192, max_batch_size=64)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) <= 64 and (len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 8192) for b in batches)
    # the short texts never share a batch with the long ones
    assert all(max(lengths[i] for i in b) < 200 or min(lengths[i] for i in b) >= 200 for b in batches)
    assert _attention_work(lengths, batches) <= 1.25 * sum(n * n for n in lengths)
    assert len(batches) <= 4  # the 60 short texts are not cut up to save their pads
    # equal lengths: one full batch, no needless cuts
    assert plan_batches([128] * 64, max_tokens=8192) == [list(range(64))]


@pytest.mark.parametrize("causal,padded,shape", [(True, False, (2, 4, 2, 70, 8)), (False, True, (3, 12, 1, 23, 16)),
                                                 (True, False, (1, 2, 3, 600, 8)), (False, True, (2, 2, 1, 700, 8))])
def test_attention_with_scale_and_mask_in_the_softmax(loops_path, causal, padded, shape):
    from mlx_embed.models import base

    B, n_kv, rep, L, D = shape
    key = mx.random.key(7)
    q = mx.random.normal((B, n_kv * rep, L, D), key=key) * 4
    k, v = mx.random.normal((B, n_kv, L, D), key=mx.random.key(8)), mx.random.normal((B, n_kv, L, D), key=mx.random.key(9))
    key_mask = base.key_padding_mask(mx.array([L - 3 * i for i in range(B)]), L) if padded else None
    fast = base._sdpa_cpu_loops(q, k, v, 0.3, causal, key_mask, 0, L)
    kk, vv = mx.repeat(k, rep, axis=1), mx.repeat(v, rep, axis=1)
    mask = base._combine(causal, key_mask, 0, L, L)
    plain = mx.fast.scaled_dot_product_attention(q, kk, vv, scale=0.3, mask=mask)
    np.testing.assert_allclose(np.array(fast), np.array(plain), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("L", [63, 64, 151])
def test_causal_attention_split_at_half_the_queries(loops_path, L):
    """From CAUSAL_SPLIT queries on, causal attention runs as two query halves, the first against the
    first half of the keys only: the same output as the whole at once."""
    from mlx_embed.models import base

    q = mx.random.normal((2, 4, L, 16), key=mx.random.key(1)) * 3
    k, v = mx.random.normal((2, 2, L, 16), key=mx.random.key(2)), mx.random.normal((2, 2, L, 16), key=mx.random.key(3))
    out = base.attention(q, k, v, scale=0.25, causal=True)
    plain = mx.fast.scaled_dot_product_attention(q, mx.repeat(k, 2, axis=1), mx.repeat(v, 2, axis=1), scale=0.25,
                                                 mask="causal")
    np.testing.assert_allclose(np.array(out), np.array(plain), rtol=1e-4, atol=1e-5)


def test_blocked_long_attention_and_rows_far_below_the_block_max(loops_path, monkeypatch):
    """Query blocks (start > 0) of a long causal input, and a head whose logits dwarf the others',
    so that the other rows of its softmax block must be redone with their own maximum."""
    from mlx_embed.models import base

    q = mx.random.normal((1, 4, 300, 16), key=mx.random.key(10))
    q = mx.concatenate([q[:, :1] * 60, q[:, 1:] * 0.01], axis=1)
    k, v = mx.random.normal((1, 2, 300, 16), key=mx.random.key(11)), mx.random.normal((1, 2, 300, 16), key=mx.random.key(12))
    monkeypatch.setattr(base, "SCORE_BYTES_LIMIT", 4 * 4 * 300 * 50)  # blocks of 50 queries
    fast = base.attention(q, k, v, scale=0.25, causal=True)
    plain = mx.fast.scaled_dot_product_attention(q, mx.repeat(k, 2, axis=1), mx.repeat(v, 2, axis=1), scale=0.25,
                                                 mask="causal")
    assert np.isfinite(np.array(fast)).all()
    np.testing.assert_allclose(np.array(fast), np.array(plain), rtol=1e-4, atol=1e-4)


def test_norms_match_mlx_fast(loops_path):
    rng = np.random.default_rng(5)
    x = (rng.normal(3, 20, (3, 17, 384)) * rng.uniform(0.01, 10, (3, 17, 1))).astype(np.float32)
    r = rng.normal(0, 5, x.shape).astype(np.float32)
    w, b = rng.normal(1, 0.3, 384).astype(np.float32), rng.normal(0, 0.3, 384).astype(np.float32)
    xm, rm, wm, bm = map(mx.array, (x, r, w, b))
    ref = np.array(mx.fast.layer_norm(xm + rm, wm, bm, 1e-12))
    np.testing.assert_allclose(np.array(kernels.layer_norm(xm, wm, bm, 1e-12, residual=rm)), ref, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(np.array(kernels.rms_norm(xm, wm, 1e-6)), np.array(mx.fast.rms_norm(xm, wm, 1e-6)),
                               rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(np.array(kernels.layer_norm(xm, None, None, 1e-5)),
                               np.array(mx.fast.layer_norm(xm, None, None, 1e-5)), rtol=2e-5, atol=2e-5)


def test_reuse_writes_over_the_temporary_and_gives_the_same_values(loops_path):
    rng = np.random.default_rng(13)
    g, u = (rng.normal(0, 4, (37, 300)).astype(np.float32) for _ in range(2))
    expect_gelu = np.array(kernels.gelu(mx.array(g)))
    expect_swiglu = np.array(kernels.swiglu(mx.array(g), mx.array(u)))
    tmp = mx.array(g)
    out = kernels.gelu(tmp, reuse=True)
    assert out is tmp
    np.testing.assert_allclose(np.array(out), expect_gelu, rtol=1e-6, atol=1e-7)
    tmp = mx.array(g)
    out = kernels.swiglu(tmp, mx.array(u), reuse=True)
    # the vectorised body and the loop's scalar tail may round differently where out is the input
    assert out is tmp
    np.testing.assert_allclose(np.array(out), expect_swiglu, rtol=1e-6, atol=1e-7)
    view = mx.array(np.concatenate([g, u], axis=1))[:, :300]  # not contiguous: a new array, the input kept
    before = np.array(view)
    np.testing.assert_allclose(np.array(kernels.gelu(view, reuse=True)), expect_gelu, rtol=1e-6, atol=1e-7)
    assert np.array_equal(np.array(view), before)


@pytest.mark.skipif(not kernels._x86(), reason="the compiled loops run on x86 CPUs only")
def test_short_queries_do_not_wait_for_the_loops_and_large_encodes_load_them(minilm_path, tmp_path):
    """A one-shot short query runs on the MLX ops without importing numba (~0.6 s); a large encode, or
    warm_up(), loads the loops; vectors agree between the two either way."""
    import subprocess
    import sys

    script = tmp_path / "probe.py"
    script.write_text(
        "import sys, json, numpy as np, mlx_embed\n"
        f"m = mlx_embed.load({str(minilm_path)!r})\n"
        "short = m.encode(['where is the config file'])\n"
        "state = {'after_short': 'numba' in sys.modules}\n"
        "m.encode(['a longer document about configuration files and where they live'] * 60)\n"
        "state['after_large'] = 'numba' in sys.modules\n"
        "again = m.encode(['where is the config file'])\n"
        "state['cos'] = float((short * again).sum())\n"
        "print(json.dumps(state))\n")
    env = {k: v for k, v in os.environ.items() if k != "MLX_EMBED_CPU_MATH"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True)
    state = json.loads(out.stdout.strip().splitlines()[-1])
    assert state["after_short"] is False and state["after_large"] is True
    assert state["cos"] >= 0.999999  # MLX ops for the first, compiled loops for the second
    warm = subprocess.run([sys.executable, "-c", "import sys, mlx_embed\n"
                           f"m = mlx_embed.load({str(minilm_path)!r}); m.warm_up(); print('numba' in sys.modules)"],
                          capture_output=True, text=True, env=env, check=True)
    assert warm.stdout.strip().splitlines()[-1] == "True"

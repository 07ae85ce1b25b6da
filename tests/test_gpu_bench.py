"""The GPU path's device policy, and bench/gpu.py run on the CPU so it cannot rot between GPU sessions.

No GPU is needed: the policy tests make MLX's device check answer "GPU" (Metal or CUDA, any index),
and the bench runs its `--device cpu --size tiny` form end to end with small inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

import mlx_embed
from mlx_embed.encoder import facts
from mlx_embed.models import base

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("index", [0, 1])
def test_default_dtype_is_bfloat16_on_any_gpu(monkeypatch, index):
    # Device(gpu, 1) is a second CUDA card: the old `== mx.gpu` check (index 0 only) missed it.
    monkeypatch.setattr(mx, "default_device", lambda: mx.Device(mx.DeviceType.gpu, index))
    assert facts.on_gpu()
    assert facts.default_dtype() == mx.bfloat16
    monkeypatch.setattr(mx, "default_device", lambda: mx.Device(mx.DeviceType.cpu, 0))
    assert not facts.on_gpu()
    assert facts.default_dtype() == mx.float32


def test_load_on_a_gpu_picks_bfloat16_and_quantizes(monkeypatch, jina_tiny):
    monkeypatch.setattr(facts, "on_gpu", lambda: True)
    model = mlx_embed.load(jina_tiny)
    assert model.dtype == mx.bfloat16
    assert model.network.norm.weight.dtype == mx.bfloat16
    q8 = mlx_embed.load(jina_tiny, quantize=8)
    assert q8.describe()["quantization"]["bits"] == 8
    a = model.encode(["Mars is the Red Planet."], task="retrieval")
    b = q8.encode(["Mars is the Red Planet."], task="retrieval")
    assert float((a * b).sum()) > 0.99
    monkeypatch.setattr(facts, "on_gpu", lambda: False)
    assert mlx_embed.load(jina_tiny).dtype == mx.float32


def test_attention_on_a_gpu_fuses_half_precision_and_blocks_float32(monkeypatch):
    """On a GPU a long causal input goes to the fused kernel only in half precision (cuDNN's is
    half-only; MLX's fp32 fallback materialises the scores); fp32 keeps the bounded query blocks."""
    calls = []
    sdpa = mx.fast.scaled_dot_product_attention

    def counting(*args, **kwargs):
        calls.append(args[0].shape[2])
        return sdpa(*args, **kwargs)

    monkeypatch.setattr(mx.fast, "scaled_dot_product_attention", counting)
    monkeypatch.setattr(base, "SCORE_BYTES_LIMIT", 2 * 64 * 64 * 4)  # forces blocks above 64 tokens
    monkeypatch.setattr(mx, "default_device", lambda: mx.Device(mx.DeviceType.gpu, 0))
    q, k, v = (mx.random.normal((1, 2, 256, 16), key=mx.random.key(i)) for i in range(3))
    blocked = base.attention(q, k, v, scale=0.25, causal=True)
    assert len(calls) > 1 and max(calls) < 256
    calls.clear()
    fused = base.attention(q.astype(mx.bfloat16), k.astype(mx.bfloat16), v.astype(mx.bfloat16), scale=0.25,
                           causal=True)
    assert calls == [256]
    np.testing.assert_allclose(np.array(fused.astype(mx.float32)), np.array(blocked), atol=0.05)


def test_gpu_bench_runs_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    env = dict(os.environ, MLX_EMBED_BENCH_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    args = ["--device", "cpu", "--size", "tiny", "--out", str(out), "--parity-texts", "4", "--mixed-texts", "8",
            "--docs", "2", "--doc-tokens", "128", "--long-tokens", "512", "--search-rows", "5000", "--queries", "5"]
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1200, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| variant |" in proc.stdout and "Search core" in proc.stdout
    r = json.loads(out.read_text())
    for section in ("parity", "throughput", "long", "search"):
        assert "error" not in r[section], r[section].get("error")

    parity = r["parity"]
    assert parity["reference"].startswith("transformers + peft, fp32, cpu")  # torch is a test dependency
    variants = parity["variants"]
    assert set(variants) == {"float32", "bfloat16", "float16", "8-bit", "4-bit"}
    for row in variants.values():
        assert set(row["tasks"]) == {"retrieval", "text-matching", "clustering", "classification"}
    assert 0.99999 <= variants["float32"]["min"] <= 1 + 1e-6
    for name in ("bfloat16", "float16", "8-bit"):
        assert 0.999 <= variants[name]["min"] <= 1 + 1e-6, (name, variants[name])
    assert variants["bfloat16"]["dtype"] == "bfloat16" and variants["8-bit"]["quantize"] == 8
    assert 0.5 < variants["4-bit"]["mean"] < variants["8-bit"]["mean"]  # really quantized, still the model

    tp = r["throughput"]
    assert tp["reference"].startswith("sentence-transformers")
    for name, row in tp["sets"].items():
        assert row["tokens"] > 0 and row["mlx_tokens_per_s"] > 0 and row["ref_tokens_per_s"] > 0, name
        assert row["ratio"] > 0 and row["min_cosine_mlx_vs_ref"] > 0.9999, (name, row)
    mixed = tp["sets"]["mixed 20-512 tokens"]
    assert mixed["texts"] == 8 and mixed["tokens"] >= 8 * 20
    assert 0 < tp["switch_ms_max"] < 100

    long = r["long"]["dtypes"]["float32"]
    assert long["tokens"] == 512 and long["finite"] and long["within_bound"]
    assert 0 < long["peak_bytes"] and long["seconds"] > 0

    search = r["search"]
    assert search["rows"] == 5000 and search["dim"] == 1024
    paths = search["paths"]
    assert paths["numpy exact f32"]["recall_at_10"] == 1.0
    assert paths["mlx matvec + top-k"]["recall_at_10"] >= 0.99
    assert all(p["p50_ms"] > 0 for p in paths.values())

"""bench/encoder.py, the outsider's encoder benchmark, kept from rotting: its workload, its summary
maths, and a tiny end-to-end run on the real MiniLM against sentence-transformers (numbers meaningless)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import encoder, workload  # noqa: E402


def test_summary_maths():
    assert encoder.percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert encoder.percentile([0.0, 10.0], 0.95) == pytest.approx(9.5)
    assert encoder.spread([1.2, 0.9, 1.5]) == {"median": 1.2, "min": 0.9, "max": 1.5}
    # longest first, batches of 32, every index exactly once
    lengths = [5, 300, 17, 250] + [10] * 60
    batches = encoder._sorted_batches(lengths)
    assert [len(b) for b in batches] == [32, 32]
    assert batches[0][:2] == [1, 3] and sorted(i for b in batches for i in b) == list(range(64))


def test_workload_is_the_indexers_chunks_of_real_files(minilm_path):
    import mlx_embed
    from mlx_embed.index.chunk_encoder import ChunkEncoder

    model = mlx_embed.load(minilm_path)
    chunks = workload.index_chunks(model, 30)
    assert len(chunks) == 30 and len(set(chunks)) == 30
    limit = ChunkEncoder(model).max_chunk_tokens
    counts = model.tokenizer.count_tokens(chunks)
    assert max(counts) <= limit + 8  # the chunker's window (word ends may add a token or two)
    assert sum(n >= 0.8 * limit for n in counts) >= 20, counts  # most near the chunk size
    sources = [workload._read(p) or "" for p in workload.source_files()[:40]]
    assert all(any(c in s for s in sources) for c in chunks)  # cut from the real files, verbatim
    assert any(s.endswith(".py") for s in map(str, workload.source_files()[:2]))  # code as well as prose
    queries = workload.short_queries(12)
    assert len(queries) == 12 and all(3 <= len(q.split()) <= 9 for q in queries)


def test_encoder_bench_quick_run(tmp_path, minilm_path):
    pytest.importorskip("sentence_transformers")
    out = tmp_path / "encoder.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "encoder.py"), "--quick", "--models", "minilm",
                           "--pairs", "1", "--chunks", "8", "--queries", "3", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "all-MiniLM-L6-v2 (real): indexing" in proc.stdout and "p50 / p95" in proc.stdout
    r = json.loads(out.read_text())
    m = r["minilm"]
    assert m["chunks"] == 8 and m["tokens"] >= 8 * 100 and m["pairs"] == 1 and len(m["ratios"]) == 1
    assert m["ref_engine"].startswith("sentence-transformers") and m["ours_engine"].startswith("mlx_embed")
    assert m["ratio"]["min"] > 0 and m["ours_tokens_per_s"]["median"] > 0
    for side in ("ours_query_ms", "ref_query_ms"):
        assert 0 < m[side]["p50"] <= m[side]["p95"]
    assert m["min_cosine_vs_ref"] > 0.9999
    assert len(r["load_average_start"]) == 3 and len(r["load_average_end"]) == 3

"""Parity of the MLX Qwen3 encoder + LoRA adapters with transformers + peft (cosine >= 0.99999, fp32)."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

import mlx_embed

from . import model_fixtures
from .oracle import cosine_rows, qwen3_embed

TEXTS = [
    "Which planet is known as the Red Planet?",
    "Mars, known for its reddish appearance, is often referred to as the Red Planet. " * 3,
    "",
    "敏捷的棕色狐狸跳过了懒狗。",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "def encode(texts): return model(texts)  # code {}",
    "x",
]
PARITY = 0.99999


@pytest.fixture(scope="module")
def model(jina_tiny):
    return mlx_embed.load(jina_tiny)


@pytest.mark.parametrize("task", model_fixtures.TASKS)
@pytest.mark.parametrize("prompt_name", ["query", "document"])
def test_padded_batch_matches_reference(model, jina_tiny, task, prompt_name):
    prefix = model.prompts[prompt_name]
    ours = model.encode(TEXTS, task=task, prompt_name=prompt_name)
    ref = qwen3_embed(jina_tiny, TEXTS, task=task, prefix=prefix)
    assert cosine_rows(ours, ref).min() >= PARITY


@pytest.mark.parametrize("task", ["retrieval", "classification"])
def test_single_texts_match_reference(model, jina_tiny, task):
    for text in TEXTS:
        ours = model.encode(text, task=task, prompt_name="query")
        assert ours.shape == (model.dim,)
        ref = qwen3_embed(jina_tiny, [text], task=task, prefix="Query: ")[0]
        assert cosine_rows(ours, ref) >= PARITY, text


def test_left_padded_reference_agrees(model, jina_tiny):
    """Our right padding gives what a left-padded reference batch gives."""
    ours = model.encode(TEXTS, task="clustering", prompt_name="document")
    ref = qwen3_embed(jina_tiny, TEXTS, task="clustering", prefix="Document: ", padding_side="left")
    assert cosine_rows(ours, ref).min() >= PARITY


def test_batch_equals_single(model):
    batch = model.encode(TEXTS, task="retrieval")
    singles = np.stack([model.encode(t, task="retrieval") for t in TEXTS])
    assert cosine_rows(batch, singles).min() >= 0.999999


def test_truncation_keeps_final_token_and_matches_reference(model, jina_tiny):
    long_text = " ".join(["Mars is the red planet."] * 60)
    ids = model.tokenizer.encode([long_text], 32)[0]
    assert len(ids) == 32
    assert ids[-1] == model.tokenizer._tok.token_to_id(model_fixtures.EOS)
    ours = model.encode([long_text, "short"], task="retrieval", max_length=32)
    ref = qwen3_embed(jina_tiny, [long_text, "short"], task="retrieval", prefix="Document: ", max_length=32)
    assert cosine_rows(ours, ref).min() >= PARITY


def test_default_prompt_is_document_for_jina(model):
    assert np.array_equal(model.encode("abc", task="retrieval"),
                          model.encode("abc", task="retrieval", prompt_name="document"))
    assert np.array_equal(model.encode("abc", task="retrieval", prompt="Query: "),
                          model.encode("abc", task="retrieval", prompt_name="query"))


def test_alpha_over_r_scale_is_applied(model, jina_tiny):
    """The fixture's adapters have alpha=16, r=8 (scale 2): ignoring alpha/r would fail parity."""
    import json

    cfg = json.loads((jina_tiny / "adapters" / "retrieval" / "adapter_config.json").read_text())
    assert cfg["lora_alpha"] != cfg["r"]
    no_adapter = qwen3_embed(jina_tiny, TEXTS[:2], task=None, prefix="Query: ")
    ours = model.encode(TEXTS[:2], task="retrieval", prompt_name="query")
    assert cosine_rows(ours, no_adapter).max() < 0.999  # the adapter really changes the vectors


@pytest.mark.parametrize("layout", ["merged", "qwen3-embedding"])
def test_other_layouts_match_reference(tmp_path, layout):
    folder = model_fixtures.write_jina_v5(tmp_path / f"jina-embeddings-v5-text-small-retrieval-{layout}",
                                          layout=layout)
    model = mlx_embed.load(folder)
    assert model.tasks == ()
    prefix = model.prompts["query"]
    ours = model.encode(TEXTS, prompt_name="query")
    ref = qwen3_embed(folder, TEXTS, task=None, prefix=prefix)
    assert cosine_rows(ours, ref).min() >= PARITY
    if layout == "merged":
        assert model.profile.merged_task == "retrieval"
        base = mlx_embed.load(model_fixtures.write_jina_v5(tmp_path / "base"))
        # The merged per-task repo is the base model with that adapter folded in.
        assert cosine_rows(ours, base.encode(TEXTS, task="retrieval", prompt_name="query")).min() >= PARITY
    else:
        assert model.prompts["query"].startswith("Instruct: ")
        assert model.default_prompt_name is None


@pytest.mark.parametrize("dtype,shards,prefix", [("bfloat16", 1, "model."), ("float16", 3, ""),
                                                 ("float32", 2, "model.")])
def test_checkpoint_dtypes_shards_and_prefixes(tmp_path, dtype, shards, prefix):
    folder = model_fixtures.write_jina_v5(tmp_path / "m", dtype=dtype, shards=shards, prefix=prefix)
    model = mlx_embed.load(folder)
    assert model.dtype == mlx_embed.encoder.facts.DTYPES["float32"]  # CPU policy: compute in float32
    ours = model.encode(TEXTS, task="text-matching")
    ref = qwen3_embed(folder, TEXTS, task="text-matching", prefix="Document: ")
    assert cosine_rows(ours, ref).min() >= PARITY


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_token_table_stays_half_and_exact(tmp_path, dtype):
    """A float32 model keeps a half-precision table as stored (half the memory): every vector equals
    the one from a float32 copy of the table, bit for bit, and everything else is float32."""
    folder = model_fixtures.write_jina_v5(tmp_path / "m", dtype=dtype)
    model = mlx_embed.load(folder)
    table = model.network.embed_tokens
    assert table.weight.dtype == mlx_embed.encoder.facts.DTYPES[dtype] and table.rows_dtype == mx.float32
    others = [k for k, v in tree_flatten(model.network.parameters()) if k != "embed_tokens.weight"]
    assert others and all(v.dtype == mx.float32 for k, v in tree_flatten(model.network.parameters()) if k in others)
    half = model.encode(TEXTS, task="clustering")
    table.widen()
    assert table.weight.dtype == mx.float32 and table.rows_dtype is None
    assert np.array_equal(half, model.encode(TEXTS, task="clustering"))
    requantized = mlx_embed.load(folder, quantize=8)  # quantized from float32 rows, as before
    assert requantized.network.embed_tokens.scales.dtype == mx.float32


def test_tokenizer_without_eos_post_processor(tmp_path):
    """Whether v5-small appends <|endoftext|> is uncertain: we follow the file either way."""
    folder = model_fixtures.write_jina_v5(tmp_path / "noeos", append_eos=False)
    model = mlx_embed.load(folder)
    eos = model.tokenizer._tok.token_to_id(model_fixtures.EOS)
    assert eos not in model.tokenizer.encode(["hello"], None)[0]
    ours = model.encode(TEXTS[:2] + TEXTS[3:], task="retrieval", prompt_name="query")
    ref = qwen3_embed(folder, TEXTS[:2] + TEXTS[3:], task="retrieval", prefix="Query: ")
    assert cosine_rows(ours, ref).min() >= PARITY


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_has_no_nan_and_stays_close(jina_tiny, dtype):
    model = mlx_embed.load(jina_tiny, dtype=dtype)
    ours = model.encode(TEXTS, task="retrieval")
    assert np.isfinite(ours).all()
    ref = mlx_embed.load(jina_tiny).encode(TEXTS, task="retrieval")
    assert cosine_rows(ours, ref).min() > 0.99


def test_shared_input_lora_groups_are_one_product_and_exact(model):
    """q/k/v and gate/up read one stacked A per task (its members' A are views of it), and the
    grouped product gives what each member's own x @ A @ B would."""
    import mlx.core as mx

    from mlx_embed.encoder import lora as adapters

    attn = model.network.layers[0].self_attn
    group = attn.q_proj.group
    assert group is not None and group is attn.k_proj.group is attn.v_proj.group
    assert attn.o_proj.group is None
    assert model.network.layers[0].mlp.gate_proj.group is model.network.layers[0].mlp.up_proj.group
    a_all, columns = group.stacks["retrieval"]
    lo, hi = columns[id(attn.v_proj)]
    assert mx.array_equal(attn.v_proj.deltas["retrieval"][0], a_all[:, lo:hi]).item()

    model.set_task("retrieval")
    x = mx.random.normal((2, 5, attn.q_proj.linear.weight.shape[1]), key=mx.random.key(0))
    grouped = [m(x) for m in (attn.q_proj, attn.k_proj, attn.v_proj)]
    assert group._cache is None  # released once every member has read it
    for m, y in zip((attn.q_proj, attn.k_proj, attn.v_proj), grouped):
        a, b = m.deltas["retrieval"]
        np.testing.assert_allclose(np.array(y), np.array(m.linear(x) + (x @ a) @ b), rtol=1e-5, atol=1e-5)
    other = x + 1  # a member called on another input gets its own product, not the cached one
    attn.q_proj(x)
    y = attn.k_proj(other)
    a, b = attn.k_proj.deltas["retrieval"]
    np.testing.assert_allclose(np.array(y), np.array(attn.k_proj.linear(other) + (other @ a) @ b), rtol=1e-5, atol=1e-5)
    assert isinstance(attn.q_proj, adapters.LoRALinear)
    group._cache = None

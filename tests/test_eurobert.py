"""jina-embeddings-v5-text-nano (EuroBERT backbone) against transformers' EuroBertModel + peft.

Random tiny models in the nano's layout (tests/model_fixtures.write_jina_v5_nano): four PEFT adapters
with alpha != r, a tokenizer whose post-processor appends <|end_of_text|>, a custom_st.py that raises
if run. float32 parity >= 0.99999 for every task and prompt, single texts and padded batches.
"""

from __future__ import annotations

import json
import subprocess
import sys

import mlx.core as mx
import numpy as np
import pytest
import torch

import mlx_embed
from mlx_embed.encoder.batching import pad
from mlx_embed.errors import ModelFormatError
from mlx_embed.models import architecture_for, base, eurobert, qwen3
from mlx_embed.encoder.pooling import pool

from . import model_fixtures, oracle

PARITY = 0.99999
CLI = "import sys; from mlx_embed.cli import main; sys.exit(main(sys.argv[1:]))"  # the `mlx-embed` entry point

TEXTS = [
    "Which planet is known as the Red Planet?",
    "",
    "Mars, known for its reddish appearance, is often referred to as the Red Planet.",
    "敏捷的棕色狐狸跳过了懒狗。",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "素早い茶色の狐がのろまな犬を飛び越える。 빠른 갈색 여우가 게으른 개를 뛰어넘는다.",
    "def encode(texts, task='retrieval'): return model.embed(texts)  # {}[]()",
    "Contract renewal terms with the landlord are due in March. " * 12,
    "x",
]


@pytest.fixture(scope="module")
def nano_path(tmp_path_factory):
    return model_fixtures.write_jina_v5_nano(tmp_path_factory.mktemp("models") / "jina-v5-nano-tiny")


@pytest.fixture(scope="module")
def nano(nano_path):
    return mlx_embed.load(nano_path)


def test_tokens_equal_the_reference_tokenizer(nano, nano_path):
    ours = nano.tokenizer.encode(["Document: " + t for t in TEXTS], None)
    theirs = oracle.folder_tokenizer(str(nano_path))(["Document: " + t for t in TEXTS])["input_ids"]
    assert ours == theirs
    eos = json.loads((nano_path / "config.json").read_text())["eos_token_id"]
    assert all(ids[-1] == eos for ids in ours)  # the post-processor's appended EOS is what gets pooled


@pytest.mark.parametrize("task", model_fixtures.TASKS)
def test_parity_every_task_and_prompt_batched(nano, nano_path, task):
    for prompt_name, prefix in nano.prompts.items():
        ours = nano.encode(TEXTS, task=task, prompt_name=prompt_name)
        theirs = oracle.eurobert_embed(nano_path, TEXTS, task, prefix)
        cos = oracle.cosine_rows(ours, theirs)
        assert cos.min() >= PARITY, (task, prompt_name, cos)
    # No prompt at all: the empty string is then a lone EOS token.
    ours = nano.encode(TEXTS, task=task, prompt="")
    assert oracle.cosine_rows(ours, oracle.eurobert_embed(nano_path, TEXTS, task, "")).min() >= PARITY


def test_parity_single_texts(nano, nano_path):
    for task in ("retrieval", "clustering"):
        ours = np.stack([nano.encode(t, task=task, prompt_name="query") for t in TEXTS])
        theirs = np.concatenate([oracle.eurobert_embed(nano_path, [t], task, "Query: ") for t in TEXTS])
        assert oracle.cosine_rows(ours, theirs).min() >= PARITY


def test_the_oracle_is_sensitive(nano, nano_path):
    """Tasks really differ (the adapters do something), and the reference itself needs its padding mask."""
    a = nano.encode(TEXTS, task="retrieval")
    b = nano.encode(TEXTS, task="classification")
    assert oracle.cosine_rows(a, b).max() < 0.999
    tok = oracle.folder_tokenizer(str(nano_path))
    batch = tok(["Document: x", "Document: " + TEXTS[7]], padding=True, return_tensors="pt")
    model = oracle.eurobert_reference(str(nano_path), "retrieval")
    with torch.no_grad():
        unmasked = model(input_ids=batch["input_ids"]).last_hidden_state
    last = int(batch["attention_mask"][0].sum()) - 1
    short = torch.nn.functional.normalize(unmasked[0, last], dim=-1).numpy()
    assert float(short @ a[TEXTS.index("x")]) < 0.999


def test_padding_is_masked(nano):
    ids = nano.tokenizer.encode(["Document: " + t for t in TEXTS], None)
    nano.set_task("text-matching")
    alone = np.stack([nano.embed_token_ids([s], "text-matching")[0] for s in ids])
    for pad_id in (0, 5):
        tokens, lengths = pad(ids, pad_id=pad_id)
        hidden = nano.network(mx.array(tokens), mx.array(lengths))
        batched = np.array(pool(hidden, mx.array(lengths), "lasttoken"))
        assert oracle.cosine_rows(batched, alone).min() >= PARITY, pad_id


def test_truncation_keeps_the_eos(nano, nano_path):
    eos = json.loads((nano_path / "config.json").read_text())["eos_token_id"]
    ids = nano.tokenizer.encode(["Document: " + TEXTS[7]], 12)[0]
    assert len(ids) == 12 and ids[-1] == eos
    ours = nano.encode(TEXTS, task="retrieval", max_length=12)
    theirs = oracle.eurobert_embed(nano_path, TEXTS, "retrieval", "Document: ", max_length=12)
    assert oracle.cosine_rows(ours, theirs).min() >= PARITY


def test_matryoshka_truncation(nano, nano_path):
    full = oracle.eurobert_embed(nano_path, TEXTS, "retrieval", "Document: ")
    for dim in (32, 48):
        ours = nano.encode(TEXTS, task="retrieval", truncate_dim=dim)
        assert ours.shape == (len(TEXTS), dim)
        assert oracle.cosine_rows(ours, full[:, :dim]).min() >= PARITY
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_query_blocked_attention_with_key_mask(nano, monkeypatch):
    """Long inputs run attention in query blocks; with a key padding mask the result must not change."""
    texts = [TEXTS[7] * 3, "short"]
    whole = nano.encode(texts, task="retrieval", max_batch_tokens=1 << 20)
    monkeypatch.setattr(base, "SCORE_BYTES_LIMIT", 4096)
    blocked = nano.encode(texts, task="retrieval", max_batch_tokens=1 << 20)
    assert oracle.cosine_rows(whole, blocked).min() >= PARITY


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_padded_batches_stay_finite(nano_path, dtype):
    model = mlx_embed.load(nano_path, dtype=dtype)
    ours = model.encode(TEXTS, task="retrieval", max_batch_tokens=1 << 20)
    assert np.isfinite(ours).all()
    theirs = oracle.eurobert_embed(nano_path, TEXTS, "retrieval", "Document: ")
    assert oracle.cosine_rows(ours, theirs).min() >= 0.99


@pytest.mark.parametrize("style", ["eurobert", "jina-named"])
def test_other_config_spellings_and_biases(tmp_path, style):
    folder = model_fixtures.write_jina_v5_nano(tmp_path / "nano", config_style=style, bias=True, prefix="model.",
                                               prepend_bos=True, seed=3)
    model = mlx_embed.load(folder)
    assert model.profile.kind == "jina-v5-nano" and model.describe()["backbone"] == "eurobert"
    assert model.tasks == model_fixtures.TASKS and model.pooling == "lasttoken"
    ours = model.encode(TEXTS, task="text-matching", prompt_name="query")
    theirs = oracle.eurobert_embed(folder, TEXTS, "text-matching", "Query: ")
    assert oracle.cosine_rows(ours, theirs).min() >= PARITY
    oracle.eurobert_reference.cache_clear()
    oracle.folder_tokenizer.cache_clear()


def test_merged_per_task_repo(tmp_path, nano_path):
    folder = model_fixtures.write_jina_v5_nano(tmp_path / "merged", layout="merged", merged_task="clustering")
    model = mlx_embed.load(folder)
    assert model.profile.kind == "jina-v5-nano-merged" and model.profile.merged_task == "clustering"
    assert model.tasks == ()
    # Same seed, so the merged weights equal the base model + the clustering adapter.
    theirs = oracle.eurobert_embed(nano_path, TEXTS, "clustering", "Document: ")
    assert oracle.cosine_rows(model.encode(TEXTS), theirs).min() >= PARITY


def test_small_still_routes_to_qwen3(jina_tiny):
    config = json.loads((jina_tiny / "config.json").read_text())
    assert architecture_for(config) is qwen3
    assert mlx_embed.load(jina_tiny).profile.kind == "jina-v5"


def test_backbone_detection_from_config_data_only():
    jina = {"model_type": "jina_embeddings_v5", "architectures": ["JinaEmbeddingsV5Model"]}
    assert architecture_for(jina) is qwen3  # text-small, the original meaning of this model_type
    assert architecture_for(jina | {"mask_token_id": 128002, "classifier_pooling": "late"}) is eurobert
    assert architecture_for(jina | {"auto_map": {"AutoModel": "modeling_eurobert.EuroBertModel"}}) is eurobert
    assert architecture_for(jina | {"_name_or_path": "jinaai/jina-embeddings-v5-text-nano"}) is eurobert
    assert architecture_for(jina | {"mask_token_id": 1, "use_sliding_window": False}) is qwen3
    assert architecture_for({"model_type": "something", "architectures": ["EuroBertModel"]}) is eurobert


def test_unsupported_architecture_error_lists_what_is_supported(tmp_path):
    folder = model_fixtures.write_jina_v5_nano(tmp_path / "nomic", config_style="eurobert")
    config = json.loads((folder / "config.json").read_text())
    config |= {"model_type": "nomic_bert", "architectures": ["NomicBertModel"]}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFormatError) as err:
        mlx_embed.load(folder)
    message = str(err.value)
    for word in ("nomic_bert", "NomicBertModel", "eurobert", "bert", "qwen3", "jina_embeddings_v5", "EuroBertModel"):
        assert word in message, word


def test_cli_info_json(nano_path):
    out = subprocess.run([sys.executable, "-c", CLI, "info", "--json", str(nano_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout)
    config = json.loads((nano_path / "config.json").read_text())
    assert facts["kind"] == "jina-v5-nano" and facts["backbone"] == "eurobert"
    assert facts["architecture"] == config["architectures"][0] and facts["model_type"] == config["model_type"]
    assert facts["pooling"] == "lasttoken" and facts["dim"] == config["hidden_size"]
    assert facts["layers"] == config["num_hidden_layers"] and facts["max_length"] == config["max_position_embeddings"]
    assert facts["tasks"] == list(model_fixtures.TASKS) and facts["default_task"] == "retrieval"
    assert facts["prompts"] == {"query": "Query: ", "document": "Document: "}
    assert facts["default_prompt_name"] == "document"

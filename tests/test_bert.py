"""BERT-family sentence-transformers models against sentence-transformers itself.

The real all-MiniLM-L6-v2 (`minilm_path`) on 200+ real texts taken from this machine (Python docstrings,
Debian copyright files) plus hand-written non-English sentences; random tiny BERTs for the layouts
MiniLM does not have (CLS pooling, `bert.` keys, prompts, do_lower_case).
"""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mlx_embed
from mlx_embed.encoder.batching import pad
from mlx_embed.errors import InvalidArgumentError, ModelFormatError
from mlx_embed.encoder.pooling import pool

from . import model_fixtures, oracle

PARITY = 0.9999
CLI = "import sys; from mlx_embed.cli import main; sys.exit(main(sys.argv[1:]))"  # the `mlx-embed` entry point

NON_ENGLISH = [
    "Le chat dort sur le canapé pendant que la pluie tombe sur Paris.",
    "Die Bahn hatte heute Morgen zwanzig Minuten Verspätung, wie so oft im Winter.",
    "El museo del Prado abre sus puertas a las diez de la mañana.",
    "Il treno per Firenze parte dal binario nove alle otto e mezza.",
    "O livro que comprei ontem tem uma capa azul muito bonita.",
    "De fiets staat achter het huis, naast de groene container.",
    "Jag tycker om att promenera längs stranden när solen går ner.",
    "Vi ses i morgen på biblioteket klokken tre.",
    "Pociąg do Krakowa odjeżdża z peronu drugiego o północy.",
    "Zítra budeme v Praze vařit guláš s knedlíky.",
    "Москва — столица России, а Нева протекает через Санкт-Петербург.",
    "Учёные обнаружили новую бактерию в глубинах океана.",
    "Η Ακρόπολη της Αθήνας είναι ένα από τα πιο γνωστά μνημεία του κόσμου.",
    "İstanbul Boğazı Avrupa ile Asya'yı birbirinden ayırır.",
    "القاهرة هي أكبر مدينة في العالم العربي.",
    "ירושלים היא עיר עתיקה עם היסטוריה ארוכה.",
    "मुझे सुबह की चाय के साथ अख़बार पढ़ना पसंद है।",
    "北京是中国的首都，也是一座历史悠久的城市。",
    "我明天要去图书馆借几本关于天文学的书。",
    "東京の桜は四月の初めに満開になります。",
    "このレストランのラーメンはとても美味しいです。",
    "서울의 지하철은 깨끗하고 빠르다.",
    "Hà Nội là thủ đô của Việt Nam.",
    "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย",
    "Mars ist als der Rote Planet bekannt.",
    "Marte es conocido como el planeta rojo.",
]

PLANETS = [
    "Venus is often called Earth's twin because of its similar size and proximity.",
    "Mars, known for its reddish appearance, is often referred to as the Red Planet.",
    "Jupiter, the largest planet in our solar system, has a prominent red spot.",
    "Saturn, famous for its rings, is sometimes mistaken for the Red Planet.",
]


def machine_texts(limit: int = 184) -> list[str]:
    """Real text from this machine: stdlib docstrings, Debian copyright paragraphs (if present), a few
    whole module docstrings (longer than MiniLM's 256 tokens), and NON_ENGLISH."""
    import argparse
    import collections
    import email.message
    import json as json_module
    import pathlib
    import subprocess as subprocess_module
    import textwrap
    import threading
    import unittest
    import urllib.parse

    texts: list[str] = []
    seen: set[str] = set()

    def add(text: str) -> None:
        text = " ".join(text.split())
        if 3 <= len(text) <= 600 and text not in seen:  # short and medium; the long ones come below
            seen.add(text)
            texts.append(text)

    modules = [argparse, collections, email.message, json_module, pathlib, subprocess_module, textwrap, threading,
               unittest, urllib.parse]
    for module in modules:
        for name in sorted(vars(module)):
            doc = inspect.getdoc(getattr(module, name))
            if name.startswith("_") or not doc:
                continue
            for paragraph in doc.split("\n\n")[:2]:
                add(paragraph)
    docs = Path("/usr/share/doc")
    for path in sorted(docs.glob("*/copyright"))[:40] if docs.is_dir() else []:
        try:
            body = path.read_text(encoding="utf-8", errors="strict")
        except (OSError, UnicodeDecodeError):
            continue
        for paragraph in body.split("\n\n")[:4]:
            add(paragraph)
    rng = np.random.default_rng(0)
    picked = [texts[i] for i in sorted(rng.choice(len(texts), size=min(limit, len(texts)), replace=False))]
    long = [inspect.getdoc(m) for m in (argparse, subprocess_module, json_module, unittest)]
    # Long texts in the middle, so batches mix lengths.
    return picked[: limit // 2] + long + picked[limit // 2:] + NON_ENGLISH


@pytest.fixture(scope="module")
def texts() -> list[str]:
    out = machine_texts()
    assert len(out) >= 200, f"only {len(out)} texts found on this machine"
    return out


@pytest.fixture(scope="module")
def minilm(minilm_path):
    return mlx_embed.load(minilm_path)


@pytest.fixture(scope="module")
def reference(minilm_path, texts) -> np.ndarray:
    return oracle.st_embed(minilm_path, texts)


def test_tokens_equal_sentence_transformers(minilm, minilm_path, texts):
    ours = minilm.tokenizer.encode(texts, minilm.max_length)
    theirs = oracle.st_token_ids(minilm_path, texts)
    assert ours == theirs
    assert all(ids[0] == 101 and ids[-1] == 102 for ids in ours)  # [CLS] ... [SEP]
    assert max(len(ids) for ids in ours) == minilm.max_length  # some texts were truncated


def test_minilm_parity_batched(minilm, reference, texts):
    ours = minilm.encode(texts, batch_size=32)
    assert ours.shape == reference.shape == (len(texts), 384)
    cos = oracle.cosine_rows(ours, reference)
    assert cos.min() >= PARITY, (cos.min(), texts[int(cos.argmin())][:80])
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_minilm_parity_single_texts(minilm, reference, texts):
    picks = list(range(0, len(texts), 10)) + list(range(len(texts) - len(NON_ENGLISH), len(texts), 2))
    ours = np.stack([minilm.encode(texts[i]) for i in picks])
    cos = oracle.cosine_rows(ours, reference[picks])
    assert cos.min() >= PARITY, cos.min()


def test_padding_is_masked(minilm, texts):
    """A deliberately mixed-length batch, padded with two different pad ids, equals each text alone."""
    by_length = sorted(texts, key=len)
    mixed = [by_length[0], by_length[-1], by_length[len(by_length) // 2], "", by_length[1]]
    ids = minilm.tokenizer.encode(mixed, minilm.max_length)
    alone = np.stack([minilm.embed_token_ids([s])[0] for s in ids])
    for pad_id in (0, 1037):
        tokens, lengths = pad(ids, pad_id=pad_id)
        import mlx.core as mx

        hidden = minilm.network(mx.array(tokens), mx.array(lengths))
        batched = np.array(pool(hidden, mx.array(lengths), minilm.pooling))
        assert np.isfinite(batched).all()
        cos = oracle.cosine_rows(batched, alone)
        assert cos.min() >= 0.99999, (pad_id, cos)


def test_truncation_at_max_seq_length(minilm, minilm_path, texts, reference):
    counts = minilm.tokenizer.count_tokens(texts)
    long = [i for i, n in enumerate(counts) if n > minilm.max_length]
    assert len(long) >= 4  # the whole module docstrings really are too long
    ids = minilm.tokenizer.encode([texts[i] for i in long], minilm.max_length)
    assert {len(s) for s in ids} == {minilm.max_length}
    assert all(s[0] == 101 and s[-1] == 102 for s in ids)  # [CLS] ... [SEP] survives truncation
    cos = oracle.cosine_rows(minilm.encode([texts[i] for i in long]), reference[long])
    assert cos.min() >= PARITY, cos
    # A shorter per-call limit truncates the same way sentence-transformers does with max_seq_length.
    sample = [texts[i] for i in long] + NON_ENGLISH[:2]
    ours = minilm.encode(sample, max_length=40)
    theirs = oracle.st_embed(minilm_path, sample, max_seq_length=40)
    assert oracle.cosine_rows(ours, theirs).min() >= PARITY
    assert not np.allclose(ours[0], minilm.encode(sample[0]), atol=1e-3)  # the limit did change the input


def test_red_planet_ranks_mars_first(minilm, minilm_path):
    query = "Which planet is known as the Red Planet?"
    scores = minilm.similarity(minilm.encode_query(query), minilm.encode_document(PLANETS))[0]
    assert int(np.argmax(scores)) == 1, scores
    reference = oracle.st_embed(minilm_path, [query] + PLANETS)
    assert int(np.argmax(reference[1:] @ reference[0])) == 1  # the oracle agrees


def test_profile_follows_the_files(minilm, minilm_path):
    modules = json.loads((minilm_path / "modules.json").read_text())
    pooling_cfg = json.loads((minilm_path / "1_Pooling" / "config.json").read_text())
    sbert = json.loads((minilm_path / "sentence_bert_config.json").read_text())
    config = json.loads((minilm_path / "config.json").read_text())
    facts = minilm.describe()
    assert facts["pooling"] == ("mean" if pooling_cfg["pooling_mode_mean_tokens"] else "cls")
    assert facts["normalize_module"] == any(m["type"].endswith("Normalize") for m in modules)
    assert facts["max_length"] == sbert["max_seq_length"]
    assert facts["dim"] == config["hidden_size"] and facts["layers"] == config["num_hidden_layers"]
    assert facts["architecture"] == "BertModel" and facts["model_type"] == "bert"
    assert facts["tasks"] == [] and facts["prompts"] == {}
    # Models without adapters accept any standard task name.
    np.testing.assert_array_equal(minilm.encode("x", task="clustering"), minilm.encode("x"))


def test_cli_info_json(minilm_path):
    out = subprocess.run([sys.executable, "-c", CLI, "info", "--json", str(minilm_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout)
    assert facts["architecture"] == "BertModel" and facts["kind"] == "bert"
    assert facts["pooling"] == "mean" and facts["dim"] == 384 and facts["max_length"] == 256
    assert facts["normalize_module"] is True and facts["tasks"] == []


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_padded_batches_stay_finite(minilm_path, texts, dtype):
    model = mlx_embed.load(minilm_path, dtype=dtype)
    sample = [texts[0], texts[5][:30], "", NON_ENGLISH[0], NON_ENGLISH[-5]]
    ours = model.encode(sample, max_batch_tokens=1 << 20)
    assert np.isfinite(ours).all()
    reference = oracle.st_embed(minilm_path, sample)
    assert oracle.cosine_rows(ours, reference).min() >= 0.995


# --- random BERTs in other sentence-transformers layouts ----------------------------------------------

SHORT = ["The quick brown fox.", "Mars is red.", "", "Der schnelle braune Fuchs springt über den Hund. " * 30,
         "Contract renewal terms with the landlord are due in March.", "敏捷的棕色狐狸跳过了懒狗。"]


@pytest.mark.parametrize("layout", [
    dict(pooling="cls", prefix="bert.", prompts={"query": "Represent this sentence for searching: "},
         default_prompt_name=None),                                                  # bge-small style
    dict(pooling="mean", prompts={"query": "query: ", "document": "passage: "},
         default_prompt_name="document", hidden_act="gelu_new"),                     # e5-small style
    dict(pooling="lasttoken", normalize=False, max_seq_length=None, max_position_embeddings=64),
    dict(pooling="mean", lowercase=False, do_lower_case=True, max_seq_length=24),
])
def test_random_bert_layouts_match_sentence_transformers(tmp_path, layout):
    folder = model_fixtures.write_bert(tmp_path / "bert", **layout)
    model = mlx_embed.load(folder)
    assert model.pooling == layout["pooling"]
    assert model.describe()["normalize_module"] == layout.get("normalize", True)
    expected_max = min(layout.get("max_position_embeddings", 512), layout.get("max_seq_length", 128) or 10**9)
    assert model.max_length == expected_max
    assert model.prompts == (layout.get("prompts") or {})
    for prompt_name in [None, *(layout.get("prompts") or {})]:
        ours = model.encode(SHORT, prompt_name=prompt_name)
        theirs = oracle.st_embed(folder, SHORT, prompt_name=prompt_name, normalize_embeddings=True)
        cos = oracle.cosine_rows(ours, theirs)
        assert cos.min() >= 0.99999, (prompt_name, cos)
    oracle.st_model.cache_clear()


def test_unsupported_modules_and_pooling_are_refused(tmp_path):
    folder = model_fixtures.write_bert(tmp_path / "max", pooling="max")
    with pytest.raises(ModelFormatError, match="pooling max"):
        mlx_embed.load(folder)
    folder = model_fixtures.write_bert(tmp_path / "dense")
    modules = json.loads((folder / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ModelFormatError, match="Dense"):
        mlx_embed.load(folder)


def test_unsupported_architecture_names_what_it_found(tmp_path):
    folder = model_fixtures.write_bert(tmp_path / "roberta")
    config = json.loads((folder / "config.json").read_text())
    config |= {"model_type": "xlm-roberta", "architectures": ["XLMRobertaModel"]}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFormatError) as err:
        mlx_embed.load(folder)
    message = str(err.value)
    for word in ("xlm-roberta", "XLMRobertaModel", "bert", "qwen3"):
        assert word in message


def test_too_long_token_ids_are_refused(tmp_path):
    folder = model_fixtures.write_bert(tmp_path / "short", max_position_embeddings=32, max_seq_length=None)
    model = mlx_embed.load(folder)
    assert model.max_length == 32
    assert len(model.tokenizer.encode(["word " * 100], model.max_length)[0]) == 32
    with pytest.raises(InvalidArgumentError, match="32 positions"):
        model.embed_token_ids([[2] * 40])
    shutil.rmtree(folder)

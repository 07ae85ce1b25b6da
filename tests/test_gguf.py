"""GGUF files (llama.cpp) of jina-v5-small-shaped Qwen3 models against the transformers reference.

The fixtures are random models converted the way convert_hf_to_gguf.py converts Qwen3
(tests/gguf_fixtures.py). F16 and Q8_0 are compared with the float model itself; the 4- and 5-bit
types, whose rounding noise a random network amplifies, with the reference run on the weights that
the `gguf` package's own reader and dequantizers get from the same file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import mlx_embed
from mlx_embed.errors import ModelFormatError
from mlx_embed.encoder.gguf_file import read_gguf
from mlx_embed.encoder.gguf_qwen3 import tokenizer_from_metadata

from . import gguf_fixtures, model_fixtures, oracle

TEXTS = [
    "What is the Red Planet?",
    "Mars, known for its reddish appearance, is often referred to as the Red Planet.",
    "Le renard brun rapide saute par-dessus le chien paresseux. Größe: 12345 €",
    "敏捷的棕色狐狸跳过了懒狗。 素早い茶色の狐 빠른 갈색 여우",
    "I've said it's 3.14159, they'll DON'T we'd\n\n  indented\ttabs\r\nend   ",
    "def encode(texts): return {k: v for k, v in zip(a, b)}  # ''' \"\"\" ``` !!!",
    "special <|im_start|>user<|im_end|> tokens in text, e\u0301 (combining accent), emoji 🚀🦙",
    "x",
]
WIDE = dict(hidden_size=256, num_hidden_layers=2, intermediate_size=512, num_attention_heads=4,
            num_key_value_heads=2, head_dim=64)  # K-quants need rows of whole 256-value blocks


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Per-task safetensors models with Qwen3's pre-tokenizer, and their GGUFs in a folder of their own."""
    root = tmp_path_factory.mktemp("gguf")
    tiny = model_fixtures.write_jina_v5(root / "jina-embeddings-v5-text-small-retrieval", layout="merged",
                                        vocab_size=640)  # > tokenizer size: [PADn] rows, as for Qwen3
    wide = model_fixtures.write_jina_v5(root / "jina-embeddings-v5-text-small-clustering", layout="merged",
                                        shape=WIDE, vocab_size=640, merged_task="clustering", seed=3)
    for folder in (tiny, wide):
        gguf_fixtures.use_qwen2_pretokenizer(folder)
    files = root / "files"
    files.mkdir()
    out = {"tiny": tiny, "wide": wide}
    for outtype in ("F16", "Q8_0", "Q4_0", "Q4_1", "Q5_0"):
        out[outtype] = gguf_fixtures.write_qwen3_gguf(
            tiny, files / f"v5-small-retrieval-{outtype}.gguf", outtype,
            name="Jina Embeddings V5 Text Small Retrieval")
    out["Q4_K_M"] = gguf_fixtures.write_qwen3_gguf(wide, files / "v5-small-clustering-Q4_K_M.gguf", "Q4_K_M",
                                                   name="Jina Embeddings V5 Text Small Clustering")
    return out


def _dequantized_reference(gguf_path: Path, source: Path, dest: Path) -> Path:
    """The source model folder with the weights the `gguf` package reads and dequantizes from the file."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    from_gguf = {t.name: dequantize(t.data, t.tensor_type).reshape(tuple(int(n) for n in reversed(t.shape)))
                 for t in GGUFReader(str(gguf_path)).tensors}
    config = json.loads((source / "config.json").read_text())
    weights = model_fixtures.random_qwen3_weights(config)  # names and shapes only
    weights = {k: np.asarray(from_gguf[gguf_fixtures.gguf_name(k)], dtype=np.float32) for k in weights}
    shutil.copytree(source, dest)
    model_fixtures.save_safetensors(weights, dest / "model.safetensors")
    return dest


@pytest.mark.parametrize("outtype,floor", [("F16", 0.9999), ("Q8_0", 0.99)])
def test_gguf_matches_transformers_reference(models, outtype, floor):
    model = mlx_embed.load(models[outtype])
    assert model.tokenizer.source.endswith("(GGUF metadata)")
    for prompt_name, prefix in (("document", "Document: "), ("query", "Query: ")):
        ours = model.encode(TEXTS, prompt_name=prompt_name)
        reference = oracle.qwen3_embed(models["tiny"], TEXTS, prefix=prefix)
        from_safetensors = mlx_embed.load(models["tiny"]).encode(TEXTS, prompt_name=prompt_name)
        cos_ref = oracle.cosine_rows(ours, reference)
        cos_st = oracle.cosine_rows(ours, from_safetensors)
        print(f"{outtype} {prompt_name}: min cosine vs transformers {cos_ref.min():.6f}, "
              f"vs safetensors path {cos_st.min():.6f}")
        assert cos_ref.min() >= floor and cos_st.min() >= floor
    assert np.allclose(model.encode_query(TEXTS), model.encode(TEXTS, prompt="Query: "), atol=1e-6)


@pytest.mark.parametrize("outtype,source", [("Q4_0", "tiny"), ("Q4_1", "tiny"), ("Q5_0", "tiny"), ("Q4_K_M", "wide")])
def test_quantized_types_are_read_exactly(models, tmp_path, outtype, source):
    """Q4_0 (mx.load's 4-bit triplets), Q4_1 and Q4_K + Q6_K (our MLX decoders), Q5_0 (the gguf package)."""
    ours = mlx_embed.load(models[outtype]).encode(TEXTS)
    folder = _dequantized_reference(models[outtype], models[source], tmp_path / models[source].name)
    reference = oracle.qwen3_embed(folder, TEXTS, prefix="Document: ")
    float_model = oracle.qwen3_embed(models[source], TEXTS, prefix="Document: ")
    cos = oracle.cosine_rows(ours, reference)
    print(f"{outtype}: min cosine vs transformers on the file's weights {cos.min():.6f}; "
          f"vs the unquantized random model {oracle.cosine_rows(ours, float_model).min():.4f}")
    assert cos.min() >= 0.9999


@pytest.mark.parametrize("outtype", ["F16", "Q8_0", "Q4_0"])
def test_own_decoders_agree_with_mx_load(models, outtype):
    meta_mx, tensors_mx = read_gguf(models[outtype])
    meta_own, tensors_own = read_gguf(models[outtype], use_mx_load=False)
    assert meta_mx == meta_own
    assert tensors_mx.keys() == tensors_own.keys()
    for name, value in tensors_mx.items():
        assert np.array_equal(np.array(value), np.array(tensors_own[name])), name


@pytest.mark.parametrize("qtype", ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q8_0", "Q4_K", "Q6_K"])
def test_mlx_decoders_match_the_gguf_reference(qtype):
    import mlx.core as mx
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
    from gguf.quants import dequantize, quantize

    from mlx_embed.encoder.gguf_file import _MLX_DECODERS

    rng = np.random.default_rng(1)
    values = (rng.standard_normal((24, 512)) * np.linspace(0.05, 3.0, 512)).astype(np.float32)
    values[3] = 0.0  # all-zero blocks (zero scales) too
    t = GGMLQuantizationType[qtype]
    raw = {"Q4_K": gguf_fixtures.quantize_q4_k, "Q6_K": gguf_fixtures.quantize_q6_k}.get(
        qtype, lambda v: quantize(v, t))(values)
    reference = dequantize(raw, t)
    block, type_size, decode = _MLX_DECODERS[int(t)]
    assert (block, type_size) == GGML_QUANT_SIZES[t]
    ours = np.array(decode(mx.array(raw.view(np.uint8).reshape(-1, type_size))).astype(mx.float32))
    assert np.array_equal(ours.reshape(reference.shape), reference)
    assert np.linalg.norm(reference - values) <= 0.1 * np.linalg.norm(values)  # the encoders are sane


def test_k_quant_file_is_decoded_like_the_reference_reader(models):
    """mx.load would return MLX 0.32's wrong Q4_K values (and float16 Q6_K); read_gguf must not."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    _, tensors = read_gguf(models["Q4_K_M"])
    for t in GGUFReader(str(models["Q4_K_M"])).tensors:
        expected = dequantize(t.data, t.tensor_type).reshape(tuple(int(n) for n in reversed(t.shape)))
        assert np.array_equal(np.array(tensors[t.name]), expected), (t.name, t.tensor_type.name)


def _hf_ids(folder: Path, texts: list[str], max_length: int | None = None) -> list[list[int]]:
    tok = oracle.reference_tokenizer(str(folder))
    return tok(texts, truncation=max_length is not None, max_length=max_length)["input_ids"]


def test_tokenizer_rebuilt_from_metadata_matches_hugging_face(models):
    model = mlx_embed.load(models["F16"])
    texts = TEXTS + [model_fixtures.CORPUS[:3000]]
    assert model.tokenizer.encode(texts, None) == _hf_ids(models["tiny"], texts)
    assert model.tokenizer.encode(texts, 9) == _hf_ids(models["tiny"], texts, 9)  # EOS kept on truncation
    assert all(ids[-1] == 0 for ids in model.tokenizer.encode(texts, None))  # <|endoftext|> appended
    hf = oracle.reference_tokenizer(str(models["tiny"]))
    for text in TEXTS:
        assert model.tokenizer.offsets(text) == hf(text, return_offsets_mapping=True)["offset_mapping"]


@pytest.mark.parametrize("pre", ["qwen2", "gpt-2"])
def test_pretokenizers_rebuilt_exactly(tmp_path, pre):
    """A vocabulary with merges across whitespace, digits and contractions: any regex slip changes ids."""
    from tokenizers import Tokenizer as HFTokenizer

    from mlx_embed.encoder.gguf_file import read_header

    folder = gguf_fixtures.write_bpe_tokenizer(tmp_path / "tok", pre)
    path = gguf_fixtures.write_vocab_gguf(folder, tmp_path / "vocab.gguf", pre)
    rebuilt = tokenizer_from_metadata(path, read_header(path)[0])
    hf = HFTokenizer.from_file(str(folder / "tokenizer.json"))
    texts = TEXTS + gguf_fixtures.WHITESPACE_CORPUS.split("\n\n") + [
        gguf_fixtures.WHITESPACE_CORPUS, "x\n\n\n  y", "A'LL b'Ve 7777 88888 IT'SOKOL I'LLGOOD they'REady",
        "  \r\n\r\n\t "]
    ours, theirs = rebuilt.encode_batch(texts), hf.encode_batch(texts)
    assert [e.ids for e in ours] == [e.ids for e in theirs]
    assert [e.offsets for e in ours] == [e.offsets for e in theirs]
    assert rebuilt.decode(theirs[0].ids) == hf.decode(theirs[0].ids)


def test_tokenizer_json_next_to_the_file_is_used_and_checked(models, tmp_path):
    folder = tmp_path / "with-tokenizer"
    folder.mkdir()
    path = Path(shutil.copy(models["Q8_0"], folder))
    shutil.copy(models["tiny"] / "tokenizer.json", folder)
    model = mlx_embed.load(path)
    assert model.tokenizer.source == str(folder / "tokenizer.json")
    assert model.tokenizer.encode(TEXTS, None) == _hf_ids(models["tiny"], TEXTS)
    other = tmp_path / "other"
    model_fixtures.write_wordpiece_tokenizer(other)  # another model's tokenizer
    shutil.copy(other / "tokenizer.json", folder / "tokenizer.json")
    with pytest.raises(ModelFormatError, match="does not belong to"):
        mlx_embed.load(path)


def test_tokenizers_that_cannot_be_rebuilt_are_refused(models, tmp_path):
    meta, _ = read_gguf(models["F16"])
    for change, expected in (({"tokenizer.ggml.model": "llama"}, "tokenizer model 'llama'"),
                             ({"tokenizer.ggml.pre": "deepseek-llm"}, "pre-tokenizer 'deepseek-llm'")):
        with pytest.raises(ModelFormatError, match=expected) as info:
            tokenizer_from_metadata(models["F16"], meta | change)
        assert "tokenizer.json next to the file" in str(info.value)
    bare = gguf_fixtures.write_qwen3_gguf(models["tiny"], tmp_path / "no-vocab.gguf", "F16", vocab=False)
    with pytest.raises(ModelFormatError, match="tokenizer.json"):
        mlx_embed.load(bare)
    shutil.copy(models["tiny"] / "tokenizer.json", tmp_path)
    assert mlx_embed.load(bare).tokenizer.source == str(tmp_path / "tokenizer.json")


@pytest.mark.parametrize("filename,name,kind,task,prompts", [
    ("v5-small-text-matching-Q8_0.gguf", "model", "jina-v5-merged", "text-matching", {"query", "document"}),
    ("model.gguf", "Jina Embeddings V5 Text Small Classification", "jina-v5-merged", "classification",
     {"query", "document"}),
    ("Qwen3-Embedding-0.6B-Q8_0.gguf", "Qwen3 Embedding 0.6B", "qwen3-embedding", None, {"query", "document"}),
    ("some-qwen3-model.gguf", "Some Model", "qwen3", None, set()),
])
def test_profile_from_file_name_and_metadata(models, tmp_path, filename, name, kind, task, prompts):
    path = gguf_fixtures.write_qwen3_gguf(models["tiny"], tmp_path / filename, "Q8_0", name=name)
    model = mlx_embed.load(path)
    assert (model.profile.kind, model.profile.merged_task, set(model.prompts)) == (kind, task, prompts)
    assert model.pooling == "lasttoken" and model.dim == 64 and model.max_length == 32768
    if kind == "jina-v5-merged":
        assert model.prompts == {"query": "Query: ", "document": "Document: "}
        assert model.default_prompt_name == "document"


def test_damaged_files_are_refused_with_their_name(models, tmp_path):
    cases = {
        "truncated-f16.gguf": models["F16"].read_bytes()[:-1000],  # mx.load's path
        "truncated-q4km.gguf": models["Q4_K_M"].read_bytes()[:-1000],  # the numpy header parser's path
        "header-only.gguf": models["Q4_K_M"].read_bytes()[:3000],
        "junk.gguf": b"\x00garbage" * 10,
        "empty.gguf": b"",
    }
    for filename, data in cases.items():
        path = tmp_path / filename
        path.write_bytes(data)
        with pytest.raises(ModelFormatError) as info:
            mlx_embed.load(path)
        assert str(path) in str(info.value), filename
        assert "re-download" in str(info.value).lower(), filename


def test_other_architectures_and_rerankers_are_refused(tmp_path, models):
    import gguf

    w = gguf.GGUFWriter(str(tmp_path / "nano.gguf"), "eurobert")
    w.add_tensor("token_embd.weight", np.zeros((8, 4), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(ModelFormatError, match="'eurobert'.*safetensors"):
        mlx_embed.load(tmp_path / "nano.gguf")
    reranker = gguf_fixtures.write_qwen3_gguf(models["tiny"], tmp_path / "rerank.gguf", "F16", pooling="rank")
    with pytest.raises(ModelFormatError, match="reranker"):
        mlx_embed.load(reranker)


def test_cli_info_on_a_gguf(models, capsys):
    from mlx_embed.cli import main

    assert main(["info", str(models["Q8_0"]), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["path"] == str(models["Q8_0"])
    assert (facts["kind"], facts["merged_task"], facts["dim"], facts["layers"]) == ("jina-v5-merged", "retrieval",
                                                                                    64, 2)
    assert facts["prompts"] == {"query": "Query: ", "document": "Document: "}
    assert main(["info", str(models["Q8_0"].with_name("missing.gguf"))]) == 3


def test_half_precision_load(models):
    vectors = mlx_embed.load(models["F16"], dtype="float16").encode(TEXTS)
    reference = oracle.qwen3_embed(models["tiny"], TEXTS, prefix="Document: ")
    assert np.isfinite(vectors).all() and oracle.cosine_rows(vectors, reference).min() >= 0.99

"""MLX-format checkpoints: `mlx-embed convert`, loading quantized weights, refusing broken ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest

import mlx_embed
from mlx_embed.encoder.lora import LoRALinear
from mlx_embed.cli import main
from mlx_embed.quant.convert import OutputExistsError, convert
from mlx_embed.errors import InvalidArgumentError, ModelFormatError
from mlx_embed.quant import recipe as quant_recipe
from mlx.utils import tree_flatten

from . import model_fixtures

TEXTS = ["The quick brown fox jumps over the lazy dog.", "Mars is often referred to as the Red Planet.",
         "Contract renewal terms with the landlord are due in March.", "def encode(texts): return model.embed(texts)",
         "Le renard brun rapide saute par-dessus le chien paresseux.", "Invoices, receipts and tax documents 2024.",
         "Saturn is famous for its rings.", "敏捷的棕色狐狸跳过了懒狗。"]
# Lowest cosine to the float32 model over TEXTS and every task, measured on the tiny random fixture
# (group size 32): 8-bit >= 0.9998, 4-bit >= 0.95. The bounds leave a margin; random weights are harsher
# than trained ones (bench/convert.py has the figures for MiniLM and the full-size shape).
BOUNDS = {8: 0.999, 4: 0.93}
# Real all-MiniLM-L6-v2, default 4-bit recipe, held-out /usr/share/doc text: (mean, min) asserted.
MINILM_4BIT = (0.985, 0.965)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def float_model(jina_tiny):
    return mlx_embed.load(jina_tiny)


@pytest.fixture(scope="module")
def converted(jina_tiny, tmp_path_factory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("converted")
    return {8: Path(convert(jina_tiny, root / "q8", bits=8, group_size=32)["output"]),
            4: Path(convert(jina_tiny, root / "q4", bits=4, group_size=32, dtype="bfloat16",
                            recipe="uniform")["output"])}


@pytest.mark.parametrize("bits", [8, 4])
def test_quantized_checkpoint_matches_float_model_for_every_task(bits, converted, float_model):
    model = mlx_embed.load(converted[bits])
    assert model.tasks == float_model.tasks
    info = model.describe()["quantization"]
    assert (info["bits"], info["group_size"], info["float_layers"]) == (bits, 32, 0)
    layers = dict(model.network.named_modules())
    assert isinstance(layers["embed_tokens"], nn.QuantizedEmbedding)
    assert isinstance(layers["layers.0.mlp.down_proj"].linear, nn.QuantizedLinear)
    worst = 1.0
    for task in float_model.tasks:
        c = cosines(model.encode(TEXTS, task=task), float_model.encode(TEXTS, task=task))
        worst = min(worst, float(c.min()))
    assert worst >= BOUNDS[bits], f"{bits}-bit: lowest cosine to float32 {worst:.5f} < {BOUNDS[bits]}"
    assert worst < 0.999999, "the converted model is not quantized at all"


def test_output_layout_and_recorded_conversion(converted, jina_tiny):
    out = converted[4]
    config = json.loads((out / "config.json").read_text())
    assert config["quantization"] == {"group_size": 32, "bits": 4, "mode": "affine"}
    assert config["quantization_config"] == config["quantization"]
    assert config["mlx_embed"]["converted_from"] == str(jina_tiny)
    assert config["mlx_embed"]["bits"] == 4 and config["mlx_embed"]["merged_task"] is None
    assert config["mlx_embed"]["dtype"] == "bfloat16"
    for name in ("tokenizer.json", "tokenizer_config.json", "config_sentence_transformers.json"):
        assert (out / name).read_bytes() == (jina_tiny / name).read_bytes()
    for task in model_fixtures.TASKS:
        assert (out / "adapters" / task / "adapter_config.json").is_file()
        tensors = mx.load(str(out / "adapters" / task / "adapter_model.safetensors"))
        source = mx.load(str(jina_tiny / "adapters" / task / "adapter_model.safetensors"))
        assert set(tensors) == set(source)  # the same PEFT keys, so any PEFT reader takes them
        assert all(v.dtype == mx.bfloat16 for v in tensors.values())
    weights = mx.load(str(out / "model.safetensors"))
    assert weights["layers.0.self_attn.q_proj.weight"].dtype == mx.uint32
    assert {"layers.0.self_attn.q_proj.scales", "layers.0.self_attn.q_proj.biases"} <= set(weights)
    assert weights["norm.weight"].dtype == mx.bfloat16
    assert not list(out.parent.glob(".*.tmp")), "the temporary folder was left behind"


def test_adapters_switch_on_quantized_base(converted, float_model):
    model = mlx_embed.load(converted[8])
    wrapped = [m for _, m in model.network.named_modules() if isinstance(m, LoRALinear)]
    assert wrapped and all(isinstance(m.linear, nn.QuantizedLinear) for m in wrapped)
    first = model.encode(TEXTS, task="retrieval")
    other = model.encode(TEXTS, task="clustering")
    again = model.encode(TEXTS, task="retrieval")
    np.testing.assert_array_equal(first, again)
    assert cosines(first, other).max() < 0.999, "switching the task changed nothing"
    # each task's vectors stay closest to the float model's vectors for the same task
    for task in ("retrieval", "clustering"):
        mine = model.encode(TEXTS, task=task)
        assert cosines(mine, float_model.encode(TEXTS, task=task)).mean() > \
            cosines(mine, float_model.encode(TEXTS, task="text-matching")).mean()


def test_merge_task_matches_encode_with_that_task(jina_tiny, float_model, tmp_path):
    out = Path(convert(jina_tiny, tmp_path / "merged", merge_task="text-matching", dtype="float32")["output"])
    merged = mlx_embed.load(out)
    assert merged.tasks == () and not (out / "adapters").exists()
    info = merged.describe()
    assert info["merged_task"] == "text-matching" and info["quantization"] is None
    assert "task_names" not in json.loads((out / "config.json").read_text())
    expected = float_model.encode(TEXTS, task="text-matching")
    assert cosines(merged.encode(TEXTS), expected).min() > 0.99999
    assert cosines(merged.encode(TEXTS), float_model.encode(TEXTS, task="retrieval")).min() < 0.999

    q8 = mlx_embed.load(convert(jina_tiny, tmp_path / "merged8", merge_task="text-matching", bits=8,
                                group_size=64)["output"])
    assert q8.describe()["quantization"]["group_size"] == 64
    assert cosines(q8.encode(TEXTS), expected).min() >= BOUNDS[8]


def test_qwen3_embedding_converts_with_its_prompts(tmp_path):
    src = model_fixtures.write_jina_v5(tmp_path / "Qwen3-Embedding", layout="qwen3-embedding", seed=3)
    out = convert(src, tmp_path / "q8", bits=8, group_size=64)["output"]
    model, original = mlx_embed.load(out), mlx_embed.load(src)
    assert model.describe()["kind"] == original.describe()["kind"] == "qwen3-embedding"
    assert model.prompts == original.prompts
    c = cosines(model.encode_query(TEXTS), original.encode_query(TEXTS))
    assert c.min() >= BOUNDS[8]


def test_mlx_lm_checkpoint_with_per_layer_overrides_loads(tmp_path):
    """A checkpoint mlx-lm itself wrote: `model.` keys, mixed 4/6-bit with per-layer entries."""
    pytest.importorskip("mlx_lm")
    from mlx_lm.convert import convert as mlx_lm_convert

    src = model_fixtures.write_jina_v5(tmp_path / "qwen3", layout="qwen3-embedding", prefix="model.", seed=5)
    mlx_lm_convert(str(src), str(tmp_path / "mlx"), quantize=True, q_group_size=32, q_bits=4,
                   quant_predicate="mixed_4_6")
    entry = json.loads((tmp_path / "mlx" / "config.json").read_text())["quantization"]
    six = [k for k, v in entry.items() if isinstance(v, dict) and v["bits"] == 6]
    assert six and all(k.startswith("model.") for k in six)
    model = mlx_embed.load(tmp_path / "mlx")
    bits = {p: m.bits for p, m in model.network.named_modules() if hasattr(m, "bits")}
    assert {bits[k.removeprefix("model.")] for k in six} == {6}
    assert 4 in bits.values()
    assert cosines(model.encode(TEXTS), mlx_embed.load(src).encode(TEXTS)).min() >= BOUNDS[4]


# --- broken checkpoints are refused with the key and file named ------------------------------------
def _edit(src: Path, dst: Path, config=None, drop: str | None = None) -> Path:
    shutil.copytree(src, dst)
    if config is not None:
        data = json.loads((dst / "config.json").read_text())
        config(data)
        (dst / "config.json").write_text(json.dumps(data))
    if drop is not None:
        weights = mx.load(str(dst / "model.safetensors"))
        del weights[drop]
        mx.save_safetensors(str(dst / "model.safetensors"), weights, metadata={"format": "mlx"})
    return dst


@pytest.mark.parametrize("change, words", [
    (lambda c: c["quantization"].update(bits=7), ["bits=7", "config.json", "'quantization'"]),
    (lambda c: c["quantization"].update(group_size=48), ["group_size=48", "config.json"]),
    (lambda c: c["quantization"].update(bits=4), ["layers.", ".weight", "model.safetensors", "bits=4"]),
    (lambda c: c["quantization"].update(group_size=64), [".scales", "model.safetensors", "group_size=64"]),
    (lambda c: c["quantization"].update(mode="gptq"), ["'gptq'", "config.json"]),
    (lambda c: c.pop("quantization"), ["scales", "model.safetensors", "no 'quantization' entry"]),
    (lambda c: c["quantization"].update({"layers.1.mlp.up_proj": False}),
     ["layers.1.mlp.up_proj", "false", "scales"]),
    (lambda c: c["quantization"].update({"layers.1.mlp.up_proj": {"bits": 4, "group_size": 32}}),
     ["layers.1.mlp.up_proj", "bits=4", "model.safetensors"]),
])
def test_wrong_quantization_entry_is_refused(change, words, converted, tmp_path):
    broken = _edit(converted[8], tmp_path / "broken", config=change)
    with pytest.raises(ModelFormatError) as err:
        mlx_embed.load(broken)
    for word in words:
        assert word in str(err.value), f"{word!r} not in: {err.value}"


@pytest.mark.parametrize("key", ["layers.1.self_attn.k_proj.scales", "embed_tokens.scales",
                                 "layers.0.mlp.down_proj.biases"])
def test_missing_scales_or_biases_are_refused(key, converted, tmp_path):
    broken = _edit(converted[8], tmp_path / "broken", drop=key)
    with pytest.raises(ModelFormatError) as err:
        mlx_embed.load(broken)
    assert key in str(err.value) and "model.safetensors" in str(err.value)


def test_quantize_argument_on_a_quantized_checkpoint(converted, tmp_path, capsys):
    import warnings

    from mlx_embed.encoder.quantized_checkpoint import AlreadyQuantizedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same bits: silently nothing to do
        assert mlx_embed.load(converted[8], quantize=8).describe()["quantization"]["bits"] == 8
    with pytest.warns(AlreadyQuantizedWarning, match="already quantized .8-bit.*quantize=4 is ignored") as caught:
        model = mlx_embed.load(converted[8], quantize=4)  # what the app does with its quantize setting
    assert str(converted[8]) in str(caught[0].message) and "--bits 4" in str(caught[0].message)
    assert model.describe()["quantization"]["bits"] == 8  # the checkpoint as stored, not re-quantized
    assert model.encode(TEXTS).shape == (len(TEXTS), model.dim)
    # the CLI: re-quantizing a quantized checkpoint is one clear line and exit code 2, no traceback
    assert main(["convert", str(converted[8]), str(tmp_path / "again"), "--bits", "4"]) == 2
    err = capsys.readouterr().err
    assert "already quantized" in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2


# --- convert's own checks ------------------------------------------------------------------------
def test_convert_refuses_to_overwrite_unless_forced(jina_tiny, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="--force"):
        convert(jina_tiny, out, bits=8, group_size=32)
    assert (out / "keep.txt").read_text() == "mine"
    convert(jina_tiny, out, bits=8, group_size=32, force=True)
    assert not (out / "keep.txt").exists() and (out / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "temporary or old folders left behind"


def test_convert_refuses_bad_requests(jina_tiny, converted, tmp_path):
    with pytest.raises(InvalidArgumentError, match="bits=7"):
        convert(jina_tiny, tmp_path / "a", bits=7)
    with pytest.raises(InvalidArgumentError, match="Unknown task 'summarise'"):
        convert(jina_tiny, tmp_path / "a", merge_task="summarise")
    with pytest.raises(InvalidArgumentError, match="already quantized"):
        convert(converted[8], tmp_path / "a", bits=4)
    src = tmp_path / "holder" / "model"
    shutil.copytree(jina_tiny, src)
    for out in (src, src.parent):
        with pytest.raises(InvalidArgumentError, match="source model"):
            convert(src, out, bits=8, group_size=32, force=True)
    assert (src / "model.safetensors").is_file()
    assert not (tmp_path / "a").exists()


def test_cli_convert_and_info(jina_tiny, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["convert", str(jina_tiny), str(out), "--bits", "8", "--group-size", "32", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["bits"] == 8 and summary["output_weight_bytes"] < summary["source_weight_bytes"]
    assert main(["convert", str(jina_tiny), str(out), "--bits", "8"]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["convert", str(jina_tiny), str(tmp_path / "x"), "--merge-task", "nope"]) == 2
    assert main(["convert", str(tmp_path / "missing"), str(tmp_path / "y")]) == 3
    with pytest.raises(SystemExit) as exit_:
        main(["convert", str(jina_tiny), str(tmp_path / "z"), "--bits", "5"])
    assert exit_.value.code == 2
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["quantization"]["bits"] == 8 and info["quantization"]["group_size"] == 32
    assert main(["info", str(out)]) == 0
    assert "quantization" in capsys.readouterr().out


def test_minilm_8bit_cosine(minilm_path, tmp_path):
    """The real model: 8-bit stays >= 0.999 cosine to float32 (bench/convert.py reports 4-bit too)."""
    try:
        original = mlx_embed.load(minilm_path)
    except ModelFormatError as exc:
        pytest.skip(f"BERT is not supported yet: {exc}")
    out = convert(minilm_path, tmp_path / "minilm-8bit", bits=8, group_size=64)["output"]
    model = mlx_embed.load(out)
    assert model.describe()["quantization"]["bits"] == 8
    assert model.pooling == original.pooling and model.dim == original.dim
    c = cosines(model.encode(TEXTS), original.encode(TEXTS))
    assert c.min() >= 0.999, c


@pytest.mark.parametrize("bits", [3, 6])
def test_odd_bit_widths_keep_adapters_attachable(bits, jina_tiny, float_model, tmp_path):
    """3 and 6 bits pack a value across uint32 words: the adapters' input dimension must still match."""
    model = mlx_embed.load(convert(jina_tiny, tmp_path / f"q{bits}", bits=bits, group_size=32)["output"])
    assert model.describe()["quantization"]["bits"] == bits
    c = cosines(model.encode(TEXTS, task="classification"), float_model.encode(TEXTS, task="classification"))
    assert c.min() >= (0.99 if bits == 6 else 0.75)  # measured 0.996 and 0.83 (random weights)


# --- GPTQ-calibrated quantization --------------------------------------------------------------------
@pytest.mark.parametrize("bits", [4, 6, 8])
def test_gptq_lowers_output_error_and_packs_like_mlx(bits):
    from mlx_embed.quant.gptq import gptq_quantize

    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((128, 128)).astype(np.float32)
    x = rng.standard_normal((2000, 128)).astype(np.float32) @ mixing  # correlated inputs, like real activations
    w = rng.standard_normal((96, 128)).astype(np.float32)
    packed, scales, biases = gptq_quantize(mx.array(w), (x.T @ x).astype(np.float64), 32, bits)
    assert packed.dtype == mx.uint32 and packed.shape == (96, 128 * bits // 32) and scales.shape == (96, 4)
    gptq_w = np.array(mx.dequantize(packed, scales, biases, group_size=32, bits=bits))
    rtn_w = np.array(mx.dequantize(*mx.quantize(mx.array(w), 32, bits), group_size=32, bits=bits))
    gptq_err = np.linalg.norm(x @ (w - gptq_w).T)
    rtn_err = np.linalg.norm(x @ (w - rtn_w).T)
    assert gptq_err < 0.8 * rtn_err, (gptq_err, rtn_err)
    assert np.abs(gptq_w - w).max() < 2 ** (4 - bits) * 2.0  # still a quantization of w, not something else


def test_gptq_rounds_outlier_channels_first():
    """A few input channels 20x larger than the rest (BERT's residual stream has such dimensions):
    rounding them first and pushing their error onto the quiet channels halves the output error of
    round-to-nearest; in contiguous column order GPTQ removes only about a quarter of it (0.74-0.77)."""
    from mlx_embed.quant.gptq import gptq_quantize

    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal((2000, 128)).astype(np.float32) @ rng.standard_normal((128, 128)).astype(np.float32)
        x[:, rng.choice(128, 6, replace=False)] *= 20
        w = rng.standard_normal((96, 128)).astype(np.float32)
        packed = gptq_quantize(mx.array(w), (x.T @ x).astype(np.float64), 32, 4)
        gptq_err = np.linalg.norm(x @ (w - np.array(mx.dequantize(*packed, group_size=32, bits=4))).T)
        rtn_err = np.linalg.norm(x @ (w - np.array(mx.dequantize(*mx.quantize(mx.array(w), 32, 4), group_size=32,
                                                                  bits=4))).T)
        assert gptq_err < 0.6 * rtn_err, (gptq_err, rtn_err)


def test_calibrated_convert_loads_within_bounds(jina_tiny, float_model, converted, tmp_path):
    texts_file = tmp_path / "calibration.txt"
    texts_file.write_text("\n".join(TEXTS * 2))
    out = tmp_path / "gptq"
    assert main(["convert", str(jina_tiny), str(out), "--bits", "4", "--group-size", "32", "--dtype", "bfloat16",
                 "--recipe", "uniform", "--calibrate", "--calibration-file", str(texts_file)]) == 0
    assert json.loads((out / "config.json").read_text())["mlx_embed"]["method"] == "gptq"
    mine, rtn = mx.load(str(out / "model.safetensors")), mx.load(str(converted[4] / "model.safetensors"))
    assert {k: v.shape for k, v in mine.items()} == {k: v.shape for k, v in rtn.items()}
    key = "layers.1.mlp.down_proj.weight"
    assert not mx.array_equal(mine[key], rtn[key]), "calibration changed no integer"
    model = mlx_embed.load(out)
    for task in float_model.tasks:
        assert cosines(model.encode(TEXTS, task=task), float_model.encode(TEXTS, task=task)).min() >= BOUNDS[4]
    with pytest.raises(InvalidArgumentError, match="'mixed' recipe is a 4-bit recipe"):
        convert(jina_tiny, tmp_path / "m8", bits=8, recipe="mixed")
    with pytest.raises(InvalidArgumentError, match="Unknown recipe 'q4_k_m'"):
        convert(jina_tiny, tmp_path / "m8", bits=4, recipe="q4_k_m")


def test_gguf_source_converts_with_tokenizer_prompts_and_pooling(tmp_path):
    from . import gguf_fixtures

    src = model_fixtures.write_jina_v5(tmp_path / "Qwen3-Embedding-tiny", layout="qwen3-embedding", seed=7)
    gguf_file = gguf_fixtures.write_qwen3_gguf(src, tmp_path / "model.gguf", "F16")
    original = mlx_embed.load(gguf_file)
    out = convert(gguf_file, tmp_path / "out", bits=8, group_size=32)["output"]
    model = mlx_embed.load(out)
    assert (model.prompts, model.pooling, model.describe()["kind"]) == \
        (original.prompts, original.pooling, original.describe()["kind"])
    assert cosines(model.encode_query(TEXTS), original.encode_query(TEXTS)).min() >= BOUNDS[8]


# --- the mixed 4-bit recipe -------------------------------------------------------------------------
# Wide enough for group 128 (the coarse grid of query/key/embeddings), so the recipe has bits to move.
WIDE = dict(hidden_size=128, num_hidden_layers=4, intermediate_size=256, num_attention_heads=4,
            num_key_value_heads=2, head_dim=32)


def _mlx_lm_rebuild(folder: Path) -> nn.Module:
    """Rebuild a checkpoint the way mlx-lm's load_model does: per-layer config entry, else scales present."""
    from mlx_embed.encoder.facts import read_json
    from mlx_embed.models import architecture_for

    config = read_json(folder / "config.json")
    weights = mx.load(str(folder / "model.safetensors"))
    arch = architecture_for(config, str(folder / "config.json"))
    network = arch.Model(arch.ModelArgs.from_config(config))
    q = config["quantization"]

    def predicate(path, module):  # mlx_lm.utils.load_model, verbatim in substance
        if path in q:
            return q[path]
        if not hasattr(module, "to_quantized"):
            return False
        return f"{path}.scales" in weights

    nn.quantize(network, group_size=q["group_size"], bits=q["bits"], mode=q.get("mode", "affine"),
                class_predicate=predicate)
    network.load_weights(list(arch.sanitize(weights).items()), strict=True)
    return network


@pytest.mark.parametrize("kind", ["qwen3-adapters", "eurobert-adapters", "bert"])
def test_mixed_recipe_on_every_architecture(kind, tmp_path):
    writers = {"qwen3-adapters": lambda f: model_fixtures.write_jina_v5(f, shape=WIDE, seed=11),
               "eurobert-adapters": lambda f: model_fixtures.write_jina_v5_nano(f, shape={**WIDE, "intermediate_size": 320},
                                                                                seed=12),
               "bert": lambda f: model_fixtures.write_bert(f, shape={k: WIDE[k] for k in model_fixtures.BERT_TINY},
                                                           seed=13)}
    src = writers[kind](tmp_path / kind)
    summary = convert(src, tmp_path / "q4", bits=4, calibrate=TEXTS)  # the default 4-bit recipe
    assert summary["recipe"] == "mixed" and 4.3 <= summary["bits_per_weight"] <= 4.5 + 1e-6
    out = Path(summary["output"])
    config = json.loads((out / "config.json").read_text())
    entry = config["quantization"]
    assert config["mlx_embed"]["method"] == "gptq" and config["mlx_embed"]["embedding_rounding"] == "clip-search"
    overrides = {k: v for k, v in entry.items() if isinstance(v, dict)}
    used = {(v["bits"], v["group_size"]) for v in overrides.values()} | {(entry["bits"], entry["group_size"])}
    assert len(used) >= 2 and len({b for b, _ in used}) >= 2, used  # mixed: more than one width
    assert all(b in quant_recipe.MIXED_BITS and g in quant_recipe.MIXED_GROUPS for b, g in used), used
    assert not any(v is False for v in entry.values()), "a layer was left float"
    model, original = mlx_embed.load(out), mlx_embed.load(src)
    layers = dict(model.network.named_modules())
    for path, setting in overrides.items():  # every override is a real module path, built as written
        layer = layers[path].linear if isinstance(layers[path], LoRALinear) else layers[path]
        assert (layer.bits, layer.group_size) == (setting["bits"], setting["group_size"]), path
    described = model.describe()["quantization"]
    assert described["bits_per_weight"] == pytest.approx(summary["bits_per_weight"], abs=0.01)
    assert described["bits"] == 4 and described["summary"].startswith("4-bit mixed ("), described
    rebuilt = dict(tree_flatten(_mlx_lm_rebuild(out).parameters()))
    mine = dict(tree_flatten(model.network.parameters()))
    assert {k for k in rebuilt} == {k.replace(".linear.", ".") for k in mine if ".linear." in k or "lora" not in k} \
        and all(mx.array_equal(rebuilt[k.replace(".linear.", ".")], v) for k, v in mine.items()
                if k.endswith(("weight", "scales")) and "lora" not in k)
    for task in (original.tasks or (None,))[:2]:
        c = cosines(model.encode(TEXTS, task=task), original.encode(TEXTS, task=task))
        assert c.min() >= 0.8, (task, c)  # random weights are harsh on 4 bits: min 0.93 Qwen3, 0.85 EuroBERT
    if original.tasks:  # adapters stay switchable on the mixed base
        first = model.encode(TEXTS, task="retrieval")
        assert cosines(first, model.encode(TEXTS, task="clustering")).max() < 0.999
        np.testing.assert_array_equal(first, model.encode(TEXTS, task="retrieval"))
    import warnings

    from mlx_embed.encoder.quantized_checkpoint import AlreadyQuantizedWarning

    with warnings.catch_warnings():  # made for 4 bits, though its most common layer setting is not 4-bit
        warnings.simplefilter("error")
        mlx_embed.load(out, quantize=4)
    with pytest.warns(AlreadyQuantizedWarning, match=r"already quantized \(4-bit mixed, \d to \d bits per layer\)"):
        mlx_embed.load(out, quantize=8)


def doc_sentences(count: int, seed: int = 0) -> list[str]:
    """Real English paragraphs from /usr/share/doc READMEs, NEWS and changelogs (never man pages).

    Held out: the built-in calibration text is Python standard-library docstrings.
    """
    import gzip
    import random
    import re

    pattern = re.compile(r"(README|NEWS|changelog|CHANGES|FAQ)", re.I)
    files = sorted(p for p in Path("/usr/share/doc").rglob("*") if pattern.match(p.name) and "man" not in p.parts)
    seen: dict[str, None] = {}
    for file in files:
        try:
            raw = gzip.open(file).read(20000) if file.suffix == ".gz" else file.read_bytes()[:20000]
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
            continue
        for para in re.split(r"\n\s*\n", text):
            line = re.sub(r"^[-*\s]+", "", " ".join(para.split()))
            if (40 <= len(line) <= 300 and len(line.split()) >= 7 and "urgency=" not in line
                    and not re.search(r"<[^>]+@[^>]+>", line) and sum(c.isalpha() for c in line) > 0.6 * len(line)):
                seen.setdefault(line)
    texts = list(seen)
    random.Random(seed).shuffle(texts)
    return texts[:count]


def test_bits_per_weight_counts_scales_and_biases():
    from mlx_embed.quant.recipe import bits_per_weight

    shapes = {"a": (256, 1024), "b": (256, 1024)}
    g64 = {"group_size": 64, "bits": 4, "mode": "affine"}
    assert bits_per_weight(shapes, {"a": g64, "b": g64}) == pytest.approx(4.5)
    assert bits_per_weight(shapes, {"a": g64, "b": {**g64, "group_size": 32}}) == pytest.approx(4.75)
    assert bits_per_weight(shapes, {"a": g64}) == pytest.approx((4.5 + 16) / 2)  # a float tensor counts 16


def test_minilm_mixed_4bit_on_held_out_real_text(minilm_path, tmp_path):
    """The real model, the default 4-bit recipe, cosine on Debian package READMEs it never saw."""
    texts = doc_sentences(48)
    assert len(texts) >= 40, "too few /usr/share/doc sentences on this machine"
    from mlx_embed.quant.convert import calibration_texts

    original = mlx_embed.load(minilm_path)
    # the default recipe; 16 of the 64 built-in calibration texts keep the test quick
    summary = convert(minilm_path, tmp_path / "minilm-4bit", bits=4, calibrate=calibration_texts(original.prompts, 16))
    assert summary["bits_per_weight"] <= 4.6
    model = mlx_embed.load(summary["output"])
    reference = original.encode(texts)
    c = cosines(model.encode(texts), reference)
    print(f"MiniLM mixed 4-bit: cosine mean {c.mean():.5f} min {c.min():.5f}")
    assert c.mean() >= MINILM_4BIT[0] and c.min() >= MINILM_4BIT[1], (c.mean(), c.min())
    plain = mlx_embed.load(convert(minilm_path, tmp_path / "minilm-rtn", bits=4, recipe="uniform")["output"])
    assert c.mean() > cosines(plain.encode(texts), reference).mean() + 0.005, "the recipe does not beat plain 4-bit"


def test_cli_no_calibrate_rounds_to_nearest_with_the_mixed_recipe(jina_tiny, tmp_path, capsys):
    import json

    from mlx_embed.cli import main

    out = tmp_path / "q4-fast"
    assert main(["convert", str(jina_tiny), str(out), "--bits", "4", "--group-size", "32", "--no-calibrate",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["calibrated"] is False
    config = json.loads((out / "config.json").read_text())
    assert config["quantization"]  # still the mixed recipe's per-layer plan
    assert main(["convert", str(jina_tiny), str(tmp_path / "bad"), "--bits", "4", "--no-calibrate",
                 "--calibrate"]) == 2


def test_bits_per_weight_of_float_modes():
    from mlx_embed.encoder.quantized_checkpoint import setting_bits

    assert setting_bits({"bits": 4, "group_size": 16, "mode": "nvfp4"}) == pytest.approx(4.5)  # one e4m3 scale
    assert setting_bits({"bits": 4, "group_size": 32, "mode": "mxfp4"}) == pytest.approx(4.25)
    assert setting_bits({"bits": 3, "group_size": 64, "mode": "affine"}) == pytest.approx(3.5)  # fp16 scale + bias


def test_allocation_is_greedy_per_bit_and_keeps_the_budget():
    from mlx_embed.quant.recipe import allocate, bits_per_weight

    # a big table that barely matters and a small tensor that matters a lot: the small one gets the bits
    shapes = {"table": (4096, 256), "small": (256, 256), "other": (256, 256)}
    losses = {"table": {(3, 64): 0.010, (4, 64): 0.004, (5, 64): 0.001},
              "small": {(3, 64): 0.500, (4, 64): 0.100, (5, 64): 0.030, (8, 64): 0.001},
              "other": {(3, 64): 0.020, (4, 64): 0.015}}
    plan = allocate(shapes, losses, 3.9)
    assert bits_per_weight(shapes, plan) <= 3.9 + 1e-9
    assert plan["small"]["bits"] == 8 and plan["table"]["bits"] == 3, plan
    # the table's big step (3 -> 4 bits) does not fit, a smaller one does: the leftover bits are still used
    shapes2 = {"table": (4096, 256), "small": (64, 256)}
    losses2 = {"table": {(3, 128): 0.05, (3, 64): 0.04, (4, 128): 0.01}, "small": {(3, 64): 0.2, (8, 64): 0.0}}
    plan2 = allocate(shapes2, losses2, 3.9)
    assert (plan2["table"]["bits"], plan2["table"]["group_size"]) == (3, 64) and plan2["small"]["bits"] == 8, plan2
    assert bits_per_weight(shapes2, plan2) <= 3.9 + 1e-9
    with pytest.raises(InvalidArgumentError, match="below what the mixed recipe needs"):
        allocate(shapes2, losses2, 3.0)


def _bert_like(vocab: int, hidden: int, intermediate: int, blocks: int) -> nn.Module:
    """Random layers under BERT's module names (the recipe reads names and weights only)."""
    def module(**children):
        m = nn.Module()
        for k, v in children.items():
            setattr(m, k, v)
        return m

    mx.random.seed(3)
    layer = lambda: module(attention=module(self=module(query=nn.Linear(hidden, hidden), key=nn.Linear(hidden, hidden),
                                                        value=nn.Linear(hidden, hidden)),
                                            output=module(dense=nn.Linear(hidden, hidden))),
                           intermediate=module(dense=nn.Linear(hidden, intermediate)),
                           output=module(dense=nn.Linear(intermediate, hidden)))
    return module(embeddings=module(word_embeddings=nn.Embedding(vocab, hidden),
                                    position_embeddings=nn.Embedding(512, hidden)),
                  encoder=module(layer=[layer() for _ in range(blocks)]))


def test_mixed_plan_funds_the_sensitive_tensors_from_the_token_table():
    """A token table that is most of the weights (as in MiniLM: half) takes fewer bits than the linear
    layers it funds; deeper value projections get at least the bits of shallower ones and of query/key.
    (On MiniLM's real weights: table 3 bits, linear layers 5 to 8; bench/convert.py.)"""
    from mlx_embed.quant.recipe import bits_per_weight, candidate_shapes, layer_index, plan, role

    network = _bert_like(vocab=16384, hidden=128, intermediate=512, blocks=3)
    shapes = candidate_shapes(network)
    layers = plan(network, "mixed", 4, 64)
    assert 4.4 < bits_per_weight(shapes, layers) <= 4.5 + 1e-9
    table = "embeddings.word_embeddings"
    linear = [s["bits"] for p, s in layers.items() if role(p).startswith(("attn", "mlp"))]
    assert layers[table]["bits"] < sum(linear) / len(linear) and sum(linear) / len(linear) > 4.5, layers
    bits = {(role(p), layer_index(p)): s["bits"] for p, s in layers.items()}
    assert bits[("attn_v", 2)] >= bits[("attn_v", 0)] and bits[("attn_v", 2)] > bits[("attn_qk", 2)], bits
    assert bits[("attn_o", 2)] > bits[("attn_qk", 2)] and bits[("mlp_in", 2)] >= bits[("attn_qk", 2)], bits
    assert len(set(linear)) >= 2  # not uniform
    tight = plan(network, "mixed", 4, 64, budget=4.0)  # --max-bpw is kept
    assert 3.9 < bits_per_weight(shapes, tight) <= 4.0 + 1e-9


@pytest.mark.parametrize("bits", [3, 4])
def test_clip_search_rounding_beats_round_to_nearest_and_packs_like_mlx(bits):
    from mlx_embed.quant.clip_search import clip_search_quantize

    rng = np.random.default_rng(1)
    w = rng.standard_t(4, size=(300, 128)).astype(np.float32) * 0.05  # heavy tails, like embedding rows
    packed, scales, biases = clip_search_quantize(mx.array(w), 64, bits, chunk=128)  # several chunks
    assert packed.shape == (300, 128 * bits // 32) and scales.shape == biases.shape == (300, 2)
    mine = np.array(mx.dequantize(packed, scales, biases, group_size=64, bits=bits))
    rtn = np.array(mx.dequantize(*mx.quantize(mx.array(w), 64, bits), group_size=64, bits=bits))
    assert ((mine - w) ** 2).sum() < 0.97 * ((rtn - w) ** 2).sum()
    # an in-range grid: every value is within one step of the weight it stands for (nothing wild)
    step = np.repeat(np.array(scales), 64, axis=1)
    assert (np.abs(mine - w) <= step * (1 + 0.1 * 2 ** bits) + 1e-6).mean() > 0.99


def test_table_gain_is_measured_and_leaves_the_weights_alone(tmp_path):
    """convert measures the token table's sensitivity with a 3-bit table; the float table comes back."""
    from mlx_embed.quant.convert import calibration_texts
    from mlx_embed.quant.recipe import table_gain

    model = mlx_embed.load(model_fixtures.write_bert(tmp_path / "bert", seed=4), dtype="float32")
    path = "embeddings.word_embeddings"
    before = mx.array(dict(model.network.named_modules())[path].weight)
    batches = [mx.array([ids], dtype=mx.int32) for ids in model.tokenizer.encode(calibration_texts({}, 8), 64)]
    gain = table_gain(model.network, path, batches)
    assert np.isfinite(gain) and gain > 0
    assert mx.array_equal(dict(model.network.named_modules())[path].weight, before)
    assert table_gain(model.network, path, []) == pytest.approx(0.3)  # no texts: the role table's value


def test_half_precision_table_is_quantized_from_float32(tmp_path):
    """load() keeps a bfloat16 token table as stored; convert quantizes it from float32 like every
    other weight (scales from the float32 table, not from bfloat16 arithmetic)."""
    folder = model_fixtures.write_jina_v5(tmp_path / "bf16", dtype="bfloat16")
    table = mlx_embed.load(folder).network.embed_tokens.weight
    assert table.dtype == mx.bfloat16
    convert(folder, tmp_path / "q8", bits=8, recipe="uniform", calibrate=False, dtype="float32")
    stored = mx.load(str(tmp_path / "q8" / "model.safetensors"))
    _, scales, biases = mx.quantize(table.astype(mx.float32), group_size=64, bits=8)
    assert stored["embed_tokens.scales"].dtype == mx.float32
    assert mx.array_equal(stored["embed_tokens.scales"], scales) and mx.array_equal(stored["embed_tokens.biases"], biases)

"""Bad model files and bad arguments give clear errors (and clear CLI messages), never deep tracebacks."""

from __future__ import annotations

import json
import shutil
import socket

import numpy as np
import pytest

import mlx_embed
from mlx_embed.cli import COMMANDS, main as cli
from mlx_embed.errors import AdapterError, ModelFormatError, ModelNotFoundError

from . import model_fixtures


@pytest.fixture()
def broken(jina_tiny, tmp_path):
    """A fresh copy of the tiny model to break."""
    return shutil.copytree(jina_tiny, tmp_path / "model")


def test_missing_config(broken):
    (broken / "config.json").unlink()
    with pytest.raises(ModelFormatError, match=r"config\.json is missing"):
        mlx_embed.load(broken)


def test_truncated_safetensors(broken):
    path = broken / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelFormatError, match=r"model\.safetensors.*corrupt or truncated"):
        mlx_embed.load(broken)


def test_weight_with_wrong_shape(broken):
    config = json.loads((broken / "config.json").read_text())
    config["intermediate_size"] = 96
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFormatError, match=r"layers\.\d+\.mlp\.\w+_proj\.weight.*has shape"):
        mlx_embed.load(broken)


def test_missing_weight(broken):
    weights = model_fixtures.random_qwen3_weights(json.loads((broken / "config.json").read_text()))
    del weights["norm.weight"]
    model_fixtures.save_safetensors(weights, broken / "model.safetensors")
    with pytest.raises(ModelFormatError, match=r"missing \['norm\.weight'\]"):
        mlx_embed.load(broken)


def test_missing_adapter_file(broken):
    (broken / "adapters" / "clustering" / "adapter_model.safetensors").unlink()
    with pytest.raises(AdapterError, match=r"clustering has no adapter_model\.safetensors"):
        mlx_embed.load(broken)


def test_missing_adapter_folder(broken):
    shutil.rmtree(broken / "adapters" / "classification")
    with pytest.raises(ModelFormatError, match=r"\['classification'\]"):
        mlx_embed.load(broken)


@pytest.mark.parametrize("setting,value,named", [
    ("use_dora", True, "DoRA"), ("use_rslora", True, "rank-stabilised"), ("bias", "all", "bias"),
    ("modules_to_save", ["classifier"], "modules_to_save"), ("peft_type", "IA3", "IA3"),
])
def test_unsupported_adapter_settings_are_refused(broken, setting, value, named):
    path = broken / "adapters" / "retrieval" / "adapter_config.json"
    config = json.loads(path.read_text())
    config[setting] = value
    path.write_text(json.dumps(config))
    with pytest.raises(AdapterError, match=named):
        mlx_embed.load(broken)


def test_adapter_from_another_model_is_refused(broken):
    other = model_fixtures.random_lora(dict(model_fixtures.TINY, hidden_size=32, head_dim=8,
                                            intermediate_size=64, num_hidden_layers=2), 4, 0)
    model_fixtures.write_adapter(broken / "adapters" / "retrieval", other, 4, 4)
    with pytest.raises(AdapterError, match="belongs to another model"):
        mlx_embed.load(broken)


def test_unknown_architecture_names_it_and_the_supported(broken):
    config = json.loads((broken / "config.json").read_text())
    config["model_type"], config["architectures"] = "mamba", ["MambaModel"]
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFormatError, match=r"'mamba'.*MambaModel.*Supported model types: .*qwen3"):
        mlx_embed.load(broken)


def test_unsupported_rope_scaling_is_named(broken):
    config = json.loads((broken / "config.json").read_text())
    config["rope_scaling"] = {"rope_type": "longrope", "factor": 4.0}
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFormatError, match="longrope"):
        mlx_embed.load(broken)


def test_nonexistent_repo_while_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="not in the local Hugging Face cache.*HF_HUB_OFFLINE"):
        mlx_embed.load("no-such-org/no-such-model")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        mlx_embed.load("/definitely/not/here")


def test_model_code_is_never_run_and_no_socket_is_opened(broken, tmp_path, monkeypatch):
    """A model folder's Python files (auto_map, custom_st.py) are data to us, never code."""
    marker = tmp_path / "executed"
    for name in ("modeling_jina.py", "custom_st.py", "configuration_jina.py"):
        (broken / name).write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    config = json.loads((broken / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_jina.JinaModel", "AutoConfig": "configuration_jina.C"}
    (broken / "config.json").write_text(json.dumps(config))

    def no_network(*args, **kwargs):
        raise AssertionError("mlx-embed opened a network socket")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    model = mlx_embed.load(broken)
    assert model.encode("hello").shape == (model.dim,)
    assert not marker.exists()


@pytest.mark.parametrize("argv,code,message", [
    (["embed", "--model", "/no/such/model", "x"], 3, "does not exist"),
    (["embed", "--task", "nope", "x"], 2, "Unknown task 'nope'"),
    (["embed", "--prompt", "nope", "x"], 2, "Unknown prompt_name 'nope'"),
    (["embed", "--dim", "4096", "x"], 2, "truncate_dim=4096"),
])
def test_cli_errors_are_one_line_with_exit_codes(jina_tiny, capsys, argv, code, message):
    if "--model" not in argv:
        argv = [argv[0], "--model", str(jina_tiny), *argv[1:]]
    assert cli(argv) == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_corrupt_model_exit_code(broken, capsys):
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    assert cli(["info", str(broken)]) == 4
    assert "corrupt or truncated" in capsys.readouterr().err


def test_cli_embed_outputs_the_library_vectors(jina_tiny, capsys, monkeypatch):
    import io

    assert cli(["embed", "--model", str(jina_tiny), "--task", "clustering", "--prompt", "query", "--json",
                "Which planet is the Red Planet?", "Mars"]) == 0
    out = np.array(json.loads(capsys.readouterr().out))
    expected = mlx_embed.load(jina_tiny).encode(["Which planet is the Red Planet?", "Mars"], task="clustering",
                                                prompt_name="query")
    np.testing.assert_allclose(out, expected, atol=1e-6)
    monkeypatch.setattr("sys.stdin", io.StringIO("Mars\nVenus\n"))
    assert cli(["embed", "--model", str(jina_tiny), "--dim", "32", "--precision", "binary"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and len(lines[0].split()) == 4  # 32 bits packed into 4 int8 values


def test_cli_info_json(jina_tiny, capsys):
    assert cli(["info", str(jina_tiny), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["tasks"] == list(model_fixtures.TASKS)
    assert facts["dim"] == 64 and facts["pooling"] == "lasttoken" and facts["architecture"] == "JinaEmbeddingsV5Model"
    assert facts["prompts"] == {"query": "Query: ", "document": "Document: "}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_renders(command, capsys):
    """argparse formats help text only when asked (a stray % in one breaks `--help` alone)."""
    with pytest.raises(SystemExit) as exit_info:
        cli([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: mlx-embed {command}" in capsys.readouterr().out

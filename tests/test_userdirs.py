"""The per-user data folder: where it is, the one-time move of older data, and the modes of what the tool
creates (issue 24 item 2, issue 27 items 3 and 6). No model is needed: indexes are created empty and
given folders; journals come from a real apply."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from mlx_embed import userdirs
from mlx_embed.index import Index
from mlx_embed.index.store import Database
from mlx_embed.organize.actions import apply, journals, plan_groups, undo
from mlx_embed.organize.labelset import Label, LabelSet


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(userdirs, "_migrated", set())
    monkeypatch.delenv("MLX_EMBED_DATA_DIR", raising=False)
    monkeypatch.delenv("MLX_EMBED_CONFIG_DIR", raising=False)
    monkeypatch.delenv("MLX_EMBED_JOURNAL_DIR", raising=False)
    monkeypatch.delenv("MLX_EMBED_INDEX", raising=False)


def test_env_overrides_and_platform_default(tmp_path, monkeypatch):
    monkeypatch.setenv("MLX_EMBED_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("MLX_EMBED_CONFIG_DIR", str(tmp_path / "c"))
    assert userdirs.data_dir() == tmp_path / "d"
    assert userdirs.config_dir() == tmp_path / "c"
    assert Index.locate(None) == tmp_path / "d" / "index.db"
    from mlx_embed.organize.actions import default_journal_dir

    assert default_journal_dir() == tmp_path / "d" / "journals"
    monkeypatch.delenv("MLX_EMBED_DATA_DIR")
    from platformdirs import user_data_dir

    assert userdirs.data_dir(migrate=False) == Path(user_data_dir("mlx-embed", appauthor=False))


# --- modes ------------------------------------------------------------------------------------------
def test_new_index_is_user_only(tmp_path):
    ix = Index(tmp_path / "a" / "b")        # two folders made by the tool
    ix.add_folder(tmp_path, [])            # a write: SQLite makes its -wal and -shm files
    for folder in (tmp_path / "a", tmp_path / "a" / "b"):
        assert mode(folder) == 0o700, folder
    files = list((tmp_path / "a" / "b").glob("index.db*"))
    assert len(files) >= 2
    for f in files:
        assert mode(f) == 0o600, f
    ix.close()


@pytest.mark.parametrize("existing", [0o1777, 0o2775, 0o755])
@pytest.mark.parametrize("as_file", [False, True])
def test_existing_folder_keeps_its_mode(tmp_path, monkeypatch, existing, as_file):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, existing)
    real_chmod = os.chmod

    def chmod(path, m, *a, **k):          # what a non-owner gets: the old code crashed here
        if Path(path) == shared:
            raise PermissionError(1, "Operation not permitted", str(path))
        return real_chmod(path, m, *a, **k)

    monkeypatch.setattr(os, "chmod", chmod)
    ix = Index(shared / "x.db" if as_file else shared)
    ix.add_folder(tmp_path, [])
    ix.close()
    assert mode(shared) == existing
    assert mode(Index.locate(shared / "x.db" if as_file else shared)) == 0o600


def test_journals_are_user_only(tmp_path, monkeypatch):
    monkeypatch.setenv("MLX_EMBED_DATA_DIR", str(tmp_path / "data"))
    src = tmp_path / "files"
    src.mkdir()
    (src / "a.txt").write_text("a")
    result = apply(plan_groups({"G": [str(src / "a.txt")]}, mode="copy", destination=tmp_path / "out"))
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "journals") == 0o700
    assert mode(result.journal) == 0o600
    # an existing journal folder the user names keeps its mode; the journal in it is still 0600
    mine = tmp_path / "mine"
    mine.mkdir()
    os.chmod(mine, 0o755)
    (src / "b.txt").write_text("b")
    r2 = apply(plan_groups({"G": [str(src / "b.txt")]}, mode="copy", destination=tmp_path / "out2"), mine)
    assert mode(mine) == 0o755 and mode(r2.journal) == 0o600


def test_make_private_dir_ignores_umask(tmp_path):
    old = os.umask(0o022)
    try:
        userdirs.make_private_dir(tmp_path / "x" / "y")
    finally:
        os.umask(old)
    assert mode(tmp_path / "x") == 0o700 and mode(tmp_path / "x" / "y") == 0o700


# --- the one-time move ------------------------------------------------------------------------------
def make_old_layout(old: Path, files: Path) -> dict:
    """An index with two folders, an applied and an undone journal, and two label sets, where an older
    version kept them; returns what must survive."""
    files.mkdir()
    (files / "one").mkdir()
    (files / "two").mkdir()
    for i in range(3):
        (files / "one" / f"f{i}.txt").write_text(f"file {i}")
    ix = Index(old / "index")
    ix.add_folder(files / "one", ["*.tmp"])
    ix.add_folder(files / "two", [])
    ix.close()
    jdir = old / "index" / "journals"
    r1 = apply(plan_groups({"A": [str(files / "one" / "f0.txt")]}, mode="copy", destination=files / "out1"), jdir)
    apply(plan_groups({"B": [str(files / "one" / "f1.txt")]}, mode="copy", destination=files / "out2"), jdir)
    undo(r1.journal, jdir)
    for j in jdir.iterdir():
        os.chmod(j, 0o644)               # what earlier versions left
    os.chmod(jdir, 0o755)
    labels = old / "qt" / "label-sets"
    labels.mkdir(parents=True)
    LabelSet([Label("Invoices", "bills to pay")]).save(labels / "money.json")
    LabelSet([Label("Letters", "personal mail"), Label("Code", "source")]).save(labels / "misc.json")
    return {"folders": sorted(str(f.path) for f in Index(old / "index", create=False).folders()),
            "journals": [(j.path.name, j.state, j.operations) for j in journals(jdir)],
            "labels": {"money": ["Invoices"], "misc": ["Letters", "Code"]}}


def check_new_layout(data: Path, expected: dict) -> None:
    with Index(data, create=False) as ix:
        assert sorted(str(f.path) for f in ix.folders()) == expected["folders"]
    assert [(j.path.name, j.state, j.operations) for j in journals(data / "journals")] == expected["journals"]
    for name, labels in expected["labels"].items():
        assert LabelSet.load(data / "label-sets" / f"{name}.json").names == labels
    assert mode(data / "journals") == 0o700
    assert all(mode(j) == 0o600 for j in (data / "journals").iterdir())


def test_migration_moves_everything_once(tmp_path):
    old, data, config = tmp_path / "old", tmp_path / "new-data", tmp_path / "new-config"
    expected = make_old_layout(old, tmp_path / "files")
    (old / "settings.ini").write_text("[model]\nname=M\n")
    pairs = [(old / "index" / n, data / n) for n in ("index.db", "index.db-wal", "index.db-shm", "journals")]
    pairs += [(old / "qt" / "label-sets", data / "label-sets"), (old / "settings.ini", config / "app.ini")]
    done = userdirs.migrate_legacy(data, config, pairs)
    assert any("moved" in d for d in done)
    check_new_layout(data, expected)
    assert (config / "app.ini").read_text() == "[model]\nname=M\n"
    assert not (old / "index" / "index.db").exists() and not (old / "qt" / "label-sets").exists()
    assert (data / userdirs.MARKER).exists()
    # once: a second start (new process) moves nothing, even if old data reappears
    userdirs._migrated.clear()
    (old / "qt" / "label-sets").mkdir(parents=True)
    LabelSet([Label("X", "x")]).save(old / "qt" / "label-sets" / "late.json")
    assert userdirs.migrate_legacy(data, config, pairs) == []
    assert not (data / "label-sets" / "late.json").exists()


def test_migration_never_overwrites(tmp_path):
    old, data = tmp_path / "old", tmp_path / "data"
    (old / "label-sets").mkdir(parents=True)
    (old / "label-sets" / "a.json").write_text("old")
    (data / "label-sets").mkdir(parents=True)
    (data / "label-sets" / "a.json").write_text("new")
    done = userdirs.migrate_legacy(data, tmp_path / "c", [(old / "label-sets", data / "label-sets")])
    assert (data / "label-sets" / "a.json").read_text() == "new"
    assert (old / "label-sets" / "a.json").read_text() == "old"
    assert any(d.startswith("kept") for d in done)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG layout of earlier versions")
def test_migration_from_real_old_layout_linux(tmp_path, monkeypatch):
    """Earlier versions on Linux: index and journals in $XDG_DATA_HOME/mlx-embed, the app's label sets
    in Qt's AppDataLocation $XDG_DATA_HOME/mlx-embed/mlx-embed/label-sets."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    base = tmp_path / "xdg-data" / "mlx-embed"
    expected = make_old_layout(tmp_path / "stage", tmp_path / "files")
    base.mkdir(parents=True)
    os.chmod(base, 0o755)
    for name in os.listdir(tmp_path / "stage" / "index"):
        os.replace(tmp_path / "stage" / "index" / name, base / name)
    (base / "mlx-embed").mkdir()
    os.replace(tmp_path / "stage" / "qt" / "label-sets", base / "mlx-embed" / "label-sets")
    data = userdirs.data_dir()
    assert data == base
    check_new_layout(data, expected)
    assert not (base / "mlx-embed").exists()        # Qt's nested folder is gone once empty
    assert mode(base) == 0o700                       # our own folder, left 0755 by an earlier version
    # the app finds its label sets in the same folder
    pytest.importorskip("PySide6")
    from app.library import list_label_sets

    monkeypatch.delenv("MLX_EMBED_LABELS_DIR", raising=False)
    assert list_label_sets() == ["misc", "money"]


def test_database_refuses_nothing_new(tmp_path):
    """An existing index in a user's 0755 folder still opens (no chmod on open either)."""
    d = tmp_path / "ix"
    d.mkdir()
    os.chmod(d, 0o755)
    Database(d).close()
    Database(d, create=False).close()
    assert mode(d) == 0o755


def test_app_settings_file_is_user_only(tmp_path, monkeypatch):
    pytest.importorskip("PySide6")
    from app.config import AppSettings

    monkeypatch.delenv("MLX_EMBED_APP_SETTINGS", raising=False)
    monkeypatch.setenv("MLX_EMBED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLX_EMBED_CONFIG_DIR", str(tmp_path / "config"))
    s = AppSettings()
    s.model = "some/model"
    s.q.sync()                               # Qt rewrites the file through a temporary one
    ini = tmp_path / "config" / userdirs.APP_SETTINGS_NAME
    assert "some/model" in ini.read_text()
    assert mode(ini) == 0o600 and mode(tmp_path / "config") == 0o700
    assert AppSettings().model == "some/model"


def test_migration_that_cannot_move_keeps_the_old_copy(tmp_path, monkeypatch):
    old, data = tmp_path / "old", tmp_path / "data"
    (old / "journals").mkdir(parents=True)
    (old / "journals" / "j.journal").write_text("{}")
    import shutil

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", src)

    monkeypatch.setattr(shutil, "move", refuse)
    done = userdirs.migrate_legacy(data, tmp_path / "c", [(old / "journals", data / "journals")])
    assert (old / "journals" / "j.journal").read_text() == "{}"
    assert any("could not move" in d for d in done)

"""Every entry of an indexed folder is accounted for (indexed, pending, skipped or failed with a reason,
or left out by rule), and the CLI summary, `index status` (text and JSON) and the app's Folders rows give
the same numbers. Model identity: the name users know, never the card's base model."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from mlx_embed.cli import main
from mlx_embed.index import Index
from mlx_embed.encoder.profile import model_name

from .test_index_engine import prose

LINE = re.compile(r"(\d+) files: (\d+) indexed, (\d+) pending, (\d+) skipped, (\d+) failed"
                  r"(?:; (\d+) more left out by rule)?")


def numbers(text: str) -> list[tuple[int, ...]]:
    return [tuple(int(g or 0) for g in m.groups()) for m in LINE.finditer(text)]


@pytest.fixture
def messy(tmp_path, monkeypatch):
    """A folder with one entry of every kind. We run as root, so chmod 000 would not stop a read: an
    unreadable folder is simulated by os.scandir raising PermissionError for it."""
    root = tmp_path / "messy"
    root.mkdir()
    for name in ("a.txt", "b.txt", "c.md"):
        (root / name).write_text(prose(len(name) + ord(name[0]), 40))
    (root / "empty.txt").write_text("")
    (root / "dead.txt").symlink_to(root / "gone.txt")                  # broken symlink
    (root / "blob.txt").write_bytes(b"\x00\x01binary\x00" * 64)          # binary with a text name
    (root / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftyp" + bytes(200))  # a type we do not read
    (root / "link-to-a.txt").symlink_to(root / "a.txt")                # a second path to a.txt
    os.mkfifo(root / "pipe.txt")                                        # not a regular file
    (root / "private").mkdir()
    (root / "private" / "secret.txt").write_text(prose(7))
    (root / ".hidden.txt").write_text(prose(8))                         # left out by rule: hidden,
    (root / "node_modules").mkdir()                                     # a tool folder,
    (root / "node_modules" / "x.js").write_text("var x = 1;")
    (root / ".gitignore").write_text("*.log\n")                         # (itself hidden)
    (root / "build.log").write_text(prose(9))                           # and an ignore-file rule
    real_scandir = os.scandir

    def scandir(path="."):
        if str(path).endswith("private"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return root


EXPECTED = {  # entry -> (status, reason prefix)
    "a.txt": ("indexed", None), "b.txt": ("indexed", None), "c.md": ("indexed", None),
    "empty.txt": ("skipped", "empty"), "dead.txt": ("skipped", "broken symlink"),
    "blob.txt": ("skipped", "binary file"), "clip.mp4": ("skipped", "unsupported type (.mp4)"),
    "link-to-a.txt": ("skipped", "link to a file listed already"), "pipe.txt": ("skipped", "not a regular file"),
    "private": ("failed", "permission denied"),
}
IGNORED = 4  # .hidden.txt, .gitignore, node_modules, build.log


def test_every_entry_has_a_state_and_every_screen_the_same_counts(tmp_path, jina_tiny, messy, capsys, monkeypatch):
    monkeypatch.setenv("MLX_EMBED_INDEX", str(tmp_path / "ix"))
    monkeypatch.delenv("MLX_EMBED_MODEL", raising=False)
    assert main(["index", "add", str(messy), "--model", str(jina_tiny), "--chunk-tokens", "32"]) == 0
    summary = capsys.readouterr().err
    want = (len(EXPECTED), 3, 0, 6, 1, IGNORED)
    assert len(os.listdir(messy)) == want[0] + IGNORED, "every entry of the folder is counted once"
    assert numbers(summary) == [want], summary

    ix = Index(tmp_path / "ix")
    rows = {Path(p).name: (s, r) for p, r, s in ix.problems()}
    rows.update({Path(r[0]).name: ("indexed", None) for r in ix.store.db.execute(
        "SELECT path FROM files WHERE status = 'indexed'")})
    assert {n: s for n, (s, _) in rows.items()} == {n: s for n, (s, _) in EXPECTED.items()}
    for name, (_, reason) in EXPECTED.items():
        assert reason is None or rows[name][1].startswith(reason), (name, rows[name])

    assert main(["index", "status"]) == 0
    text = capsys.readouterr().out
    assert numbers(text) == [want, want], text          # the folder's line and the total
    assert "broken symlink" in text and "permission denied" in text
    assert main(["index", "status", "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert tuple(st["counts"][k] for k in ("indexed", "pending", "skipped", "failed")) == want[1:5]
    assert st["ignored"] == IGNORED and numbers(st["summary"]) == [want] == numbers(st["folders"][0]["summary"])

    # a rename-only update: one move, nothing embedded, and still the same numbers everywhere
    (messy / "b.txt").rename(messy / "b-renamed.txt")
    assert main(["index", "update"]) == 0
    summary = capsys.readouterr().err
    assert "0 chunks embedded, 1 moved" in summary and numbers(summary) == [want], summary
    assert main(["index", "status"]) == 0
    assert numbers(capsys.readouterr().out) == [want, want]

    # the app's Folders rows read the same library numbers (app/library.py has no Qt import)
    from app.index_handle import IndexHandle

    (row,) = IndexHandle(Index(tmp_path / "ix"), ()).folder_status()
    assert (row.files, row.indexed, row.pending, row.skipped, row.failed) == want[:5]
    assert numbers(row.summary) == [want] and len(row.problems) == 7

    # a fixed link is picked up again (listed first, by name, so its target is now the second path)
    (messy / "gone.txt").write_text(prose(99, 30))
    assert main(["index", "update"]) == 0
    assert numbers(capsys.readouterr().err) == [(len(EXPECTED) + 1, 4, 0, 6, 1, IGNORED)]
    states = {Path(p).name: (s, r) for p, r, s in Index(tmp_path / "ix").problems()}
    assert "dead.txt" not in states and states["gone.txt"] == ("skipped", "link to a file listed already")


# --- model identity ------------------------------------------------------------------------------------
def test_model_name_is_the_id_users_know_never_the_base_model(tmp_path, minilm_path):
    assert model_name(minilm_path, json.loads((minilm_path / "config.json").read_text())) == \
        "sentence-transformers/all-MiniLM-L6-v2"
    # a card written by sentence-transformers 3 for a fine-tune: its title and metadata name the base
    folder = tmp_path / "my-notes-embedder"
    folder.mkdir()
    (folder / "modules.json").write_text("[]")
    card = ("---\nbase_model: nreimers/MiniLM-L6-H384-uncased\n---\n\n"
            "# SentenceTransformer based on nreimers/MiniLM-L6-H384-uncased\n\n```python\n"
            'model = SentenceTransformer("sentence_transformers_model_id")\n```\n')
    (folder / "README.md").write_text(card)
    config = {"_name_or_path": "nreimers/MiniLM-L6-H384-uncased"}
    assert model_name(folder, config) == "my-notes-embedder"
    (folder / "README.md").write_text(card.replace("sentence_transformers_model_id", "someone/notes-minilm"))
    assert model_name(folder, config) == "someone/notes-minilm"
    (folder / "README.md").unlink()
    assert model_name(folder, config) == "my-notes-embedder"


def test_index_status_names_the_model(tmp_path, minilm_path, capsys, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.txt").write_text("The landlord renews the lease every spring.")
    monkeypatch.setenv("MLX_EMBED_INDEX", str(tmp_path / "ix"))
    assert main(["index", "add", str(docs), "--model", str(minilm_path), "--quiet"]) == 0
    assert main(["index", "status"]) == 0
    assert re.search(r"^Model   sentence-transformers/all-MiniLM-L6-v2 \(384-d", capsys.readouterr().out, re.M)
    ix = Index(tmp_path / "ix")      # an index made while the name came from the card's base model
    ix.store.set("model", {**ix.model_identity, "name": "nreimers/MiniLM-L6-H384-uncased"})
    ix.close()
    assert main(["index", "update", "--quiet"]) == 0
    assert main(["index", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"]["name"] == "sentence-transformers/all-MiniLM-L6-v2"

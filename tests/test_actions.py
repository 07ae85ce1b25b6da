"""File actions: preview, apply, undo, collisions, crashes (kill -9), read-only folders, vanished files.

Every check compares whole trees: each file's SHA-256 and every folder, before and after.
Tests run as root, which ignores file permissions: the read-only folder is simulated by making the
library's file primitives (link, mkdir) and os.access refuse that folder (monkeypatch), which is what a
real read-only folder does to them.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mlx_embed.cli import main
from mlx_embed.organize import tags
from mlx_embed.organize.actions import fileops, plans
from mlx_embed.organize.actions import JournalError, apply, journals, plan_groups, resume, undo

REPO = Path(__file__).resolve().parents[1]


def snapshot(root: Path) -> dict[str, str]:
    out = {}
    for folder, dirs, files in os.walk(root):
        for d in dirs:
            out[os.path.relpath(os.path.join(folder, d), root) + "/"] = "dir"
        for f in files:
            p = os.path.join(folder, f)
            out[os.path.relpath(p, root)] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
    return out


def make_tree(root: Path, n: int = 6) -> dict[str, list[str]]:
    """Files in a few folders; returns groups {name: [paths]} (two files share a name)."""
    (root / "inbox" / "deep").mkdir(parents=True)
    (root / "old").mkdir()
    groups: dict[str, list[str]] = {"Invoices": [], "Letters": []}
    for i in range(n):
        folder = root / ("inbox" if i % 3 else "old")
        p = folder / f"doc{i}.txt"
        p.write_text(f"document {i}\n" * (i + 1))
        groups["Invoices" if i % 2 else "Letters"].append(str(p))
    same = root / "inbox" / "deep" / "doc1.txt"      # same name as inbox/doc1.txt, same group
    same.write_text("another doc1\n")
    groups["Invoices"].append(str(same))
    return groups


@pytest.fixture
def jdir(tmp_path, monkeypatch):
    d = tmp_path / "journals"
    monkeypatch.setenv("MLX_EMBED_JOURNAL_DIR", str(d))
    return d


def test_preview_changes_nothing(tmp_path, jdir, capsys):
    root = tmp_path / "tree"
    groups = make_tree(root)
    before = snapshot(root)
    plan = plan_groups([{"name": k, "files": v} for k, v in groups.items()], "move", root / "sorted")
    assert sum(op.kind == "move" for op in plan.operations) == 7
    assert any(op.kind == "mkdir" for op in plan.operations)
    assert plan.describe() and snapshot(root) == before
    planfile = tmp_path / "plan.json"
    planfile.write_text(json.dumps({"groups": [{"name": k, "files": v} for k, v in groups.items()]}))
    for mode in ("--move", "--copy", "--tag"):
        assert main(["apply", str(planfile), mode]) == 0
    out = capsys.readouterr().out
    assert "preview only" in out and "doc1 (2).txt" in out
    assert snapshot(root) == before
    assert not jdir.exists() or not list(jdir.iterdir())          # no journal: nothing was done


@pytest.mark.parametrize("mode", ["move", "copy", "tag"])
def test_apply_then_undo_is_byte_identical(tmp_path, jdir, mode):
    root = tmp_path / "tree"
    groups = make_tree(root)
    before = snapshot(root)
    plan = plan_groups([{"name": k, "files": v} for k, v in groups.items()], mode)
    result = apply(plan, jdir)
    assert result.ok and not result.skipped
    after = snapshot(root)
    assert after != before
    if mode == "move":
        assert "Invoices/doc1.txt" in after and "Invoices/doc1 (2).txt" in after
        assert not (root / "inbox" / "doc1.txt").exists()
        assert len(result.moved) == 7
    elif mode == "copy":
        assert set(before) < set(after)
        assert all(after[k] == v for k, v in before.items())
    else:
        store = tags.SidecarTags()
        assert store.get(root / "inbox" / "doc1.txt") == ["Invoices"]
        assert store.get(root / "old" / "doc0.txt") == ["Letters"]
    [info] = journals(jdir)
    assert info.state == "applied"
    back = undo(journal_dir=jdir)
    assert back.ok and not back.skipped
    assert snapshot(root) == before
    assert journals(jdir)[0].state == "undone"
    with pytest.raises(JournalError):
        undo(journal_dir=jdir)


def test_collisions_never_overwrite(tmp_path, jdir):
    root = tmp_path / "tree"
    groups = make_tree(root)
    (root / "Letters").mkdir()
    (root / "Letters" / "doc0.txt").write_text("I was here first\n")
    plan = plan_groups([{"name": k, "files": v} for k, v in groups.items()], "move")
    # a name taken after the plan was made (between preview and apply)
    late = root / "Letters" / "doc2.txt"
    late.write_text("I arrived late\n")
    before = snapshot(root)
    result = apply(plan, jdir)
    assert result.ok
    assert (root / "Letters" / "doc0.txt").read_text() == "I was here first\n"
    assert late.read_text() == "I arrived late\n"
    assert (root / "Letters" / "doc0 (2).txt").read_text().startswith("document 0")
    assert (root / "Letters" / "doc2 (2).txt").read_text().startswith("document 2")
    contents = sorted(v for k, v in snapshot(root).items() if v != "dir")
    assert contents == sorted(v for v in before.values() if v != "dir")      # nothing lost or duplicated
    assert undo(journal_dir=jdir).ok
    assert snapshot(root) == before


CHILD = textwrap.dedent("""
    import os, signal, sys, time, json
    from pathlib import Path
    from mlx_embed.organize import actions
    from mlx_embed.organize.actions import fileops
    plan_file, jdir, how, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    data = json.loads(Path(plan_file).read_text())
    plan = actions.plan_groups(data["groups"], data["mode"])
    calls = {"n": 0}
    def killer(real):
        def f(*a, **k):
            calls["n"] += 1
            if calls["n"] == n:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*a, **k)
        return f
    if how == "before-link":        # journaled 'begin', nothing done yet
        fileops.link = killer(fileops.link)
    elif how == "after-link":       # linked at the target, source not yet removed
        fileops.unlink = killer(fileops.unlink)
    elif how == "slow":             # for an outside kill -9 at a random moment
        real = fileops.fsync_dir
        def slow(d):
            time.sleep(0.01)
            real(d)
        fileops.fsync_dir = slow
    actions.apply(plan, jdir)
    print("finished")
""")


def _crash(tmp_path, jdir, mode, how, n):
    root = tmp_path / "tree"
    groups = make_tree(root, n=12)
    before = snapshot(root)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"mode": mode, "groups": [{"name": k, "files": v} for k, v in groups.items()]}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(plan_file), str(jdir), how, str(n)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if how == "slow":
        deadline = time.time() + 60
        while time.time() < deadline:
            done = [j for j in jdir.glob("*.journal") if j.read_text().count('"type": "done"') >= 4]
            if done:
                break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, (out, err)
    [info] = journals(jdir)
    assert info.state == "applying"
    return root, before, groups


@pytest.mark.parametrize("mode,how,n", [("move", "before-link", 4), ("move", "after-link", 3),
                                        ("copy", "after-link", 2), ("move", "slow", 0)])
def test_kill9_mid_apply_then_undo(tmp_path, jdir, mode, how, n):
    root, before, _ = _crash(tmp_path, jdir, mode, how, n)
    assert snapshot(root) != before                      # the crash left a half-done tree
    result = undo(journal_dir=jdir)
    assert result.ok, result.failed
    assert snapshot(root) == before
    assert not list(root.rglob("*" + fileops.PARTIAL))


@pytest.mark.parametrize("how,n", [("before-link", 4), ("after-link", 3), ("slow", 0)])
def test_kill9_mid_apply_then_resume(tmp_path, jdir, how, n):
    root, before, groups = _crash(tmp_path, jdir, "move", how, n)
    result = resume(journal_dir=jdir)
    assert result.ok and not result.skipped
    after = snapshot(root)
    # the end state is exactly a full apply: every file in its group folder, nothing lost or doubled
    assert sorted(v for v in after.values() if v != "dir") == sorted(v for v in before.values() if v != "dir")
    for name, files in groups.items():
        assert not any(Path(f).exists() for f in files)
        assert len(list((root / name).iterdir())) == len(files)
    assert journals(jdir)[0].state == "applied"
    assert undo(journal_dir=jdir).ok
    assert snapshot(root) == before


def test_read_only_target_folder(tmp_path, jdir, monkeypatch):
    # Simulated (tests run as root, which ignores permissions): the primitives refuse `locked`.
    root = tmp_path / "tree"
    groups = make_tree(root)
    locked = root / "locked"
    locked.mkdir()
    before = snapshot(root)

    def refuse(real):
        def f(*args):
            target = Path(args[-1])
            if locked in target.parents or target == locked:
                raise PermissionError(13, "Permission denied", str(target))
            return real(*args)
        return f

    monkeypatch.setattr(fileops, "link", refuse(fileops.link))
    monkeypatch.setattr(fileops, "mkdir", refuse(fileops.mkdir))
    real_access = os.access
    monkeypatch.setattr(plans.os, "access", lambda p, m: False if Path(p) == locked else real_access(p, m))
    spec = [{"name": "Invoices", "files": groups["Invoices"]}, {"name": "Letters", "files": groups["Letters"]}]
    plan = plan_groups(spec, "move", locked)
    assert any("cannot write to" in p for p in plan.problems)
    result = apply(plan, jdir)
    assert not result.ok and result.failed
    assert all("permission denied" in r for r in result.failed.values())
    assert snapshot(root) == before                      # nothing moved, nothing lost
    assert undo(journal_dir=jdir).ok                      # undoing a failed apply is harmless
    result2 = apply(plan_groups(spec, "move", root / "writable"), jdir)    # elsewhere it works
    assert result2.ok
    assert undo(journal_dir=jdir).ok
    assert snapshot(root) == before


def test_file_vanished_before_apply(tmp_path, jdir):
    root = tmp_path / "tree"
    groups = make_tree(root)
    plan = plan_groups([{"name": k, "files": v} for k, v in groups.items()], "move")
    gone = Path(groups["Letters"][1])
    gone.unlink()
    before = snapshot(root)
    result = apply(plan, jdir)
    assert result.ok and len(result.skipped) == 1
    assert "vanished" in next(iter(result.skipped.values()))
    assert len(result.moved) == 6
    assert undo(journal_dir=jdir).ok
    assert snapshot(root) == before


def test_cli_apply_undo_resume(tmp_path, jdir, capsys):
    root = tmp_path / "tree"
    groups = make_tree(root)
    before = snapshot(root)
    planfile = tmp_path / "plan.json"
    planfile.write_text(json.dumps({"kind": "clustering", "groups": [{"name": k, "files": v} for k, v in groups.items()]}))
    assert main(["apply", str(planfile), "--copy", "--yes", "--to", str(root / "sorted")]) == 0
    assert len(list((root / "sorted").rglob("*.txt"))) == 7
    assert main(["undo", "--list"]) == 0
    assert "applied" in capsys.readouterr().out
    assert main(["resume"]) == 2                 # nothing interrupted
    assert main(["undo"]) == 0
    assert snapshot(root) == before
    assert main(["undo"]) == 2                   # nothing left to undo
    assert "Nothing to undo" in capsys.readouterr().err


def test_undo_never_overwrites_a_new_file(tmp_path, jdir):
    root = tmp_path / "tree"
    groups = make_tree(root)
    apply(plan_groups([{"name": k, "files": v} for k, v in groups.items()], "move"), jdir)
    squatter = Path(groups["Letters"][0])
    squatter.write_text("new file at the old name\n")
    result = undo(journal_dir=jdir)
    reasons = sorted(result.skipped.values())
    assert len(reasons) == 2 and "taken by another file" in reasons[1] and "not empty" in reasons[0]
    assert squatter.read_text() == "new file at the old name\n"
    assert (root / "Letters" / "doc0.txt").exists()           # the moved file stayed, nothing lost


def test_index_follows_moves(tmp_path, jdir):
    calls = []

    class FakeIndex:
        def move_file(self, old, new):
            calls.append((Path(old), Path(new)))
            return True

    root = tmp_path / "tree"
    groups = make_tree(root)
    result = apply(plan_groups([{"name": k, "files": v} for k, v in groups.items()], "move"), jdir, index=FakeIndex())
    assert calls == result.moved and len(calls) == 7
    assert all(new.exists() and not old.exists() for old, new in calls)
    calls.clear()
    undo(journal_dir=jdir, index=FakeIndex())
    assert len(calls) == 7 and all(new.exists() for _, new in calls)


def test_finder_tag_encoding_roundtrip():
    raw = tags.encode_finder_tags(["Invoices", "Red"], {"Red": 6})
    assert raw.startswith(b"bplist00")
    names, colours = tags.decode_finder_tags(raw)
    assert names == ["Invoices", "Red"] and colours == {"Invoices": 0, "Red": 6}


def test_safe_folder_names():
    assert plans.safe_folder_name("a/b: c?") == "a-b- c-"
    assert plans.safe_folder_name("..") == "group"
    assert plans.safe_folder_name("x" * 300) == "x" * plans.MAX_NAME


def test_real_index_follows_moves_without_reembedding(jina_tiny, tmp_path, jdir):
    import mlx_embed
    from mlx_embed.index import Index

    root = tmp_path / "tree"
    groups = make_tree(root)
    model = mlx_embed.load(jina_tiny)
    ix = Index(tmp_path / "index", model=model)
    ix.add_folder(root)
    ix.run()
    old = Path(groups["Invoices"][0])
    before = ix.vectors_for_files([old])[old]
    calls = []
    real = model.embed_token_ids
    model.embed_token_ids = lambda *a, **k: calls.append(1) or real(*a, **k)
    result = apply(plan_groups([{"name": k, "files": v} for k, v in groups.items()], "move"), jdir, index=ix)
    new = dict(result.moved)[old]
    assert not ix.vectors_for_files([old])
    assert np.array_equal(ix.vectors_for_files([new])[new], before)
    assert [r.path for r in ix.search("document", k=20, mode="keyword")].count(new) == 1
    undo(journal_dir=jdir, index=ix)
    assert np.array_equal(ix.vectors_for_files([old])[old], before)
    assert not calls                                      # nothing was re-embedded


def test_torn_journal_line_is_dropped_before_resume(tmp_path, jdir):
    root = tmp_path / "tree"
    groups = make_tree(root)
    before = snapshot(root)
    result = apply(plan_groups([{"name": k, "files": v} for k, v in groups.items()], "move"), jdir)
    journal = result.journal
    lines = journal.read_text().splitlines(keepends=True)
    # as if killed while writing the 'done' record of the last step, after the 'finished' was never written
    journal.write_text("".join(lines[:-2]) + lines[-2][: len(lines[-2]) // 2])
    assert journals(jdir)[0].state == "applying"
    assert resume(journal_dir=jdir).ok
    assert journals(jdir)[0].state == "applied"
    assert undo(journal_dir=jdir).ok
    assert snapshot(root) == before


def test_read_only_source_folder_leaves_no_copy_behind(tmp_path, jdir, monkeypatch):
    # Simulated as above: unlinking from `inbox` is refused, as in a read-only folder.
    root = tmp_path / "tree"
    groups = make_tree(root)
    before = snapshot(root)
    real = fileops.unlink

    def refuse(path):
        if Path(path).parent == root / "inbox":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(fileops, "unlink", refuse)
    result = apply(plan_groups([{"name": k, "files": v} for k, v in groups.items()], "move"), jdir)
    assert result.failed and all("permission denied" in r and "/inbox/" in r for r in result.failed.values())
    moved = {str(old) for old, _ in result.moved}
    assert moved and not any("/inbox/doc" in m for m in moved)          # files from old/ moved fine
    # nothing doubled: every file exists exactly once
    contents = sorted(v for v in snapshot(root).values() if v != "dir")
    assert contents == sorted(v for v in before.values() if v != "dir")
    monkeypatch.setattr(fileops, "unlink", real)
    assert undo(journal_dir=jdir).ok
    assert snapshot(root) == before

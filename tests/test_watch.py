"""`index watch` / the library's live indexing: native events, the automatic fallback to polling, folders
added while watching, cancel. Real MiniLM, small real trees; timings are measured in bench/watch.py, not
asserted here (a loaded CI machine would make them flaky)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from mlx_embed.index import Index
from mlx_embed.index import watch as watch_mod
from mlx_embed.index.watch import _ignorer, choose_methods, filesystem_type, watch

MOUNTS = sorted([("/", "ext4"), ("/mnt/share", "nfs4"), ("/mnt/share/local", "ext4"), ("/Volumes/nas", "smbfs")],
                key=lambda m: len(m[0]), reverse=True)


def test_filesystem_type_longest_mount_wins():
    assert filesystem_type("/home/u/docs", MOUNTS) == "ext4"
    assert filesystem_type("/mnt/share/x", MOUNTS) == "nfs4"
    assert filesystem_type("/mnt/share/local/y", MOUNTS) == "ext4"
    assert filesystem_type("/mnt/shared", MOUNTS) == "ext4"      # a prefix of the name is not a mount
    assert filesystem_type("/Volumes/nas", MOUNTS) == "smbfs"


def test_choose_methods(monkeypatch):
    monkeypatch.delenv("MLX_EMBED_WATCH", raising=False)
    got = choose_methods([Path("/home/u"), Path("/mnt/share/a"), Path("/Volumes/nas/b")], mounts=MOUNTS)
    assert [m for m, _ in got.values()] == ["events", "poll", "poll"]
    assert "nfs4" in got[Path("/mnt/share/a")][1]
    assert {m for m, _ in choose_methods([Path("/mnt/share/a")], "events", MOUNTS).values()} == {"events"}
    monkeypatch.setenv("MLX_EMBED_WATCH", "poll")
    assert {m for m, _ in choose_methods([Path("/home/u")], mounts=MOUNTS).values()} == {"poll"}
    monkeypatch.setenv("MLX_EMBED_WATCH", "sometimes")
    with pytest.raises(ValueError, match="sometimes"):
        choose_methods([Path("/home/u")], mounts=MOUNTS)


def test_real_mounts_are_read(tmp_path):
    assert filesystem_type(tmp_path) not in (None, "")   # this machine's own table, parsed


def test_ignorer(tmp_path):
    class Ix:
        path = tmp_path / "docs" / "ix" / "index.db"

        class settings:
            include_hidden = False
    (tmp_path / ".hidden-parent" / "docs").mkdir(parents=True)
    ignore = _ignorer(Ix, [tmp_path / "docs", tmp_path / ".hidden-parent" / "docs"])
    assert ignore(str(tmp_path / "docs" / "ix" / "index.db-wal"))          # the index's own writes
    assert ignore(str(tmp_path / "docs" / ".swp"))
    assert ignore(str(tmp_path / "docs" / "node_modules" / "a.js"))
    assert not ignore(str(tmp_path / "docs" / "a.txt"))
    assert not ignore(str(tmp_path / ".hidden-parent" / "docs" / "a.txt"))  # a watched folder under a dot folder


class Watcher:
    """watch() in a thread; records every run and every (re)start."""

    def __init__(self, ix: Index, **kw):
        self.runs: list[tuple[float, object]] = []
        self.starts: list[dict] = []
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=watch, args=(ix,), daemon=True, kwargs=dict(
            cancel=self.cancel, on_run=lambda s: self.runs.append((time.monotonic(), s)),
            on_start=self.starts.append, low_priority=False, **kw))
        self.thread.start()

    def wait_runs(self, n: int, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while len(self.runs) < n:
            assert time.monotonic() < end, f"only {len(self.runs)} runs, wanted {n}"
            time.sleep(0.02)

    def stop(self) -> float:
        t0 = time.monotonic()
        self.cancel.set()
        self.thread.join(10)
        assert not self.thread.is_alive()
        return time.monotonic() - t0


@pytest.fixture
def docs(tmp_path, minilm_path):
    d = tmp_path / "docs"
    d.mkdir()
    for i in range(5):
        (d / f"f{i}.txt").write_text(f"Note {i}: the quarterly report on topic {i}.")
    ix = Index(tmp_path / "ix", model=str(minilm_path))
    ix.add_folder(d)
    yield d, ix
    ix.close()


def search_paths(ix: Index, q: str) -> list[str]:
    return [Path(r.path).name for r in ix.search(q, k=3)]


@pytest.mark.parametrize("method", ["events", "poll"])
def test_new_file_becomes_searchable(docs, method, monkeypatch):
    d, ix = docs
    monkeypatch.delenv("MLX_EMBED_WATCH", raising=False)
    w = Watcher(ix, method=method, interval=0.5, settle=0.3)
    w.wait_runs(1)
    assert {m for m, _ in w.starts[0].values()} == {method}
    (d / "zebra.txt").write_text("Zebras graze on the savanna in large striped herds.")
    w.wait_runs(2)
    assert w.runs[1][1].indexed == 1
    assert search_paths(ix, "striped animals on the savanna")[0] == "zebra.txt"
    (d / "zebra.txt").unlink()
    w.wait_runs(3)
    assert w.runs[2][1].deleted == 1
    assert w.stop() < 3


def test_events_ignore_hidden_and_own_files(docs, monkeypatch):
    """A change nobody indexes (a hidden editor file) wakes no run in events mode."""
    d, ix = docs
    w = Watcher(ix, method="events", interval=0.5)
    w.wait_runs(1)
    (d / ".f0.txt.swp").write_text("editor state")
    time.sleep(2)
    assert len(w.runs) == 1
    (d / "f0.txt").write_text("Note 0: rewritten about volcanoes and lava.")
    w.wait_runs(2)
    assert w.runs[1][1].indexed == 1
    w.stop()


def test_folder_added_while_watching(docs, tmp_path):
    d, ix = docs
    w = Watcher(ix, method="events", interval=0.5)
    w.wait_runs(1)
    more = tmp_path / "more"
    more.mkdir()
    (more / "m.txt").write_text("A recipe for lemon cake with poppy seeds.")
    with Index(ix.path) as other:               # another process (the CLI) adds a folder
        other.add_folder(more)
    w.wait_runs(2)
    assert more in w.starts[-1]
    (more / "n.txt").write_text("Sourdough bread needs a starter and patience.")   # watched now too
    w.wait_runs(3)
    assert "n.txt" in search_paths(ix, "baking bread with a starter")
    w.stop()


def test_events_failure_falls_back_to_polling(docs, monkeypatch):
    """A watcher that cannot start (here: a simulated inotify watch limit) leaves the folder polled."""
    d, ix = docs

    def broken(*a, **k):
        raise OSError(28, "OS file watch limit reached")
        yield  # pragma: no cover

    import watchfiles

    monkeypatch.setattr(watchfiles, "watch", broken)
    w = Watcher(ix, method="events", interval=0.3, settle=0.2)
    w.wait_runs(1)
    how, why = w.starts[0][d]
    assert how == "poll" and "watch limit" in why
    (d / "g.txt").write_text("Glaciers carve valleys over thousands of years.")
    w.wait_runs(2)
    assert w.runs[1][1].indexed == 1
    w.stop()


def test_cli_watch_says_how(docs, monkeypatch, capsys):
    d, ix = docs
    from mlx_embed.cli import main

    calls = {}

    def fake_watch(index, **kw):
        kw["on_start"]({d: ("poll", "on nfs4, which reports only this machine's changes")})
        calls.update(kw)

    monkeypatch.setattr(watch_mod, "watch", fake_watch)
    assert main(["index", "watch", "--index", str(ix.path), "--method", "poll", "--interval", "7"]) == 0
    assert calls["method"] == "poll" and calls["interval"] == 7
    assert f"Watching {d} with polling every 7 s (on nfs4" in capsys.readouterr().err

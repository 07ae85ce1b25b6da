"""Crash safety: kill -9 a subprocess indexer at random moments, many times.

After every kill the index opens, passes PRAGMA integrity_check and the FTS check, and has no orphan
chunks or vectors (and no indexed file whose chunk count is off). Between kills the folder changes
(edits, deletes, renames, new files). A final resumed run must give exactly the content of a clean
index of the final folder: the same chunk texts per file and the same vectors."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mlx_embed.index import Index

KILLS = 12
WORKER = """
import sys
from mlx_embed.index import Index
ix = Index(sys.argv[1], model=sys.argv[2], chunk_tokens=32)
ix.add_folder(sys.argv[3])
ix.encoder  # load the model before saying ready
print("ready", flush=True)
ix.run()
print("done", flush=True)
"""
WORDS = ("apple river mountain copper violin garden lantern harbor pepper meadow quartz tunnel orchid "
         "falcon ember cobalt saddle willow marble thunder").split()


def write_doc(path: Path, rng: random.Random, n: int | None = None) -> None:
    path.write_text(" ".join(rng.choice(WORDS) for _ in range(n or rng.randint(30, 120))) + ".\n")


def content(ix: Index) -> dict[str, list[tuple[str, bytes]]]:
    out: dict[str, list] = {}
    for path, text, vec in ix.store.db.execute(
            "SELECT f.path, c.text, v.vec FROM files f JOIN chunks c ON c.file_id = f.id "
            "JOIN vectors v ON v.chunk_id = c.id ORDER BY f.path, c.seq"):
        out.setdefault(Path(path).name, []).append((text, vec))
    return out


def start(db: Path, model: Path, folder: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(db), str(model), str(folder)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read()
    return proc


def test_kill_minus_nine_at_random_points(tmp_path, jina_tiny):
    seed = int(os.environ.get("CRASH_SEED", time.time_ns() % 10**6))
    rng = random.Random(seed)
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(120):
        write_doc(folder / f"doc{i:03d}.txt", rng)
    db = tmp_path / "ix" / "index.db"

    # calibrate: how long does the work after start-up take for this folder?
    ref = start(tmp_path / "calibrate.db", jina_tiny, folder)
    t0 = time.perf_counter()
    ref.communicate(timeout=300)
    est = time.perf_counter() - t0
    assert ref.returncode == 0

    kills = 0
    for attempt in range(KILLS):
        if attempt:  # change the folder between crashes, so every run has work to do
            names = sorted(p.name for p in folder.iterdir())
            for name in rng.sample(names, 12):
                write_doc(folder / name, rng)
            for name in rng.sample(names, 2):
                (folder / name).unlink(missing_ok=True)
            for name in rng.sample(names, 2):
                if (folder / name).exists():
                    (folder / name).rename(folder / f"moved{attempt}-{name}")
            for j in range(3):
                write_doc(folder / f"new{attempt}-{j}.txt", rng)
        proc = start(db, jina_tiny, folder)
        t0 = time.perf_counter()
        try:
            proc.wait(timeout=rng.uniform(0.0, est))
            est = max(0.2, 0.9 * (time.perf_counter() - t0))  # finished first: kill earlier next time
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=120)
        ix = Index(db)
        report = ix.check()
        assert report["ok"], (seed, attempt, report)
        ix.close()
    assert kills >= KILLS // 2, f"only {kills} runs were killed before finishing (seed {seed})"

    proc = start(db, jina_tiny, folder)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "done" in out, err
    resumed = Index(db)
    assert resumed.check()["ok"]
    assert resumed.status().counts == {"pending": 0, "indexed": len(list(folder.iterdir())), "skipped": 0, "failed": 0}

    clean = Index(tmp_path / "clean", model=str(jina_tiny), chunk_tokens=32)
    clean.add_folder(folder)
    clean.run()
    got, want = content(resumed), content(clean)
    assert sorted(got) == sorted(want), seed
    for name in want:
        assert [t for t, _ in got[name]] == [t for t, _ in want[name]], (seed, name)
        a = np.stack([np.frombuffer(v, np.float16) for _, v in got[name]]).astype(np.float32)
        b = np.stack([np.frombuffer(v, np.float16) for _, v in want[name]]).astype(np.float32)
        np.testing.assert_allclose(a, b, atol=2e-3, err_msg=f"seed {seed}, {name}")
    print(f"crash test: seed {seed}, {kills} kills of {KILLS} runs")


@pytest.mark.parametrize("point", ["scan", "flush"])
def test_exception_inside_a_write_rolls_back(tmp_path, jina_tiny, monkeypatch, point):
    """The same guarantee in-process: an error in the middle of a transaction leaves the old state."""
    from mlx_embed.index import indexer as indexer_module

    folder = tmp_path / "docs"
    folder.mkdir()
    rng = random.Random(1)
    for i in range(10):
        write_doc(folder / f"d{i}.txt", rng)
    ix = Index(tmp_path / "ix", model=str(jina_tiny), chunk_tokens=32)
    ix.add_folder(folder)
    ix.run()
    before = content(ix)
    for i in range(10):
        write_doc(folder / f"d{i}.txt", rng)
    calls = {"n": 0}
    if point == "flush":
        original = indexer_module.encode_vectors

        def boom(vectors, binary):
            calls["n"] += 1
            blobs = original(vectors, binary)
            return blobs[:-1]  # one vector short: the insert loop fails half-way through the transaction

        monkeypatch.setattr(indexer_module, "encode_vectors", boom)
    else:
        original = indexer_module.discover

        def boom(*a, **kw):
            for i, c in enumerate(original(*a, **kw)):
                if i == 5:
                    raise RuntimeError("disk on fire")
                yield c

        monkeypatch.setattr(indexer_module, "discover", boom)
    with pytest.raises((RuntimeError, IndexError)):
        ix.run()
    assert ix.check()["ok"]
    assert content(ix) == before
    monkeypatch.undo()
    ix.run()
    assert ix.check()["ok"] and content(ix) != before and ix.status().counts["pending"] == 0

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
    from mlx_embed.index.store import codec as codec_module

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
        original = codec_module.encode_vectors

        def boom(vectors, binary):
            calls["n"] += 1
            blobs = original(vectors, binary)
            return blobs[:-1]  # one vector short: the insert loop fails half-way through the transaction

        monkeypatch.setattr(codec_module, "encode_vectors", boom)
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


# --- durable progress: kill the real `mlx-embed index add` a few seconds into indexing ---------------------
KILL_AFTER = (3.0, 6.0, 10.0)   # seconds after the indexing phase started, one run each
WORK_SECONDS = 28.0             # model work of the folder on this machine: more than the kills take together


def real_folder(folder: Path, model, seconds: float) -> int:
    """Copy stdlib modules (real text, not man pages) until their chunks take about `seconds` to embed
    on this machine, measured now (a loaded CI box gets fewer files, so the test time stays flat)."""
    from mlx_embed.index.chunk import chunk_text
    from mlx_embed.index.chunk_encoder import ChunkEncoder as Encoder

    enc = Encoder(model)
    stdlib = Path(os.__file__).parent
    # top-level modules first, then package modules (a fast machine needs more than the top level holds)
    sources = [p for pattern in ("*.py", "*/*.py") for p in sorted(stdlib.glob(pattern))
               if 2_000 < p.stat().st_size < 9_000 and "site-packages" not in p.parts and "test" not in p.parts]
    texts = [c.text for p in sources[:4] for c in chunk_text(p.read_text(), model.tokenizer, enc.max_chunk_tokens, 32)]
    enc.documents(texts[:4])  # warm-up
    t0 = time.perf_counter()
    enc.documents(texts[:16])
    rate = 16 / (time.perf_counter() - t0)
    folder.mkdir()
    budget, chunks = rate * seconds, 0
    for p in sources:
        if chunks >= budget:
            break
        text = p.read_text()
        chunks += len(chunk_text(text, model.tokenizer, enc.max_chunk_tokens, 32))
        (folder / "_".join(p.relative_to(stdlib).parts)).write_text(text)
    assert chunks >= budget, "not enough stdlib sources on this machine"
    return chunks


def kept(db: Path) -> tuple[int, int]:
    """(files indexed, vectors kept: committed plus staged) in a killed run's index, after checking it."""
    ix = Index(db)
    assert ix.check()["ok"], ix.check()
    q = lambda sql: ix.store.db.execute(sql).fetchone()[0]  # noqa: E731
    out = q("SELECT count(*) FROM files WHERE status = 'indexed'"), q("SELECT count(*) FROM vectors") + q(
        "SELECT count(*) FROM staged")
    ix.close()
    return out


def vectors_kept(db: Path) -> int:
    """Committed plus staged vectors, read-only (0 before the index exists)."""
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT (SELECT count(*) FROM vectors) + (SELECT count(*) FROM staged)").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0  # not created (or not migrated) yet


def watch_commits(db: Path, proc: subprocess.Popen, kill_after: float) -> tuple[float, list[tuple[float, int]]]:
    """Poll the index while `proc` runs; SIGKILL it `kill_after` s after its first commit. Returns the
    kill time (None if it finished first) and the (time, vectors kept) seen, so the test measures time
    from real indexing on however slow and loaded a machine, not from process start."""
    start_count, first, seen = vectors_kept(db), None, []
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        now, n = time.monotonic(), vectors_kept(db)
        seen.append((now, n))
        if first is None and n > start_count:
            first = now
        if first is not None and now >= first + kill_after:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
            return now, seen
        time.sleep(0.05)
    assert proc.poll() is not None, "the indexer made no commit in 240 s"
    return None, seen


def test_kill_in_the_first_seconds_keeps_work_and_resumes_to_a_clean_state(tmp_path, minilm_path):
    import mlx_embed

    model = mlx_embed.load(minilm_path)
    folder = tmp_path / "stdlib"
    chunks = real_folder(folder, model, WORK_SECONDS)
    files = len(list(folder.iterdir()))
    db = tmp_path / "killed" / "index.db"
    cmd = [sys.executable, "-c", "import sys; from mlx_embed.cli import main; sys.exit(main())",
           "index", "add", str(folder), "--model", str(minilm_path), "--index", str(db), "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    before, killed = (0, 0), []
    for after in KILL_AFTER:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                text=True, env=env)
        kill_time, seen = watch_commits(db, proc, after)
        if kill_time is None:
            assert proc.returncode == 0, proc.stderr.read()
            break  # a fast machine finished the folder before this kill
        now = kept(db)
        # work is durable within seconds: what was visible just before the kill is all still there,
        # and the last commit before the kill is at most about one batch (~1.5 s; 5 s allowed) old
        assert now[1] >= seen[-1][1] > before[1], (after, now, seen[-1], before)
        last_commit = next(t for t, n in reversed(seen) if n < seen[-1][1]) if seen[0][1] < seen[-1][1] else None
        lost = kill_time - last_commit if last_commit is not None else None
        killed.append((after, now, None if lost is None else round(lost, 1)))
        assert lost is not None and lost <= 5.0, f"a kill {after} s into indexing lost {lost} s of work: {killed}"
        before = now
    # (on a slow machine 3 s may not finish a whole file: its vectors are staged, and count as kept)
    assert killed and killed[-1][1][0] >= 1, f"the kills kept no whole file: {killed}"
    assert killed[0][1][0] < files, "the folder was too small to kill the run part-way"
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr

    clean = Index(tmp_path / "clean", model=model)
    clean.add_folder(folder)
    clean.run()
    resumed = Index(db)
    assert resumed.check()["ok"]
    assert resumed.status().counts == {"pending": 0, "indexed": files, "skipped": 0, "failed": 0}
    assert resumed.store.db.execute("SELECT count(*) FROM staged").fetchone()[0] == 0
    got, want = content(resumed), content(clean)
    assert sorted(got) == sorted(want)
    for name in want:
        assert [t for t, _ in got[name]] == [t for t, _ in want[name]], name
        a = np.stack([np.frombuffer(v, np.float16) for _, v in got[name]]).astype(np.float32)
        b = np.stack([np.frombuffer(v, np.float16) for _, v in want[name]]).astype(np.float32)
        np.testing.assert_allclose(a, b, atol=2e-3, err_msg=name)
    print(f"\ndurable indexing: {files} files, ~{chunks} chunks; after each kill (s after the first commit, "
          f"(files, vectors kept), s since the last commit): {killed}")

"""The fault suite (issue 27): odd file names, a damaged / read-only / busy index, hostile server input,
a huge one-line file, a plan whose file changed. Each case: no traceback, its exit code, a message that
says what to do, nothing the user owns changed; `index rebuild` after damage gives back the folders and
a working search. Runs the real CLI (in-process) with the real all-MiniLM-L6-v2."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from mlx_embed.cli import main
from mlx_embed.index.runlock import RunLock

ODD = [b"caf\xe9.txt", b"bad\xff\xfe.txt", b"ok.txt"]


def run(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


@pytest.fixture()
def corpus(tmp_path: Path, minilm_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("MLX_EMBED_MODEL", str(minilm_path))
    docs = tmp_path / "docs"
    docs.mkdir()
    texts = {ODD[0]: "a recipe for coffee with milk", ODD[1]: "notes about sailing boats at sea",
             ODD[2]: "the tax return deadline is in april"}
    for name, text in texts.items():
        Path(os.fsdecode(os.fsencode(docs) + b"/" + name)).write_text(text)
    odd_dir = Path(os.fsdecode(os.fsencode(docs) + b"/dir\xff"))
    odd_dir.mkdir()
    (odd_dir / "dogs.txt").write_text("a dog chases the cat around the garden")
    return docs


def index_of(tmp_path: Path) -> Path:
    return tmp_path / "ix"


def search_paths(capsys, ix: Path, query: str) -> list[str]:
    rc, out, _ = run(capsys, "search", query, "--index", ix, "--json")
    assert rc == 0
    return [r["path"] for r in json.loads(out)["results"]]


# --- 1, 5: names of any bytes --------------------------------------------------------------------------
def test_odd_names_are_indexed_losslessly_and_plans_read_back(corpus: Path, tmp_path: Path, capsys):
    ix = index_of(tmp_path)
    rc, _, err = run(capsys, "index", "add", corpus, "--index", ix, "-q")
    assert rc == 0, err
    rc, out, _ = run(capsys, "index", "status", "--index", ix, "--json")
    assert rc == 0 and json.loads(out)["counts"]["indexed"] == 4
    hits = search_paths(capsys, ix, "dog chasing a cat")
    assert os.path.exists(hits[0]) and os.fsencode(hits[0]).endswith(b"/dir\xff/dogs.txt")   # exact bytes back
    rc, out, _ = run(capsys, "search", "coffee", "--index", ix)   # text output: escaped, not a crash
    assert rc == 0 and ("caf\\udce9.txt" in out or "caf\\xe9.txt" in out)
    rc, out, err = run(capsys, "cluster", corpus, "--index", ix, "--k", "2", "--json")
    assert rc == 0, err
    out.encode("ascii")                                            # valid UTF-8 (ASCII, in fact)
    plan = tmp_path / "plan.json"
    plan.write_text(out)
    rc, out, err = run(capsys, "apply", plan, "--yes", "--json", "--journal-dir", tmp_path / "journals",
                       "--index", ix)
    assert rc == 0, err
    moved = json.loads(out)["moved"]
    assert moved and all(os.path.exists(new) and not os.path.exists(old) for old, new in moved)
    names = {os.fsencode(Path(new).name) for _, new in moved}
    assert names & {ODD[0], ODD[1], b"dogs.txt"}


# --- 2, 4: damage --------------------------------------------------------------------------------------
def _damage(db: Path, kind: str) -> None:
    if kind == "truncated":
        os.truncate(db, db.stat().st_size // 3)
    elif kind.startswith("random@"):
        offset = int(kind.split("@")[1])
        with open(db, "r+b") as f:
            f.seek(offset)
            f.write(np.random.default_rng(offset).integers(0, 256, 4096, dtype=np.uint8).tobytes())


@pytest.mark.parametrize("kind", ["truncated", "random@0", "random@4096", "random@9000", "random@16384",
                                  "random@-8192"])
def test_damaged_index_is_detected_and_rebuild_recovers(corpus: Path, tmp_path: Path, capsys, kind: str):
    ix = index_of(tmp_path)
    assert run(capsys, "index", "add", corpus, "--index", ix, "-q")[0] == 0
    db = ix / "index.db"
    if kind.startswith("random@-"):
        kind = f"random@{db.stat().st_size - int(kind.split('@-')[1])}"
    _damage(db, kind)
    rc, _, err = run(capsys, "index", "status", "--index", ix)
    assert rc == 6 and "damaged" in err and "index rebuild" in err and err.count("\n") == 1
    rc, _, err = run(capsys, "index", "update", "--index", ix, "-q")
    assert rc == 6 and "index rebuild" in err
    rc, _, err = run(capsys, "search", "dog", "--index", ix)
    assert rc in (0, 6)   # a query may not touch the damaged pages; if it does, one line and exit 6
    rc, _, err = run(capsys, "index", "rebuild", "--index", ix, "-q")
    assert rc == 0, err
    assert (ix / "index.db.damaged").exists()   # the damaged file is kept, not deleted
    rc, out, _ = run(capsys, "index", "status", "--index", ix, "--json")
    st = json.loads(out)
    assert rc == 0 and [f["path"] for f in st["folders"]] == [str(corpus)] and st["counts"]["indexed"] == 4
    assert os.fsencode(search_paths(capsys, ix, "dog chasing a cat")[0]).endswith(b"/dogs.txt")


def test_rebuild_without_sidecar_reads_folders_from_the_damaged_file(corpus: Path, tmp_path: Path, capsys):
    ix = index_of(tmp_path)
    assert run(capsys, "index", "add", corpus, "--index", ix, "-q")[0] == 0
    (ix / "index.db.folders.json").unlink()
    db = ix / "index.db"
    with sqlite3.connect(db) as conn:   # damage the chunk tables only: the folder list still reads
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'vectors'").fetchone()[0]
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as f:
        f.seek((root - 1) * page)
        f.write(b"\x00" * 16 + os.urandom(page - 16))
    assert run(capsys, "index", "status", "--index", ix)[0] == 6
    rc, _, err = run(capsys, "index", "rebuild", "--index", ix, "-q")
    assert rc == 0 and "damaged file" in err
    rc, out, _ = run(capsys, "index", "status", "--index", ix, "--json")
    assert [f["path"] for f in json.loads(out)["folders"]] == [str(corpus)]


def test_deleted_wal_loses_nothing_of_the_user_and_update_catches_up(corpus: Path, tmp_path: Path, capsys):
    ix = index_of(tmp_path)
    assert run(capsys, "index", "add", corpus, "--index", ix, "-q")[0] == 0
    db = ix / "index.db"
    holder = sqlite3.connect(db)                     # a reader keeps the -wal from being checkpointed away
    holder.execute("PRAGMA wal_autocheckpoint = 0")
    (corpus / "new.txt").write_text("bicycles and their gears")
    assert run(capsys, "index", "update", "--index", ix, "-q")[0] == 0
    wal = ix / "index.db-wal"
    if wal.exists():
        wal.unlink()
    holder.close()
    rc, _, err = run(capsys, "index", "status", "--index", ix)
    assert rc in (0, 6), err
    if rc == 6:
        assert run(capsys, "index", "rebuild", "--index", ix, "-q")[0] == 0
    else:
        assert run(capsys, "index", "update", "--index", ix, "-q")[0] == 0
    assert os.fsencode(search_paths(capsys, ix, "bicycle gears")[0]).endswith(b"/new.txt")
    assert sorted(os.listdir(os.fsencode(corpus))) == sorted(ODD + [b"dir\xff", b"new.txt"])


# --- 4: read-only is not damage ---------------------------------------------------------------------------
@pytest.mark.parametrize("what", ["folder", "file"])
def test_read_only_index_searches_and_refuses_writes(corpus: Path, tmp_path: Path, capsys, monkeypatch, what: str):
    ix = index_of(tmp_path)
    assert run(capsys, "index", "add", corpus, "--index", ix, "-q")[0] == 0
    target = ix / "index.db" if what == "file" else ix
    os.chmod(target, 0o444 if what == "file" else 0o555)
    if os.geteuid() == 0:
        # root ignores permission bits: make os.access answer as it would for the owner of the index
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if (mode & os.W_OK and Path(p) == target)
                            else real(p, mode, **kw))
    try:
        hits = search_paths(capsys, ix, "dog chasing a cat")
        assert os.fsencode(hits[0]).endswith(b"/dogs.txt")
        before = sorted(os.listdir(ix))
        rc, _, err = run(capsys, "index", "update", "--index", ix, "-q")
        assert rc == 7 and "read-only" in err and "chmod" in err
        assert "rebuild" not in err and "Move it away" not in err   # healthy: no advice to discard it
        assert run(capsys, "index", "status", "--index", ix)[0] == 0
        assert run(capsys, "index", "rebuild", "--index", ix, "-q")[0] == 7
        assert sorted(os.listdir(ix)) == before
    finally:
        os.chmod(target, 0o755 if what == "folder" else 0o644)


# --- 9: one run at a time ---------------------------------------------------------------------------------
def test_second_run_waits_or_exits_and_a_dead_holder_leaves_no_lock(corpus: Path, tmp_path: Path, capsys):
    ix = index_of(tmp_path)
    assert run(capsys, "index", "add", corpus, "--index", ix, "-q", "--no-run")[0] == 0
    lock = RunLock(ix / "index.db")
    assert lock.acquire()
    try:
        rc, _, err = run(capsys, "index", "update", "--index", ix, "-q", "--no-wait")
        assert rc == 8 and f"pid {os.getpid()}" in err
        threading.Timer(1.5, lock.release).start()
        t0 = time.monotonic()
        rc, _, err = run(capsys, "index", "update", "--index", ix, "-q")
        assert rc == 0 and "waiting" in err and time.monotonic() - t0 >= 1.4
    finally:
        lock.release()
    # a holder killed with SIGKILL: the kernel drops its lock
    code = ("import sys, time; from pathlib import Path; from mlx_embed.index.runlock import RunLock; "
            f"RunLock(Path({str(ix / 'index.db')!r})).acquire(); print('held', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    assert run(capsys, "index", "update", "--index", ix, "-q", "--no-wait")[0] == 8
    child.kill()
    child.wait()
    assert run(capsys, "index", "update", "--index", ix, "-q", "--no-wait")[0] == 0


# --- 10: a plan's file that changed ---------------------------------------------------------------------
def test_apply_skips_a_source_changed_after_the_plan(tmp_path: Path, capsys):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("first")
    b.write_text("second")
    from mlx_embed.organize.actions.plans import source_hashes

    groups = [{"name": "G", "files": [str(a), str(b)]}]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"groups": groups, "hashes": source_hashes(groups)}))
    a.write_text("replaced after the plan")
    rc, out, err = run(capsys, "apply", plan, "--yes", "--json", "--journal-dir", tmp_path / "j")
    result = json.loads(out)
    assert rc == 0 and result["done"] >= 1
    assert a.read_text() == "replaced after the plan" and a.exists()          # left where it is
    assert (tmp_path / "G" / "b.txt").exists() and not b.exists()
    assert any("changed since the plan" in r for r in result["skipped"].values())


def test_tags_sidecar_takes_a_name_that_is_not_utf8(tmp_path: Path):
    from mlx_embed.organize.tags import SIDECAR, SidecarTags

    odd = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9 notes.txt"))
    odd.write_text("menu")
    plain = tmp_path / "caf\u00e9.txt"
    plain.write_text("menu")
    tags = SidecarTags()
    tags.set(odd, ["Receipts"])
    tags.set(plain, ["Menus"])
    assert json.loads((tmp_path / SIDECAR).read_text(encoding="utf-8"))  # valid UTF-8 JSON on disk
    assert SidecarTags().get(odd) == ["Receipts"] and SidecarTags().get(plain) == ["Menus"]


# --- 8: the chunker streams ---------------------------------------------------------------------------------
class _CheapTokenizer:
    """Four-character tokens: the chunker's memory, not the tokenizer's speed, is under test."""

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in re.finditer(r"\S{1,4}", text)]


def test_huge_one_line_file_is_chunked_in_bounded_memory(tmp_path: Path):
    from mlx_embed.index.chunk import chunk_text
    from mlx_embed.index.extract import extract

    big = tmp_path / "one-line.txt"
    word = b"lorem ipsum dolor sit amet consectetur "
    with open(big, "wb") as f:
        for _ in range(200 * 2**20 // (len(word) * 4096)):
            f.write(word * 4096)            # ~200 MB, no newline at all
    tracemalloc.start()
    try:
        ex = extract(big, max_size=None)    # max-size raised all the way
        chunks = chunk_text(ex.text, _CheapTokenizer(), 256, 32)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert chunks and chunks[-1].end <= len(ex.text) <= 32 << 20
    assert peak < 300 << 20, f"peak {peak / 2**20:.0f} MB"


# --- 7, 8: the server ---------------------------------------------------------------------------------------
class _SlowModel:
    """Stands in for the model in the scheduler: 1 ms per token, records each batch."""

    def __init__(self):
        self.batches: list[int] = []

    def embed_token_ids(self, ids, task, batch_size, max_batch_tokens):
        n = sum(len(s) for s in ids)
        self.batches.append(n)
        time.sleep(n / 1000)
        return np.ones((len(ids), 4), np.float32) * np.array([len(s) for s in ids], np.float32)[:, None]


def test_scheduler_small_request_does_not_wait_behind_a_huge_one():
    from mlx_embed.server.scheduler import Scheduler

    model = _SlowModel()
    sched = Scheduler(model, batch_tokens=200)
    sched.start()
    try:
        huge = sched.submit([[1] * 100] * 40, None)          # 4000 tokens: 20 batches of 200 (~4 s)
        time.sleep(0.3)
        t0 = time.monotonic()
        small = sched.submit([[1] * 5], None)
        small.result(timeout=10)
        waited = time.monotonic() - t0
        assert not huge.done() and waited < 1.0, waited
        vectors = huge.result(timeout=30)
        assert vectors.shape == (40, 4) and (vectors[:, 0] == 100).all()     # every slice, in order
        assert max(model.batches) <= 200
    finally:
        sched.close()


@pytest.fixture(scope="module")
def server(minilm_path):
    from mlx_embed import load
    from mlx_embed.server import BackgroundServer, ServerSettings, create_app

    settings = ServerSettings(read_timeout_s=1.0, max_request_tokens=2000)
    with BackgroundServer(create_app(load(str(minilm_path)), settings)) as srv:
        yield srv


def _post(srv, body: bytes, path: str = "/v1/embeddings") -> tuple[int, dict]:
    import http.client

    host, port = srv.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", path, body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, json.loads(r.read())


def test_server_unpaired_surrogate_and_token_budget_are_4xx(server):
    status, body = _post(server, b'{"input": "bad \\ud800 text"}')
    assert status == 400 and body["error"]["code"] == "invalid_text"
    status, body = _post(server, b'{"inputs": ["x \\udfff y"]}', "/embed")
    assert status == 400
    status, body = _post(server, json.dumps({"input": ["word " * 400] * 10}).encode())
    assert status == 413 and body["error"]["code"] == "request_too_many_tokens"
    status, body = _post(server, b'{"input": "fine text"}')
    assert status == 200


def test_server_half_sent_body_times_out(server):
    import socket

    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"input\": \"hal")
        t0 = time.monotonic()
        reply = s.recv(4096)
    assert b" 408 " in reply.split(b"\r\n")[0] and time.monotonic() - t0 < 5

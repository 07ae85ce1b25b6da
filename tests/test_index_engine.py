"""The index engine with a tiny random model: incremental updates, moves, model identity, search
mechanics (names, phrases, filters, highlights), bad input, cancel/resume, privacy, CLI."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mlx_embed.errors import InvalidArgumentError
from mlx_embed.index import Index, IndexFormatError, ModelMismatchError

from . import index_files as F
from . import model_fixtures

WORDS = ("apple river mountain copper violin garden lantern harbor pepper meadow quartz tunnel orchid "
         "falcon ember cobalt saddle willow marble thunder").split()


def prose(seed: int, n: int = 40) -> str:
    rng = np.random.default_rng(seed)
    return " ".join(rng.choice(WORDS, n)) + "."


@pytest.fixture(scope="module")
def model(jina_tiny):
    import mlx_embed

    return mlx_embed.load(jina_tiny)


@pytest.fixture
def docs(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    for i in range(6):
        (root / f"note{i}.txt").write_text(prose(i, 30 + 10 * i))
    return root


class Counting:
    """Counts the chunk texts that reach the model."""

    def __init__(self, ix: Index):
        self.n = 0
        enc = ix.encoder
        original = enc.documents

        def documents(texts, cancel=None):
            self.n += len(texts)
            return original(texts, cancel)

        enc.documents = documents


def chunk_rows(ix: Index) -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list] = {}
    for path, cid, text in ix.store.db.execute(
            "SELECT f.path, c.id, c.text FROM chunks c JOIN files f ON f.id = c.file_id ORDER BY f.path, c.seq"):
        out.setdefault(Path(path).name, []).append((cid, text))
    return out


def new_index(tmp_path, model, name="ix", **kw) -> Index:
    kw.setdefault("chunk_tokens", 32)
    return Index(tmp_path / name, model=model, **kw)


# --- incremental ---------------------------------------------------------------------------------------
def test_incremental_updates_redo_only_the_right_work(tmp_path, model, docs):
    ix = new_index(tmp_path, model)
    ix.add_folder(docs)
    count = Counting(ix)
    s = ix.run()
    total = ix.status().chunks
    assert (s.new, s.indexed, count.n, s.chunks_embedded) == (6, 6, total, total) and total > 6
    before = chunk_rows(ix)

    s = ix.run()
    assert (s.unchanged, s.chunks_embedded, count.n) == (6, 0, total)

    (docs / "note1.txt").write_text(prose(101, 80))                      # modify
    os.utime(docs / "note2.txt", ns=(time.time_ns(), time.time_ns() + 10**9))   # touch only
    (docs / "note3.txt").rename(docs / "renamed3.txt")                    # rename
    (docs / "note4.txt").unlink()                                         # delete
    (docs / "fresh.txt").write_text(prose(202, 50))                       # add
    (docs / "copy0.txt").write_bytes((docs / "note0.txt").read_bytes())   # a copy
    count.n = 0
    s = ix.run()
    after = chunk_rows(ix)
    expected_new = len(after["note1.txt"]) + len(after["fresh.txt"])
    assert count.n == s.chunks_embedded == expected_new
    assert (s.changed, s.touched, s.moved, s.deleted, s.new, s.copied) == (2, 1, 1, 1, 2, 1)
    assert after["renamed3.txt"] == before["note3.txt"], "a rename keeps its chunks (same ids)"
    assert after["note2.txt"] == before["note2.txt"] and after["note0.txt"] == before["note0.txt"]
    assert [t for _, t in after["copy0.txt"]] == [t for _, t in before["note0.txt"]]
    assert "note4.txt" not in after and "note3.txt" not in after
    assert ix.check()["ok"], ix.check()
    assert ix.status().counts == {"pending": 0, "indexed": 7, "skipped": 0, "failed": 0}
    hits = ix.search("renamed3.txt", k=3)
    assert hits[0].path == docs / "renamed3.txt" and hits[0].matched[0] == "name"


def test_move_file_follows_without_reembedding(tmp_path, model, docs):
    ix = new_index(tmp_path, model)
    ix.add_folder(docs)
    ix.run()
    before = chunk_rows(ix)["note5.txt"]
    (docs / "archive").mkdir()
    (docs / "note5.txt").rename(docs / "archive" / "note5.txt")
    assert ix.move_file(docs / "note5.txt", docs / "archive" / "note5.txt")
    assert chunk_rows(ix)["note5.txt"] == before
    assert any(r.path == docs / "archive" / "note5.txt" for r in ix.search("note5", k=10))
    count = Counting(ix)
    s = ix.run()
    assert count.n == 0 and s.moved == 0 and s.deleted == 0 and s.unchanged == 6
    outside = tmp_path / "elsewhere.txt"
    (docs / "note0.txt").rename(outside)
    assert ix.move_file(docs / "note0.txt", outside)
    assert "note0.txt" not in chunk_rows(ix) and ix.check()["ok"]
    assert not ix.move_file(docs / "never.txt", docs / "x.txt")


# --- model identity -----------------------------------------------------------------------------------
def test_model_change_needs_rebuild(tmp_path, model, docs):
    ix = new_index(tmp_path, model)
    ix.add_folder(docs)
    ix.run()
    other = model_fixtures.write_jina_v5(tmp_path / "other-model", seed=7)
    ix2 = Index(tmp_path / "ix", model=str(other))
    with pytest.raises(ModelMismatchError, match="index rebuild"):
        ix2.run()
    with pytest.raises(ModelMismatchError):
        ix2.search("apple")
    stats = ix2.rebuild()
    assert stats.indexed == 6 and ix2.model_identity["path"] == str(other.resolve())
    assert Index(tmp_path / "ix", model=str(other)).search("apple river", k=3)
    with pytest.raises(ModelMismatchError):
        Index(tmp_path / "ix", model=model).run()
    with pytest.raises(InvalidArgumentError, match="chunk_tokens"):
        Index(tmp_path / "ix", chunk_tokens=64)


def test_vectors_for_reuse(tmp_path, model, docs):
    ix = new_index(tmp_path, model)
    ix.add_folder(docs)
    ix.run()
    vecs = ix.vectors_for_files([docs / "note1.txt", docs / "missing.txt"])
    texts = [t for _, t in chunk_rows(ix)["note1.txt"]]
    assert list(vecs) == [docs / "note1.txt"] and vecs[docs / "note1.txt"].shape == (len(texts), model.dim)
    direct = model.encode_document(texts, task="retrieval")
    np.testing.assert_allclose(vecs[docs / "note1.txt"], direct, atol=2e-3)
    paths, mat = ix.file_vectors()
    assert len(paths) == 6 and mat.shape == (6, model.dim)
    np.testing.assert_allclose(np.linalg.norm(mat, axis=1), 1.0, atol=1e-5)
    with pytest.raises(InvalidArgumentError, match="retrieval adapter"):
        ix.vectors_for_files([docs / "note1.txt"], task="clustering")


def test_matryoshka_and_binary_indexes(tmp_path, model, docs):
    query = "apple river copper"
    full_q = model.encode_query(query, task="retrieval")
    for kw in ({"vector_dim": 32}, {"binary": True}):
        ix = new_index(tmp_path, model, name=f"ix-{list(kw)[0]}", **kw)
        ix.add_folder(docs)
        ix.run()
        rows = ix.store.db.execute("SELECT c.text, v.vec, f.path FROM vectors v JOIN chunks c ON c.id = v.chunk_id "
                                   "JOIN files f ON f.id = c.file_id ORDER BY c.id").fetchall()
        full = model.encode_document([r[0] for r in rows], task="retrieval")
        if "vector_dim" in kw:
            stored = np.stack([np.frombuffer(r[1], np.float16) for r in rows]).astype(np.float32)
            want = full[:, :32] / np.linalg.norm(full[:, :32], axis=1, keepdims=True)
            np.testing.assert_allclose(stored, want, atol=2e-3)
            q = full_q[:32] / np.linalg.norm(full_q[:32])
            scores = stored @ q
        else:
            stored = np.stack([np.frombuffer(r[1], np.uint8) for r in rows])
            assert stored.shape[1] == model.dim // 8
            np.testing.assert_array_equal(stored, np.packbits(full > 0, axis=1))
            scores = (np.unpackbits(stored, axis=1) * 2.0 - 1) @ full_q
        hits = ix.search(query, k=3, mode="dense")
        assert hits[0].path == Path(rows[int(np.argmax(scores))][2])


# --- search mechanics ---------------------------------------------------------------------------------
def test_names_phrases_filters_and_highlights(tmp_path, model, docs):
    (docs / "budget-2024.txt").write_text(prose(50, 30))
    (docs / "scattered.txt").write_text("copper " * 5 + "lantern " * 5 + "harbor " * 5 + prose(51, 20))
    (docs / "verbatim.txt").write_text(prose(52, 20) + " the copper lantern harbor " + prose(53, 20))
    sub = docs / "sub"
    sub.mkdir()
    F.write_pdf(sub / "report.pdf", ["Nothing here. " * 5, "The quarterly falcon report lives on page two."])
    F.write_docx(sub / "letter.docx", ["Dear landlord, the falcon flies."])
    old = time.time() - 400 * 86400
    os.utime(sub / "letter.docx", (old, old))
    ix = new_index(tmp_path, model)
    ix.add_folder(docs)
    ix.run()

    assert ix.search("budget-2024.txt")[0].path.name == "budget-2024.txt"
    assert ix.search("budget-2024")[0].path.name == "budget-2024.txt"
    top = ix.search('"copper lantern harbor"', k=5)
    assert top[0].path.name == "verbatim.txt" and "phrase" in top[0].matched
    assert "**copper lantern harbor**" in top[0].passages[0].marked()

    falcon = ix.search("falcon", k=10)
    names = [r.path.name for r in falcon]
    assert len(names) == len(set(names)), "one result per file"
    pdf = next(r for r in falcon if r.path.name == "report.pdf")
    assert pdf.passages[0].page == 2 and "**falcon**" in pdf.passages[0].marked()
    p = pdf.passages[0]
    s, e = p.highlights[0]
    assert p.text[s:e].lower() == "falcon"

    only_pdf = ix.search("falcon", kinds=["pdf"])
    assert [r.path.name for r in only_pdf] == ["report.pdf"]
    assert {r.path.name for r in ix.search("falcon", folder=sub)} == {"report.pdf", "letter.docx"}
    recent = {r.path.name for r in ix.search("falcon", modified_after=time.time() - 86400, k=20)}
    assert "letter.docx" not in recent and "report.pdf" in recent
    assert [r.path.name for r in ix.search("falcon", modified_before=time.time() - 300 * 86400)] == ["letter.docx"]
    assert [r.path.name for r in ix.search("landlord", mode="keyword")] == ["letter.docx"]
    with pytest.raises(InvalidArgumentError):
        ix.search("   ")


# --- bad input through a whole run ---------------------------------------------------------------------
def test_bad_input_is_reported_never_fatal(tmp_path, model, monkeypatch):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "empty.txt").write_bytes(b"")
    with open(root / "sparse.txt", "wb") as f:
        f.truncate(1 << 30)
    (root / "invalid.txt").write_bytes(b"valid start \xff\xfe\xfd then more text " * 3)
    good = F.write_pdf(tmp_path / "good.pdf", ["A page with words. " * 30])
    (root / "truncated.pdf").write_bytes(good.read_bytes()[:300])
    F.write_pdf(root / "locked.pdf", ["secret"], password="pw")
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "vanishing.txt").write_text("I will be deleted while being read")
    (root / "private").mkdir()
    (root / "private" / "x.txt").write_text("unreachable")
    (root / "fine.md").write_text("# Fine\nA normal file.")

    from mlx_embed.index.extract import text as text_module

    real_read, real_scandir = text_module.read_bytes, os.scandir

    def read_then_vanish(path, limit=None):
        if path.name == "vanishing.txt":
            path.unlink()
        return real_read(path, limit)

    def scandir(path="."):
        if str(path).endswith("private"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(text_module, "read_bytes", read_then_vanish)
    monkeypatch.setattr(os, "scandir", scandir)
    ix = new_index(tmp_path, model)
    ix.add_folder(root)
    stats = ix.run()
    st = ix.status()
    failures = {Path(p).name: r for p, r in st.failures}
    assert failures == {"private": "permission denied", "locked.pdf": "encrypted PDF",
                        "truncated.pdf": failures["truncated.pdf"], "vanishing.txt": "file disappeared while being read"}
    assert failures["truncated.pdf"].startswith(("damaged PDF", "no text layer"))
    assert st.skipped_reasons == {"too large (1 GB > 50 MB)": 1, "empty: no text": 1}
    assert st.counts["indexed"] == 2 and stats.failed == 3  # invalid.txt and fine.md
    assert ix.check()["ok"]
    text = ix.search("valid start", mode="keyword")[0].passages[0].text  # decoded as a legacy code page
    assert text.startswith("valid start ") and "then more text" in text


# --- cancel / resume ------------------------------------------------------------------------------------
def test_cancel_then_resume_gives_the_same_index(tmp_path, model, docs):
    for i in range(6, 30):
        (docs / f"more{i}.txt").write_text(prose(i, 60))
    ref = new_index(tmp_path, model, name="ref")
    ref.add_folder(docs)
    ref.run()
    ix = new_index(tmp_path, model)
    ix.add_folder(docs)
    cancel = threading.Event()
    seen = []

    def progress(p):
        seen.append(p.phase)
        if p.phase == "index" and p.files_done >= 8:
            cancel.set()

    s = ix.run(progress=progress, cancel=cancel)
    assert s.cancelled and "scan" in seen and "index" in seen
    st = ix.status()
    assert st.counts["pending"] > 0 and st.run is None and ix.check()["ok"]
    s2 = ix.run()
    assert not s2.cancelled and ix.status().counts["pending"] == 0
    strip = lambda rows: {k: [t for _, t in v] for k, v in rows.items()}  # noqa: E731
    assert strip(chunk_rows(ix)) == strip(chunk_rows(ref))


def test_a_large_file_stopped_part_way_keeps_its_embedded_chunks(tmp_path, model, docs, monkeypatch):
    """Batches are small and span files; the chunks of a file still part-way through are staged, so a
    stop (or kill) mid-file loses one batch, and the resumed run embeds only the rest."""
    from mlx_embed.index import indexer as indexer_module

    (docs / "big.txt").write_text("\n\n".join(prose(1000 + i, 60) for i in range(12)))
    monkeypatch.setattr(indexer_module, "BATCH_MAX", 3)
    ref = new_index(tmp_path, model, name="ref")
    ref.add_folder(docs)
    ref.run()
    ix = new_index(tmp_path, model)
    ix.add_folder(docs)
    cancel, commits = threading.Event(), []
    real_commit = indexer_module.Indexer._commit

    def commit(self, items, staged, stats):
        real_commit(self, items, staged, stats)
        commits.append(([i["path"] for i in items], len(staged)))
        if staged and any(Path(i["path"]).name == "big.txt" for i, _ in staged) and len(commits) > 2:
            cancel.set()  # big.txt is part-way through

    monkeypatch.setattr(indexer_module.Indexer, "_commit", commit)
    assert ix.run(cancel=cancel).cancelled
    assert len(commits) >= 3, "small batches: a commit after each"
    db = ix.store.db
    staged = db.execute("SELECT count(*) FROM staged s JOIN files f ON f.id = s.file_id "
                        "WHERE f.path LIKE '%big.txt'").fetchone()[0]
    assert staged >= 1 and ix.check()["ok"]
    assert db.execute("SELECT status FROM files WHERE path LIKE '%big.txt'").fetchone()[0] == "pending"
    monkeypatch.setattr(indexer_module.Indexer, "_commit", real_commit)
    count = Counting(ix)
    pending_chunks = sum(len(v) for k, v in chunk_rows(ref).items()
                         if k in {Path(r[0]).name for r in db.execute("SELECT path FROM files WHERE status = 'pending'")})
    s = ix.run()
    assert count.n == s.chunks_embedded == pending_chunks - staged, "staged chunks are not embedded again"
    assert db.execute("SELECT count(*) FROM staged").fetchone()[0] == 0 and ix.check()["ok"]
    got = ix.store.db.execute("SELECT f.path, c.text, v.vec FROM files f JOIN chunks c ON c.file_id = f.id "
                              "JOIN vectors v ON v.chunk_id = c.id ORDER BY f.path, c.seq").fetchall()
    want = ref.store.db.execute("SELECT f.path, c.text, v.vec FROM files f JOIN chunks c ON c.file_id = f.id "
                                "JOIN vectors v ON v.chunk_id = c.id ORDER BY f.path, c.seq").fetchall()
    assert [(Path(a).name, t) for a, t, _ in got] == [(Path(a).name, t) for a, t, _ in want]
    np.testing.assert_allclose(np.stack([np.frombuffer(v, np.float16) for *_, v in got]).astype(np.float32),
                               np.stack([np.frombuffer(v, np.float16) for *_, v in want]).astype(np.float32),
                               atol=2e-3)


# --- privacy ------------------------------------------------------------------------------------------
def test_indexing_and_search_open_no_socket(tmp_path, jina_tiny, docs, monkeypatch):
    opened = []

    class NoSocket(socket.socket):
        def __init__(self, *a, **kw):
            opened.append(a)
            raise AssertionError("a network socket was opened")

    def refuse(*a, **kw):
        opened.append(a)
        raise AssertionError("network access")

    monkeypatch.setattr(socket, "socket", NoSocket)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    ix = Index(tmp_path / "ix", model=str(jina_tiny), chunk_tokens=32)   # loads the model here too
    ix.add_folder(docs)
    ix.run()
    assert ix.search("apple river", k=3)
    assert ix.search('"apple"', mode="keyword")
    assert opened == []


# --- storage -------------------------------------------------------------------------------------------
def test_store_location_permissions_and_versions(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MLX_EMBED_DATA_DIR", raising=False)   # the platform's folder (platformdirs: XDG)
    ix = Index()
    assert ix.path == tmp_path / "xdg" / "mlx-embed" / "index.db"
    assert (ix.path.parent.stat().st_mode & 0o777) == 0o700 and (ix.path.stat().st_mode & 0o077) == 0
    assert ix.store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    ix.store.db.execute("PRAGMA user_version = 99")
    ix.close()
    with pytest.raises(IndexFormatError, match="newer mlx-embed"):
        Index()
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(IndexFormatError):
        Index(tmp_path / "junk.db")


# --- CLI -----------------------------------------------------------------------------------------------
def test_cli_end_to_end(tmp_path, jina_tiny, docs, capsys, monkeypatch):
    from mlx_embed.cli import main

    monkeypatch.setenv("MLX_EMBED_INDEX", str(tmp_path / "cli-ix"))
    monkeypatch.delenv("MLX_EMBED_MODEL", raising=False)
    assert main(["index", "status"]) == 1
    assert "No index" in capsys.readouterr().err
    assert main(["index", "add", str(docs), "--model", str(jina_tiny), "--chunk-tokens", "32", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["run"]["indexed"] == 6 and out["counts"]["indexed"] == 6
    (docs / "note0.txt").write_text("the marmalade clause " + prose(9))
    assert main(["index", "update", "--json"]) == 0          # the index's own model, from the index
    assert json.loads(capsys.readouterr().out)["run"]["chunks_embedded"] >= 1
    assert main(["search", "marmalade", "--json", "-k", "2"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["results"][0]["path"] == str(docs / "note0.txt")
    assert "**marmalade**" in res["results"][0]["passages"][0]["marked"]
    assert main(["search", "marmalade"]) == 0
    assert "**marmalade**" in capsys.readouterr().out
    assert main(["index", "status", "--json", "--check"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["check"]["ok"] and st["counts"]["indexed"] == 6 and st["folders"][0]["path"] == str(docs)
    other = model_fixtures.write_jina_v5(tmp_path / "other", seed=3)
    assert main(["search", "marmalade", "--model", str(other)]) == 5
    assert "index rebuild" in capsys.readouterr().err
    assert main(["index", "rebuild", "--model", str(other), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"]["indexed"] == 6
    assert main(["search", "x", "--after", "yesterday-ish"]) == 2
    assert main(["index", "remove", str(docs), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] == {str(docs): 6}
    assert main(["index", "remove", str(docs)]) == 2


def test_watch_picks_up_changes(tmp_path, model, docs):
    from mlx_embed.index.watch import watch

    ix = new_index(tmp_path, model)
    ix.add_folder(docs)
    cancel = threading.Event()
    runs = []
    t = threading.Thread(target=watch, args=(ix,), kwargs=dict(interval=0.2, settle=0.2, cancel=cancel,
                                                                on_run=runs.append, low_priority=False))
    t.start()
    try:
        deadline = time.time() + 60
        while not runs and time.time() < deadline:
            time.sleep(0.05)
        (docs / "later.txt").write_text("a zeppelin appears " + prose(77))
        while time.time() < deadline and not any(r.indexed == 1 for r in runs[1:]):
            time.sleep(0.1)
    finally:
        cancel.set()
        t.join(30)
    assert len(runs) >= 2 and runs[0].indexed == 6 and any(r.indexed == 1 for r in runs[1:])
    assert ix.search("zeppelin", mode="keyword")[0].path.name == "later.txt"


def test_vector_core_paths_agree(monkeypatch):
    """The exact float32 path, the bits-prefilter + float16 path and the binary path (bench/search.py)."""
    from mlx_embed.index.search import vectors as search
    from mlx_embed.index.search.vectors import VectorIndex

    monkeypatch.setattr(search, "COARSE_MIN", 1000)  # exercise the coarse 256-bit pass at 512 bits
    rng = np.random.default_rng(0)
    for dim in (72, 128, 512):  # bit rows of 9 bytes (uint8 columns), 16 and 64 bytes (uint64 columns)
        x = rng.standard_normal((6000, dim)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        exact = VectorIndex(x.astype(np.float16))
        approx = VectorIndex(x.astype(np.float16), exact_bytes=0)
        binary = VectorIndex(np.packbits(x > 0, axis=1), binary=True)
        assert exact.f32 is not None and approx.f16 is not None and binary.cols is not None
        for i in (3, 1234, 5999):
            q = x[i] + 0.05 * rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim)
            want = np.argsort(-(x @ q))[:5]
            assert list(exact.top(q, 5)[0]) == list(want)
            assert approx.top(q, 5)[0][0] == want[0] and binary.top(q, 5)[0][0] == i
            mask = np.ones(len(x), dtype=bool)
            mask[i] = False
            for vi in (exact, approx, binary):
                rows, scores = vi.top(q, 5, mask)
                assert i not in rows and len(rows) == 5 and np.all(np.diff(scores) <= 0)
        assert binary.hamming(x[7])[7] == 0

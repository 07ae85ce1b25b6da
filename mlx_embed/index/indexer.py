"""The indexing run: scan folders into a persistent work queue, then embed the queue file by file.

    Indexer(store, settings, encoder=None).scan(progress, cancel) -> RunStats
    Indexer(...).process(progress, cancel) -> RunStats        (needs an Encoder)

The queue is the files table itself: the scan marks new and changed files `pending` (size + mtime
differ); processing takes pending files in order, hashes each, and
- same hash as before (only touched): marks it indexed again, no embedding;
- same hash as another indexed file (a copy): copies that file's chunks and vectors;
- else extracts, chunks and embeds it, and replaces the file's chunks and vectors in one transaction
  (a crash leaves the old or the new version, never a half; the file stays pending until then).
Chunks go through a rolling queue: model batches span files and last about BATCH_SECONDS, each batch
ends with a commit of the files it completed, and a large file's vectors embedded so far are staged
(by file hash) so that a resumed run reuses them: a kill loses about one batch of model work.
At the end of a complete scan, vanished files whose content (size, then hash) reappears under a new
path are moved (no re-embedding); the rest are deleted. A stopped run resumes from the queue.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .chunk import chunk_text
from .discover import discover
from .extract import ExtractionError, extract
from .store import Store

BATCH_SECONDS = 1.5        # model time per batch of chunks: what a kill can lose, and how often we commit
BATCH_START_CHARS = 2_000  # the first batch (chunk text characters), before this machine's speed is known
BATCH_MAX = 64             # chunks per batch (across file boundaries)
SCAN_COMMIT_EVERY = 500
RUN_REPORT_SECONDS = 1.0


@dataclass
class Progress:
    phase: str                      # "scan", "index" or "done"
    files_done: int = 0
    files_total: int = 0
    chunks_done: int = 0
    failed: int = 0
    current: str | None = None
    eta_seconds: float | None = None


@dataclass
class RunStats:
    scanned: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    moved: int = 0
    copied: int = 0
    touched: int = 0                # mtime changed, content did not: no re-embedding
    indexed: int = 0
    failed: int = 0
    skipped: int = 0
    chunks_embedded: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=lambda: {
        "scan": 0.0, "hash": 0.0, "extract": 0.0, "chunk": 0.0, "tokenise": 0.0, "model": 0.0, "store": 0.0})

    def merge(self, other: "RunStats") -> "RunStats":
        for k, v in asdict(other).items():
            if k == "timings":
                for t, s in v.items():
                    self.timings[t] = self.timings.get(t, 0.0) + s
            elif k == "cancelled":
                self.cancelled = self.cancelled or v
            else:
                setattr(self, k, getattr(self, k) + v)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Settings:
    chunk_tokens: int = 256
    overlap: int = 32
    vector_dim: int | None = None    # Matryoshka dimension (None: the model's)
    binary: bool = False             # store sign bits only (32x smaller, approximate)
    max_size: int | None = 50 * 1024 * 1024
    include_hidden: bool = False
    excludes: list[str] = field(default_factory=list)


DISCOVERY_REASONS = ("too large", "binary file", "broken symlink", "unsupported type", "link to a file",
                     "not a regular file")
UNREADABLE_REASONS = ("permission denied", "not found", "symlink loop", "cannot read")


def _discovery_reason(reason: str | None) -> bool:
    """A skip reason the scan decided (so the scan clears it when it no longer applies)."""
    return bool(reason) and reason.startswith(DISCOVERY_REASONS)


def scan_status(cand) -> str:
    """failed: it could not be read; skipped: it is deliberately not embedded (the reason says why)."""
    if cand.is_dir or (cand.skip and cand.skip.startswith(UNREADABLE_REASONS)):
        return "failed"
    return "skipped" if cand.skip else "pending"


def file_hash(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def encode_vectors(vectors: np.ndarray, binary: bool) -> list[bytes]:
    if binary:
        return [row.tobytes() for row in np.packbits(vectors > 0, axis=1)]
    return [row.tobytes() for row in vectors.astype(np.float16)]


def lower_priority(whole_process: bool = False) -> None:
    """Run at background priority: this thread (the app's worker) or the whole process (the CLI)."""
    try:
        if sys.platform.startswith("linux"):
            tids = [int(t) for t in os.listdir("/proc/self/task")] if whole_process else [threading.get_native_id()]
            for tid in tids:
                try:
                    os.setpriority(os.PRIO_PROCESS, tid, max(10, os.getpriority(os.PRIO_PROCESS, tid)))
                except OSError:
                    pass
        elif sys.platform == "darwin" and not whole_process:
            import ctypes

            libc = ctypes.CDLL("/usr/lib/libSystem.dylib")
            libc.pthread_set_qos_class_self_np(0x11, 0)  # QOS_CLASS_UTILITY
        else:
            os.nice(10)
    except (OSError, AttributeError):
        pass


class Indexer:
    def __init__(self, store: Store, settings: Settings, encoder=None):
        self.store = store
        self.settings = settings
        self.encoder = encoder
        self._last_report = 0.0

    # --- scan -----------------------------------------------------------------------------------
    def scan(self, progress: Callable[[Progress], None] | None = None,
             cancel: threading.Event | None = None) -> RunStats:
        stats = RunStats()
        t0 = time.perf_counter()
        db = self.store.db
        folders = db.execute("SELECT id, path, excludes FROM folders ORDER BY length(path) DESC").fetchall()
        import json

        for folder in folders:
            if cancel is not None and cancel.is_set():
                stats.cancelled = True
                break
            known = {r["path"]: r for r in db.execute(
                "SELECT id, path, size, mtime_ns, status, reason, is_dir, hash, chunks FROM files WHERE folder_id = ?",
                (folder["id"],))}
            # a file under a nested registered folder belongs to the innermost one (scanned first)
            others = {r[0] for r in db.execute("SELECT path FROM files WHERE folder_id != ?", (folder["id"],))}
            seen: set[str] = set()
            error_dirs: list[str] = []
            new_ids: list[int] = []
            ignored = 0
            pending_writes = 0
            self.store.db.execute("BEGIN IMMEDIATE")
            try:
                excludes = self.settings.excludes + json.loads(folder["excludes"])
                for cand in discover([folder["path"]], excludes, self.settings.max_size, self.settings.include_hidden,
                                     report_all=True):
                    if cancel is not None and cancel.is_set():
                        stats.cancelled = True
                        break
                    if cand.ignored:
                        ignored += 1
                        continue
                    path = str(cand.path)
                    if path in others:
                        continue
                    seen.add(path)
                    stats.scanned += 0 if cand.is_dir else 1
                    if cand.is_dir:
                        error_dirs.append(path)
                    row = known.get(path)
                    status = scan_status(cand)
                    if row is None:
                        cur = db.execute(
                            "INSERT INTO files(path, folder_id, kind, size, mtime_ns, status, reason, is_dir) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (path, folder["id"], cand.kind, cand.size, cand.mtime_ns, status, cand.skip, int(cand.is_dir)))
                        if status == "pending":
                            new_ids.append(cur.lastrowid)
                            stats.new += 1
                        elif status == "skipped":
                            stats.skipped += 1
                        elif not cand.is_dir:
                            stats.failed += 1
                        pending_writes += 1
                    elif cand.is_dir:
                        if row["reason"] != cand.skip:
                            db.execute("UPDATE files SET reason = ? WHERE id = ?", (cand.skip, row["id"]))
                    elif row["size"] != cand.size or row["mtime_ns"] != cand.mtime_ns or (
                            cand.skip and (row["status"] != status or row["reason"] != cand.skip)) or (
                            not cand.skip and row["status"] == "skipped" and _discovery_reason(row["reason"])):
                        db.execute("UPDATE files SET size = ?, mtime_ns = ?, kind = ?, status = ?, reason = ? "
                                   "WHERE id = ?", (cand.size, cand.mtime_ns, cand.kind, status, cand.skip, row["id"]))
                        if cand.skip and row["chunks"]:
                            db.execute("DELETE FROM chunks WHERE file_id = ?", (row["id"],))
                            db.execute("UPDATE files SET chunks = 0, hash = NULL, indexed_at = NULL WHERE id = ?",
                                       (row["id"],))
                            self.store.bump(deleted=row["chunks"])
                        stats.changed += 1
                        stats.skipped += status == "skipped"
                        stats.failed += status == "failed"
                        pending_writes += 1
                    else:
                        stats.unchanged += 1
                    if pending_writes >= SCAN_COMMIT_EVERY:
                        db.execute("COMMIT")
                        db.execute("BEGIN IMMEDIATE")
                        pending_writes = 0
                    if progress and stats.scanned % 200 == 1:
                        progress(Progress("scan", stats.scanned, 0, current=path))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            if stats.cancelled:
                break
            db.execute("UPDATE folders SET ignored = ? WHERE id = ?", (ignored, folder["id"]))
            self._finish_folder(folder["id"], known, seen, error_dirs, new_ids, stats)
        stats.timings["scan"] = time.perf_counter() - t0
        stats.seconds = stats.timings["scan"]
        return stats

    def _finish_folder(self, folder_id: int, known: dict, seen: set[str], error_dirs: list[str],
                       new_ids: list[int], stats: RunStats) -> None:
        """After a complete scan: match vanished files to new ones by content (moves), delete the rest."""
        prefixes = tuple(d.rstrip(os.sep) + os.sep for d in error_dirs)
        vanished = [r for p, r in known.items() if p not in seen and not (prefixes and p.startswith(prefixes))]
        if not vanished:
            with self.store.write() as db:
                db.execute("UPDATE folders SET scanned = ? WHERE id = ?", (time.time(), folder_id))
            return
        by_size: dict[int, list] = {}
        for r in vanished:
            if r["status"] == "indexed" and r["hash"]:
                by_size.setdefault(r["size"], []).append(r)
        moved_ids: set[int] = set()
        db = self.store.db
        with self.store.write():
            if by_size and new_ids:
                for start in range(0, len(new_ids), 500):
                    ids = new_ids[start:start + 500]
                    rows = db.execute(f"SELECT id, path, size, mtime_ns FROM files WHERE id IN ({','.join('?' * len(ids))})",
                                      ids).fetchall()
                    for new in rows:
                        matches = [r for r in by_size.get(new["size"], []) if r["id"] not in moved_ids]
                        if not matches:
                            continue
                        try:
                            digest = file_hash(Path(new["path"]))
                        except OSError:
                            continue
                        old = next((r for r in matches if r["hash"] == digest), None)
                        if old is None:
                            continue
                        db.execute("DELETE FROM files WHERE id = ?", (new["id"],))
                        db.execute("UPDATE files SET path = ?, mtime_ns = ? WHERE id = ?",
                                   (new["path"], new["mtime_ns"], old["id"]))
                        moved_ids.add(old["id"])
                        stats.moved += 1
                        stats.new -= 1
            gone = [r for r in vanished if r["id"] not in moved_ids]
            for start in range(0, len(gone), 500):
                ids = [r["id"] for r in gone[start:start + 500]]
                db.execute(f"DELETE FROM files WHERE id IN ({','.join('?' * len(ids))})", ids)
            stats.deleted += sum(1 for r in gone if not r["is_dir"])
            db.execute("UPDATE folders SET scanned = ? WHERE id = ?", (time.time(), folder_id))
            self.store.bump(deleted=sum(r["chunks"] for r in gone))

    # --- process the queue ------------------------------------------------------------------------
    def process(self, progress: Callable[[Progress], None] | None = None,
                cancel: threading.Event | None = None) -> RunStats:
        """Embed the pending files through a rolling queue of chunks.

        Model batches span file boundaries (small files share a batch) and are sized to about
        BATCH_SECONDS of model time; after every batch the files it completed are committed, and the
        vectors of a file still part-way through are staged, so a kill loses about one batch of work.
        """
        if self.encoder is None:
            raise RuntimeError("Indexer.process needs an encoder")
        stats = RunStats()
        t_start = time.perf_counter()
        enc_t0 = dict(self.encoder.timings)
        db = self.store.db
        queue = [r[0] for r in db.execute("SELECT id FROM files WHERE status = 'pending' ORDER BY id")]
        total = len(queue)
        todo: deque[tuple[dict, int]] = deque()   # (file work, chunk seq) not yet embedded
        todo_chars = 0
        done_items: list[dict] = []               # every chunk embedded, not yet committed
        staged: list[tuple[dict, int]] = []       # embedded chunks of files still part-way through
        budget = float(BATCH_START_CHARS)         # characters of chunk text per batch, from measured speed
        done = 0
        files = iter(queue)
        exhausted = False
        last_commit = time.monotonic()
        while True:
            while not exhausted and todo_chars < budget:
                if cancel is not None and cancel.is_set():
                    stats.cancelled = True
                    break
                file_id = next(files, None)
                if file_id is None:
                    exhausted = True
                    break
                row = db.execute("SELECT * FROM files WHERE id = ? AND status = 'pending'", (file_id,)).fetchone()
                if row is None:
                    continue
                done += 1
                item = self._prepare(row, stats)
                if item is not None:
                    missing = [seq for seq, v in enumerate(item["vectors"]) if v is None]
                    todo.extend((item, seq) for seq in missing)
                    todo_chars += sum(len(item["chunks"][seq].text) for seq in missing)
                    item["left"] = len(missing)
                    if not missing:
                        done_items.append(item)
                self._report(progress, Progress("index", done, total, stats.chunks_embedded, stats.failed,
                                                row["path"], self._eta(t_start, done, total)))
                if done_items and time.monotonic() - last_commit > BATCH_SECONDS:
                    self._commit(done_items, [], stats)  # files with no new chunks to embed (resumed, empty)
                    done_items, last_commit = [], time.monotonic()
            if stats.cancelled or (not todo and exhausted):
                break
            take, chars = [], 0
            while todo and len(take) < BATCH_MAX and (not take or chars + len(todo[0][0]["chunks"][todo[0][1]].text)
                                                         <= budget):
                take.append(todo.popleft())
                chars += len(take[-1][0]["chunks"][take[-1][1]].text)
            todo_chars -= chars
            t = time.perf_counter()
            vectors = self.encoder.documents([item["chunks"][seq].text for item, seq in take], cancel)
            if vectors is None:
                stats.cancelled = True
                break
            elapsed = time.perf_counter() - t
            # the next batch: about BATCH_SECONDS of model time at the speed just measured (the machine's
            # load changes, so keep measuring), growing at most 2x a step so one fast batch cannot
            # make the next one long
            budget = min(2 * max(budget, chars), max(1.0, chars * BATCH_SECONDS / max(elapsed, 1e-3)))
            stats.chunks_embedded += len(take)
            for (item, seq), vec in zip(take, vectors):
                item["vectors"][seq] = vec
                item["left"] -= 1
                if item["left"] == 0:
                    done_items.append(item)
                else:
                    staged.append((item, seq))
            staged = [(item, seq) for item, seq in staged if item["left"] > 0]
            self._commit(done_items, staged, stats)
            done_items, staged, last_commit = [], [], time.monotonic()
        if done_items and not stats.cancelled:
            self._commit(done_items, [], stats)
        if not stats.cancelled:
            with self.store.write() as w:  # staged vectors of files that are no longer pending are stale
                w.execute("DELETE FROM staged WHERE file_id NOT IN (SELECT id FROM files WHERE status = 'pending')")
        for key in ("tokenise", "model"):
            stats.timings[key] += self.encoder.timings[key] - enc_t0[key]
        stats.seconds = time.perf_counter() - t_start
        if progress:
            progress(Progress("done", done, total, stats.chunks_embedded, stats.failed, None, 0.0))
        return stats

    def _eta(self, t_start: float, done: int, total: int) -> float | None:
        elapsed = time.perf_counter() - t_start
        return elapsed / done * (total - done) if done and elapsed > 1 else None

    def _report(self, progress, p: Progress) -> None:
        if progress:
            progress(p)
        now = time.monotonic()
        if now - self._last_report > RUN_REPORT_SECONDS:
            self._last_report = now
            self.store.set("run", {"pid": os.getpid(), "phase": p.phase, "done": p.files_done, "total": p.files_total,
                                   "eta_seconds": p.eta_seconds, "updated": time.time()})

    def _prepare(self, row, stats: RunStats) -> dict | None:
        """Hash and read one pending file; return the work to embed, or None if handled here."""
        path = Path(row["path"])
        t = time.perf_counter()
        try:
            st = path.stat()
            digest = file_hash(path)
        except FileNotFoundError:
            self._fail(row["id"], "file disappeared while being read", stats)
            return None
        except PermissionError:
            self._fail(row["id"], "permission denied", stats)
            return None
        except OSError as exc:
            self._fail(row["id"], f"read error: {exc.strerror or exc}", stats)
            return None
        finally:
            stats.timings["hash"] += time.perf_counter() - t
        if row["hash"] == digest and row["indexed_at"] is not None and row["reason"] is None:
            with self.store.write() as db:  # touched, not changed
                db.execute("UPDATE files SET status = 'indexed', size = ?, mtime_ns = ? WHERE id = ?",
                           (st.st_size, st.st_mtime_ns, row["id"]))
            stats.touched += 1
            return None
        twin = self.store.db.execute(
            "SELECT id FROM files WHERE hash = ? AND status = 'indexed' AND chunks > 0 AND id != ? LIMIT 1",
            (digest, row["id"])).fetchone()
        if twin is not None:
            self._copy(row["id"], twin["id"], digest, st, stats)
            return None
        t = time.perf_counter()
        try:
            ex = extract(path, self.settings.max_size)
        except ExtractionError as exc:
            stats.timings["extract"] += time.perf_counter() - t
            self._fail(row["id"], exc.reason, stats, skipped=exc.reason.startswith(("too large", "binary", "unsupported")))
            return None
        t2 = time.perf_counter()
        chunks = chunk_text(ex.text, self.encoder.model.tokenizer, self.encoder.max_chunk_tokens,
                            self.settings.overlap, ex.pages) if ex.text.strip() else []
        stats.timings["extract"] += t2 - t
        stats.timings["chunk"] += time.perf_counter() - t2
        vectors: list[np.ndarray | None] = [None] * len(chunks)
        for seq, blob in self.store.db.execute("SELECT seq, vec FROM staged WHERE file_id = ? AND hash = ?",
                                               (row["id"], digest)):
            if seq < len(vectors):  # embedded by a run that was stopped part-way through this file
                vectors[seq] = np.frombuffer(blob, dtype=np.float32)
        return {"id": row["id"], "path": row["path"], "hash": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                "kind": ex.kind, "chunks": chunks, "vectors": vectors, "empty": not ex.text.strip()}

    def _fail(self, file_id: int, reason: str, stats: RunStats, skipped: bool = False) -> None:
        """Record why a file is not indexed; its old chunks (now stale) go."""
        with self.store.write() as db:
            n = db.execute("SELECT chunks FROM files WHERE id = ?", (file_id,)).fetchone()
            db.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
            db.execute("UPDATE files SET status = ?, reason = ?, chunks = 0, hash = NULL, indexed_at = NULL "
                       "WHERE id = ?", ("skipped" if skipped else "failed", reason, file_id))
            if n and n[0]:
                self.store.bump(deleted=n[0])
        if skipped:
            stats.skipped += 1
        else:
            stats.failed += 1

    def _copy(self, file_id: int, twin_id: int, digest: str, st: os.stat_result, stats: RunStats) -> None:
        t = time.perf_counter()
        with self.store.write() as db:
            old = db.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,)).rowcount
            rows = db.execute('SELECT c.seq, c.start, c."end", c.page, c.text, v.vec FROM chunks c '
                              "JOIN vectors v ON v.chunk_id = c.id WHERE c.file_id = ? ORDER BY c.seq", (twin_id,)).fetchall()
            for r in rows:
                cid = db.execute('INSERT INTO chunks(file_id, seq, start, "end", page, text) VALUES (?, ?, ?, ?, ?, ?)',
                                 (file_id, r[0], r[1], r[2], r[3], r[4])).lastrowid
                db.execute("INSERT INTO vectors(chunk_id, file_id, vec) VALUES (?, ?, ?)", (cid, file_id, r[5]))
            db.execute("UPDATE files SET status = 'indexed', reason = NULL, hash = ?, size = ?, mtime_ns = ?, "
                       "chunks = ?, indexed_at = ? WHERE id = ?",
                       (digest, st.st_size, st.st_mtime_ns, len(rows), time.time(), file_id))
            self.store.bump(deleted=old)
        stats.copied += 1
        stats.timings["store"] += time.perf_counter() - t

    def _commit(self, items: list[dict], staged: list[tuple[dict, int]], stats: RunStats) -> None:
        """One transaction: completed files replace their chunks and vectors; part-done ones stage theirs."""
        if not items and not staged:
            return
        vectors = [v for item in items for v in item["vectors"]]
        blobs = encode_vectors(np.stack(vectors), self.settings.binary) if vectors else []
        t = time.perf_counter()
        i = 0
        with self.store.write() as db:
            deleted = 0
            for item in items:
                fid = item["id"]
                deleted += db.execute("DELETE FROM chunks WHERE file_id = ?", (fid,)).rowcount
                db.execute("DELETE FROM staged WHERE file_id = ?", (fid,))
                for seq, c in enumerate(item["chunks"]):
                    cid = db.execute('INSERT INTO chunks(file_id, seq, start, "end", page, text) VALUES (?, ?, ?, ?, ?, ?)',
                                     (fid, seq, c.start, c.end, c.page, c.text)).lastrowid
                    db.execute("INSERT INTO vectors(chunk_id, file_id, vec) VALUES (?, ?, ?)", (cid, fid, blobs[i]))
                    i += 1
                status, reason = ("skipped", "empty: no text") if item["empty"] else ("indexed", None)
                db.execute("UPDATE files SET status = ?, reason = ?, kind = ?, hash = ?, size = ?, mtime_ns = ?, "
                           "chunks = ?, indexed_at = ? WHERE id = ?",
                           (status, reason, item["kind"], item["hash"], item["size"], item["mtime_ns"],
                            len(item["chunks"]), time.time(), fid))
                if item["empty"]:
                    stats.skipped += 1
                else:
                    stats.indexed += 1
            for item, seq in staged:
                db.execute("INSERT OR REPLACE INTO staged(file_id, hash, seq, vec) VALUES (?, ?, ?, ?)",
                           (item["id"], item["hash"], seq, item["vectors"][seq].astype(np.float32).tobytes()))
            if items:
                self.store.bump(deleted=deleted)
        stats.timings["store"] += time.perf_counter() - t

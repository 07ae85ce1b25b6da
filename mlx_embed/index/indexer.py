"""The indexing run: scan folders into a persistent work queue, then embed the queue file by file.

    Indexer(store, settings, encoder=None).scan(progress, cancel) -> RunStats
    Indexer(...).process(progress, cancel) -> RunStats        (needs a ChunkEncoder)
    RunProgress (what a run reports as it goes), RunStats (what it did), Settings (an index's settings),
    lower_priority (background CPU priority for a run)

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

from . import ocr
from .ocr.cache import for_index as ocr_cache_for
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
class RunProgress:
    phase: str                      # "scan", "index" or "done"
    files_done: int = 0
    files_total: int = 0
    chunks_done: int = 0
    failed: int = 0
    current: str | None = None
    eta_seconds: float | None = None
    detail: str | None = None       # what the current file is at, when it takes long ("OCR page 12 of 80")


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
    chunks_embedded: int = 0         # run through the model by this run
    chunks_reused: int = 0           # vectors without the model: copied from an identical file, or staged
    cancelled: bool = False
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=lambda: {
        "scan": 0.0, "hash": 0.0, "extract": 0.0, "chunk": 0.0, "tokenise": 0.0, "model": 0.0, "store": 0.0,
        "ocr": 0.0})                # recognition time (not counted in "extract", which holds the rest)

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
                     "not a regular file", "OCR not installed")
# reasons that only say OCR was missing: once it is installed the scan queues these files again (their
# size and mtime did not change, so nothing else would); the bare "no text layer" is an index's from
# before OCR (with OCR, a PDF with nothing to read is "no text found")
WAITS_FOR_OCR = ("OCR not installed", "no text layer: scanned, needs OCR")
SKIP_REASONS = ("too large", "binary", "unsupported", "OCR not installed", "no text layer: scanned, needs OCR (")
UNREADABLE_REASONS = ("permission denied", "not found", "symlink loop", "cannot read")


def _discovery_reason(reason: str | None) -> bool:
    """A skip reason the scan decided (so the scan clears it when it no longer applies)."""
    return bool(reason) and reason.startswith(DISCOVERY_REASONS)


def _waits_for_ocr(row, ocr_ready: bool) -> bool:
    """A file skipped or failed only for want of OCR, now that OCR is installed."""
    return ocr_ready and row["status"] in ("skipped", "failed") and (row["reason"] or "").startswith(WAITS_FOR_OCR)


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
        store = self.store
        ocr_ready = ocr.installed()  # once per scan: a file lookup, not an engine load
        for folder_id, folder_path, folder_excludes in store.scan_folders():
            if cancel is not None and cancel.is_set():
                stats.cancelled = True
                break
            known = store.folder_entries(folder_id)
            # a file under a nested registered folder belongs to the innermost one (scanned first)
            others = store.paths_elsewhere(folder_id)
            seen: set[str] = set()
            error_dirs: list[str] = []
            new_ids: list[int] = []
            ignored = 0
            pending_writes = 0
            with store.write():
                excludes = self.settings.excludes + folder_excludes
                for cand in discover([folder_path], excludes, self.settings.max_size, self.settings.include_hidden,
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
                        file_id = store.add_entry(path, folder_id, cand.kind, cand.size, cand.mtime_ns, status,
                                                  cand.skip, cand.is_dir)
                        if status == "pending":
                            new_ids.append(file_id)
                            stats.new += 1
                        elif status == "skipped":
                            stats.skipped += 1
                        elif not cand.is_dir:
                            stats.failed += 1
                        pending_writes += 1
                    elif cand.is_dir:
                        if row["reason"] != cand.skip:
                            store.set_reason(row["id"], cand.skip)
                    elif row["size"] != cand.size or row["mtime_ns"] != cand.mtime_ns or (
                            cand.skip and (row["status"] != status or row["reason"] != cand.skip)) or (
                            not cand.skip and row["status"] == "skipped" and _discovery_reason(row["reason"])) or (
                            not cand.skip and _waits_for_ocr(row, ocr_ready)):
                        store.update_entry(row["id"], cand.size, cand.mtime_ns, cand.kind, status, cand.skip)
                        if cand.skip and row["chunks"]:
                            store.drop_chunks(row["id"], row["chunks"])
                        stats.changed += 1
                        stats.skipped += status == "skipped"
                        stats.failed += status == "failed"
                        pending_writes += 1
                    else:
                        stats.unchanged += 1
                    if pending_writes >= SCAN_COMMIT_EVERY:
                        store.checkpoint()
                        pending_writes = 0
                    if progress and stats.scanned % 200 == 1:
                        progress(RunProgress("scan", stats.scanned, 0, current=path))
            if stats.cancelled:
                break
            store.set_folder_ignored(folder_id, ignored)
            self._finish_folder(folder_id, known, seen, error_dirs, new_ids, stats)
        stats.timings["scan"] = time.perf_counter() - t0
        stats.seconds = stats.timings["scan"]
        return stats

    def _finish_folder(self, folder_id: int, known: dict, seen: set[str], error_dirs: list[str],
                       new_ids: list[int], stats: RunStats) -> None:
        """After a complete scan: match vanished files to new ones by content (moves), delete the rest."""
        prefixes = tuple(d.rstrip(os.sep) + os.sep for d in error_dirs)
        vanished = [r for p, r in known.items() if p not in seen and not (prefixes and p.startswith(prefixes))]
        if not vanished:
            self.store.set_folder_scanned(folder_id)
            return
        by_size: dict[int, list] = {}
        for r in vanished:
            if r["status"] == "indexed" and r["hash"]:
                by_size.setdefault(r["size"], []).append(r)
        moved_ids: set[int] = set()
        store = self.store
        with store.write():
            if by_size and new_ids:
                for new in store.entries(new_ids):
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
                    store.move_entry(old["id"], new["id"], new["path"], new["mtime_ns"])
                    moved_ids.add(old["id"])
                    stats.moved += 1
                    stats.new -= 1
            gone = [r for r in vanished if r["id"] not in moved_ids]
            store.delete_entries([r["id"] for r in gone])
            stats.deleted += sum(1 for r in gone if not r["is_dir"])
            store.set_folder_scanned(folder_id)
            store.bump(deleted=sum(r["chunks"] for r in gone))

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
        queue = self.store.pending_ids()
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
                row = self.store.pending_entry(file_id)
                if row is None:
                    continue
                done += 1
                pages = self._page_reporter(progress, done, total, stats, row["path"], t_start)
                item = self._prepare(row, stats, pages, cancel)
                if item is not None:
                    missing = [seq for seq, v in enumerate(item["vectors"]) if v is None]
                    todo.extend((item, seq) for seq in missing)
                    todo_chars += sum(len(item["chunks"][seq].text) for seq in missing)
                    item["left"] = len(missing)
                    if not missing:
                        done_items.append(item)
                self._report(progress, RunProgress("index", done, total, stats.chunks_embedded, stats.failed,
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
            self._report(progress, RunProgress("index", done, total, stats.chunks_embedded, stats.failed,
                                               None, self._eta(t_start, done, total)))   # chunks move on
        if done_items and not stats.cancelled:
            self._commit(done_items, [], stats)
        if not stats.cancelled:
            self.store.drop_stale_staged()
        for key in ("tokenise", "model"):
            stats.timings[key] += self.encoder.timings[key] - enc_t0[key]
        stats.seconds = time.perf_counter() - t_start
        if progress:
            progress(RunProgress("done", done, total, stats.chunks_embedded, stats.failed, None, 0.0))
        return stats

    def _eta(self, t_start: float, done: int, total: int) -> float | None:
        elapsed = time.perf_counter() - t_start
        return elapsed / done * (total - done) if done and elapsed > 1 else None

    def _report(self, progress, p: RunProgress) -> None:
        if progress:
            progress(p)
        now = time.monotonic()
        if now - self._last_report > RUN_REPORT_SECONDS:
            self._last_report = now
            self.store.set("run", {"pid": os.getpid(), "phase": p.phase, "done": p.files_done, "total": p.files_total,
                                   "eta_seconds": p.eta_seconds, "updated": time.time()})

    def _page_reporter(self, progress, done: int, total: int, stats: RunStats, path: str, t_start: float):
        """progress(done, total) for the OCR of a scanned PDF's pages: "OCR page 12 of 80" on this file."""
        def report(page: int, of: int) -> None:
            self._report(progress, RunProgress("index", done, total, stats.chunks_embedded, stats.failed, path,
                                               self._eta(t_start, done, total), f"OCR page {page} of {of}"))
        return report

    def _prepare(self, row, stats: RunStats, ocr_progress: Callable[[int, int], None] | None = None,
                 cancel: threading.Event | None = None) -> dict | None:
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
            self.store.mark_unchanged(row["id"], st.st_size, st.st_mtime_ns)  # touched, not changed
            stats.touched += 1
            return None
        twin = self.store.twin(digest, row["id"])
        if twin is not None:
            self._copy(row["id"], twin, digest, st, stats)
            return None
        t, ocr_t = time.perf_counter(), ocr.seconds()
        try:
            ex = extract(path, self.settings.max_size, ocr_cache=ocr_cache_for(self.store.path), progress=ocr_progress,
                         cancel=cancel.is_set if cancel is not None else None)
        except ExtractionError as exc:
            self._time_extract(stats, t, ocr_t)
            self._fail(row["id"], exc.reason, stats, skipped=exc.reason.startswith(SKIP_REASONS))
            return None
        self._time_extract(stats, t, ocr_t)
        if cancel is not None and cancel.is_set():
            return None  # OCR may have stopped part-way through a scan: the file stays pending for the next run
        if ex.note and not ex.text.strip():  # an image without text, an icon: "no text found", not a failure
            self._fail(row["id"], ex.note, stats, skipped=True)
            return None
        t2 = time.perf_counter()
        chunks = chunk_text(ex.text, self.encoder.model.tokenizer, self.encoder.max_chunk_tokens,
                            self.settings.overlap, ex.pages) if ex.text.strip() else []
        stats.timings["chunk"] += time.perf_counter() - t2
        vectors: list[np.ndarray | None] = [None] * len(chunks)
        for seq, vec in self.store.staged_vectors(row["id"], digest):
            if seq < len(vectors):  # embedded by a run that was stopped part-way through this file
                vectors[seq] = vec
                stats.chunks_reused += 1
        return {"id": row["id"], "path": row["path"], "hash": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                "kind": ex.kind, "chunks": chunks, "vectors": vectors, "empty": not ex.text.strip()}

    @staticmethod
    def _time_extract(stats: RunStats, t: float, ocr_t: float) -> None:
        ocr_s = ocr.seconds() - ocr_t
        stats.timings["ocr"] += ocr_s
        stats.timings["extract"] += time.perf_counter() - t - ocr_s

    def _fail(self, file_id: int, reason: str, stats: RunStats, skipped: bool = False) -> None:
        """Record why a file is not indexed; its old chunks (now stale) go."""
        self.store.set_not_indexed(file_id, "skipped" if skipped else "failed", reason)
        if skipped:
            stats.skipped += 1
        else:
            stats.failed += 1

    def _copy(self, file_id: int, twin_id: int, digest: str, st: os.stat_result, stats: RunStats) -> None:
        t = time.perf_counter()
        stats.chunks_reused += self.store.copy_file(file_id, twin_id, digest, st.st_size, st.st_mtime_ns)
        stats.copied += 1
        stats.timings["store"] += time.perf_counter() - t

    def _commit(self, items: list[dict], staged: list[tuple[dict, int]], stats: RunStats) -> None:
        """One transaction: completed files replace their chunks and vectors; part-done ones stage theirs."""
        if not items and not staged:
            return
        t = time.perf_counter()
        self.store.commit_files(items, staged, self.settings.binary)
        for item in items:
            if item["empty"]:
                stats.skipped += 1
            else:
                stats.indexed += 1
        stats.timings["store"] += time.perf_counter() - t

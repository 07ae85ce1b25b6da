"""The request scheduler (dynamic batching): concurrent requests share one model worker thread.

Requests arrive as token ids. The worker takes the oldest job and, while other requests are still on
their way in (announced, being tokenised), waits up to a short window for them (or until the token budget
is full); a lone client never waits. Then it runs every queued job of the same task through one
`embed_token_ids` call, which sorts by length and pads under the budget. One thread owns the model
(its encode is serial anyway); a bounded queue refuses new work (429) instead of growing; the MLX
buffer cache is cleared between batches once it grows past a limit, so memory stays flat.

Fairness: a request larger than one batch is cut into slices of the token budget; after each slice the
rest of it goes to the back of the queue, and a batch that holds another request takes no slice of it,
so a small request that arrives meanwhile waits only for the slice in progress. Slices are also cut to
about SLICE_SECONDS of model time at the speed measured so far (a slow machine gets smaller slices).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import mlx.core as mx
import numpy as np

if TYPE_CHECKING:
    from ..encoder.model import EmbeddingModel


SLICE_SECONDS = 0.5   # model time of one slice of a request too large for one batch
SLICE_MIN_TOKENS = 512


class QueueFullError(Exception):
    """The queue holds `max_queue` jobs already: the client should retry later (HTTP 429)."""


class SchedulerClosedError(Exception):
    """The server is shutting down (HTTP 503)."""


@dataclass
class _Job:
    ids: Sequence[Sequence[int]]
    task: str | None
    tokens: int
    future: Future = field(default_factory=Future)
    enqueued: float = field(default_factory=time.monotonic)
    next: int = 0                                           # first sequence not yet taken
    parts: list = field(default_factory=list)               # vectors of the slices done, in order
    started: bool = False
    failed: bool = False

    def left(self) -> int:
        return sum(len(s) for s in self.ids[self.next:])


class Scheduler:
    def __init__(self, model: "EmbeddingModel", *, window_ms: float = 2.0, batch_tokens: int = 8192,
                 batch_size: int = 64, max_queue: int = 256, cache_limit_bytes: int = 256 << 20):
        self.model = model
        self.window = window_ms / 1000
        self.batch_tokens = batch_tokens
        self.batch_size = batch_size
        self.max_queue = max_queue
        self.cache_limit_bytes = cache_limit_bytes
        self._queue: deque[_Job] = deque()
        self._queued_tokens = 0
        self._incoming = 0  # requests announced but not yet submitted
        self._cond = threading.Condition()
        self._closed = False
        self._busy = False
        self._thread: threading.Thread | None = None
        self._tokens_per_s: float | None = None   # measured model speed: sizes the slices of a large request
        self.stats = {"requests": 0, "batches": 0, "inputs": 0, "tokens": 0, "largest_batch": 0,
                      "rejected": 0, "cache_clears": 0}

    # --- the request side ------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mlx-embed-scheduler", daemon=True)
            self._thread.start()

    def announce(self) -> None:
        """A request is on its way (parsing, tokenising): the worker may wait for it to batch it."""
        with self._cond:
            self._incoming += 1

    def withdraw(self) -> None:
        """An announced request will not be submitted after all (it was invalid)."""
        with self._cond:
            self._incoming -= 1
            self._cond.notify_all()

    def submit(self, ids: Sequence[Sequence[int]], task: str | None, announced: bool = False) -> Future:
        """Queue token ids for `task`; the future gets the pooled, unnormalised (n, d) float32 vectors."""
        job = _Job(ids, task, sum(len(s) for s in ids))
        with self._cond:
            self._incoming -= announced
            if self._closed:
                raise SchedulerClosedError("the server is shutting down")
            if len(self._queue) >= self.max_queue:
                self.stats["rejected"] += 1
                raise QueueFullError(f"{len(self._queue)} requests are already waiting")
            self._queue.append(job)
            self._queued_tokens += job.tokens
            self._cond.notify_all()
        return job.future

    async def embed(self, ids: Sequence[Sequence[int]], task: str | None, announced: bool = False) -> np.ndarray:
        future = self.submit(ids, task, announced)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()  # the client went away: a job still queued is skipped
            raise

    @property
    def pending(self) -> int:
        return len(self._queue)

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._closed

    def close(self, timeout: float = 10.0) -> None:
        """Finish the batch in progress, fail the queued jobs (503), stop the worker."""
        with self._cond:
            self._closed = True
            dropped, self._queue = list(self._queue), deque()
            self._queued_tokens = 0
            self._cond.notify_all()
        for job in dropped:
            if job.started and not job.failed or not job.started and job.future.set_running_or_notify_cancel():
                job.future.set_exception(SchedulerClosedError("the server is shutting down"))
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the worker --------------------------------------------------------------------------
    def _run(self) -> None:
        while (jobs := self._take()) is not None:
            self._process(jobs)

    def _take(self) -> list[_Job] | None:
        with self._cond:
            self._busy = False
            while not self._queue and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            deadline = self._queue[0].enqueued + self.window
            while not self._closed and self._incoming > 0 and self._queued_tokens < self.batch_tokens:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._closed:
                return None
            # The oldest job's task, in arrival order, up to the token budget (at least one sequence goes).
            # A job cut part-way (too big for what is left of the budget) waits at the back for its next slice.
            task, chosen, rest, tail, tokens = self._queue[0].task, [], deque(), [], 0
            for job in self._queue:
                if job.failed:          # cancelled by its client: the rest of it is dropped
                    self._queued_tokens -= job.left()
                    continue
                if job.task != task or (chosen and (tokens >= self.batch_tokens or job.next > 0)):
                    rest.append(job)
                    continue
                start = end = job.next
                budget = self.batch_tokens
                if job.left() > budget:   # it will take slices: keep each short (4x the minimum until measured)
                    speed = self._tokens_per_s or 8 * SLICE_MIN_TOKENS
                    budget = int(min(budget, max(SLICE_MIN_TOKENS, speed * SLICE_SECONDS)))
                while end < len(job.ids) and (not chosen and end == start or tokens + len(job.ids[end]) <= budget):
                    tokens += len(job.ids[end])
                    end += 1
                if end == start:
                    rest.append(job)
                    continue
                chosen.append((job, start, end))
                job.next = end
                self._queued_tokens -= sum(len(q) for q in job.ids[start:end])
                if end < len(job.ids):
                    tail.append(job)
            rest.extend(tail)
            self._queue = rest
            self._busy = True
            return chosen

    def _process(self, slices: list[tuple[_Job, int, int]]) -> None:
        live = []
        for job, start, end in slices:
            if not job.started:
                job.started = True
                if not job.future.set_running_or_notify_cancel():   # cancelled while queued
                    job.failed = True
                    continue
            if not job.failed:
                live.append((job, start, end))
        if not live:
            return
        ids = [seq for job, start, end in live for seq in job.ids[start:end]]
        t0 = time.perf_counter()
        try:
            vectors = self.model.embed_token_ids(ids, live[0][0].task, batch_size=self.batch_size,
                                                 max_batch_tokens=self.batch_tokens)
            n = sum(len(seq) for seq in ids)
            if n >= SLICE_MIN_TOKENS:   # small batches are dominated by overhead: they say little of speed
                speed = n / max(time.perf_counter() - t0, 1e-6)
                self._tokens_per_s = speed if self._tokens_per_s is None else 0.7 * self._tokens_per_s + 0.3 * speed
        except BaseException as exc:  # handed to the requests; the worker keeps serving
            for job, _, _ in live:
                job.failed = True
                job.future.set_exception(exc)
            with self._cond:          # their slices still queued are dropped
                for job, _, _ in live:
                    if job in self._queue:
                        self._queue.remove(job)
                        self._queued_tokens -= job.left()
        else:
            offset = 0
            for job, start, end in live:
                job.parts.append(vectors[offset:offset + end - start])
                offset += end - start
                if end == len(job.ids):
                    job.future.set_result(job.parts[0] if len(job.parts) == 1 else np.concatenate(job.parts))
                    job.parts = []
        finally:
            stats = self.stats
            stats["requests"] += sum(end == len(job.ids) for job, _, end in live)
            stats["batches"] += 1
            stats["inputs"] += len(ids)
            stats["tokens"] += sum(len(seq) for seq in ids)
            stats["largest_batch"] = max(stats["largest_batch"], len(live))
            if mx.get_cache_memory() > self.cache_limit_bytes:
                mx.clear_cache()
                stats["cache_clears"] += 1

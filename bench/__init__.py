"""Benchmark scripts (run as `python bench/NAME.py`); what they share."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_json_worker(code: str, payload: Any, cwd: Path, args: tuple[str, ...] = (), env: dict[str, str] | None = None,
                    what: str = "worker") -> dict:
    """Run `python -c code *args` in a fresh process with `payload` as JSON on stdin; its last stdout
    line, parsed as JSON. A fresh process per measurement keeps one run's memory and caches out of the next."""
    proc = subprocess.run([sys.executable, "-c", code, *args], input=json.dumps(payload), capture_output=True,
                          text=True, cwd=cwd, env=env)
    if proc.returncode:
        raise RuntimeError(f"{what} failed in {cwd}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])

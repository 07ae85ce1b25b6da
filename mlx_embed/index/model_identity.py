"""Which model made an index's vectors: vectors of two models never mix.

    model_identity(model) -> {"name", "dim", "path", "fingerprint", "tasks"}   (from a loaded model)
    folder_fingerprint(path) -> str     hash of config + tokenizer + weight file names/sizes/edges
    same_model(a, b) -> bool            same fingerprint and dimension
    describe(identity) -> str           "name (dim-d, path)" for messages
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

EDGE = 1 << 16


def folder_fingerprint(path: str | Path) -> str:
    """A cheap but specific fingerprint of a model's files (no full read of the weights)."""
    path = Path(path)
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix in (".json", ".safetensors", ".txt", ".model", ".gguf")
        and ".cache" not in p.parts)
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(path) if f != path else f.name}:{st.st_size}\n".encode())
        with open(f, "rb") as fh:
            if f.suffix in (".json", ".txt", ".model") and st.st_size < (8 << 20):
                h.update(fh.read())
            else:
                h.update(fh.read(EDGE))
                fh.seek(max(0, st.st_size - EDGE))
                h.update(fh.read(EDGE))
    return h.hexdigest()[:24]


def model_identity(model) -> dict[str, Any]:
    return {"name": model.name, "dim": int(model.dim), "path": str(model.path),
            "fingerprint": folder_fingerprint(model.path), "tasks": list(model.tasks)}


def same_model(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("fingerprint") == b.get("fingerprint") and int(a.get("dim", 0)) == int(b.get("dim", -1))


def describe(identity: dict[str, Any]) -> str:
    return f"{identity.get('name')} ({identity.get('dim')}-d, {identity.get('path')})"

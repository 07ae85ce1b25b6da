"""Recovering a damaged index: a fresh file with the same folders and settings, ready to be re-indexed.

    damage(path) -> str | None      why the index at `path` is damaged (open + SQLite's quick_check), or None
    recover(path, model=None, fallback_model=None) -> (Index, note)

The folders, settings and model come from the sidecar (`index.db.folders.json`, rewritten on every change
to them), else from whatever the damaged file still yields. The damaged file (with its -wal/-shm) is kept
as `index.db.damaged` (replacing an older one) so nothing is thrown away; the new file starts empty and the
caller runs it (every file is re-embedded: the vectors cannot be trusted).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import IndexDamagedError, IndexReadOnlyError, MlxEmbedError
from .store import Store, resolve_db_path
from .store.safety import connect, read_sidecar, shown

COMPANIONS = ("", "-wal", "-shm")


def damage(path: str | os.PathLike | None) -> str | None:
    """Why the index is damaged (a message saying to rebuild), or None if it opens and passes quick_check.

    A read-only index is not damaged: IndexReadOnlyError goes through to the caller."""
    db_path = resolve_db_path(path)
    if not db_path.exists():
        return None
    try:
        store = Store(db_path, create=False)
    except IndexDamagedError as exc:
        return str(exc)
    try:
        verdict = store.quick_check()
    finally:
        store.close()
    if verdict == "ok":
        return None
    return (f"The index {shown(db_path)} is damaged (SQLite's check: {verdict[:200]}). Run `mlx-embed index "
            "rebuild` to recover it: a fresh index with the same folders and settings, re-indexed.")


def _from_file(db_path: Path) -> dict[str, Any]:
    """What a damaged file still yields, each part on its own (a part that fails is left out)."""
    out: dict[str, Any] = {}
    try:
        conn = connect(db_path, read_only=True)
    except Exception:  # noqa: BLE001  (too damaged to open: nothing to salvage)
        return out
    try:
        try:
            out["folders"] = [{"path": r["path"], "excludes": json.loads(r["excludes"])}
                              for r in conn.execute("SELECT path, excludes FROM folders").fetchall()]
        except (MlxEmbedError, ValueError):
            pass
        for key in ("settings", "model"):
            try:
                row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    out[key] = json.loads(row[0])
            except (MlxEmbedError, ValueError):
                pass
    finally:
        conn.close()
    return out


def salvage(db_path: Path) -> tuple[dict[str, Any], str]:
    """(folders, settings, model) to carry over, and where they came from."""
    side = read_sidecar(db_path)
    if side is not None:
        extra = side.get("settings") or {}
        return {"folders": side["folders"], "settings": extra.get("settings"), "model": extra.get("model")}, "sidecar"
    found = _from_file(db_path) if db_path.exists() else {}
    return found, "damaged file" if found.get("folders") is not None else "nothing"


def recover(path: str | os.PathLike | None, model=None, fallback_model: str | None = None):
    """Move the damaged index aside and make a fresh one with its folders and settings: (Index, note)."""
    from .engine import Index
    from .indexer import Settings

    db_path = resolve_db_path(path)
    if not os.access(db_path.parent, os.W_OK | os.X_OK):
        raise IndexReadOnlyError(f"Cannot rebuild the index in {shown(db_path.parent)}: the folder is read-only. "
                                 "Make it writable (chmod u+w) or use another --index.")
    info, source = salvage(db_path)
    kept = db_path.with_name(db_path.name + ".damaged")
    for suffix in COMPANIONS:   # the old -wal must go too, or SQLite would replay it into the new file
        old = db_path.with_name(db_path.name + suffix)
        if old.exists():
            os.replace(old, kept.with_name(kept.name + suffix))
    settings = {k: v for k, v in (info.get("settings") or {}).items() if k in Settings.__dataclass_fields__}
    recorded = info.get("model") or {}
    if model is None and fallback_model is None:
        fallback_model = recorded.get("path")
    elif model is None and recorded.get("path") and Path(recorded["path"]).exists():
        fallback_model = recorded["path"]   # the model it was built with, while it is still here
    ix = Index(db_path, model, fallback_model=fallback_model, **_creation(settings))
    folders = info.get("folders") or []
    for f in folders:
        ix.store.add_folder(str(f["path"]), list(f.get("excludes") or []))
    note = (f"Recovered {shown(db_path)}: a fresh index with {len(folders)} folder(s) and the settings from the "
            f"{source}; the damaged file is kept as {shown(kept)}.")
    if source == "nothing":
        note += " No folder list survived: add your folders again with `mlx-embed index add FOLDER`."
    return ix, note


def _creation(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as Index() keywords (Settings field names differ from the keyword for a few)."""
    out = {k: settings[k] for k in ("chunk_tokens", "overlap", "vector_dim", "binary", "max_size", "include_hidden")
           if k in settings}
    if "excludes" in settings:
        out["excludes"] = settings["excludes"]
    return out

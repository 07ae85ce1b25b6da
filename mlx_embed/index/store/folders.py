"""Statements on folders and on paths: register and forget folders, their entry counts, and files
that move or vanish (chunks follow a move without re-embedding)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from .database import STATES


def _like_prefix(path: str) -> str:
    """A LIKE pattern (ESCAPE '\\') matching everything under the folder `path`."""
    return path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + os.sep + "%"


class FolderStatements:
    def add_folder(self, path: str, excludes: list[str]) -> None:
        with self.write() as db:
            db.execute("INSERT INTO folders(path, excludes, added) VALUES (?, ?, ?) "
                       "ON CONFLICT(path) DO UPDATE SET excludes = excluded.excludes",
                       (path, json.dumps(list(excludes)), time.time()))
        self.save_sidecar()

    def remove_folder(self, path: str) -> int | None:
        """Forget a folder and its files (those also under a nested folder move there): the number of
        files forgotten, or None if `path` is not a folder of the index."""
        db = self.db
        row = db.execute("SELECT id FROM folders WHERE path = ?", (path,)).fetchone()
        if row is None:
            return None
        others = [(r[0], r[1]) for r in db.execute("SELECT id, path FROM folders WHERE id != ? ORDER BY length(path) DESC",
                                                   (row[0],))]
        with self.write():
            for oid, opath in others:
                if opath.startswith(path + os.sep):
                    db.execute("UPDATE files SET folder_id = ? WHERE folder_id = ? AND path LIKE ? ESCAPE '\\'",
                               (oid, row[0], _like_prefix(opath)))
            n = db.execute("SELECT coalesce(sum(chunks), 0), count(*) FROM files WHERE folder_id = ?", (row[0],)).fetchone()
            db.execute("DELETE FROM files WHERE folder_id = ?", (row[0],))
            db.execute("DELETE FROM folders WHERE id = ?", (row[0],))
            self.bump(deleted=n[0])
        self.save_sidecar()
        return n[1]

    def folder_rows(self) -> list[dict[str, Any]]:
        """Each folder by path: path, excludes, scanned, ignored, files, and a count per state."""
        rows = self.db.execute(
            "SELECT d.path, d.excludes, d.scanned, d.ignored, count(f.id), "
            + ", ".join(f"coalesce(sum(f.status = '{k}'), 0)" for k in STATES)
            + " FROM folders d LEFT JOIN files f ON f.folder_id = d.id GROUP BY d.id ORDER BY d.path")
        return [{"path": r[0], "excludes": json.loads(r[1]), "scanned": r[2], "ignored": r[3], "files": r[4],
                 **dict(zip(STATES, r[5:]))} for r in rows]

    def scan_folders(self) -> list[tuple[int, str, list[str]]]:
        """(id, path, excludes) of every folder, innermost first (a nested folder's files are its own)."""
        return [(r[0], r[1], json.loads(r[2]))
                for r in self.db.execute("SELECT id, path, excludes FROM folders ORDER BY length(path) DESC")]

    def set_folder_ignored(self, folder_id: int, ignored: int) -> None:
        self.db.execute("UPDATE folders SET ignored = ? WHERE id = ?", (ignored, folder_id))

    def set_folder_scanned(self, folder_id: int) -> None:
        with self.write() as db:
            db.execute("UPDATE folders SET scanned = ? WHERE id = ?", (time.time(), folder_id))

    # --- paths that moved or went -------------------------------------------------------------------
    def move_path(self, old: str, new: str) -> bool:
        """A file (or folder) moved from `old` to `new`: its rows follow; a destination outside every
        folder drops them. False if nothing was indexed at `old`."""
        db = self.db
        folders = [(r[0], r[1]) for r in db.execute("SELECT id, path FROM folders ORDER BY length(path) DESC")]
        owner = lambda p: next((fid for fid, fp in folders if p == fp or p.startswith(fp + os.sep)), None)  # noqa: E731
        rows = db.execute("SELECT id, path, chunks FROM files WHERE path = ? OR path LIKE ? ESCAPE '\\'",
                          (old, _like_prefix(old))).fetchall()
        if not rows:
            return False
        with self.write():
            deleted = 0
            for fid, path, chunks in rows:
                target = new + path[len(old):]
                folder = owner(target)
                db.execute("DELETE FROM files WHERE path = ? AND id != ?", (target, fid))
                if folder is None:
                    db.execute("DELETE FROM files WHERE id = ?", (fid,))
                    deleted += chunks
                    continue
                try:
                    st = os.stat(target)
                    db.execute("UPDATE files SET path = ?, folder_id = ?, mtime_ns = ? WHERE id = ?",
                               (target, folder, st.st_mtime_ns, fid))
                except OSError:
                    db.execute("UPDATE files SET path = ?, folder_id = ? WHERE id = ?", (target, folder, fid))
            self.bump(deleted=deleted)
        return True

    def remove_path(self, path: str) -> bool:
        with self.write() as db:
            row = db.execute("SELECT chunks FROM files WHERE path = ?", (path,)).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM files WHERE path = ?", (path,))
            self.bump(deleted=row[0])
        return True

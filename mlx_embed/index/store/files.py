"""Statements on the files table: the scan's entries, the work queue (status 'pending'), and what
status reports (failures, skip reasons, kinds, problems)."""

from __future__ import annotations

from typing import Any

BATCH = 500   # ids per IN (...) list


def _marks(ids: list) -> str:
    return ",".join("?" * len(ids))


class FileStatements:
    # --- the scan ---------------------------------------------------------------------------------
    def folder_entries(self, folder_id: int) -> dict[str, dict[str, Any]]:
        """path -> the entry's row (id, path, size, mtime_ns, status, reason, is_dir, hash, chunks)."""
        return {r["path"]: dict(r) for r in self.db.execute(
            "SELECT id, path, size, mtime_ns, status, reason, is_dir, hash, chunks FROM files WHERE folder_id = ?",
            (folder_id,))}

    def paths_elsewhere(self, folder_id: int) -> set[str]:
        """Paths that belong to another folder (a nested one, scanned first)."""
        return {r[0] for r in self.db.execute("SELECT path FROM files WHERE folder_id != ?", (folder_id,))}

    def add_entry(self, path: str, folder_id: int, kind: str | None, size: int, mtime_ns: int, status: str,
                  reason: str | None, is_dir: bool) -> int:
        return self.db.execute(
            "INSERT INTO files(path, folder_id, kind, size, mtime_ns, status, reason, is_dir) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (path, folder_id, kind, size, mtime_ns, status, reason, int(is_dir))).lastrowid

    def set_reason(self, file_id: int, reason: str | None) -> None:
        self.db.execute("UPDATE files SET reason = ? WHERE id = ?", (reason, file_id))

    def update_entry(self, file_id: int, size: int, mtime_ns: int, kind: str | None, status: str,
                     reason: str | None) -> None:
        self.db.execute("UPDATE files SET size = ?, mtime_ns = ?, kind = ?, status = ?, reason = ? WHERE id = ?",
                        (size, mtime_ns, kind, status, reason, file_id))

    def drop_chunks(self, file_id: int, chunks: int) -> None:
        """The entry is no longer embedded (now skipped or failed): its chunks and vectors go."""
        with self.write() as db:
            db.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
            db.execute("UPDATE files SET chunks = 0, hash = NULL, indexed_at = NULL WHERE id = ?", (file_id,))
            self.bump(deleted=chunks)

    def entries(self, ids: list[int]) -> list[dict[str, Any]]:
        """(id, path, size, mtime_ns) of these entries."""
        out = []
        for start in range(0, len(ids), BATCH):
            part = ids[start:start + BATCH]
            out += [dict(r) for r in self.db.execute(
                f"SELECT id, path, size, mtime_ns FROM files WHERE id IN ({_marks(part)})", part)]
        return out

    def move_entry(self, old_id: int, new_id: int, path: str, mtime_ns: int) -> None:
        """The new entry `new_id` (at `path`) is the old one moved: the old row, with its chunks, takes its place."""
        db = self.db
        db.execute("DELETE FROM files WHERE id = ?", (new_id,))
        db.execute("UPDATE files SET path = ?, mtime_ns = ? WHERE id = ?", (path, mtime_ns, old_id))

    def delete_entries(self, ids: list[int]) -> None:
        for start in range(0, len(ids), BATCH):
            part = ids[start:start + BATCH]
            self.db.execute(f"DELETE FROM files WHERE id IN ({_marks(part)})", part)

    # --- the queue --------------------------------------------------------------------------------
    def pending_ids(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM files WHERE status = 'pending' ORDER BY id")]

    def pending_entry(self, file_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM files WHERE id = ? AND status = 'pending'", (file_id,)).fetchone()
        return dict(row) if row is not None else None

    def mark_unchanged(self, file_id: int, size: int, mtime_ns: int) -> None:
        """Touched, not changed: indexed again as it was."""
        with self.write() as db:
            db.execute("UPDATE files SET status = 'indexed', size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, file_id))

    def twin(self, digest: str, file_id: int) -> int | None:
        """Another indexed file with this content, if any."""
        row = self.db.execute("SELECT id FROM files WHERE hash = ? AND status = 'indexed' AND chunks > 0 AND id != ? LIMIT 1",
                              (digest, file_id)).fetchone()
        return row[0] if row is not None else None

    def set_not_indexed(self, file_id: int, status: str, reason: str) -> None:
        """Record why a file is not indexed (status skipped or failed); its old chunks (now stale) go."""
        with self.write() as db:
            n = db.execute("SELECT chunks FROM files WHERE id = ?", (file_id,)).fetchone()
            db.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
            db.execute("UPDATE files SET status = ?, reason = ?, chunks = 0, hash = NULL, indexed_at = NULL "
                       "WHERE id = ?", (status, reason, file_id))
            if n and n[0]:
                self.bump(deleted=n[0])

    def reset_all(self) -> None:
        """Every chunk and vector goes, every file is queued again, the recorded model is forgotten."""
        with self.write() as db:
            n = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            db.execute("DELETE FROM chunks")
            db.execute("DELETE FROM staged")
            db.execute("UPDATE files SET status = 'pending', reason = NULL, hash = NULL, chunks = 0, indexed_at = NULL "
                       "WHERE is_dir = 0")
            db.execute("DELETE FROM files WHERE is_dir = 1")
            db.execute("DELETE FROM meta WHERE key = 'model'")
            self.bump(deleted=n)

    # --- what status reports ----------------------------------------------------------------------
    def failures(self, limit: int) -> list[tuple[str, str]]:
        """(path, reason) of failed entries, unreadable folders first."""
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT path, reason FROM files WHERE status = 'failed' ORDER BY is_dir DESC, path LIMIT ?", (limit,))]

    def skipped_reasons(self) -> dict[str, int]:
        return {r[0] or "?": r[1] for r in self.db.execute(
            "SELECT reason, count(*) FROM files WHERE status = 'skipped' GROUP BY reason ORDER BY count(*) DESC")}

    def indexed_kinds(self) -> dict[str, int]:
        return {r[0] or "?": r[1] for r in self.db.execute(
            "SELECT kind, count(*) FROM files WHERE status = 'indexed' GROUP BY kind ORDER BY count(*) DESC")}

    def problems(self) -> list[tuple[str, str, str]]:
        """(path, reason, status) of every skipped or failed entry, by path."""
        return [(r[0], r[1] or "", r[2]) for r in self.db.execute(
            "SELECT path, reason, status FROM files WHERE status IN ('failed', 'skipped') ORDER BY path")]

    def indexed_paths(self) -> list[str]:
        """Paths of indexed files that have chunks, by path."""
        return [r[0] for r in self.db.execute("SELECT path FROM files WHERE status = 'indexed' AND chunks > 0 ORDER BY path")]



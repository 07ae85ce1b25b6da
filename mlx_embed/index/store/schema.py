"""The index file's schema as numbered migrations: MIGRATIONS[n] upgrades a file at PRAGMA user_version
n to n + 1 (a new file runs them all). Add a change as a new entry; never edit a released one.

Tables: meta(key, value JSON), folders (ignored: entries the last scan left out by rule), files (one row
per discovered entry: status pending | indexed | skipped | failed, with the reason), chunks (character
range, page, text), vectors (one BLOB per chunk, see codec), chunks_fts (FTS5 over chunk text, kept in
sync by triggers, BM25), staged (float32 vectors of a file only partly embedded yet). Deleting a file
row cascades to its chunks, vectors, staged vectors and FTS rows.
"""

from __future__ import annotations

import sqlite3

SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE folders (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, excludes TEXT NOT NULL DEFAULT '[]',
    added REAL NOT NULL, scanned REAL);
CREATE TABLE files (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    kind TEXT, size INTEGER NOT NULL DEFAULT 0, mtime_ns INTEGER NOT NULL DEFAULT 0, hash TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'indexed', 'skipped', 'failed')), reason TEXT,
    indexed_at REAL, chunks INTEGER NOT NULL DEFAULT 0,
    is_dir INTEGER NOT NULL DEFAULT 0);
CREATE INDEX files_status ON files(status);
CREATE INDEX files_hash ON files(hash);
CREATE INDEX files_folder ON files(folder_id);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, page INTEGER, text TEXT NOT NULL);
CREATE INDEX chunks_file ON chunks(file_id, seq);
CREATE TABLE vectors (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    file_id INTEGER NOT NULL, vec BLOB NOT NULL);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""

SCHEMA_V2 = """
CREATE TABLE staged (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    hash TEXT NOT NULL, seq INTEGER NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (file_id, seq));
ALTER TABLE folders ADD COLUMN ignored INTEGER NOT NULL DEFAULT 0;
"""

MIGRATIONS: list[str] = [SCHEMA_V1, SCHEMA_V2]
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """Split a schema script into statements (triggers contain ';' inside BEGIN ... END)."""
    out, buf = [], []
    for line in script.strip().splitlines():
        buf.append(line)
        text = "\n".join(buf).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            out.append(text)
            buf = []
    if "\n".join(buf).strip():
        out.append("\n".join(buf))
    return out

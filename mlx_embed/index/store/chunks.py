"""Statements on chunks, vectors, staged vectors and the FTS index: a file's chunks replaced in one
transaction, copies, the vectors search and clustering read, keyword and phrase hits (FTS5 MATCH)."""

from __future__ import annotations

import time

import numpy as np

from . import codec
from .folders import _like_prefix


def _fts_terms(words: list[str], phrases: list[str]) -> str | None:
    terms = [f'"{w}"' for w in words] + ['"' + p.replace('"', "") + '"' for p in phrases]
    return " OR ".join(terms) if terms else None


def _file_filter(folder: str | None, kinds: list[str] | None, after_ns: int | None, before_ns: int | None
                 ) -> tuple[str, list]:
    """SQL on `files f` for a search's filters (folder: a normalised path; kinds: lower case, no dot)."""
    sql, args = "", []
    if folder is not None:
        sql += " AND (f.path = ? OR f.path LIKE ? ESCAPE '\\')"
        args += [folder, _like_prefix(folder)]
    if kinds:
        ks = sorted(kinds)
        sql += f" AND (f.kind IN ({','.join('?' * len(ks))})" + "".join(" OR f.path LIKE ?" for _ in ks) + ")"
        args += ks + [f"%.{k}" for k in ks]
    if after_ns is not None:
        sql += " AND f.mtime_ns >= ?"
        args.append(after_ns)
    if before_ns is not None:
        sql += " AND f.mtime_ns < ?"
        args.append(before_ns)
    return sql, args


class ChunkStatements:
    # --- writing (the indexer) ----------------------------------------------------------------------
    def commit_files(self, items: list[dict], staged: list[tuple[dict, int]], binary: bool) -> int:
        """One transaction: each completed file (a work item: id, chunks, vectors, kind, hash, size,
        mtime_ns, empty) replaces its chunks and vectors; each (item, seq) of `staged` keeps that chunk's
        vector of a file still part-way through. Returns the number of old chunks replaced."""
        vectors = [v for item in items for v in item["vectors"]]
        blobs = codec.encode_vectors(np.stack(vectors), binary) if vectors else []
        i = deleted = 0
        with self.write() as db:
            for item in items:
                fid = item["id"]
                deleted += db.execute("DELETE FROM chunks WHERE file_id = ?", (fid,)).rowcount
                db.execute("DELETE FROM staged WHERE file_id = ?", (fid,))
                for seq, c in enumerate(item["chunks"]):
                    cid = db.execute('INSERT INTO chunks(file_id, seq, start, "end", page, text) VALUES (?, ?, ?, ?, ?, ?)',
                                     (fid, seq, c.start, c.end, c.page, c.text)).lastrowid
                    db.execute("INSERT INTO vectors(chunk_id, file_id, vec) VALUES (?, ?, ?)", (cid, fid, blobs[i]))
                    i += 1
                status, reason = ("skipped", "empty: no text") if item["empty"] else ("indexed", None)
                db.execute("UPDATE files SET status = ?, reason = ?, kind = ?, hash = ?, size = ?, mtime_ns = ?, "
                           "chunks = ?, indexed_at = ? WHERE id = ?",
                           (status, reason, item["kind"], item["hash"], item["size"], item["mtime_ns"],
                            len(item["chunks"]), time.time(), fid))
            for item, seq in staged:
                db.execute("INSERT OR REPLACE INTO staged(file_id, hash, seq, vec) VALUES (?, ?, ?, ?)",
                           (item["id"], item["hash"], seq, codec.encode_staged(item["vectors"][seq])))
            if items:
                self.bump(deleted=deleted)
        return deleted

    def copy_file(self, file_id: int, twin_id: int, digest: str, size: int, mtime_ns: int) -> int:
        """`file_id` has the content of the indexed `twin_id`: it gets a copy of its chunks and vectors
        (returns how many)."""
        with self.write() as db:
            old = db.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,)).rowcount
            rows = db.execute('SELECT c.seq, c.start, c."end", c.page, c.text, v.vec FROM chunks c '
                              "JOIN vectors v ON v.chunk_id = c.id WHERE c.file_id = ? ORDER BY c.seq", (twin_id,)).fetchall()
            for r in rows:
                cid = db.execute('INSERT INTO chunks(file_id, seq, start, "end", page, text) VALUES (?, ?, ?, ?, ?, ?)',
                                 (file_id, r[0], r[1], r[2], r[3], r[4])).lastrowid
                db.execute("INSERT INTO vectors(chunk_id, file_id, vec) VALUES (?, ?, ?)", (cid, file_id, r[5]))
            db.execute("UPDATE files SET status = 'indexed', reason = NULL, hash = ?, size = ?, mtime_ns = ?, "
                       "chunks = ?, indexed_at = ? WHERE id = ?", (digest, size, mtime_ns, len(rows), time.time(), file_id))
            self.bump(deleted=old)
        return len(rows)

    def staged_vectors(self, file_id: int, digest: str) -> list[tuple[int, np.ndarray]]:
        """(seq, float32 vector) embedded for this content by a run stopped part-way through the file."""
        return [(seq, codec.decode_staged(blob)) for seq, blob in self.db.execute(
            "SELECT seq, vec FROM staged WHERE file_id = ? AND hash = ?", (file_id, digest))]

    def drop_stale_staged(self) -> None:
        """Staged vectors of files that are no longer pending."""
        with self.write() as db:
            db.execute("DELETE FROM staged WHERE file_id NOT IN (SELECT id FROM files WHERE status = 'pending')")

    # --- reading (search, clustering, status) -------------------------------------------------------
    def chunk_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def file_vectors(self, path: str, binary: bool) -> np.ndarray | None:
        """The chunk vectors of an indexed file, in order, as unit float32 rows (None if it has none)."""
        rows = self.db.execute("SELECT v.vec FROM files f JOIN chunks c ON c.file_id = f.id JOIN vectors v ON "
                               "v.chunk_id = c.id WHERE f.path = ? AND f.status = 'indexed' ORDER BY c.seq", (path,)).fetchall()
        return codec.unit_vectors([r[0] for r in rows], binary) if rows else None

    def searchable_files(self) -> list[tuple[int, str, str, int]]:
        """(id, path, kind, mtime_ns) of every indexed file, by id."""
        return [(r[0], r[1], r[2] or "", r[3]) for r in self.db.execute(
            "SELECT id, path, kind, mtime_ns FROM files WHERE status = 'indexed' ORDER BY id")]

    def all_vectors(self, binary: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every stored vector, by chunk id: (chunk ids, file ids, opens its file (seq 0), the vectors as
        stored: (n, d) float16 or (n, d/8) uint8 sign bits)."""
        ids, fids, blobs, lead = [], [], [], []
        for cid, fid, vec, first in self.db.execute("SELECT v.chunk_id, v.file_id, v.vec, c.seq = 0 FROM vectors v "
                                                    "JOIN chunks c ON c.id = v.chunk_id ORDER BY v.chunk_id"):
            ids.append(cid)
            fids.append(fid)
            blobs.append(vec)
            lead.append(first)
        return (np.array(ids, dtype=np.int64), np.array(fids, dtype=np.int64), np.array(lead, dtype=bool),
                codec.decode_vectors(blobs, binary))

    def keyword_hits(self, words: list[str], phrases: list[str], limit: int, **filters) -> list[tuple[int, int, float]]:
        """(chunk id, file id, BM25 score, higher is better) of chunks holding any of the words or phrases."""
        terms = _fts_terms(words, phrases)
        if terms is None:
            return []
        fsql, fargs = _file_filter(**filters)
        return [tuple(r) for r in self.db.execute(
            "SELECT c.id, c.file_id, -bm25(chunks_fts) AS s FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
            "JOIN files f ON f.id = c.file_id WHERE chunks_fts MATCH ?" + fsql + " ORDER BY s DESC LIMIT ?",
            [terms, *fargs, limit])]

    def keyword_hit_texts(self, words: list[str], phrases: list[str], limit: int, **filters
                          ) -> list[tuple[int, int, float, str]]:
        """keyword_hits with each chunk's text: (chunk id, file id, BM25 score, text), best first (the
        searcher checks the stems it matched and highlights them)."""
        terms = _fts_terms(words, phrases)
        if terms is None:
            return []
        fsql, fargs = _file_filter(**filters)
        return [tuple(r) for r in self.db.execute(
            "SELECT c.id, c.file_id, -bm25(chunks_fts) AS s, c.text FROM chunks_fts JOIN chunks c ON c.id = "
            "chunks_fts.rowid JOIN files f ON f.id = c.file_id WHERE chunks_fts MATCH ?" + fsql + " ORDER BY s DESC LIMIT ?",
            [terms, *fargs, limit])]

    def content_copies(self, ids: list[int]) -> dict[int, list[tuple[int, str]]]:
        """file id -> (id, path) of the other indexed files with the same content hash, by path."""
        if not ids:
            return {}
        hashes = dict(self.db.execute(f"SELECT id, hash FROM files WHERE hash IS NOT NULL AND id IN "
                                      f"({','.join('?' * len(ids))})", ids).fetchall())
        if not hashes:
            return {}
        wanted = sorted(set(hashes.values()))
        same: dict[str, list[tuple[int, str]]] = {}
        for fid, path, digest in self.db.execute(
                f"SELECT id, path, hash FROM files WHERE status = 'indexed' AND hash IN ({','.join('?' * len(wanted))}) "
                "ORDER BY path", wanted):
            same.setdefault(digest, []).append((fid, path))
        return {fid: [(o, p) for o, p in same.get(h, []) if o != fid] for fid, h in hashes.items()}

    def phrase_candidates(self, phrase: str, limit: int = 500, **filters) -> list[tuple[int, int, str]]:
        """(chunk id, file id, text) of chunks FTS finds for the phrase (the caller checks it verbatim)."""
        fsql, fargs = _file_filter(**filters)
        return [tuple(r) for r in self.db.execute(
            "SELECT c.id, c.file_id, c.text FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
            "JOIN files f ON f.id = c.file_id WHERE chunks_fts MATCH ?" + fsql + " LIMIT ?",
            [_fts_terms([], [phrase]), *fargs, limit])]

    def indexed_files(self, ids: list[int]) -> dict[int, tuple[str, str | None, int, int]]:
        """file id -> (path, kind, size, mtime_ns) of those still indexed."""
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in self.db.execute(
            f"SELECT id, path, kind, size, mtime_ns FROM files WHERE status = 'indexed' AND id IN "
            f"({','.join('?' * len(ids))})", ids)}

    def chunk_texts(self, file_id: int, chunk_ids: list[int]) -> dict[int, tuple[int, int | None, str]]:
        """chunk id -> (start, page, text) of these chunks of the file; with no ids, its first chunk."""
        if chunk_ids:
            rows = self.db.execute(f'SELECT id, start, page, text FROM chunks WHERE file_id = ? AND id IN '
                                   f'({",".join("?" * len(chunk_ids))})', [file_id, *chunk_ids])
        else:
            rows = self.db.execute("SELECT id, start, page, text FROM chunks WHERE file_id = ? ORDER BY seq LIMIT 1",
                                   (file_id,))
        return {r[0]: (r[1], r[2], r[3]) for r in rows}



    # --- reading for "find similar" (index/similar.py) --------------------------------------------------
    def indexed_file(self, path: str) -> tuple[int, str | None, str | None, int, int] | None:
        """(id, hash, kind, size, mtime_ns) of an indexed file that has chunks, else None."""
        row = self.db.execute("SELECT id, hash, kind, size, mtime_ns FROM files WHERE path = ? AND status = 'indexed' "
                              "AND chunks > 0", (path,)).fetchone()
        return tuple(row) if row is not None else None

    def files_with_hash(self, digest: str) -> list[int]:
        """Ids of indexed files with this content hash (exact copies)."""
        return [r[0] for r in self.db.execute("SELECT id FROM files WHERE hash = ? AND status = 'indexed'", (digest,))]

    def file_hashes(self, ids: list[int]) -> dict[int, str | None]:
        """file id -> content hash."""
        if not ids:
            return {}
        return {r[0]: r[1] for r in self.db.execute(
            f"SELECT id, hash FROM files WHERE id IN ({','.join('?' * len(ids))})", ids)}

    def file_chunks(self, file_id: int, binary: bool) -> tuple[list[tuple[int, int, int | None, str]], np.ndarray]:
        """A file's chunks in order, [(chunk id, start, page, text)], and their vectors as unit float32 rows."""
        rows = self.db.execute('SELECT c.id, c.start, c.page, c.text, v.vec FROM chunks c JOIN vectors v ON '
                               'v.chunk_id = c.id WHERE c.file_id = ? ORDER BY c.seq', (file_id,)).fetchall()
        return [(r[0], r[1], r[2], r[3]) for r in rows], codec.unit_vectors([r[4] for r in rows], binary)

    def files_text(self, ids: list[int], max_chars: int) -> dict[int, str]:
        """file id -> its chunks' text in order, cut at about `max_chars` (the lexical profile's sample)."""
        out: dict[int, list[str]] = {}
        size: dict[int, int] = {}
        for s in range(0, len(ids), 500):
            part = ids[s:s + 500]
            for fid, text in self.db.execute(f"SELECT file_id, text FROM chunks WHERE file_id IN "
                                             f"({','.join('?' * len(part))}) ORDER BY file_id, seq", part):
                if size.get(fid, 0) < max_chars:
                    out.setdefault(fid, []).append(text)
                    size[fid] = size.get(fid, 0) + len(text)
        return {fid: "\n".join(parts)[:max_chars] for fid, parts in out.items()}

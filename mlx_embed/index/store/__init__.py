"""The index store: the only code that speaks SQL or knows how vectors are stored.

    Store(path, create=True)    the index's SQLite file (WAL), migrated to the current schema
    store.write() / .get(key) / .set(key, value) / .bump() / .generation() / .check() / .close()
    store.add_folder(...), .scan_folders(), .folder_entries(id), .commit_files(...), .all_vectors(binary),
    .keyword_hits(...), ...     one method per statement its callers need, grouped by table below

Modules: database (location, connections, transactions, migrations, meta, integrity check; errors),
schema (the numbered migrations), codec (the vector blob format: encode/decode, one pair), folders
(folders and moved or removed paths), files (the scan's entries, the work queue, status counts), chunks
(chunks, vectors, staged vectors, FTS: commits, copies, search reads).
"""

from __future__ import annotations

from .chunks import ChunkStatements
from .codec import decode_vectors, encode_vectors, unit_vectors
from .database import (DB_NAME, STATES, Database, IndexFormatError, ModelMismatchError, default_index_dir,
                       delete_index_files, resolve_db_path)
from .files import FileStatements
from .folders import FolderStatements


class Store(FolderStatements, FileStatements, ChunkStatements, Database):
    """One index file and every statement on its tables."""


__all__ = ["Store", "IndexFormatError", "ModelMismatchError", "STATES", "DB_NAME", "default_index_dir",
           "resolve_db_path", "delete_index_files", "encode_vectors", "decode_vectors", "unit_vectors"]

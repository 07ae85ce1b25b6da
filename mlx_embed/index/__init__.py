"""Local index and search engine: folders in, ranked passages out. Nothing leaves the machine.

    from mlx_embed.index import Index
    ix = Index(path=None, model="path/or/repo")    # path: a folder or .db file (default: app-data dir)
    ix.add_folder("~/Documents", excludes=["*.log"]); ix.remove_folder(path); ix.folders()
    stats = ix.run(progress=callback, cancel=threading.Event(), low_priority=True)   # == ix.update()
    results = ix.search("contract renewal terms", k=10, folder=None, kinds=["pdf"],
                        modified_after=datetime(2024, 1, 1), modified_before=None, mode="hybrid")
    for r in results:                      # SearchResult(path, score, kind, size, modified, passages,
        r.passages[0].marked()             #   matched, similarity); Passage(text, start, end, page,
                                           #   highlights=[(s, e) in text], score)
    sim = ix.similar(path, k=10, folder=None, kinds=None)    # Similar(source, results [Match(path, score,
                                           #   passage, source_passage, signals)], duplicates, stored)
    ix.refine(query, more=[paths], less=[paths], k=10)       # "more / less like this" (Rocchio)
    ix.status()                            # IndexStatus: counts by status, failures, run + ETA, folders
    ix.move_file(old, new)                 # a file action moved a file: chunks follow, no re-embedding
    ix.vectors_for_files(paths, task="retrieval") -> {path: (n_chunks, d)}; ix.file_vectors(paths, task)
    ix.rebuild()                           # re-embed everything with the given model
    ix.check()                             # integrity report (PRAGMA integrity_check, FTS, orphans)
    ix.problems_by_folder()                # {folder: [(path, reason, status)]} of skipped / failed entries
    ix.run_summary(stats)                  # what a run did and where every file stands, in words
    ix = ix.recreate(model=None, **settings)   # delete the file, a new empty index with the same folders
    with Index(...) as ix: ...             # closes it; Index.locate(path) -> the database file

Modules, one concern each (lowest first):
    store/          the SQLite file: schema + migrations, every SQL statement, the vector blob codec
    discover        walk folders (ignore files, system folders, hidden, excludes)
    extract/        one module per format: text of a file (PDF, Office, HTML, RTF, mail, plain, images)
    ocr/            text in images and scanned PDF pages (the `ocr` extra), cached by content hash
    chunk           token windows with character ranges
    model_identity  which model made the vectors (fingerprint): two models' vectors never mix
    chunk_encoder   ChunkEncoder: chunks and queries to vectors (retrieval task and prompts)
    indexer         the run: persistent queue, incremental, resumable (RunProgress, RunStats, Settings)
    search/         query parsing, the vector core, fusion, results, and the Searcher that joins them
    status          FolderInfo, IndexStatus and their wording (accounting_line, describe_run)
    engine          Index: the one object the CLI and the app use; it owns the index's life
    similar         find_similar (files like a file) and refine (Rocchio on a query)
    watch           keep the index current (poll, settle, re-run)

Errors: ModelMismatchError (exit 5: the index holds another model's vectors: `index rebuild`),
IndexFormatError (exit 4: newer index file; its IndexDamagedError: exit 6), extract.ExtractionError (per file, recorded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Index
    from .indexer import RunProgress, RunStats
    from .search import Passage, SearchResult
    from .status import FolderInfo, IndexStatus
    from .store import IndexFormatError, ModelMismatchError

_EXPORTS = {"Index": "engine", "IndexStatus": "status", "FolderInfo": "status", "RunProgress": "indexer",
            "RunStats": "indexer", "SearchResult": "search", "Passage": "search",
            "ModelMismatchError": "store", "IndexFormatError": "store", "default_index_dir": "store"}


def __getattr__(name: str) -> Any:  # lazy: `import mlx_embed.index.extract` stays light
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)


__all__ = list(_EXPORTS)

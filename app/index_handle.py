"""The open index in app terms: IndexHandle (folders, their status rows, the indexing loop, search
hits) over mlx_embed.index.Index, and open_index / recreate_index from the app's settings.

Nothing here decides anything about the index: it names the Index calls the views need and turns
their results into the records the views show (Hit, FolderStatus, RunSummary).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .library import passage_html


# --- records the views show -------------------------------------------------------------------------------------------
@dataclass
class Hit:
    """One search result as the views show it."""

    path: Path
    name: str
    kind: str | None
    modified: float | None
    score: float
    passage_html: str              # the best passage, HTML-escaped, matched words in <b>
    page: int | None = None
    matched: tuple[str, ...] = ()
    copies: tuple[Path, ...] = ()  # other places with identical content, shown once ("also in N places")


@dataclass
class FolderStatus:
    path: Path
    files: int
    indexed: int
    failed: int
    pending: int
    updated: float | None
    state: str
    problems: list                 # [(path, reason)] of files that are not indexed (failed or skipped)
    skipped: int = 0
    summary: str = ""              # the library's accounting line, as the CLI and `index status` print it


@dataclass
class RunSummary:
    stats: object
    text: str


class IndexHandle:
    """The open index (mlx_embed.index.Index) with the few calls the views make, in app terms."""

    def __init__(self, index, settings_key: tuple):
        self.ix = index
        self.settings_key = settings_key        # the vector settings it was opened with (dim, binary)
        self._folders_cache: list[Path] = [f.path for f in index.folders()]

    # folders
    def folders(self) -> list[Path]:
        return list(self._folders_cache)

    def add_folder(self, path) -> Path:
        p = self.ix.add_folder(path)
        self._folders_cache = [f.path for f in self.ix.folders()]
        return p

    def remove_folder(self, path) -> int:
        n = self.ix.remove_folder(path)
        self._folders_cache = [f.path for f in self.ix.folders()]
        return n

    def folder_status(self) -> list[FolderStatus]:
        status = self.ix.status(max_failures=0)
        self._folders_cache = [f.path for f in status.folders]
        per = self.ix.problems_by_folder(status.folders)
        running = status.run is not None
        out = []
        for f in status.folders:
            problems = per.get(f.path, [])
            if f.scanned is None:
                state = "waiting" if not running else "scanning"
            elif f.pending:
                state = f"{f.pending} to do"
            else:
                state = "up to date"
            out.append(FolderStatus(f.path, f.files, f.indexed, f.failed, f.pending, f.scanned, state,
                                    [(p, reason) for p, reason, _ in problems], f.skipped, f.summary()))
        return out

    # indexing
    def index_loop(self, ctx, watch: bool, rebuild: bool = False, interval: float = 5.0) -> None:
        """Bring the index up to date (re-embedding everything if `rebuild`), then, if `watch`, keep
        following changes (mlx_embed.index.watch) until cancelled. Each finished run is reported as
        ctx.partial(RunSummary); progress goes to ctx.report; pause blocks in the progress callback."""

        def progress(p):
            ctx.wait_while_paused()
            if p.phase == "scan":
                ctx.report(0, 0, f"Looking for new and changed files… {p.files_done:,} found", extra="scan")
            elif p.phase == "index":
                name = Path(p.current).name if p.current else ""
                ctx.report(p.files_done, p.files_total, f"Indexing {p.files_done:,} of {p.files_total:,} files"
                           + (f" · {name}" if name else "") + (f" · {p.detail}" if p.detail else ""),
                           eta=p.eta_seconds, extra="index")

        def finished(stats):
            if not stats.cancelled:
                ctx.partial(RunSummary(stats, self.ix.run_summary(stats)), check=False)

        if rebuild:
            finished(self.ix.rebuild(progress=progress, cancel=ctx.cancel_event, low_priority=True))
        if watch:
            from mlx_embed.index.watch import watch as follow

            follow(self.ix, interval=interval, cancel=ctx.cancel_event, on_run=finished, progress=progress)
        elif not rebuild:
            finished(self.ix.run(progress=progress, cancel=ctx.cancel_event, low_priority=True))

    def model_mismatch(self, model) -> str | None:
        """A message if the index holds vectors of another model (a re-index is needed), else None."""
        if self.ix.made_with(model):
            return None
        recorded = self.ix.model_identity
        return (f"Your index was built with {recorded.get('name')} ({recorded.get('dim')}-d), not the model now "
                f"chosen, {model.name}. Vectors of two models never mix: re-index with the new model "
                "(your files are not touched), or go back to the old model in the model manager.")

    # search
    def search(self, query: str, k: int = 20, folder=None, kinds=None, modified_after=None) -> list[Hit]:
        results = self.ix.search(query, k=k, folder=folder, kinds=kinds, modified_after=modified_after, passages=1)
        hits = []
        for r in results:
            best = r.passages[0] if r.passages else None
            hits.append(Hit(Path(r.path), Path(r.path).name, r.kind, r.modified, float(r.score),
                            passage_html(best) if best is not None else "", best.page if best is not None else None,
                            tuple(r.matched), tuple(Path(p) for p in getattr(r, "copies", ()))))
        return hits

    def similar(self, path: str, k: int = 20, folder=None, kinds=None) -> tuple[list[Hit], list[Path]]:
        """Files like `path` (Index.similar) as hits, and its near-identical copies (not hits)."""
        found = self.ix.similar(path, k=k, folder=folder, kinds=kinds)
        hits = [Hit(m.path, m.path.name, m.kind, m.modified, m.score,
                    passage_html(m.passage) if m.passage is not None else "", m.passage.page if m.passage else None,
                    ("similar",)) for m in found.results]
        return hits, [m.path for m in found.duplicates]

    def refine(self, query: str, more: list[str], less: list[str], k: int = 20, folder=None, kinds=None,
               modified_after=None) -> list[Hit]:
        """`search` moved towards `more` and away from `less` (Index.refine, "more / less like this")."""
        return _hits(self.ix.refine(query, more, less, k=k, folder=folder, kinds=kinds,
                                    modified_after=modified_after, passages=1))

    def close(self) -> None:
        self.ix.close()


def _hits(results) -> list[Hit]:
    hits = []
    for r in results:
        best = r.passages[0] if r.passages else None
        hits.append(Hit(Path(r.path), Path(r.path).name, r.kind, r.modified, float(r.score),
                        passage_html(best) if best is not None else "", best.page if best is not None else None,
                        tuple(r.matched)))
    return hits


def _index_settings(model, settings) -> dict:
    """The app's settings as Index() arguments (a Matryoshka dimension at or above the model's: none)."""
    dim = settings.matryoshka_dim or None
    if dim is not None and dim >= model.dim:
        dim = None
    return dict(vector_dim=dim, binary=settings.precision == "binary", max_size=settings.max_file_mb * 1024 * 1024,
                excludes=settings.excludes)


def open_index(location: str | None, model, settings) -> IndexHandle:
    """Open (or create) the index at `location` (None: the platform's app-data folder) for `model`."""
    from mlx_embed.index import Index

    wanted = _index_settings(model, settings)
    vectors = {k: wanted.pop(k) for k in ("vector_dim", "binary")}
    index = Index(location, model, **wanted)
    # Vector settings are fixed when an index is created: a change means a new index.
    have = {"vector_dim": index.settings.vector_dim, "binary": index.settings.binary}
    if vectors != have:
        if index.model_identity is None and not index.folders():
            index = index.recreate(model, **vectors, **wanted)
        else:   # the existing index decides; Settings shows what it holds (a change there rebuilds)
            settings.matryoshka_dim = have["vector_dim"] or 0
            settings.precision = "binary" if have["binary"] else "float16"
    return IndexHandle(index, (index.settings.vector_dim, index.settings.binary))


def recreate_index(handle: IndexHandle, model, settings) -> IndexHandle:
    """A new empty index with the current vector settings and the same folders (everything re-embeds)."""
    index = handle.ix.recreate(model, **_index_settings(model, settings))
    return IndexHandle(index, (index.settings.vector_dim, index.settings.binary))

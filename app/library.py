"""The app's thin adapter over the mlx_embed library: models (choose, download, load), organising
(clustering, classification, label sets, file actions) and passage_html; the open index is app.index_handle.

Nothing in this module decides anything about models, indexes or clusters; it names the library calls
the views need and turns their callbacks into plain Python callables the workers can wire to signals.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlx_embed  # noqa: F401  (loads OpenBLAS before mlx.core)
from mlx_embed.errors import MlxEmbedError, ModelNotFoundError
from mlx_embed.encoder.facts import DEFAULT_MODEL


# --- models ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelChoice:
    repo: str
    title: str
    blurb: str
    approx_mb: int


MODEL_CHOICES = [
    ModelChoice(DEFAULT_MODEL, "jina-embeddings-v5 small",
                "Best quality. 1024 dims, 4 task adapters, 32K context, multilingual.", 1200),
    ModelChoice("jinaai/jina-embeddings-v5-text-nano", "jina-embeddings-v5 nano",
                "Fast and small. 768 dims, 4 task adapters, multilingual.", 450),
    ModelChoice("Qwen/Qwen3-Embedding-0.6B", "Qwen3-Embedding 0.6B",
                "Qwen3 embedding model, 1024 dims, no adapters.", 1200),
    ModelChoice("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2",
                "Tiny English model, 384 dims: quick on any machine.", 90),
]


def offline_mode() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def network_available(host: str = "huggingface.co", timeout: float = 2.0) -> bool:
    """Whether the Hugging Face hub can be reached (False at once when HF_HUB_OFFLINE is set)."""
    if offline_mode():
        return False
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def local_model_path(name_or_path: str) -> Path | None:
    """The model's folder if it is on this machine (a folder, or in the Hugging Face cache), else None."""
    from mlx_embed.encoder.hub import resolve_model_path

    if not name_or_path:
        return None
    try:
        return resolve_model_path(name_or_path, download=False)
    except (ModelNotFoundError, OSError, ValueError):
        return None


def size_on_disk(path: str | os.PathLike) -> int:
    """Bytes used by a model folder (symlinks into the HF blob store are followed once each)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    seen, total = set(), 0
    for root, _, names in os.walk(path):
        for name in names:
            p = Path(root, name)
            try:
                real = p.resolve()
                if real in seen:
                    continue
                seen.add(real)
                total += real.stat().st_size
            except OSError:
                continue
    return total


def download_model(repo: str, report: Callable[[int, int, str], None]) -> Path:
    """Download a model's files (only what the loader reads: mlx_embed.encoder.hub.ALLOW_PATTERNS).

    `report(done_bytes, total_bytes, what)` is called as bytes arrive; raise from it (e.g. the worker's
    Cancelled) to stop the download.
    """
    from huggingface_hub import snapshot_download
    from mlx_embed.encoder.hub import ALLOW_PATTERNS

    if offline_mode():
        raise ModelNotFoundError(f"Cannot download {repo}: offline mode (HF_HUB_OFFLINE) is on. Unset it, "
                                 "or choose a model folder on this machine.")
    try:
        path = snapshot_download(repo, allow_patterns=ALLOW_PATTERNS, tqdm_class=progress_tqdm(report),
                                 max_workers=4)
    except MlxEmbedError:
        raise
    except Exception as exc:
        if "cancel" in type(exc).__name__.lower():
            raise
        raise ModelNotFoundError(
            f"Could not download {repo} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
            "Check your network connection and the model name, then try again; or choose a local folder."
        ) from exc
    return Path(path)


def progress_tqdm(report: Callable[[int, int, str], None]):
    """A tqdm class for huggingface_hub that forwards byte progress to `report` (and lets it raise)."""
    from tqdm.auto import tqdm as base

    class QtProgress(base):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = False
            kwargs["file"] = open(os.devnull, "w")  # noqa: SIM115  (tqdm writes here; nothing is shown)
            super().__init__(*args, **kwargs)
            self._bytes = kwargs.get("unit") == "B"

        def update(self, n=1):
            out = super().update(n)
            if self._bytes:
                report(int(self.n), int(self.total or 0), str(self.desc or ""))
            else:
                report(-1, -1, str(self.desc or ""))   # a files bar: a chance to cancel, no bytes
            return out

        def close(self):
            try:
                super().close()
            finally:
                if not self.fp.closed and self.fp is not None:
                    self.fp.close()

    return QtProgress


def load_model(name_or_path: str, dtype: str | None = None, quantize: int | None = None):
    """mlx_embed.load: a folder, or a repo id already in the local cache (never downloads)."""
    path = local_model_path(name_or_path)
    if path is None:
        raise ModelNotFoundError(f"Model '{name_or_path}' is not on this machine. Download it in the model "
                                 "manager, or choose a local model folder.")
    model = mlx_embed.load(path, dtype=dtype or None, quantize=quantize or None)
    model.warm_up()  # here, in the loading worker, not on the first query
    return model


def describe_model(model) -> dict:
    facts = dict(model.describe())
    facts["size_on_disk"] = size_on_disk(model.path)
    return facts


# --- search results in app terms ----------------------------------------------------------------------
def passage_html(passage, max_chars: int = 400) -> str:
    """A library Passage as one line of HTML with its highlight spans in <b> (everything else escaped)."""
    from html import escape

    text, out, pos = passage.text, [], 0
    for s, e in sorted(passage.highlights or []):
        if s < pos:
            continue
        out += [escape(text[pos:s]), "<b>", escape(text[s:e]), "</b>"]
        pos = e
    out.append(escape(text[pos:]))
    html = " ".join("".join(out).split())
    return html if len(html) <= max_chars * 2 else html[: max_chars * 2] + "…"


# --- organising: clustering and classification --------------------------------------------------------
@dataclass
class Group:
    id: int                        # -1: files in no group (noise)
    label: str
    files: list[str]
    central: list[str]
    outliers: list[str]


@dataclass
class ClusterResult:
    groups: list[Group]
    coords: dict[str, tuple[float, float]]
    summary: str
    skipped: dict[str, str]
    clustering: object             # the library's Clustering


@dataclass
class ClassifyResult:
    assignments: list              # mlx_embed.organize.classify.Assignment
    labels: list[str]
    threshold: float
    method: str
    note: str
    skipped: dict[str, str]
    label_set: object              # the library's LabelSet (corrections go here)


def _embed_files(model, paths: list[str], task: str, index, ctx, verb: str):
    from mlx_embed.organize.files import collect_files
    from mlx_embed.organize.vectors import embed_files

    ctx.report(0, 0, "Finding files…")
    files = collect_files(paths)
    if not files:
        from mlx_embed.errors import InvalidArgumentError
        raise InvalidArgumentError("No files found in what you chose (hidden files are skipped). Choose other "
                                   "files or folders.")
    ctx.check()
    return embed_files(model, files, task, index=index.ix if index is not None else None,
                       progress=lambda done, total: ctx.progress(done, total, f"{verb} {done:,} of {total:,} "
                                                                 f"file{'s' if total != 1 else ''}…", force=True))


def cluster_paths(model, paths: list[str], k: int | None, method: str, index, ctx) -> ClusterResult:
    """Embed the files under `paths` (clustering adapter) and group them (mlx_embed.organize.cluster)."""
    from mlx_embed.organize.cluster import cluster_files

    fv = _embed_files(model, paths, "clustering", index, ctx, "Embedding")
    if len(fv) == 0:
        from mlx_embed.errors import InvalidArgumentError
        reasons = "; ".join(f"{Path(p).name}: {r}" for p, r in list(fv.skipped.items())[:3])
        raise InvalidArgumentError(f"None of the files has readable text ({reasons}). Choose text documents.")
    ctx.report(len(fv), len(fv), "Grouping…")
    result = cluster_files(fv, k=k, method=method, embed=lambda terms: model.encode(terms, task="clustering"))
    ctx.check()
    groups = [Group(c.id, c.label, [str(p) for p in c.files], [str(p) for p in c.central],
                    [str(p) for p in c.outliers]) for c in result.clusters]
    if result.noise:
        groups.append(Group(-1, "Not in any group", [str(p) for p in result.noise], [], []))
    coords = {str(p): (float(x), float(y)) for p, (x, y) in zip(result.paths, result.coords)}
    n = len(result.paths)
    summary = f"{n} files in {len(result.clusters)} groups ({result.criterion})."
    if fv.skipped:
        summary += f" {len(fv.skipped)} skipped (no readable text)."
    summary += " Double-click a group to rename it; drag files between groups."
    return ClusterResult(groups, coords, summary, {str(p): r for p, r in fv.skipped.items()}, result)


def make_label_set(labels: list[dict], threshold: float, base=None):
    """A library LabelSet from the editor's rows (keeping `base`'s cached example vectors)."""
    from mlx_embed.organize.labelset import Label, LabelSet

    out = LabelSet([Label(lab["name"], lab.get("description", ""), [Path(p) for p in lab.get("examples", [])])
                    for lab in labels], threshold, getattr(base, "path", None))
    if base is not None:
        out._cache = base._cache      # noqa: SLF001  (the vectors of examples stay valid while they move)
    return out


def classify_paths(model, paths: list[str], labels: list[dict], threshold: float, index, ctx,
                   base_set=None) -> ClassifyResult:
    """Embed the files (classification adapter) and put each under a label (mlx_embed.organize.classify)."""
    from mlx_embed.organize.classify import classify

    label_set = make_label_set(labels, threshold, base_set)
    fv = _embed_files(model, paths, "classification", index, ctx, "Embedding")
    ctx.report(len(fv), len(fv), "Comparing with the labels…")
    result = classify(model, fv, label_set, threshold=threshold)
    ctx.check()
    note = {"zero-shot": "from the label descriptions", "centroid": "from your examples and descriptions",
            "logistic": "learned from your examples"}.get(result.method, result.method)
    return ClassifyResult(result.assignments, label_set.names, threshold, result.method, note,
                          {str(p): r for p, r in fv.skipped.items()}, label_set)


# --- label sets (the library's JSON format, one file per set, reusable from the CLI) ------------------
def label_sets_dir() -> Path:
    from .config import app_data_dir

    return Path(os.environ.get("MLX_EMBED_LABELS_DIR") or app_data_dir() / "label-sets")


def list_label_sets() -> list[str]:
    folder = label_sets_dir()
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def load_label_set(name: str):
    from mlx_embed.organize.labelset import LabelSet

    return LabelSet.load(label_sets_dir() / f"{_safe_name(name)}.json")


def save_label_set(name: str, label_set) -> Path:
    from mlx_embed.userdirs import make_private_dir

    folder = make_private_dir(label_sets_dir())   # a new folder is user-only; an existing one keeps its mode
    return label_set.save(folder / f"{_safe_name(name)}.json")


def label_set_rows(label_set) -> list[dict]:
    return [{"name": lab.name, "description": lab.description, "examples": [str(p) for p in lab.examples]}
            for lab in label_set.labels]


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in " -_." else "_" for ch in name).strip() or "labels"


# --- file actions (mlx_embed.organize.actions: plans, journal, undo) ---------------------------------
@dataclass
class ActionResult:
    journal: Path
    text: str
    ok: bool


def plan_groups(groups: list[tuple[str, list[str]]], dest: str, mode: str = "move"):
    """The library's plan: each group's files into `dest/<group name>/` (or tagged). Nothing happens yet."""
    from mlx_embed.organize import actions

    return actions.plan_groups([{"name": name, "files": list(files)} for name, files in groups], mode=mode,
                               destination=dest)


def plan_steps(plan) -> list[tuple[str, str | None]]:
    """(file, where it goes) per step (None for a tag); folder creations are implied."""
    return [(op.source, op.target or None) for op in plan.operations if op.kind in ("move", "copy", "tag")]


def plan_mode(plan) -> str:
    return plan.mode


def plan_problems(plan) -> list[str]:
    return list(plan.problems)


def plan_summary(plan) -> str:
    steps = [op for op in plan.operations if op.kind in ("move", "copy", "tag")]
    n = len(steps)
    verb = {"move": "Move", "copy": "Copy", "tag": "Tag"}.get(plan.mode, plan.mode.title())
    if plan.mode == "tag":
        return f"{verb} {n} file{'s' if n != 1 else ''} with {len({op.tag for op in steps})} tags"
    folders = len({str(Path(op.target).parent) for op in steps})
    return f"{verb} {n} file{'s' if n != 1 else ''} into {folders} folder{'s' if folders != 1 else ''}"


def journal_dir() -> Path | None:
    return Path(os.environ["MLX_EMBED_JOURNAL_DIR"]) if os.environ.get("MLX_EMBED_JOURNAL_DIR") else None


def apply_plan(plan, index=None) -> ActionResult:
    """Carry out a plan (every step journaled first; the index follows moves without re-embedding)."""
    from mlx_embed.organize import actions

    result = actions.apply(plan, journal_dir=journal_dir(), index=index.ix if index is not None else None)
    return ActionResult(result.journal, _result_text(plan_summary(plan), result), result.ok)


def undo(journal, index=None) -> ActionResult:
    from mlx_embed.organize import actions

    result = actions.undo(journal=journal, journal_dir=journal_dir(), index=index.ix if index is not None else None)
    return ActionResult(result.journal, _result_text("Undo", result), result.ok)


def _result_text(what: str, result) -> str:
    text = f"{what}: {len(result.done)} step{'s' if len(result.done) != 1 else ''} done"
    if result.skipped:
        text += f", {len(result.skipped)} skipped ({next(iter(result.skipped.values()))})"
    if result.failed:
        text += f", {len(result.failed)} failed ({next(iter(result.failed.values()))})"
    return text + "."

"""`mlx-embed index add|remove|update|status|rebuild|watch`: build and keep the search index.

Every subcommand takes --index (env MLX_EMBED_INDEX; default: the platform's app-data folder) and
--model (env MLX_EMBED_MODEL; default: the model the index was built with, else the configured one). Exit
codes: 0 ok, 1 error, 2 bad argument, 3 model not found, 4 index of a newer mlx-embed, 5 the index holds another
model (run `rebuild`), 6 damaged index (run `rebuild`: it recovers the folders and settings), 7 read-only index,
8 another run is updating the index (only with --no-wait), 130 interrupted (the work queue is kept: the next run
resumes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

from ..words import plural
from . import add_model_argument, error


def add_index_arguments(p: argparse.ArgumentParser, model: bool = True) -> None:
    p.add_argument("--index", "-i", default=os.environ.get("MLX_EMBED_INDEX"),
                   help="index folder or .db file (env MLX_EMBED_INDEX; default: the platform's app-data folder)")
    if model:
        add_model_argument(p)
        p.set_defaults(model=None)  # None: MLX_EMBED_MODEL, else the model the index was built with
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="add folders to the search index and keep it current",
                       description="Build, inspect and maintain the local search index.")
    s = p.add_subparsers(dest="index_command", metavar="SUBCOMMAND")
    s.required = True

    a = s.add_parser("add", help="add folders and index them")
    a.add_argument("paths", nargs="+", metavar="FOLDER")
    a.add_argument("--exclude", "-x", action="append", default=[], metavar="PATTERN",
                   help="gitignore-style pattern to leave out (repeatable)")
    a.add_argument("--no-run", action="store_true", help="only register the folders")
    _creation_arguments(a)
    _run_arguments(a)
    add_index_arguments(a)
    a.set_defaults(run=run_add)

    r = s.add_parser("remove", help="remove folders (and their files) from the index")
    r.add_argument("paths", nargs="+", metavar="FOLDER")
    add_index_arguments(r, model=False)
    r.set_defaults(run=run_remove)

    u = s.add_parser("update", help="re-scan the folders and index what changed")
    _run_arguments(u)
    add_index_arguments(u)
    u.set_defaults(run=run_update)

    st = s.add_parser("status", help="files by status, failures with reasons, the running job and its ETA")
    st.add_argument("--failures", type=int, default=20, metavar="N", help="list at most N failures (default 20)")
    st.add_argument("--check", action="store_true", help="also run an integrity check")
    add_index_arguments(st, model=False)
    st.set_defaults(run=run_status)

    rb = s.add_parser("rebuild", help="re-embed every file (after changing the model)")
    _run_arguments(rb)
    add_index_arguments(rb)
    rb.set_defaults(run=run_rebuild)

    w = s.add_parser("watch", help="index, then keep the index current until interrupted")
    w.add_argument("--interval", type=float, default=5.0,
                   help="polling: seconds between checks; also how soon added folders are noticed (default 5)")
    w.add_argument("--method", default="auto", choices=["auto", "events", "poll"],
                   help="native file events, or polling (default auto: polling on network and FUSE volumes, "
                        "which send no events for other machines' changes; env MLX_EMBED_WATCH)")
    _run_arguments(w)
    add_index_arguments(w)
    w.set_defaults(run=run_watch)


def _creation_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("settings of a new index")
    g.add_argument("--chunk-tokens", type=int, default=None, help="tokens per chunk (default 256)")
    g.add_argument("--dim", type=int, default=None, help="store Matryoshka-truncated vectors of this dimension")
    g.add_argument("--binary", action="store_true", default=None, help="store sign bits only (32x smaller)")
    g.add_argument("--max-size", type=float, default=None, metavar="MB", help="skip larger files (default 50)")
    g.add_argument("--hidden", action="store_true", default=None, help="also index hidden files and folders")


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.add_argument("--no-wait", action="store_true",
                   help="exit (code 8) instead of waiting when another run is updating this index")
    p.add_argument("--normal-priority", action="store_true", help="do not lower the indexer's CPU priority")


def open_index(args: argparse.Namespace, create: bool = True, **settings):
    """The one Index a command works on (use it as a context manager: `with open_index(args) as ix`).

    With no --model (and no MLX_EMBED_MODEL), the model the index was built with; a command that takes
    --model falls back to the configured model, then DEFAULT_MODEL, while the index has none yet."""
    from ..index import Index

    if not create and not Index.locate(args.index).exists():
        from ..errors import MlxEmbedError

        raise MlxEmbedError(f"No index at {Index.locate(args.index)}. Create one with `mlx-embed index add FOLDER`.")
    from . import env_model

    model = getattr(args, "model", None) or env_model()
    fallback = None
    if model is None and getattr(args, "model", "absent") is None:
        from ..userconfig import get
        from . import DEFAULT_MODEL

        fallback = get("model") or DEFAULT_MODEL   # after the index's own model: Index uses that first
    ix = Index(args.index, model=model, create=create, fallback_model=fallback, **settings)
    ix.lock_wait = not getattr(args, "no_wait", False)
    ix.on_lock_wait = lambda message: error(message)
    return ix


def refuse_damaged(args: argparse.Namespace) -> None:
    """Before a command that reads the whole index or writes it: SQLite's quick check (exit 6 if damaged)."""
    from ..errors import IndexDamagedError
    from ..index.recover import damage

    reason = damage(args.index)
    if reason is not None:
        raise IndexDamagedError(reason)


class Bars:
    """tqdm progress bars on stderr for the scan and index phases.

    No tqdm rate or remaining time: its first tick divides one file by microseconds ("85598.04 files/s").
    The index bar shows the indexer's own ETA (None until a second of work has passed) and a files/s rate
    from the second RATE_AFTER_S on; its last update is the run's final count (the "done" report), so the
    bar's chunks equal the summary's "chunks embedded"."""

    RATE_AFTER_S = 2.0

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.phase = None
        self.t0 = 0.0

    def __call__(self, p) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if p.phase == "done" and self.phase == "index" and self.bar is not None:
            self._update(p)            # the final count, before the bar closes
        if p.phase != self.phase:
            self.close()
            self.phase = p.phase
            self.t0 = time.monotonic()
            if p.phase == "scan":
                self.bar = tqdm(desc="Scanning", unit=" files", file=sys.stderr, leave=False,
                                bar_format="{desc}: {n_fmt} files [{elapsed}]")
            elif p.phase == "index":
                self.bar = tqdm(desc="Indexing", total=p.files_total, unit=" files", file=sys.stderr,
                                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} files "
                                           "[{elapsed}{postfix}]")
        if self.bar is None:
            return
        self._update(p)

    def _update(self, p) -> None:
        self.bar.n = p.files_done
        if p.phase in ("index", "done"):
            from ..words import plural

            elapsed = time.monotonic() - self.t0
            post = [plural(p.chunks_done, "chunk")]
            if p.failed:
                post.append(f"{p.failed:,} failed")
            if elapsed >= self.RATE_AFTER_S and p.files_done:
                post.append(f"{p.files_done / elapsed:.1f} files/s")
            if p.detail:  # "OCR page 3 of 80"
                post.append(p.detail)
            if p.phase == "index":
                post.append(f"ETA {_duration(p.eta_seconds)}")
            self.bar.set_postfix_str(", ".join(post), refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _do_run(ix, args, rebuild: bool = False) -> int:
    from ..index.indexer import lower_priority

    if not args.normal_priority:
        lower_priority(whole_process=True)
    bars = Bars(not args.quiet and not args.json and sys.stderr.isatty())
    cancel = threading.Event()
    try:
        stats = (ix.rebuild if rebuild else ix.run)(progress=bars, cancel=cancel)
    finally:
        bars.close()
    st = ix.status(max_failures=0)
    if args.json:
        json.dump({"run": stats.to_dict(), "counts": st.counts, "ignored": st.ignored, "summary": st.summary(),
                   "chunks": st.chunks}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(ix.run_summary(stats, st), file=sys.stderr)   # the words the app shows too
        if st.counts["failed"]:
            error(f"{plural(st.counts['failed'], 'file')} could not be read: see `mlx-embed index status`.")
    return 0


def run_add(args: argparse.Namespace) -> int:
    settings = {k: v for k, v in dict(chunk_tokens=args.chunk_tokens, vector_dim=args.dim, binary=args.binary,
                                       include_hidden=args.hidden,
                                       max_size=int(args.max_size * 2**20) if args.max_size else None).items()
                if v is not None}
    refuse_damaged(args)
    with open_index(args, **settings) as ix:
        added = [ix.add_folder(p, args.exclude) for p in args.paths]
        if not args.json:
            for p in added:
                print(f"Added {p}", file=sys.stderr)
        if args.no_run:
            if args.json:
                json.dump({"added": [str(p) for p in added]}, sys.stdout)
                sys.stdout.write("\n")
            return 0
        return _do_run(ix, args)


def run_remove(args: argparse.Namespace) -> int:
    with open_index(args, create=False) as ix:
        removed = {p: ix.remove_folder(p) for p in args.paths}
    if args.json:
        json.dump({"removed": removed}, sys.stdout)
        sys.stdout.write("\n")
    else:
        for p, n in removed.items():
            print(f"Removed {p} ({plural(n, 'file')})", file=sys.stderr)
    return 0


def run_update(args: argparse.Namespace) -> int:
    refuse_damaged(args)
    with open_index(args, create=False) as ix:
        return _do_run(ix, args)


def run_rebuild(args: argparse.Namespace) -> int:
    """Re-embed everything; a damaged (or lost) index is first recovered: same folders and settings."""
    from ..index.recover import damage, recover
    from ..index.store.safety import read_sidecar

    from ..index import Index

    db_path = Index.locate(args.index)
    lost = not db_path.exists() and read_sidecar(db_path) is not None
    if lost or damage(args.index) is not None:
        model = args.model or os.environ.get("MLX_EMBED_MODEL") or None
        from . import DEFAULT_MODEL

        ix, note = recover(args.index, model, fallback_model=DEFAULT_MODEL if model is None else None)
        print(note, file=sys.stderr)
        ix.lock_wait = not args.no_wait
        ix.on_lock_wait = lambda message: error(message)
        with ix:
            return _do_run(ix, args)
    with open_index(args, create=False) as ix:
        return _do_run(ix, args, rebuild=True)


def run_watch(args: argparse.Namespace) -> int:
    from ..index.indexer import lower_priority
    from ..index.watch import watch

    if not args.normal_priority:
        lower_priority(whole_process=True)
    cancel = threading.Event()

    def report(stats) -> None:
        if args.json:
            print(json.dumps({"time": time.time(), **stats.to_dict()}), flush=True)
        elif not args.quiet:
            print(f"{time.strftime('%H:%M:%S')} {stats.indexed} indexed, {stats.moved} moved, {stats.deleted} deleted, "
                  f"{stats.failed} failed", file=sys.stderr, flush=True)

    def started(methods: dict) -> None:
        for folder, (how, why) in methods.items():
            what = "file events" if how == "events" else f"polling every {args.interval:g} s"
            print(f"Watching {folder} with {what} ({why})", file=sys.stderr, flush=True)

    bars = Bars(not args.quiet and not args.json and sys.stderr.isatty())
    refuse_damaged(args)
    try:
        with open_index(args, create=False) as ix:
            watch(ix, interval=args.interval, cancel=cancel, on_run=report, progress=bars, low_priority=False,
                  method=args.method, on_start=None if args.quiet or args.json else started)
    except KeyboardInterrupt:
        cancel.set()
        bars.close()
        return 0
    return 0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "estimating"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def run_status(args: argparse.Namespace) -> int:
    refuse_damaged(args)   # damage must not look healthy: SQLite's quick check first (exit 6)
    with open_index(args, create=False) as ix:
        st = ix.status(max_failures=args.failures)
        check = ix.check() if args.check else None
    if args.json:
        d = st.to_dict()
        if check is not None:
            d["check"] = check
        json.dump(d, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0 if check is None or check["ok"] else 1
    out = sys.stdout
    print(f"Index   {st.path} ({st.size_bytes / 2**20:.1f} MB)", file=out)
    m = st.model
    print(f"Model   {m['name']} ({m['dim']}-d, {m['path']})" if m else "Model   none yet", file=out)
    print("Folders" + ("" if st.folders else "  none (add one with `mlx-embed index add FOLDER`)"), file=out)
    for f in st.folders:
        print(f"  {f.path}  {f.summary()}", file=out)
    c = st.counts
    print(f"Files   {st.summary()}; {plural(st.chunks, 'chunk')} stored", file=out)
    if st.kinds:
        print("Kinds   " + ", ".join(f"{k} {n}" for k, n in st.kinds.items()), file=out)
    if st.run:
        r = st.run
        print(f"Running {r.get('phase')} {r.get('done', 0)}/{r.get('total', 0)} files (pid {r.get('pid')}), "
              f"ETA {_duration(r.get('eta_seconds'))}", file=out)
    elif c["pending"]:
        print(f"Pending {plural(c['pending'], 'file')} waiting for `mlx-embed index update`", file=out)
    if st.skipped_reasons:
        print("Skipped " + ", ".join(f"{n} {reason}" for reason, n in st.skipped_reasons.items()), file=out)
    if st.failures:
        print("Failed", file=out)
        for path, reason in st.failures:
            print(f"  {path}: {reason}", file=out)
        if c["failed"] > len(st.failures):
            print(f"  ... and {c['failed'] - len(st.failures)} more (--failures N)", file=out)
    if check is not None:
        print("Check   " + ("ok" if check["ok"] else json.dumps(check)), file=out)
        return 0 if check["ok"] else 1
    return 0

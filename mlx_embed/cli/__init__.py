"""The `mlx-embed` command. Each command group lives in its own module with `register(subparsers)`.

Messages go to stderr, results to stdout (`--json` for scripts); exit codes: 0 ok, 1 error,
2 bad usage or argument, 3 model not found, 4 bad model files (or an index of a newer version), 5 the
index holds another model's vectors, 6 damaged index (`mlx-embed index rebuild` recovers it), 7 the
index is read-only (search works, updates do not), 8 another run is updating the index, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..encoder.facts import DEFAULT_MODEL

# Command modules, imported lazily so `mlx-embed --help` and each command start fast.
COMMANDS = ["embed", "info", "download", "convert", "serve", "index", "search", "similar", "cluster", "classify",
            "apply", "config"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlx-embed", description="On-device embeddings, search and file organising.")
    parser.add_argument("--version", action="version", version=f"mlx-embed {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"mlx_embed.cli.{name}").register(sub)
    return parser


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    """--model, shared by every command that embeds; None here, resolved by resolve_model()."""
    parser.add_argument("--model", "-m", default=None,
                        help="model folder or Hugging Face repo id (default: env MLX_EMBED_MODEL, else the "
                             "index's model, else `mlx-embed config get model`, else " + DEFAULT_MODEL + ")")


def env_model() -> str | None:
    """MLX_EMBED_MODEL when it names something (an empty value is unset, not the current folder)."""
    return os.environ.get("MLX_EMBED_MODEL", "").strip() or None


def resolve_model(explicit: str | None, index: str | os.PathLike | None = None, use_index: bool = True) -> str:
    """The model a command uses: --model, MLX_EMBED_MODEL, the model the index at `index` (None: the
    default index) was built with, the configured model (`mlx-embed config set model M`), DEFAULT_MODEL."""
    if explicit:
        return explicit
    if env_model():
        return env_model()
    if use_index:
        recorded = index_model(index)
        if recorded:
            return recorded
    from ..userconfig import get

    return get("model") or DEFAULT_MODEL


def index_model(index: str | os.PathLike | None) -> str | None:
    """The model folder an existing index records (None: no index there, or none recorded yet). `index`
    None: MLX_EMBED_INDEX, else the default index (as a command without --index would open)."""
    from ..index.store import Database, resolve_db_path

    path = resolve_db_path(index if index is not None else os.environ.get("MLX_EMBED_INDEX") or None)
    if not path.is_file():
        return None
    try:
        db = Database(path, create=False)
        try:
            recorded = db.get("model")
        finally:
            db.close()
    except Exception:  # noqa: BLE001  (a damaged or newer index: the commands that open it say so)
        return None
    return (recorded or {}).get("path") or None



def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlx-embed")
    except PackageNotFoundError:
        return "unknown"


def error(message: str) -> None:
    print(f"mlx-embed: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        # a file name that is not UTF-8 prints as \xNN instead of ending the command (JSON is ASCII anyway)
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..errors import MlxEmbedError

    try:
        return int(args.run(args) or 0)
    except MlxEmbedError as exc:
        error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        import sqlite3

        if not isinstance(exc, sqlite3.Error):
            raise
        # the store translates SQLite's errors; one that got past it still gets its meaning, not a traceback
        from ..index.store.safety import translate

        err = translate(exc, getattr(args, "index", None) or "the index")
        error(str(err))
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())

"""Apply a clustering or classification to the files: moves, copies or tags, journaled and undoable.

    plan = plan_groups(groups, mode="move", destination=None)   # groups: [{"name", "files"}] or a
                                                                 # Clustering/Classification .to_dict()
    plan = load_plan("plan.json", mode="copy", destination=None) # a JSON written by cluster/classify --json
    plan.operations  -> [Operation(id, kind, source, target, tag, note)]   # kind: mkdir|move|copy|tag
    plan.problems    -> ["...cannot write to /x", "...vanished"]            # the preview's warnings
    plan.describe()  -> lines for a preview;  nothing on disk changes before apply()
    result = apply(plan, journal_dir=None, index=None, tags=None)  -> Result(journal, done, failed,
                                                                            skipped, moved)
    result = undo(journal=None, journal_dir=None, index=None)      # the latest journal not yet undone
    result = resume(journal=None, journal_dir=None, index=None)    # finish an interrupted apply
    journals(journal_dir=None) -> [JournalInfo(path, state, created, mode, operations)]

Guarantees:
- Nothing is overwritten: a name that is taken gets " (2)", " (3)"... (decided in the plan and checked
  again at the moment of the move). Moves are a hard link then an unlink (the link fails if the name is
  taken, atomically); where hard links are impossible (another volume, some file systems) the file is
  copied to a temporary name, fsynced, renamed into a free name, then the source is removed.
- Every step is journaled before it happens: the journal (JSON lines in `journal_dir`, default
  <app data>/journals, env MLX_EMBED_JOURNAL_DIR) gets the whole plan, then a "begin" record before each
  step and a "done"/"failed"/"skipped" record after it, each flushed and fsynced. A crash (even kill -9)
  mid-apply leaves a journal whose last step is found by looking at the disk (source, target, same inode,
  content hash): `undo` puts back whatever happened, `resume` finishes the rest. Undo is journaled too,
  so an interrupted undo is completed by running undo again.
- Undo restores exactly: moved files go back to their old paths, copies are deleted (only if their
  content is still what was copied), folders created by the apply are removed if empty, tags are set
  back to their previous list (an empty list removes the tag sidecar or attribute). A path that has been
  taken since is never overwritten: that step is reported as a conflict and the file stays.
- A source that vanished before its step is skipped and reported; a step that fails (permission
  denied, read-only folder, disk full) is recorded as failed with its reason and the others go on.
- The index follows moves (`index.move_file(old, new)`, no re-embedding) when an Index is given.
- Tags: Finder tags (the com.apple.metadata:_kMDItemUserTags extended attribute) on macOS; elsewhere a
  sidecar `.mlx-embed-tags.json` in the file's folder ({file name: [tags]}). See tags.py.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import InvalidArgumentError, MlxEmbedError
from . import tags as tagging

MODES = ("move", "copy", "tag")
JOURNAL_VERSION = 1
PARTIAL = ".mlx-embed-partial"
MAX_NAME = 120


class JournalError(MlxEmbedError):
    """A journal that is missing, damaged, already undone, or in use by another process."""

    exit_code = 2


@dataclass
class Operation:
    id: int
    kind: str                      # mkdir | move | copy | tag
    source: str                    # the file (or, for mkdir, the folder)
    target: str = ""               # where the file goes (move, copy)
    tag: str = ""                  # the tag to add (tag)
    note: str = ""                 # e.g. "renamed: name taken"


@dataclass
class Plan:
    mode: str
    operations: list[Operation]
    problems: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        lines = []
        for op in self.operations:
            if op.kind == "mkdir":
                lines.append(f"mkdir  {op.source}")
            elif op.kind == "tag":
                lines.append(f"tag    {op.source}  +{op.tag!r}")
            else:
                lines.append(f"{op.kind:<6} {op.source} -> {op.target}" + (f"  ({op.note})" if op.note else ""))
        return lines + [f"warning: {p}" for p in self.problems]

    def to_dict(self) -> dict:
        return {"mode": self.mode, "operations": [asdict(op) for op in self.operations], "problems": self.problems}


@dataclass
class Result:
    journal: Path
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)       # op id -> reason
    skipped: dict[int, str] = field(default_factory=dict)      # op id -> reason (vanished, conflict)
    moved: list[tuple[Path, Path]] = field(default_factory=list)  # (old, new) of files that moved

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict:
        return {"journal": str(self.journal), "done": len(self.done),
                "failed": {str(k): v for k, v in self.failed.items()},
                "skipped": {str(k): v for k, v in self.skipped.items()},
                "moved": [[str(a), str(b)] for a, b in self.moved]}


@dataclass
class JournalInfo:
    path: Path
    state: str                     # applying (interrupted) | applied | undoing | undone
    created: float
    mode: str
    operations: int


# --- planning --------------------------------------------------------------------------------------
def load_plan(path: str | os.PathLike, mode: str = "move", destination: str | os.PathLike | None = None,
              include: Sequence[str] | None = None) -> Plan:
    """A plan from a JSON file written by `cluster --json` / `classify --json` (its "groups")."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidArgumentError(f"{path} does not exist: write it with `mlx-embed cluster ... --json > {path}`.") from exc
    except (OSError, ValueError) as exc:
        raise InvalidArgumentError(f"{path} is not readable JSON ({exc}).") from exc
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise InvalidArgumentError(f"{path} has no \"groups\": give the JSON of `mlx-embed cluster|classify --json`.")
    return plan_groups(data["groups"], mode, destination if destination is not None else data.get("destination"),
                       include)


def plan_groups(groups, mode: str = "move", destination: str | os.PathLike | None = None,
                include: Sequence[str] | None = None) -> Plan:
    """Operations that put each group's files into a folder named after the group (or tag them with it).

    destination: the folder that receives the group folders (default: the deepest folder containing
    every file). include: only these group names. Files already in their group's folder stay."""
    if mode not in MODES:
        raise InvalidArgumentError(f"Unknown mode {mode!r}; use one of: {', '.join(MODES)}.")
    if isinstance(groups, dict):
        groups = groups.get("groups", [])
    groups = [g for g in groups if include is None or g["name"] in include]
    files = [Path(f).absolute() for g in groups for f in g["files"]]
    ops: list[Operation] = []
    problems: list[str] = []
    seen: set[Path] = set()
    if not files:
        return Plan(mode, ops, ["nothing to do: the plan has no files"])
    root = Path(destination).expanduser().absolute() if destination else Path(os.path.commonpath([f.parent for f in files]))
    taken: set[str] = set()                  # targets already planned
    made: set[Path] = set()
    for g in groups:
        name = safe_folder_name(str(g["name"]))
        folder = root / name
        for f in (Path(p).absolute() for p in g["files"]):
            if f in seen:
                problems.append(f"{f} is in more than one group: only the first counts")
                continue
            seen.add(f)
            if not f.exists():
                problems.append(f"{f} has vanished: it will be skipped")
                continue
            if mode == "tag":
                ops.append(Operation(len(ops), "tag", str(f), tag=str(g["name"])))
                continue
            if f.parent == folder:
                continue                        # already where the group goes
            for d in _missing_dirs(folder, made):
                made.add(d)
                ops.append(Operation(len(ops), "mkdir", str(d)))
                if not _writable(d.parent) and d.parent not in made:
                    problems.append(f"cannot write to {d.parent}: its steps will fail")
            if folder.exists() and folder not in made and not _writable(folder):
                problems.append(f"cannot write to {folder}: its steps will fail")
            target = free_name(folder / f.name, taken)
            note = "renamed: name taken" if target.name != f.name else ""
            taken.add(str(target))
            ops.append(Operation(len(ops), mode, str(f), str(target), note=note))
    for i, op in enumerate(ops):
        op.id = i
    return Plan(mode, ops, list(dict.fromkeys(problems)))


def _missing_dirs(folder: Path, made: set[Path]) -> list[Path]:
    out = []
    d = folder
    while not d.exists() and d not in made and d != d.parent:
        out.append(d)
        d = d.parent
    return out[::-1]


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def safe_folder_name(name: str) -> str:
    """A group name made safe as one folder name on macOS, Linux and Windows."""
    bad = '/\\:*?"<>|'
    clean = "".join("-" if c in bad or ord(c) < 32 else c for c in name).strip().strip(".")
    return clean[:MAX_NAME].strip() or "group"


def free_name(target: Path, taken: Iterable[str] = ()) -> Path:
    """`target`, or "stem (2).ext", "stem (3).ext"... : the first name not on disk and not in `taken`."""
    taken = set(taken)
    candidate, n = target, 1
    while os.path.lexists(candidate) or str(candidate) in taken or os.path.lexists(_partial(candidate)):
        n += 1
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
    return candidate


def _partial(target: Path) -> Path:
    return target.with_name(f".{target.name}{PARTIAL}")


# --- journal ---------------------------------------------------------------------------------------
def default_journal_dir() -> Path:
    env = os.environ.get("MLX_EMBED_JOURNAL_DIR")
    if env:
        return Path(env).expanduser()
    try:
        from ..index.store import default_index_dir
    except ImportError:  # the index is optional
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "mlx-embed"
        if sys.platform == "darwin":
            base = Path.home() / "Library" / "Application Support" / "mlx-embed"
        return base / "journals"
    return default_index_dir() / "journals"


class Journal:
    """Append-only JSON lines, each fsynced; holds an exclusive lock while a process works on it."""

    def __init__(self, path: Path):
        self.path = path
        self._f = None

    @classmethod
    def create(cls, folder: Path, header: dict) -> "Journal":
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() % 10**9:09d}"
        j = cls(folder / f"{stamp}.journal")
        j.open(create=True)
        j.write(header)
        _fsync_dir(folder)
        return j

    def open(self, create: bool = False) -> "Journal":
        try:
            self._f = open(self.path, "x" if create else "r+", encoding="utf-8")
        except FileNotFoundError as exc:
            raise JournalError(f"Journal {self.path} does not exist.") from exc
        try:
            import fcntl

            fcntl.flock(self._f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:
            pass
        except OSError as exc:
            self._f.close()
            raise JournalError(f"Journal {self.path} is in use by another mlx-embed process; wait for it "
                               f"to finish (or end it) and try again.") from exc
        if not create:
            self._drop_torn_tail()
        self._f.seek(0, os.SEEK_END)
        return self

    def _drop_torn_tail(self) -> None:
        """A crash in the middle of a write leaves a last line without its newline: cut it off, so the
        records appended next are whole lines (the torn record never counted: its step is re-checked)."""
        self._f.seek(0)
        data = self._f.read()
        if data and not data.endswith("\n"):
            keep = data.rfind("\n") + 1
            self._f.seek(0)
            self._f.truncate(len(data[:keep].encode("utf-8")))
            self._f.flush()
            os.fsync(self._f.fileno())

    def write(self, record: dict) -> None:
        self._f.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def records(self) -> list[dict]:
        out = []
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    break          # a torn last line from a crash: everything before it counts
        if not out or out[0].get("type") != "plan":
            raise JournalError(f"{self.path} is not an mlx-embed journal.")
        return out


def _state(records: list[dict]) -> str:
    types = [r["type"] for r in records]
    if "undo-finished" in types:
        return "undone"
    if "undo-begin" in types:
        return "undoing"
    return "applied" if "finished" in types else "applying"


def journals(journal_dir: str | os.PathLike | None = None) -> list[JournalInfo]:
    """Every journal in the folder, oldest first."""
    folder = Path(journal_dir) if journal_dir else default_journal_dir()
    out = []
    for p in sorted(folder.glob("*.journal")):
        try:
            records = Journal(p).records()
        except (JournalError, OSError):
            continue
        head = records[0]
        out.append(JournalInfo(p, _state(records), head.get("created", 0.0), head.get("mode", "?"),
                               len(head.get("operations", []))))
    return out


def _pick(journal, journal_dir, states: tuple[str, ...], verb: str) -> Path:
    if journal:
        return Path(journal)
    candidates = [j for j in journals(journal_dir) if j.state in states]
    if not candidates:
        raise JournalError(f"Nothing to {verb}: no journal in {Path(journal_dir) if journal_dir else default_journal_dir()} "
                           f"is {' or '.join(states)}.")
    return candidates[-1].path


# --- apply / resume --------------------------------------------------------------------------------
def apply(plan: Plan, journal_dir: str | os.PathLike | None = None, index=None,
          tags: tagging.TagStore | None = None) -> Result:
    """Carry out the plan, journaling each step first. Returns what was done, failed and skipped."""
    folder = Path(journal_dir) if journal_dir else default_journal_dir()
    header = {"type": "plan", "version": JOURNAL_VERSION, "created": time.time(), "mode": plan.mode,
              "cwd": os.getcwd(), "operations": [asdict(op) for op in plan.operations]}
    journal = Journal.create(folder, header)
    try:
        return _run(journal, [header], index, tags or tagging.default_store())
    finally:
        journal.close()


def resume(journal: str | os.PathLike | None = None, journal_dir: str | os.PathLike | None = None, index=None,
           tags: tagging.TagStore | None = None) -> Result:
    """Finish an interrupted apply (the latest one by default)."""
    path = _pick(journal, journal_dir, ("applying",), "resume")
    j = Journal(path).open()
    try:
        records = j.records()
        state = _state(records)
        if state != "applying":
            raise JournalError(f"{path} is {state}: there is nothing to resume.")
        return _run(j, records, index, tags or tagging.default_store())
    finally:
        j.close()


def _run(journal: Journal, records: list[dict], index, tags) -> Result:
    ops = [Operation(**op) for op in records[0]["operations"]]
    ended = {r["id"]: r for r in records if r["type"] in ("done", "failed", "skipped")}
    began = {r["id"]: r for r in records if r["type"] == "begin"}
    result = Result(journal.path)
    for r in ended.values():
        if r["type"] == "done":
            result.done.append(r["id"])
        elif r["type"] == "failed":
            result.failed[r["id"]] = r.get("reason", "")
        else:
            result.skipped[r["id"]] = r.get("reason", "")
    failed_dirs = {Path(ops[i].source): result.failed[i] for i in result.failed if ops[i].kind == "mkdir"}
    for op in ops:
        if op.id in ended:
            continue
        try:
            if op.id in began:
                outcome = _recover_forward(op, began[op.id], journal, tags)
            else:
                blocked = [d for d in failed_dirs if op.target and d in Path(op.target).parents]
                if blocked:
                    raise _StepFailed(f"its folder could not be created ({failed_dirs[blocked[0]]})")
                outcome = _step(op, journal, tags)
        except _StepFailed as exc:
            journal.write({"type": "failed", "id": op.id, "reason": str(exc)})
            result.failed[op.id] = str(exc)
            if op.kind == "mkdir":
                failed_dirs[Path(op.source)] = str(exc)
            continue
        except _StepSkipped as exc:
            journal.write({"type": "skipped", "id": op.id, "reason": str(exc)})
            result.skipped[op.id] = str(exc)
            continue
        except OSError as exc:              # while recovering a step: report it, go on with the others
            reason = _reason(exc, op.target or op.source)
            journal.write({"type": "failed", "id": op.id, "reason": reason})
            result.failed[op.id] = reason
            continue
        journal.write({"type": "done", "id": op.id, **outcome})
        result.done.append(op.id)
    journal.write({"type": "finished"})
    # the index follows the moves (after the journal is complete: the index is a cache, the files are truth)
    final = {r["id"]: r for r in journal.records() if r["type"] == "done"}
    for op in ops:
        if op.kind == "move" and op.id in final:
            old, new = Path(op.source), Path(final[op.id].get("target", op.target))
            result.moved.append((old, new))
            _index_move(index, old, new)
    return result


class _StepFailed(Exception):
    pass


class _StepSkipped(Exception):
    pass


def _reason(exc: OSError, path) -> str:
    path = exc.filename or path
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied: {path} (read-only or not yours)"
    if exc.errno == errno.ENOSPC:
        return f"disk full writing {path}"
    return f"{exc.strerror or exc}: {path}"


def _step(op: Operation, journal: Journal, tags) -> dict:
    """One step: journal 'begin' (with the facts undo needs), then do it. Returns the 'done' details."""
    if op.kind == "mkdir":
        d = Path(op.source)
        existed = d.is_dir()
        journal.write({"type": "begin", "id": op.id, "existed": existed})
        if not existed:
            try:
                _mkdir(d)
            except FileExistsError:
                if not d.is_dir():
                    raise _StepFailed(f"{d} exists and is not a folder") from None
                return {"created": False}
            except OSError as exc:
                raise _StepFailed(_reason(exc, d.parent)) from exc
            _fsync_dir(d.parent)
        return {"created": not existed}
    src = Path(op.source)
    if not src.is_file():
        raise _StepSkipped(f"{src} vanished before it could be {op.kind}d" if op.kind != "tag"
                           else f"{src} vanished before it could be tagged")
    if op.kind == "tag":
        try:
            before = tags.get(src)
        except OSError as exc:
            raise _StepFailed(_reason(exc, src)) from exc
        after = before + [op.tag] if op.tag not in before else before
        journal.write({"type": "begin", "id": op.id, "before": before, "after": after})
        try:
            tags.set(src, after)
        except OSError as exc:
            raise _StepFailed(_reason(exc, src)) from exc
        return {}
    digest = _sha256(src) if op.kind == "copy" else None

    def claim(target: Path) -> None:            # journal the exact name before it is created
        journal.write({"type": "begin", "id": op.id, "target": str(target), "sha256": digest})

    target = free_name(Path(op.target))
    claim(target)
    try:
        if op.kind == "move":
            target = _move(src, target, claim)
        else:
            target = _copy(src, target, claim)
    except FileNotFoundError as exc:
        if not src.exists():
            raise _StepSkipped(f"{src} vanished before it could be {op.kind}d") from exc
        raise _StepFailed(_reason(exc, target.parent)) from exc
    except OSError as exc:
        raise _StepFailed(_reason(exc, target.parent)) from exc
    return {"target": str(target)}


def _move(src: Path, target: Path, claim=lambda target: None) -> Path:
    """Move without ever replacing a file: hard link + unlink, else copy + rename + unlink.

    `claim(name)` is called before a different name than the one given is created (to journal it)."""
    while True:
        try:
            _link(src, target)
            break
        except FileExistsError:
            target = free_name(target)          # taken since we looked: the next free name
            claim(target)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            target = _copy(src, target, claim)   # another volume, or a file system without hard links
            break
    _fsync_dir(target.parent)
    try:
        _unlink(src)
    except OSError:
        _unlink(target)                          # the source cannot go (read-only folder): take back the new name
        raise
    _fsync_dir(src.parent)
    return target


def _copy(src: Path, target: Path, claim=lambda target: None) -> Path:
    part = _partial(target)
    with open(src, "rb") as fin, open(part, "xb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())
    shutil.copystat(src, part)
    while True:
        if not os.path.lexists(target):
            try:
                _link(part, target)             # atomic no-replace where links work
                _unlink(part)
                break
            except FileExistsError:
                pass
            except OSError:
                if not os.path.lexists(target):
                    os.rename(part, target)     # no hard links here: check-then-rename
                    break
        old_part = part
        target = free_name(target)
        claim(target)
        part = _partial(target)
        os.rename(old_part, part)
    _fsync_dir(target.parent)
    return target


# Primitives, one place each (tests interpose on them to simulate crashes and read-only folders).
def _link(src: Path, dst: Path) -> None:
    os.link(src, dst, follow_symlinks=False)


def _unlink(path: Path) -> None:
    os.unlink(path)


def _mkdir(path: Path) -> None:
    os.mkdir(path)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _recover_forward(op: Operation, begin: dict, journal: Journal, tags) -> dict:
    """Finish a step that had begun when the process died (resume)."""
    if op.kind == "mkdir":
        d = Path(op.source)
        if not d.is_dir():
            try:
                _mkdir(d)
            except FileExistsError:
                pass
            except OSError as exc:
                raise _StepFailed(_reason(exc, d.parent)) from exc
        return {"created": not begin.get("existed", False)}
    if op.kind == "tag":
        src = Path(op.source)
        if not src.exists():
            raise _StepSkipped(f"{src} vanished")
        tags.set(src, begin["after"])
        return {}
    src, target = Path(op.source), Path(begin["target"])
    part = _partial(target)
    if op.kind == "copy":
        if target.is_file() and _sha256(target) == begin.get("sha256"):
            if part.exists():
                _unlink(part)
            return {"target": str(target)}
        if part.exists():
            _unlink(part)
        journal.write({"type": "begin-retry", "id": op.id})
        return _step(op, journal, tags)
    # move
    if src.exists() and target.exists() and (_same(src, target) or _sha256(src) == _sha256(target)):
        _unlink(src)                            # linked (or copied) but not yet unlinked
        _fsync_dir(src.parent)
        if part.exists():
            _unlink(part)
        return {"target": str(target)}
    if not src.exists() and target.exists():
        return {"target": str(target)}          # the move had happened
    if src.exists():
        if part.exists():
            _unlink(part)
        return _step(op, journal, tags)         # it had not happened: do it now
    raise _StepSkipped(f"{src} vanished")


# --- undo ------------------------------------------------------------------------------------------
def undo(journal: str | os.PathLike | None = None, journal_dir: str | os.PathLike | None = None, index=None,
         tags: tagging.TagStore | None = None) -> Result:
    """Reverse an apply (the latest one not undone by default), even an interrupted one."""
    path = _pick(journal, journal_dir, ("applied", "applying", "undoing"), "undo")
    tags = tags or tagging.default_store()
    j = Journal(path).open()
    try:
        records = j.records()
        state = _state(records)
        if state == "undone":
            raise JournalError(f"{path} has already been undone.")
        if state != "undoing":
            j.write({"type": "undo-begin", "interrupted_apply": state == "applying"})
        ops = {op["id"]: Operation(**op) for op in records[0]["operations"]}
        began: dict[int, dict] = {}
        done: dict[int, dict] = {}
        for r in records:
            if r["type"] == "begin":
                began[r["id"]] = r
            elif r["type"] == "done":
                done[r["id"]] = r
        undone = {r["id"] for r in records if r["type"] in ("undone", "undo-skipped")}
        result = Result(path)
        for i in sorted(began, reverse=True):
            if i in undone:
                continue
            op = ops[i]
            try:
                moved = _reverse(op, began[i], done.get(i), tags)
            except _StepSkipped as exc:
                j.write({"type": "undo-skipped", "id": i, "reason": str(exc)})
                result.skipped[i] = str(exc)
                continue
            except (_StepFailed, OSError) as exc:
                reason = str(exc) if isinstance(exc, _StepFailed) else _reason(exc, op.source)
                j.write({"type": "undo-failed", "id": i, "reason": reason})
                result.failed[i] = reason
                continue
            j.write({"type": "undone", "id": i})
            result.done.append(i)
            if moved:
                result.moved.append(moved)
                _index_move(index, moved[0], moved[1])
        if not result.failed:
            j.write({"type": "undo-finished"})
        return result
    finally:
        j.close()


def _reverse(op: Operation, begin: dict, done: dict | None, tags) -> tuple[Path, Path] | None:
    """Put one step back, judging from the disk what had happened. Returns (old, new) for a move back."""
    if op.kind == "mkdir":
        d = Path(op.source)
        if begin.get("existed") or not d.is_dir():
            return None
        try:
            d.rmdir()
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise _StepSkipped(f"{d} is not empty (files were added since): the folder stays") from exc
            raise
        _fsync_dir(d.parent)
        return None
    src = Path(op.source)
    if op.kind == "tag":
        if not src.exists():
            raise _StepSkipped(f"{src} is gone: its tags cannot be restored")
        tags.set(src, begin["before"])
        return None
    target = Path((done or begin)["target"])
    part = _partial(target)
    if part.exists():
        _unlink(part)
    if op.kind == "copy":
        if not target.exists():
            return None
        if _sha256(target) != begin.get("sha256"):
            raise _StepSkipped(f"{target} has changed since it was copied: it stays")
        _unlink(target)
        _fsync_dir(target.parent)
        return None
    # move back
    if src.exists() and target.exists() and (_same(src, target) or _sha256(src) == _sha256(target)):
        _unlink(target)                         # the crash came between link (or copy) and unlink
        _fsync_dir(target.parent)
        return None
    if not target.exists():
        if src.exists():
            return None                         # the move never happened
        raise _StepSkipped(f"{target} is gone (deleted or moved since): {src} cannot be restored")
    if src.exists():
        raise _StepSkipped(f"{src} is taken by another file now: {target} stays where it is")
    src.parent.mkdir(parents=True, exist_ok=True)
    _move(target, src)
    return target, src


def _index_move(index, old: Path, new: Path) -> None:
    if index is None:
        return
    try:
        index.move_file(old, new)
    except Exception:  # noqa: BLE001  (the index is a cache: the next index run repairs it)
        pass

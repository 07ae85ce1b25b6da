"""Plans: the operations that put each group's files into a folder named after it, or tag them.

    plan = plan_groups(groups, mode="move", destination=None, include=None)  # groups: [{"name", "files"}]
                                                                  # or a Clustering/Classification .to_dict()
    plan = load_plan("plan.json", mode="copy", destination=None) # a JSON written by cluster/classify --json
    plan.operations  -> [Operation(id, kind, source, target, tag, note)]   # kind: mkdir|move|copy|tag
    plan.problems    -> ["...cannot write to /x", "...vanished"]            # the preview's warnings
    plan.describe()  -> lines for a preview;  nothing on disk changes before run.apply()

A name that is taken gets " (2)", " (3)"... here (fileops.free_name), and again at the moment of the
move if it was taken since. Group names become folder names with safe_folder_name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...errors import InvalidArgumentError
from .fileops import free_name

MODES = ("move", "copy", "tag")
MAX_NAME = 120


@dataclass
class Operation:
    id: int
    kind: str                      # mkdir | move | copy | tag
    source: str                    # the file (or, for mkdir, the folder)
    target: str = ""               # where the file goes (move, copy)
    tag: str = ""                  # the tag to add (tag)
    note: str = ""                 # e.g. "renamed: name taken"
    sha256: str = ""               # the source's content when the plan was made ("": not known)


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


def load_plan(path: str | os.PathLike, mode: str = "move", destination: str | os.PathLike | None = None,
              include: Sequence[str] | None = None) -> Plan:
    """A plan from a JSON file written by `cluster --json` / `classify --json` (its "groups")."""
    path = Path(path)
    try:
        # surrogateescape: a plan written with a name's raw bytes (older versions) still names that file
        data = json.loads(path.read_bytes().decode("utf-8", "surrogateescape"))
    except FileNotFoundError as exc:
        raise InvalidArgumentError(f"{path} does not exist: write it with `mlx-embed cluster ... --json > {path}`.") from exc
    except (OSError, ValueError) as exc:
        raise InvalidArgumentError(f"{path} is not readable JSON ({exc}).") from exc
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise InvalidArgumentError(f"{path} has no \"groups\": give the JSON of `mlx-embed cluster|classify --json`.")
    hashes = data.get("hashes") if isinstance(data.get("hashes"), dict) else {}
    return plan_groups(data["groups"], mode, destination if destination is not None else data.get("destination"),
                       include, hashes)


def source_hashes(groups) -> dict[str, str]:
    """path -> sha256 of every file in the groups: written into a plan so that `apply` can skip a file
    whose content changed after the plan was made."""
    from .fileops import sha256

    out: dict[str, str] = {}
    for g in groups:
        for f in g["files"]:
            try:
                out[str(f)] = sha256(Path(f))
            except OSError:
                pass   # vanished or unreadable: the plan's preview says so
    return out


def plan_groups(groups, mode: str = "move", destination: str | os.PathLike | None = None,
                include: Sequence[str] | None = None, hashes: dict[str, str] | None = None) -> Plan:
    """Operations that put each group's files into a folder named after the group (or tag them with it).

    destination: the folder that receives the group folders (default: the deepest folder containing
    every file). include: only these group names. Files already in their group's folder stay. hashes:
    path -> sha256 when the groups were made (apply skips a file whose content changed since)."""
    known = {Path(p).absolute(): h for p, h in (hashes or {}).items()}
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
                ops.append(Operation(len(ops), "tag", str(f), tag=str(g["name"]), sha256=known.get(f, "")))
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
            ops.append(Operation(len(ops), mode, str(f), str(target), note=note, sha256=known.get(f, "")))
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

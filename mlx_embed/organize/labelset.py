"""Label sets: named labels with descriptions and example files, a threshold, and cached example vectors.

    labels = LabelSet.load("labels.json")           # or LabelSet([Label("Invoices", "bills to pay")])
    labels.add_label(Label(name, description="", examples=[]));  labels.remove_label(name)
    labels = LabelSet.from_clustering(clustering)    # clusters -> labels (central files as examples)
    labels.correct(path, "Invoices", vector=None, model_key=None)   # the file becomes an example
    labels.save()                                    # JSON; example vectors cached per model_key

JSON: {"version": 1, "threshold": 0.7, "labels": [{"name", "description", "examples": [paths]}],
"vectors": {model_key: {path: base64 little-endian float32}}}; example paths are absolute with symlinks
resolved (relative ones in a file are taken from the file's folder). An example's vector is cached so
it still counts after its file moved or vanished. Keys starting with "_" are notes for people (kept on
save); `template()` is a documented starting set (`mlx-embed classify --init-labels FILE` writes it).
classify.py uses label sets; DEFAULT_THRESHOLD is calibrated there (see its docstring).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidArgumentError

DEFAULT_THRESHOLD = 0.7       # confidence under which a file is unsure (measured: bench/organize.py --quality)
UNSURE = "unsure"             # the bucket of files under the threshold (so no label may be called that)
FORMAT_VERSION = 1
FORMAT_HELP = [      # the template's "_about": the format in the file itself, since JSON has no comments
    "A label set for `mlx-embed classify PATH --labels THIS_FILE` and the app's Classify page.",
    "labels: a list; each label has a \"name\" (required, unique, not 'unsure'), a \"description\" "
    "(a few words saying what belongs there) and \"examples\" (files that belong there: absolute paths, or "
    "relative to this file).",
    "A label without examples is matched on its name and description (zero-shot); with examples it learns "
    "from them too. A label may also be just a string: its name.",
    "threshold: the confidence (0 to 1) under which a file is 'unsure' and left out of the plan.",
    "`mlx-embed classify ... --correct FILE=LABEL` adds FILE to LABEL's examples and saves this file; "
    "\"vectors\" then caches the examples' vectors (written by mlx-embed, never edited by hand).",
    "Keys starting with _ are notes and are ignored.",
]
TEMPLATE_LABELS = [
    ("Invoices", "bills, invoices and receipts with amounts to pay"),
    ("Contracts", "contracts, agreements and terms signed by two parties"),
    ("Notes", "personal notes, ideas and to-do lists"),
]


@dataclass
class Label:
    name: str
    description: str = ""
    examples: list[Path] = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"{self.name}: {self.description}" if self.description else self.name


class LabelSet:
    """Named labels (with optional descriptions and example files), a threshold, and cached vectors."""

    def __init__(self, labels: Sequence[Label] = (), threshold: float = DEFAULT_THRESHOLD,
                 path: str | os.PathLike | None = None):
        self.labels: list[Label] = []
        self.threshold = threshold
        self.path = Path(path) if path else None
        self._cache: dict[str, dict[str, np.ndarray]] = {}    # model key -> example path -> vector
        self.notes: dict[str, object] = {}                    # the file's "_..." keys, written back as read
        for label in labels:
            self.add_label(label)

    @classmethod
    def from_clustering(cls, clustering, examples: int = 3, threshold: float = DEFAULT_THRESHOLD) -> "LabelSet":
        """Clusters as labels: the cluster label as name, its terms as description, its most central
        files as examples (rename the labels, then correct and reuse them)."""
        return cls([Label(c.label, ", ".join(c.terms), list(c.files[:examples])) for c in clustering.clusters],
                   threshold)

    # editing
    def add_label(self, label: Label) -> Label:
        name = label.name.strip()
        if not name or name == UNSURE:
            raise InvalidArgumentError(f"Invalid label name {label.name!r}: use a non-empty name other than {UNSURE!r}.")
        if any(lab.name == name for lab in self.labels):
            raise InvalidArgumentError(f"Label {name!r} already exists.")
        label = Label(name, label.description.strip(), [_canonical(p) for p in label.examples])
        self.labels.append(label)
        return label

    def remove_label(self, name: str) -> None:
        self.labels.remove(self.label(name))

    def label(self, name: str) -> Label:
        for lab in self.labels:
            if lab.name == name:
                return lab
        raise InvalidArgumentError(f"No label named {name!r}; labels: {', '.join(self.names) or 'none'}.")

    @property
    def names(self) -> list[str]:
        return [lab.name for lab in self.labels]

    def correct(self, path: str | os.PathLike, label: str, vector: np.ndarray | None = None,
                model_key: str | None = None) -> None:
        """The user says `path` belongs to `label`: it becomes an example of it, and of no other label."""
        path = _canonical(path)
        target = self.label(label)
        for lab in self.labels:
            lab.examples = [p for p in lab.examples if p != path]
        target.examples.append(path)
        if vector is not None and model_key is not None:
            self.remember(model_key, path, vector)

    # vector cache (so an example still counts after its file moved or vanished)
    def cached(self, model_key: str, path: Path) -> np.ndarray | None:
        return self._cache.get(model_key, {}).get(str(_canonical(path)))

    def remember(self, model_key: str, path: Path, vector: np.ndarray) -> None:
        self._cache.setdefault(model_key, {})[str(_canonical(path))] = np.asarray(vector, np.float32)

    # JSON
    def to_dict(self) -> dict:
        used = {str(p) for lab in self.labels for p in lab.examples}
        return {
            **self.notes, "version": FORMAT_VERSION, "threshold": self.threshold,
            "labels": [{"name": lab.name, "description": lab.description,
                        "examples": [str(p) for p in lab.examples]} for lab in self.labels],
            "vectors": {key: {p: base64.b64encode(v.astype("<f4").tobytes()).decode()
                              for p, v in sorted(cache.items()) if p in used}
                        for key, cache in sorted(self._cache.items())},
        }

    @classmethod
    def from_dict(cls, data: dict, path: Path | None = None) -> "LabelSet":
        where = path or "label set"
        if not isinstance(data, dict) or not isinstance(data.get("labels"), list):
            raise InvalidArgumentError(f"{where}: not a label set (expected {{\"labels\": [...]}}).")
        labels = []
        for i, item in enumerate(data["labels"]):
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise InvalidArgumentError(f"{where}: label {i} needs a \"name\".")
            examples = [Path(p).expanduser() for p in item.get("examples", [])]   # "~/..." is the home folder
            examples = [p if p.is_absolute() or path is None else (path.parent / p).absolute() for p in examples]
            labels.append(Label(item["name"], item.get("description", "") or "", examples))
        try:
            threshold = float(data.get("threshold", DEFAULT_THRESHOLD))
        except (TypeError, ValueError):
            threshold = -1.0
        if not 0 <= threshold <= 1:
            raise InvalidArgumentError(f"{where}: \"threshold\" is {data.get('threshold')!r}: use a number from 0 to 1.")
        out = cls(labels, threshold, path)
        out.notes = {k: v for k, v in data.items() if isinstance(k, str) and k.startswith("_")}
        for key, cache in (data.get("vectors") or {}).items():
            for p, b64 in cache.items():
                out._cache.setdefault(key, {})[p] = np.frombuffer(base64.b64decode(b64), dtype="<f4").copy()
        return out

    @classmethod
    def load(cls, path: str | os.PathLike) -> "LabelSet":
        path = Path(path).absolute()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise InvalidArgumentError(f"{path} does not exist: write a label set first "
                                       f"(JSON: {{\"labels\": [{{\"name\": ..., \"description\": ...}}]}}).") from exc
        except (OSError, ValueError) as exc:
            raise InvalidArgumentError(f"{path} is not readable JSON ({exc}).") from exc
        return cls.from_dict(data, path)

    def save(self, path: str | os.PathLike | None = None) -> Path:
        path = Path(path or self.path or "")
        if not str(path):
            raise InvalidArgumentError("Where should the label set go? Give a path.")
        self.path = path.absolute()
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return self.path


def template() -> dict:
    """A documented starting label set (JSON-ready): FORMAT_HELP as "_about", TEMPLATE_LABELS, no examples."""
    out = LabelSet([Label(name, description) for name, description in TEMPLATE_LABELS]).to_dict()
    out.pop("vectors")
    return {"_about": list(FORMAT_HELP), **out}


def _canonical(path: str | os.PathLike) -> Path:
    """Absolute, symlinks resolved (as collect_files gives paths: /tmp and /private/tmp are one file)."""
    return Path(path).expanduser().resolve()


def model_key(model, task: str | None) -> str:
    """Which vectors are comparable: the same model, adapter and dimension."""
    return f"{model.name}|{task or '-'}|{model.dim}"

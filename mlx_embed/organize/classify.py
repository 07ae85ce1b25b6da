"""Put files under user-defined labels: zero-shot from a name/description, few-shot from example files.

    labels = LabelSet.load("labels.json")           # labelset.py: labels, examples, threshold, cache
    result = classify(model, file_vectors, labels, threshold=None, method="auto")   # -> Classification
    # or, with vectors ready: protos = prepare(model, labels, file_vectors)
    #                         result = classify_vectors(file_vectors.paths, file_vectors.vectors, protos)
    result.assignments[i] -> Assignment(path, label | None, best, confidence, scores, reason, nearest)
    result.by_label() -> {label: [paths], "unsure": [...]};  result.to_dict() -> JSON with plan "groups"

File vectors come from `vectors.embed_files(model, files, task="classification")`; label descriptions are
embedded with the same adapter and prompt. Methods:
- "zero-shot": from the labels' texts alone. A label is embedded as several phrasings (its name, its
  description, "name: description"), each with the model's query prompt when it has one, averaged. A
  file's score for a label is its cosine to that vector plus LEXICAL_BETA x the TF-IDF cosine of the
  file's words and the label's words (name and description; TF-IDF fitted on the files), each score
  centred over the files (a label whose text is close to everything gains nothing from it) when there
  are at least CENTRE_MIN_FILES files per label. Then, REFINE_STEPS times, each label's vector moves
  halfway towards the softmax-weighted mean of the files that chose it (transductive: the files show
  what the label looks like here) and the scores are recomputed. Measured with MiniLM (names +
  descriptions; bench/organize.py --quality): accuracy 0.95 on the 59-file test corpus (0.81 with one
  "name: description" vector), 0.97 on the 311-file dev set.
- "centroid" (few-shot): each label's prototype is the renormalised mean of its example vectors and its
  text vector (a label without examples keeps its text vector), then scored as zero-shot is (label
  words, centring, refinement) from those prototypes.
- "logistic" (few-shot): scikit-learn logistic regression on the example vectors (each label's text
  vector counts as one more example), C=100, balanced classes; confidence is its predicted probability
  (with C=10 it was too timid to use: 0.41 on right answers on the test corpus; 0.62 with C=100).
- "auto" (default): zero-shot when no label has examples, centroid when some label has fewer than
  LOGISTIC_MIN_EXAMPLES examples, logistic otherwise.
For zero-shot and centroid the confidence is a softmax over the labels' scores at temperature
ZERO_SHOT_TEMPERATURE = 0.1. Temperature and DEFAULT_THRESHOLD = 0.7 were set together from the accuracy
per confidence band on both dev sets (bench/organize.py --quality): the zero-shot answers at or above
0.7 are 99-100% right with descriptions (95-100% from names alone) and the files under it hold most of
the wrong answers; at 0.05 the answers looked surer than they were. A file whose confidence is below the
threshold goes to the "unsure" bucket (its best guess is kept in `Assignment.best`). Each assignment
explains itself (`Assignment.explain(root)`, paths relative to the folder the user chose): when the label
has example files and the method uses them, the nearest example file and its similarity; otherwise the
file's own words nearest in meaning to the label (`matched_words`: among the file's WHY_CANDIDATES most
distinctive words, the WHY_WORDS whose vectors are closest to the label's vector), so two files of one
label give two different reasons. A file that is itself an example of a label gets it with confidence 1.

Corrections teach: `LabelSet.correct(path, label)` makes the file an example of that label (and of no
other); the next `classify` uses it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidArgumentError
from .labelset import DEFAULT_THRESHOLD, UNSURE, Label, LabelSet, model_key
from .terms import CODE_WORDS, WORD, _without_names
from .threads import single_threaded
from .vectors import embed_files

ZERO_SHOT_TEMPERATURE = 0.1    # zero-shot confidence: softmax of the scores at this temperature (calibrated)
REFINE_TEMPERATURE = 0.05   # zero-shot: soft weights of the files while the prototypes move
LEXICAL_BETA = 1.0          # zero-shot: weight of the label words' TF-IDF match next to the semantic match
REFINE_STEPS = 2            # zero-shot: times the label prototypes move towards the files they won
REFINE_KEEP = 0.5           # ... keeping this share of the label text's vector
CENTRE_MIN_FILES = 3        # per-label centring of similarities needs this many files per label
PHRASINGS = ("{name}", "{description}", "{name}: {description}")
LOGISTIC_MIN_EXAMPLES = 5
LOGISTIC_C = 100.0          # weak regularisation: unit vectors need large weights for usable probabilities
METHODS = ("auto", "zero-shot", "centroid", "logistic")
WHY_WORDS = 3               # words of the file shown as the reason of an answer from the label's text ...
WHY_CANDIDATES = 12         # ... chosen among its most distinctive words (TF-IDF over the files classified)
WHY_VOCABULARY = 5000       # at most this many distinct words embedded per run (those most files offer)


# --- prototypes ------------------------------------------------------------------------------------
@dataclass
class Prototypes:
    """Everything classification needs from the model: label text vectors and example vectors."""

    names: list[str]
    descriptions: list[str]
    text_vectors: np.ndarray                # (labels, d): the mean of the label's phrasings' vectors
    example_paths: list[Path]
    example_vectors: np.ndarray             # (examples, d)
    example_labels: np.ndarray              # (examples,) label index
    missing: list[Path] = field(default_factory=list)   # examples neither readable nor cached


def prepare(model, labels: LabelSet, file_vectors=None, task: str | None = "classification") -> Prototypes:
    """Embed the label texts and gather example vectors (from file_vectors, the cache, or by embedding)."""
    if not labels.labels:
        raise InvalidArgumentError("The label set has no labels: add at least two.")
    task = model.resolve_task(task)
    key = model_key(model, task)
    text_vectors = label_vectors(model, labels.labels, task)
    known = {}
    if file_vectors is not None and file_vectors.task == task and file_vectors.model_name == model.name:
        known = {p: v for p, v in zip(file_vectors.paths, file_vectors.vectors)}
    todo = [p for lab in labels.labels for p in lab.examples if p not in known and labels.cached(key, p) is None]
    if todo:
        got = embed_files(model, [p for p in dict.fromkeys(todo) if p.is_file()], task)
        known.update(zip(got.paths, got.vectors))
    paths, vecs, owners, missing = [], [], [], []
    for i, lab in enumerate(labels.labels):
        for p in lab.examples:
            v = known.get(p)
            if v is None:
                v = labels.cached(key, p)
            if v is None:
                missing.append(p)
                continue
            labels.remember(key, p, v)
            paths.append(p)
            vecs.append(v)
            owners.append(i)
    return Prototypes(labels.names, [lab.description for lab in labels.labels], text_vectors, paths,
                      np.asarray(vecs, np.float32).reshape(len(vecs), model.dim), np.asarray(owners, int), missing)


def phrasings(label: Label) -> list[str]:
    """The texts a label is embedded as (PHRASINGS; the description ones only when it has one)."""
    name = " ".join(label.name.replace("_", " ").replace("-", " ").split()) or label.name
    out = [p.format(name=name, description=label.description) for p in PHRASINGS
           if label.description or "{description}" not in p]
    return list(dict.fromkeys(out))


def label_vectors(model, labels: Sequence[Label], task: str | None) -> np.ndarray:
    """(labels, d): each label's phrasings embedded as queries (the model's query prompt, when it has one:
    a label is a question about the files), averaged and renormalised."""
    texts = [phrasings(lab) for lab in labels]
    flat = [t for ts in texts for t in ts]
    vecs = _unit(np.atleast_2d(model.encode_query(flat, task=task)))
    out, at = [], 0
    for ts in texts:
        out.append(vecs[at:at + len(ts)].mean(axis=0))
        at += len(ts)
    return _unit(np.asarray(out, np.float32))


# --- classification --------------------------------------------------------------------------------
@dataclass
class Assignment:
    path: Path
    label: str | None               # None: unsure (confidence under the threshold)
    best: str                       # the best label even when unsure
    confidence: float
    scores: dict[str, float]        # confidence per label
    reason: str                     # explain(), paths relative to the files' common folder
    nearest: list[tuple[Path, float]] = field(default_factory=list)   # nearest examples of `best`
    words: list[str] = field(default_factory=list)    # the file's words nearest the label (basis "words")
    basis: str = "words"            # "example" (the file is one), "examples" (nearest example), "words"
    similarity: float = 0.0         # cosine to the label's text vector (basis "words")

    def explain(self, root: str | os.PathLike | None = None) -> str:
        """Why this label, in one line; paths relative to `root` (the folder the user chose) when inside it."""
        if self.basis == "example":
            return f"an example of {self.best!r}"
        if self.basis == "examples" and self.nearest:
            p, sim = self.nearest[0]
            return f"nearest example: {shown_path(p, root)} (similarity {sim:.2f})"
        if self.words:
            return f"its words closest to {self.best!r}: " + ", ".join(self.words)
        return f"closest to the text of {self.best!r} (similarity {self.similarity:.2f})"

    def to_dict(self, root: str | os.PathLike | None = None) -> dict:
        return {"path": str(self.path), "shown": shown_path(self.path, root), "label": self.label,
                "best": self.best, "confidence": round(self.confidence, 4), "reason": self.explain(root),
                "basis": self.basis, "words": list(self.words),
                "scores": {k: round(v, 4) for k, v in self.scores.items()},
                "nearest": [[str(p), round(s, 4)] for p, s in self.nearest]}


def shown_path(path: str | os.PathLike, root: str | os.PathLike | None) -> str:
    """`path` relative to `root` when it is inside it (so doc00 and old/doc00 differ), else in full."""
    if root is not None:
        try:
            return str(Path(path).relative_to(root))
        except ValueError:
            pass
    return str(path)


def common_root(paths: Sequence[str | os.PathLike]) -> Path | None:
    """The deepest folder holding every path (a single file: its folder), None for none."""
    if not paths:
        return None
    try:
        return Path(os.path.commonpath([str(Path(p).parent) for p in paths]))
    except ValueError:          # relative and absolute mixed, or different drives
        return None


@dataclass
class Classification:
    assignments: list[Assignment]
    threshold: float
    method: str

    def by_label(self) -> dict[str, list[Path]]:
        out: dict[str, list[Path]] = {}
        for a in self.assignments:
            out.setdefault(a.label or UNSURE, []).append(a.path)
        return out

    def to_dict(self, root: str | os.PathLike | None = None) -> dict:
        """JSON-ready; its "groups" (unsure files left out) make it a plan for `mlx-embed apply`.
        Paths stay absolute; each assignment's "shown" and "reason" are relative to `root`."""
        groups = self.by_label()
        return {"kind": "classification", "method": self.method, "threshold": self.threshold,
                "assignments": [a.to_dict(root) for a in self.assignments],
                "unsure": [str(p) for p in groups.get(UNSURE, [])],
                "groups": [{"name": name, "files": [str(p) for p in files]}
                           for name, files in groups.items() if name != UNSURE]}


def classify(model, file_vectors, labels: LabelSet, *, threshold: float | None = None,
             method: str = "auto") -> Classification:
    """Embed what is missing (labels, examples) and classify `file_vectors` (see the module docstring)."""
    protos = prepare(model, labels, file_vectors, file_vectors.task or "classification")
    result = classify_vectors(file_vectors.paths, file_vectors.vectors, protos,
                              threshold=labels.threshold if threshold is None else threshold, method=method,
                              texts=file_vectors.texts)
    rows = [i for i, a in enumerate(result.assignments) if a.basis == "words"]
    if rows:
        best = [protos.names.index(result.assignments[i].best) for i in rows]
        words = matched_words(model, [file_vectors.texts[i] for i in rows], _unit(protos.text_vectors), best,
                              file_vectors.task)
        root = common_root(file_vectors.paths)
        for i, w in zip(rows, words):
            result.assignments[i].words = w
            result.assignments[i].reason = result.assignments[i].explain(root)
    return result


def classify_vectors(paths: Sequence[Path], vectors: np.ndarray, protos: Prototypes, *,
                     threshold: float = DEFAULT_THRESHOLD, method: str = "auto",
                     texts: Sequence[str] | None = None) -> Classification:
    """Classification of ready vectors (no model needed); `texts` (the files' words) help zero-shot."""
    if method not in METHODS:
        raise InvalidArgumentError(f"Unknown method {method!r}; use one of: {', '.join(METHODS)}.")
    if not 0 <= threshold <= 1:
        raise InvalidArgumentError(f"threshold={threshold} is out of range: use 0..1.")
    if len(protos.names) < 2:
        raise InvalidArgumentError("Classification needs at least two labels.")
    x = _unit(vectors)
    counts = np.bincount(protos.example_labels, minlength=len(protos.names))
    if method == "auto":
        method = ("zero-shot" if counts.sum() == 0 else
                  "centroid" if counts.min() < LOGISTIC_MIN_EXAMPLES else "logistic")
    if method != "zero-shot" and counts.sum() == 0:
        raise InvalidArgumentError(f"Method {method!r} needs example files; add examples or use zero-shot.")
    text = _unit(protos.text_vectors)
    ex = _unit(protos.example_vectors) if len(protos.example_vectors) else np.zeros((0, x.shape[1]), np.float32)
    if method == "logistic":
        probs = _logistic(x, text, ex, protos.example_labels)
    else:
        # centroid: the same scoring from prototypes that include the examples, so a first correction
        # adds to what the label texts gave instead of replacing it (measured: replacing it with plain
        # cosines to the centroids took the test corpus from 0.80 to 0.63 after one correction)
        start = text if method == "zero-shot" else _centroids(text, ex, protos.example_labels)
        probs = _softmax(zero_shot_scores(x, start, protos, texts) / ZERO_SHOT_TEMPERATURE)
    example_of = {p: int(i) for p, i in zip(protos.example_paths, protos.example_labels)}
    ex_sims = x @ ex.T if len(ex) else np.zeros((len(x), 0), np.float32)
    text_sims = x @ text.T
    root = common_root(paths)
    out = []
    for row, path in enumerate(paths):
        path = Path(path)
        p = probs[row]
        best = int(np.argmax(p))
        confidence = float(p[best])
        if path in example_of:
            best, confidence = example_of[path], 1.0
            p = np.eye(len(protos.names))[best]
        name = protos.names[best]
        mine = np.flatnonzero(protos.example_labels == best)
        nearest, basis = [], "words"
        if path in example_of:
            basis = "example"
        elif len(mine) and method != "zero-shot":      # the examples shaped this label's prototype
            top = mine[np.argsort(-ex_sims[row, mine], kind="stable")[:2]]
            nearest, basis = [(protos.example_paths[i], float(ex_sims[row, i])) for i in top], "examples"
        label = name if confidence >= threshold else None
        a = Assignment(path, label, name, confidence, {n: float(v) for n, v in zip(protos.names, p)}, "", nearest,
                       basis=basis, similarity=float(text_sims[row, best]))
        a.reason = a.explain(root)
        out.append(a)
    return Classification(out, threshold, method)


def matched_words(model, texts: Sequence[str], label_vectors: np.ndarray, best: Sequence[int],
                  task: str | None, top: int = WHY_WORDS) -> list[list[str]]:
    """For each file, `top` of its own words nearest in meaning to its label `best[i]` (a row of the unit
    `label_vectors`): its WHY_CANDIDATES most distinctive words (TF-IDF over `texts`; stop words,
    programming keywords and the names on credit lines left out, as for cluster names) are embedded one
    word each, as documents with the task's adapter, and ranked by cosine to the label. No words: []."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    vec = TfidfVectorizer(sublinear_tf=True, token_pattern=WORD.pattern, lowercase=True, dtype=np.float32,
                          stop_words=list(ENGLISH_STOP_WORDS | CODE_WORDS))
    try:
        tfidf = vec.fit_transform([_without_names(t) for t in texts]).tocsr()
    except ValueError:             # no words at all
        return [[] for _ in texts]
    vocab = vec.get_feature_names_out()
    candidates = []
    for i in range(len(texts)):
        row = tfidf.getrow(i)
        candidates.append(row.indices[np.argsort(-row.data, kind="stable")[:WHY_CANDIDATES]])
    offered = np.bincount(np.concatenate(candidates), minlength=len(vocab)) if candidates else np.zeros(0, int)
    used = np.flatnonzero(offered)
    if len(used) > WHY_VOCABULARY:  # bound the model time: the words most files offer
        used = np.sort(used[np.argsort(-offered[used], kind="stable")[:WHY_VOCABULARY]])
    if not len(used):
        return [[] for _ in texts]
    word_vectors = _unit(np.atleast_2d(model.encode_document([str(vocab[j]) for j in used], task=task)))
    where = {int(j): k for k, j in enumerate(used)}
    out = []
    for i, cand in enumerate(candidates):
        cand = [int(j) for j in cand if int(j) in where]
        if not cand:
            out.append([])
            continue
        sims = word_vectors[[where[j] for j in cand]] @ label_vectors[best[i]]
        out.append([str(vocab[cand[k]]) for k in np.argsort(-sims, kind="stable")[:top]])
    return out


def zero_shot_scores(x: np.ndarray, text: np.ndarray, protos: Prototypes,
                     texts: Sequence[str] | None = None) -> np.ndarray:
    """(files, labels) scores from the labels' texts alone (the module docstring says how)."""
    lexical = lexical_scores(texts, [f"{n} {d}" for n, d in zip(protos.names, protos.descriptions)]) \
        if texts is not None and LEXICAL_BETA > 0 else None
    centre = len(x) >= CENTRE_MIN_FILES * len(text)
    protos_now = text
    for step in range(REFINE_STEPS + 1):
        z = _centred(x @ protos_now.T, centre)
        if lexical is not None:
            z = z + LEXICAL_BETA * _centred(lexical, centre)
        if step == REFINE_STEPS or not centre:
            return z
        # transductive: each label's prototype moves towards the files that picked it (soft weights)
        p = _softmax(z / REFINE_TEMPERATURE)
        won = _unit(p.T @ x)
        protos_now = _unit(REFINE_KEEP * text + (1 - REFINE_KEEP) * won)
    return z


def _centred(z: np.ndarray, on: bool) -> np.ndarray:
    """Each label's scores minus their mean over the files: a label whose text is close to every file
    (a generic word) gains nothing from it."""
    return z - z.mean(axis=0, keepdims=True) if on else z


def lexical_scores(texts: Sequence[str], label_texts: Sequence[str]) -> np.ndarray:
    """(files, labels) cosine of TF-IDF vectors (fitted on the files) of each file and each label's words."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    vec = TfidfVectorizer(sublinear_tf=True, token_pattern=WORD.pattern, stop_words=list(ENGLISH_STOP_WORDS),
                          lowercase=True, dtype=np.float32)
    try:
        files = vec.fit_transform(list(texts))
    except ValueError:             # no words at all
        return np.zeros((len(texts), len(label_texts)), np.float32)
    labels = vec.transform(list(label_texts))
    return np.asarray((files @ labels.T).todense(), np.float32)


def _centroids(text: np.ndarray, ex: np.ndarray, owners: np.ndarray) -> np.ndarray:
    centres = text.copy()
    for i in range(len(text)):
        mine = ex[owners == i]
        if len(mine):
            centres[i] = (mine.sum(axis=0) + text[i]) / (len(mine) + 1)
    return _unit(centres)


def _logistic(x: np.ndarray, text: np.ndarray, ex: np.ndarray, owners: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    train = np.vstack([ex, text])
    target = np.concatenate([owners, np.arange(len(text))])
    with single_threaded():
        clf = LogisticRegression(C=LOGISTIC_C, max_iter=2000, class_weight="balanced").fit(train, target)
        probs = clf.predict_proba(x)
    out = np.zeros((len(x), len(text)))
    out[:, clf.classes_] = probs
    return out


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.atleast_2d(np.asarray(v, dtype=np.float32))
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


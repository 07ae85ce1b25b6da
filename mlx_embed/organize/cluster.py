"""Group files by meaning: clusters with labels, central files, outliers, and a 2-D map.

    cluster(vectors, *, paths=None, texts=None, k=None, method="kmeans", seed=0, k_range=None,
            min_cluster_size=None, lexical_weight=None, embed=None) -> Clustering
    cluster_files(file_vectors, **same) -> Clustering              # FileVectors from vectors.embed_files
    map_2d(vectors) -> (n, 2) coordinates

Methods (scikit-learn):
- "kmeans" (default): k-means (10 restarts) on two signals side by side, each good at something else:
  meaning (the file vectors) and words (the files' texts). Semantic block: the vectors centred (the
  component every file shares, "this is a document", carries no grouping), projected on their top
  max(k, 8) principal components and renormalised (k clusters' centres span at most k - 1 dimensions;
  the rest is mostly noise every group shares). Lexical block (when `texts` are given): TF-IDF of the
  words (letters only, 3 or more, so numbers, versions and e-mail addresses drop out; sublinear tf;
  English stop words; words in at least 2 files and at most half of them), reduced by truncated SVD to
  100 dimensions, then given the same treatment (centred, top max(k, 8) components, renormalised). The
  blocks are concatenated with weights sqrt(1 - w) and sqrt(w), so two files' cosine is (1 - w) x their
  semantic cosine + w x their lexical cosine; w = LEXICAL_WEIGHT = 0.5 (`lexical_weight=0` clusters on
  meaning alone; without texts there is no lexical block). Nothing depends on file names or folders,
  so a flat folder of neutrally named files clusters as well as a tree.
  Measured with MiniLM (tests' budget, 2 x 128 tokens per file), true k, mean V-measure of 3 seeds
  (bench/organize.py --quality): the 59-file test corpus 0.954 combined, 0.920 meaning only, 0.931
  words only, TF-IDF + k-means 0.852; the 311-file dev set (tests/organize_devset.py, flat) 0.951
  combined, 0.889 meaning only, 0.949 words only, TF-IDF + k-means 0.896.
  With k=None, k is chosen over k in `k_range` (default 2 .. min(20, max(sqrt(n) + 1, n / 5))) by the
  highest silhouette + STABILITY_WEIGHT (0.25) x restart agreement: per k, SCAN_RUNS (8) k-means runs
  from different seeds (one restart each); the silhouette (mean, cosine) is that of the run with the
  lowest inertia, measured in the space the k's own fit uses; the agreement is the runs' mean pairwise
  adjusted Rand index (`Clustering.stability`). A grouping that is really in the files comes back from
  every start; at a wrong k the runs merge or split different groups, so near-ties of the silhouette
  (which tends to reward merging two small groups) go to the k the runs agree on. Measured (mean of 3
  seeds, MiniLM 2 x 128; bench/organize.py --quality): auto-k V-measure 0.943 / 0.951 / 0.963 on the
  59-file, 311-file and 177-file validation sets, vs 0.917 / 0.951 / 0.967 with the silhouette alone
  (over 10 seeds 0.937 / 0.952 / 0.963 vs 0.932 / 0.952 / 0.962; at 4 x 256 tokens, 10 seeds,
  0.919 / 0.948 / 0.958 vs 0.876 / 0.948 / 0.950). For n > 1000 the scan runs on a fixed random sample
  of 1000 files, then the chosen k is fitted on all files. Every file belongs to a cluster; a cluster's outliers are its members whose cosine
  similarity to the cluster centre is more than 2 standard deviations below the cluster's mean
  (clusters of 5 or more).
- "hdbscan": for "I don't know k": density clusters (sklearn.cluster.HDBSCAN) on the centred principal
  coordinates of the subspace the automatic k-means scan uses, not renormalised, so a file unlike all
  others stays near the centre, away from every dense region. Files in no dense region are noise
  (`Clustering.noise`, label -1) and belong to no cluster. k cannot be fixed.
- "agglomerative": average-linkage on cosine distance; with k=None the tree is cut at `distance`
  (default 0.6 cosine distance, i.e. similarity 0.4), clusters of one file become noise.
All methods are deterministic for the same input and seed. Cluster ids are renumbered 0.. by size
(largest first; ties by first path), so they are stable too.

Labels: the distinctive words of each cluster's files (c-TF-IDF; terms.py says how).

Map: PCA to 2 dimensions of the space the clusters were found in (k-means: both blocks) (randomised
subspace iteration with a fixed seed), each axis' sign fixed so that its largest loading is positive:
the same input always gives the same picture.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidArgumentError
from .terms import WORD, name_clusters
from .threads import single_threaded

METHODS = ("kmeans", "hdbscan", "agglomerative")
SCAN_SAMPLE = 1000          # files the k scan's silhouette is computed on
REDUCED_DIMS = 32           # principal components computed (k-means uses max(k, 8) of them, at most 32)
FINAL_INITS = 10            # k-means restarts for the final fit
SCAN_FIRST = 3              # k-means runs (one restart each) per k while scanning; the best is scored ...
SCAN_RUNS = 8               # ... and this many for the candidates: k within CANDIDATE_MARGIN of the best silhouette
CANDIDATE_MARGIN = 0.05
MAX_CANDIDATES = 5
STABILITY_WEIGHT = 0.25     # k is chosen by silhouette + this x the runs' agreement (mean pairwise ARI)
LEXICAL_WEIGHT = 0.5        # lexical block's share of the similarity (measured: bench/organize.py --quality)
LEXICAL_DIMS = 100          # truncated-SVD dimensions of the TF-IDF block
MAX_DF = 0.5                # TF-IDF: words in more than this share of the files are left out
MIN_DIMS = 8                # k-means space: at least this many principal components
AGGLOMERATIVE_MAX = 8000
N_CENTRAL = 3


@dataclass
class Cluster:
    id: int
    label: str                     # a title, safe as a folder name, e.g. "Event loop and coroutine"
    terms: list[str]               # distinctive terms, best first
    files: list[Path]              # members, most central first
    central: list[Path]            # the N_CENTRAL most central members
    outliers: list[Path]           # members far from the centre (still members)
    cohesion: float                # mean cosine similarity of members to the centre

    @property
    def size(self) -> int:
        return len(self.files)

    def to_dict(self) -> dict:
        return {"id": self.id, "label": self.label, "terms": self.terms, "size": self.size,
                "files": [str(p) for p in self.files], "central": [str(p) for p in self.central],
                "outliers": [str(p) for p in self.outliers], "cohesion": round(self.cohesion, 4)}


@dataclass
class Clustering:
    paths: list[Path]
    labels: np.ndarray             # (n,) cluster id per file; -1 = noise
    clusters: list[Cluster]
    noise: list[Path]
    coords: np.ndarray             # (n, 2) map coordinates, same order as paths
    method: str
    k: int
    seed: int
    criterion: str                 # how k was chosen, in words
    scores: dict[int, float] = field(default_factory=dict)   # k -> silhouette, when k was scanned
    stability: dict[int, float] = field(default_factory=dict)  # k -> agreement of the scan's restarts (ARI)

    def cluster_of(self, path: str | Path) -> Cluster | None:
        label = int(self.labels[self.paths.index(Path(path))])
        return None if label < 0 else self.clusters[label]

    def to_dict(self) -> dict:
        """JSON-ready; its "groups" make it a plan for actions.plan_groups / `mlx-embed apply`."""
        return {
            "kind": "clustering", "method": self.method, "k": self.k, "seed": self.seed,
            "criterion": self.criterion, "scores": {str(k): round(v, 4) for k, v in self.scores.items()},
            "stability": {str(k): round(v, 4) for k, v in self.stability.items()},
            "clusters": [c.to_dict() for c in self.clusters], "noise": [str(p) for p in self.noise],
            "map": [{"path": str(p), "x": round(float(x), 5), "y": round(float(y), 5), "cluster": int(c)}
                    for p, (x, y), c in zip(self.paths, self.coords, self.labels)],
            "groups": [{"name": c.label, "files": [str(p) for p in c.files]} for c in self.clusters],
        }


def cluster_files(file_vectors, **kwargs) -> Clustering:
    """`cluster` on a vectors.FileVectors (paths and texts come with it)."""
    return cluster(file_vectors.vectors, paths=file_vectors.paths, texts=file_vectors.texts, **kwargs)


def cluster(vectors: np.ndarray, *, paths: Sequence[str | Path] | None = None, texts: Sequence[str] | None = None,
            k: int | None = None, method: str = "kmeans", seed: int = 0, k_range: tuple[int, int] | None = None,
            min_cluster_size: int | None = None, distance: float = 0.6,
            lexical_weight: float | None = None, embed=None) -> Clustering:
    """Cluster unit vectors (n, d). See the module docstring for the methods and criteria.

    `embed(strings) -> (n, d)`: the model that made `vectors` (same task), to name groups by meaning
    (terms.name_clusters); without it names come from word counts alone.
    `lexical_weight` (0..1, default LEXICAL_WEIGHT when `texts` are given): the lexical block's share of
    the similarity k-means works with; 0 clusters on the semantic vectors alone."""
    x = _unit(vectors)
    n = len(x)
    paths = [Path(p) for p in paths] if paths is not None else [Path(f"item-{i}") for i in range(n)]
    if len(paths) != n or (texts is not None and len(texts) != n):
        raise InvalidArgumentError(f"{n} vectors but {len(paths)} paths / {len(texts or [])} texts: give one per vector.")
    if method not in METHODS:
        raise InvalidArgumentError(f"Unknown clustering method {method!r}; use one of: {', '.join(METHODS)}.")
    if k is not None and not 1 <= k <= max(n, 1):
        raise InvalidArgumentError(f"k={k} is out of range: use 1..{n} (the number of files).")
    if method == "hdbscan" and k is not None:
        raise InvalidArgumentError("HDBSCAN finds the number of clusters itself; drop k or use kmeans.")
    w = (LEXICAL_WEIGHT if texts is not None else 0.0) if lexical_weight is None else float(lexical_weight)
    if not 0.0 <= w <= 1.0:
        raise InvalidArgumentError(f"lexical_weight={lexical_weight} is out of range: use 0..1.")
    if w > 0 and texts is None:
        raise InvalidArgumentError("lexical_weight > 0 needs the files' texts: pass texts=.")
    scores: dict[int, float] = {}
    stability: dict[int, float] = {}
    if n == 0:
        return Clustering([], np.zeros(0, int), [], [], np.zeros((0, 2)), method, 0, seed, "no files")
    with single_threaded():
        reduced = _pca(x, REDUCED_DIMS) if n >= 2 else np.zeros((n, 2), np.float32)
        lexical = lexical_block(texts, seed) if w > 0 and n >= 3 else None
        if n < 3:
            raw, criterion = np.zeros(n, int), "fewer than 3 files: one cluster"
        elif method == "kmeans":
            raw, criterion, scores, stability = _kmeans(x, _Space(reduced, lexical, w), k, seed, k_range)
        elif method == "hdbscan":
            raw, criterion = _hdbscan(reduced[:, :max(_default_k_range(n)[1], MIN_DIMS)], min_cluster_size)
        else:
            raw, criterion = _agglomerative(x, k, distance)
        labels = _renumber(raw, paths)
        coords = _pad2(reduced[:, :2]) if lexical is None or method != "kmeans" else \
            _pad2(_pca(_Space(reduced, lexical, w)(REDUCED_DIMS), 2))
        ids = sorted(set(labels.tolist()) - {-1})
        clusters = [_describe(c, x, labels, paths) for c in ids]
    name_clusters(clusters, labels, texts, x, embed)
    noise = [p for p, lab in zip(paths, labels) if lab < 0]
    return Clustering(paths, labels, clusters, noise, coords, method, len(ids), seed, criterion, scores, stability)


# --- algorithms ------------------------------------------------------------------------------------
def _kmeans(x: np.ndarray, space: "_Space", k: int | None, seed: int, k_range):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    probe = np.random.default_rng(0).standard_normal(x.shape[1]).astype(np.float32)
    distinct = len(np.unique(np.round(x @ probe, 5)))        # distinct files (rows), up to rare ties
    if k is not None:
        k = min(k, distinct)
        raw = KMeans(k, n_init=FINAL_INITS, random_state=seed).fit_predict(space(k))
        return raw, f"k={k} fixed by the user{space.words}", {}, {}
    lo, hi = k_range or _default_k_range(len(x))
    hi = min(hi, distinct, len(x) - 1)
    if hi < max(lo, 2):
        return np.zeros(len(x), int), "too few distinct files to split: one cluster", {}, {}
    rng = np.random.default_rng(seed)
    rows = np.arange(len(x)) if len(x) <= SCAN_SAMPLE else np.sort(rng.choice(len(x), SCAN_SAMPLE, replace=False))
    states = [int(s) for s in np.random.default_rng([seed, 1]).integers(0, 2 ** 31 - 1, SCAN_RUNS)]
    spaces, runs, scores, stability = {}, {}, {}, {}

    def measure(kk: int, n_runs: int) -> None:   # runs up to n_runs; silhouette of the best, agreement
        z = spaces.setdefault(kk, space(kk)[rows])   # each k in its own space: the one its final fit uses
        got = runs.setdefault(kk, [])
        got += [KMeans(kk, n_init=1, random_state=s).fit(z) for s in states[len(got):n_runs]]
        labels = min(got, key=lambda r: r.inertia_).labels_
        if len(set(labels.tolist())) > 1:
            distances = np.clip(1.0 - z @ z.T, 0.0, 2.0)
            np.fill_diagonal(distances, 0.0)
            scores[kk] = silhouette(distances, labels)
            stability[kk] = float(np.mean([adjusted_rand_score(a.labels_, b.labels_)
                                           for i, a in enumerate(got) for b in got[i + 1:]]))

    for kk in range(max(lo, 2), hi + 1):          # every k: SCAN_FIRST runs
        measure(kk, SCAN_FIRST)
    if not scores:
        return np.zeros(len(x), int), "no k split the files: one cluster", {}, {}
    top = max(scores.values())
    candidates = sorted((kk for kk in scores if scores[kk] >= top - CANDIDATE_MARGIN),
                        key=lambda kk: -scores[kk])[:MAX_CANDIDATES]
    for kk in candidates:                         # the near-best: SCAN_RUNS runs
        measure(kk, SCAN_RUNS)
    chosen_by = {kk: scores[kk] + STABILITY_WEIGHT * stability[kk] for kk in candidates}
    best = max(chosen_by, key=lambda kk: (round(chosen_by[kk], 6), -kk))
    raw = KMeans(best, n_init=FINAL_INITS, random_state=seed).fit_predict(space(best))
    where = f" on a sample of {len(rows)}" if len(rows) < len(x) else ""
    return raw, (f"k={best}: highest mean silhouette (cosine) {scores[best]:.3f} + {STABILITY_WEIGHT} x restart "
                 f"agreement {stability[best]:.2f} over k={lo}..{hi}{where}{space.words}"), scores, stability


class _Space:
    """The space k-means works in for a given k: the semantic block (the top max(k, MIN_DIMS) principal
    components, renormalised) next to the lexical block, weighted so that the cosine of two files is
    (1 - w) * their semantic cosine + w * their lexical cosine."""

    def __init__(self, reduced: np.ndarray, lexical: np.ndarray | None, w: float):
        self.w = w if lexical is not None else 0.0
        self.reduced = reduced
        # the lexical block gets the semantic block's treatment: centred, principal axes, k of them
        self.lexical = _pca(lexical, REDUCED_DIMS) if self.w > 0 else None

    @property
    def words(self) -> str:
        return f"; meaning and words, {self.w:.0%} words" if self.w > 0 else ""

    def __call__(self, k: int) -> np.ndarray:
        sem = _subspace(self.reduced, k)
        if self.lexical is None:
            return sem
        lex = _subspace(self.lexical, k)
        return np.hstack([math.sqrt(1 - self.w) * sem, math.sqrt(self.w) * lex]).astype(np.float32)


def lexical_block(texts: Sequence[str], seed: int = 0, dims: int = LEXICAL_DIMS) -> np.ndarray | None:
    """Unit rows of TF-IDF reduced by truncated SVD (latent semantic analysis); None without a vocabulary.

    Words only (letters, 3 or more: numbers, versions, e-mail addresses and hex drop out), sublinear term
    frequency, in at least 2 files and at most MAX_DF of them (words every file has do not group)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    n = len(texts)
    vec = TfidfVectorizer(sublinear_tf=True, min_df=2 if n >= 10 else 1, max_df=MAX_DF if n >= 10 else 1.0,
                          token_pattern=WORD.pattern, stop_words=list(ENGLISH_STOP_WORDS), lowercase=True,
                          dtype=np.float32)
    try:
        m = vec.fit_transform(list(texts))
    except ValueError:            # no word in at least two files
        return None
    d = min(dims, n - 1, m.shape[1] - 1)
    if d < 2 or m.nnz == 0:
        return None
    z = TruncatedSVD(d, algorithm="randomized", n_iter=5, random_state=seed).fit_transform(m)
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    if (norms[:, 0] < 1e-9).mean() > 0.5:         # most files share no word with the others
        return None
    return (z / np.maximum(norms, 1e-12)).astype(np.float32)


def _default_k_range(n: int) -> tuple[int, int]:
    # sqrt(n) alone caps 59 files at 8 groups; a group of 5 files is still a group
    return 2, min(20, max(int(math.sqrt(n)) + 1, n // 5))


def _subspace(reduced: np.ndarray, k: int) -> np.ndarray:
    """The files in the top max(k, MIN_DIMS) principal components, renormalised to unit length."""
    z = reduced[:, :max(k, MIN_DIMS)]
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette from a precomputed distance matrix (sklearn's definition: 0 for a file alone in
    its cluster), vectorised: one (n, n) x (n, k) product instead of a loop over files."""
    labels = np.asarray(labels)
    n, k = len(labels), int(labels.max()) + 1
    onehot = np.zeros((n, k))
    onehot[np.arange(n), labels] = 1.0
    counts = onehot.sum(axis=0)
    sums = distances.astype(np.float64) @ onehot
    own = counts[labels]
    a = sums[np.arange(n), labels] / np.maximum(own - 1, 1)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)
    means[np.arange(n), labels] = np.inf
    b = means.min(axis=1)
    s = np.where(own > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())


def _hdbscan(reduced: np.ndarray, min_cluster_size: int | None):
    from sklearn.cluster import HDBSCAN

    size = min_cluster_size or max(3, min(25, len(reduced) // 30))
    x = reduced
    raw = HDBSCAN(min_cluster_size=min(size, len(x)), min_samples=min(size, 5), copy=True).fit_predict(reduced)
    return raw, f"HDBSCAN density clusters (min_cluster_size={size}), files in no dense region are noise"


def _agglomerative(x: np.ndarray, k: int | None, distance: float):
    from sklearn.cluster import AgglomerativeClustering

    if len(x) > AGGLOMERATIVE_MAX:
        raise InvalidArgumentError(f"Agglomerative clustering of {len(x)} files needs too much memory "
                                   f"(limit {AGGLOMERATIVE_MAX}); use kmeans or hdbscan.")
    if k is not None:
        raw = AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(x)
        return raw, f"k={k} fixed by the user (average linkage, cosine)"
    raw = AgglomerativeClustering(n_clusters=None, distance_threshold=distance, metric="cosine",
                                  linkage="average").fit_predict(x)
    counts = Counter(raw.tolist())
    raw = np.array([lab if counts[lab] > 1 else -1 for lab in raw.tolist()])
    return raw, f"average-linkage tree cut at cosine distance {distance}; single files are noise"


# --- describing clusters ---------------------------------------------------------------------------
def _describe(cid: int, x: np.ndarray, labels: np.ndarray, paths: list[Path]) -> Cluster:
    """Members by closeness to the centre, central files, outliers (the label comes later)."""
    rows = np.flatnonzero(labels == cid)
    centre = _unit(x[rows].mean(axis=0, keepdims=True))[0]
    sims = x[rows] @ centre
    order = np.argsort(-sims, kind="stable")
    files = [paths[rows[i]] for i in order]
    outliers = []
    if len(rows) >= 5:
        cut = sims.mean() - 2 * sims.std()
        outliers = [paths[rows[i]] for i in order if sims[i] < cut]
    return Cluster(cid, "", [], files, files[:N_CENTRAL], outliers, float(sims.mean()))


# --- map and helpers -------------------------------------------------------------------------------
def map_2d(vectors: np.ndarray) -> np.ndarray:
    """(n, 2) PCA coordinates with a fixed sign per axis (deterministic)."""
    x = _unit(vectors)
    if len(x) < 2:
        return np.zeros((len(x), 2), np.float32)
    with single_threaded():
        return _pad2(_pca(x, REDUCED_DIMS)[:, :2])


def _pad2(coords: np.ndarray) -> np.ndarray:
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((len(coords), 2 - coords.shape[1]), coords.dtype)])
    return coords


def _pca(x: np.ndarray, dims: int, seed: int = 0) -> np.ndarray:
    """Projection on the top `dims` principal axes, each axis' sign fixed (largest loading positive).

    Randomised subspace iteration with a fixed seed (as in Halko et al.; 6 power iterations): a few
    GEMMs of (n, d) x (d, dims + 10) instead of a full SVD, deterministic for the same input."""
    c = np.asarray(x, dtype=np.float32)
    c = c - c.mean(axis=0)
    n, d = c.shape
    p = min(dims + 10, n, d)
    q = np.random.default_rng(seed).standard_normal((d, p)).astype(np.float32)
    for _ in range(6):
        q = np.linalg.qr(c.T @ (c @ q))[0]
    b = (c @ q).astype(np.float64)
    values, vectors = np.linalg.eigh(b.T @ b)
    top = np.argsort(-values, kind="stable")[:min(dims, p)]
    vt = (q.astype(np.float64) @ vectors[:, top]).T
    signs = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])
    signs[signs == 0] = 1
    return (c.astype(np.float64) @ (vt * signs[:, None]).T).astype(np.float32)


def _renumber(raw: np.ndarray, paths: list[Path]) -> np.ndarray:
    """Cluster ids 0.. by size (largest first), ties by the first path; noise stays -1."""
    raw = np.asarray(raw)
    ids = sorted(set(raw.tolist()) - {-1},
                 key=lambda c: (-int((raw == c).sum()), min(str(paths[i]) for i in np.flatnonzero(raw == c))))
    mapping = {c: i for i, c in enumerate(ids)}
    return np.array([mapping.get(c, -1) for c in raw.tolist()], dtype=int)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    if v.ndim != 2:
        raise InvalidArgumentError(f"Expected a (files, dim) matrix of vectors, got shape {v.shape}.")
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

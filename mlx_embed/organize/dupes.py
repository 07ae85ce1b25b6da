"""Near-duplicate files: groups of files whose vectors (text-matching adapter) are nearly the same.

    near_duplicates(file_vectors, threshold=0.95) -> list[DuplicateGroup]
    near_duplicates_of(vectors, paths, threshold=0.95) -> list[DuplicateGroup]

Embed with `vectors.embed_files(model, files, task="text-matching")`. Two files are near-duplicates
when the cosine similarity of their vectors is at least `threshold`; groups are the connected
components of that relation (so a chain a~b~c is one group). Each group lists its files (the one most
similar to the rest first), its lowest and highest pair similarity, and which files are byte-identical
(same SHA-256). Similarities are computed in blocks, so 10k files never need a 10k x 10k matrix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidArgumentError

BLOCK = 2048


@dataclass
class DuplicateGroup:
    files: list[Path]
    min_similarity: float
    max_similarity: float
    identical: list[list[Path]]      # sub-groups of byte-identical files (2 or more each)

    def to_dict(self) -> dict:
        return {"files": [str(p) for p in self.files], "min_similarity": round(self.min_similarity, 4),
                "max_similarity": round(self.max_similarity, 4),
                "identical": [[str(p) for p in g] for g in self.identical]}


def near_duplicates(file_vectors, threshold: float = 0.95) -> list[DuplicateGroup]:
    return near_duplicates_of(file_vectors.vectors, file_vectors.paths, threshold)


def near_duplicates_of(vectors: np.ndarray, paths: Sequence[str | Path], threshold: float = 0.95
                       ) -> list[DuplicateGroup]:
    if not 0 < threshold <= 1:
        raise InvalidArgumentError(f"threshold={threshold} is out of range: use a cosine similarity in (0, 1].")
    x = np.asarray(vectors, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    paths = [Path(p) for p in paths]
    parent = list(range(len(x)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pairs: dict[tuple[int, int], float] = {}
    for start in range(0, len(x), BLOCK):
        sims = x[start:start + BLOCK] @ x.T
        rows, cols = np.nonzero(sims >= threshold - 1e-6)
        for r, c in zip(rows.tolist(), cols.tolist()):
            i = start + r
            if i < c:
                pairs[(i, c)] = float(sims[r, c])
                a, b = find(i), find(c)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = {}
    for i in sorted({i for pair in pairs for i in pair}):
        members.setdefault(find(i), []).append(i)
    groups = []
    by_root: dict[int, list[float]] = {}
    for (a, _), sim in pairs.items():
        by_root.setdefault(find(a), []).append(sim)
    for root, rows in members.items():
        sub = x[rows] @ x[rows].T
        order = np.argsort(-sub.sum(axis=1), kind="stable")
        group_pairs = by_root[root]
        files = [paths[rows[i]] for i in order]
        groups.append(DuplicateGroup(files, min(group_pairs), max(group_pairs), _identical(files)))
    groups.sort(key=lambda g: (-len(g.files), -g.max_similarity, str(g.files[0])))
    return groups


def _identical(files: list[Path]) -> list[list[Path]]:
    by_hash: dict[str, list[Path]] = {}
    for p in files:
        try:
            by_hash.setdefault(file_sha256(p), []).append(p)
        except OSError:
            continue
    return [sorted(g) for g in by_hash.values() if len(g) > 1]


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

"""Fit the fusion's logistic gate (mlx_embed/index/search/fusion.py: BIAS and COEF) on the dev split of
the search development set (bench/search_devset.py), with the real all-MiniLM-L6-v2.

    python bench/search_fusion_fit.py [--cache DIR] [--chars 4000]

For every dev query of every kind (lookups, questions, descriptions, summaries): the evidence
(fusion.evidence, captured as the searcher computes it) and its reciprocal rank with the gate fixed
at each value of GRID. The objective is the mean over kinds of each kind's MRR@10 (each kind counts
the same, however many queries it has; a query's RR at a gate value g is interpolated between the
grid points), less a penalty where a goal kind falls short of its dense or keyword mode + 0.01, less a
small L2 penalty on the (standardised) coefficients; Powell's method from several starting points.
Prints the coefficients to write into fusion.py, and the MRR per kind and split they give (the
validation split is only reported: nothing here reads it to choose). Writes
bench/results/search_fusion_fit.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import search_devset as devset  # noqa: E402
from bench import search_quality as quality  # noqa: E402
from mlx_embed.index.search import fusion as F  # noqa: E402

GRID = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)


def collect(ix, copies) -> list[dict]:
    """One row per query: kind, split, features, RR at each GRID value, and dense / keyword RR."""
    back = {str(p.resolve()): k for k, p in copies.items()}
    rows = []
    seen: list[dict] = []
    real_gate = F.gate

    def capture(features):
        seen.append(dict(features))
        return real_gate(features)

    for kind, queries in quality.query_sets(copies).items():
        for query, relevant in queries.items():
            row = {"query": query, "kind": kind, "split": devset.split_of(query), "rr": []}
            for g in GRID:
                F.GATE = g
                ranked = [back.get(str(r.path.resolve()), "?") for r in ix.search(query, k=10)]
                row["rr"].append(devset.score(ranked, relevant)[0])
            F.GATE = None
            F.gate, seen[:] = capture, []
            try:
                ix.search(query, k=10)
            finally:
                F.gate = real_gate
            row["x"] = [seen[-1][f] for f in F.FEATURES] if seen else [0.0] * len(F.FEATURES)
            for mode in ("dense", "keyword"):
                ranked = [back.get(str(r.path.resolve()), "?") for r in ix.search(query, k=10, mode=mode)]
                row[mode] = devset.score(ranked, relevant)[0]
            rows.append(row)
    return rows


GOAL_KINDS = ("lookups", "questions", "descriptions")
L2, SHORTFALL, STARTS = 0.003, 3.0, 8  # L2 on standardised coefficients (chosen by 4-fold CV on dev
                                       # among 0.0003-0.03), weight of a goal kind's shortfall


def _gate(theta: np.ndarray, X: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(theta[0] + X @ theta[1:], -30, 30)))


def _rr_at(g: np.ndarray, rr: np.ndarray) -> np.ndarray:
    """Each query's RR at its gate value, linear between the GRID points it was measured at."""
    return np.array([np.interp(gi, GRID, r) for gi, r in zip(g, rr)])


def mrr_by_kind(rows: list[dict], theta: np.ndarray, split: str) -> dict[str, float]:
    sel = [r for r in rows if r["split"] == split]
    v = _rr_at(_gate(theta, np.array([r["x"] for r in sel])), np.array([r["rr"] for r in sel]))
    out: dict[str, list[float]] = {}
    for r, rr in zip(sel, v):
        out.setdefault(r["kind"], []).append(rr)
        if r["kind"] != "summaries":
            out.setdefault("mix", []).append(rr)
    return {k: float(np.mean(x)) for k, x in out.items()}


def fit(rows: list[dict]) -> np.ndarray:
    """Maximise the mean over kinds of the dev MRR@10 less SHORTFALL x how far a goal kind falls short
    of max(dense, keyword) + 0.01 (the issue's goal), less L2 x |coefficients|^2 on standardised
    features; Powell from STARTS starting points. Returns (bias, coefficients) on the raw features."""
    from scipy.optimize import minimize

    dev = [r for r in rows if r["split"] == "dev"]
    X = np.array([r["x"] for r in dev])
    mu, sd = X.mean(0), X.std(0) + 1e-9
    Z, rr = (X - mu) / sd, np.array([r["rr"] for r in dev])
    kinds = sorted({r["kind"] for r in dev})
    mask = {k: np.array([r["kind"] == k for r in dev]) for k in kinds}
    goal = {k: max(np.mean([r[m] for r in dev if r["kind"] == k]) for m in ("dense", "keyword")) + 0.01
            for k in GOAL_KINDS}

    def loss(th: np.ndarray) -> float:
        v = _rr_at(_gate(th, Z), rr)
        per = {k: v[mask[k]].mean() for k in kinds}
        short = sum(min(0.0, per[k] - goal[k]) for k in GOAL_KINDS if k in per)
        return -float(np.mean(list(per.values()))) - SHORTFALL * short + L2 * float(np.sum(th[1:] ** 2))

    rng = np.random.default_rng(0)
    best = None
    for s in range(STARTS):
        x0 = rng.normal(0, 1, X.shape[1] + 1) if s else np.zeros(X.shape[1] + 1)
        res = minimize(loss, x0, method="Powell", options={"maxiter": 20000, "xtol": 1e-3, "ftol": 1e-6})
        if best is None or res.fun < best.fun:
            best = res
    w = best.x[1:] / sd
    return np.concatenate([[best.x[0] - float(np.sum(best.x[1:] * mu / sd))], w])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/mlx-embed-search-quality"))
    ap.add_argument("--chars", type=int, default=4000)
    ap.add_argument("--rows", type=Path, default=None,
                    help="refit from the rows of an earlier run's JSON (no searching)")
    args = ap.parse_args()
    if args.rows is not None:
        rows = json.loads(args.rows.read_text())["rows"]
    else:
        ix, copies = quality.build(args.cache / f"c{args.chars}", args.chars)
        ix.encoder.query = functools.lru_cache(maxsize=None)(ix.encoder.query)
        rows = collect(ix, copies)
    theta = fit(rows)
    print(f"load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    print(f"BIAS = {theta[0]:.3f}")
    print("COEF = {" + ", ".join(f'"{f}": {c:.3f}' for f, c in zip(F.FEATURES, theta[1:])) + "}")
    report = {}
    for split in devset.SPLITS:
        fitted = mrr_by_kind(rows, theta, split)
        ends = {f"g={g}": mrr_by_kind(rows, np.array([30.0 if g else -30.0] + [0.0] * len(F.FEATURES)), split)
                for g in (0, 1)}
        halves = {m: {k: float(np.mean([r[m] for r in rows if r["split"] == split and
                                        (r["kind"] == k or (k == "mix" and r["kind"] != "summaries"))]))
                      for k in fitted} for m in ("dense", "keyword")}
        report[split] = {"fitted": fitted, **ends, **halves}
        for name, m in report[split].items():
            print(f"{split:10s} {name:8s} " + "  ".join(f"{k} {v:.3f}" for k, v in sorted(m.items())))
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "search_fusion_fit.json").write_text(json.dumps(
        {"bias": theta[0], "coef": dict(zip(F.FEATURES, theta[1:].tolist())), "grid": GRID, "report": report,
         "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

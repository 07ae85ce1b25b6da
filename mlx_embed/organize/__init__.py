"""Organise files by meaning: clusters, near-duplicates, labels, and safe undoable file actions.

The app and the CLI call the same functions (nothing here touches Qt or prints):

    import mlx_embed
    from mlx_embed import organize as org

    model = mlx_embed.load("path/or/repo")
    files = org.collect_files(["~/Downloads"])                       # files.py: recursive, sorted
    fv = org.embed_files(model, files, task="clustering",            # vectors.py: FileVectors (paths,
                         index=ix, progress=cb)                      #   (n, d) unit vectors, texts,
                                                                     #   skipped {path: reason}, reused)
    result = org.cluster_files(fv, k=None, method="kmeans", seed=0)  # cluster.py: Clustering
    result.clusters[i] -> Cluster(id, label, terms, files, central, outliers, cohesion, size)
    result.noise; result.labels (n,), result.coords (n, 2) map; result.criterion; result.scores (k -> silhouette)
    result.to_dict()                                                 # JSON; its "groups" are an apply plan

    dv = org.embed_files(model, files, task="text-matching")
    groups = org.near_duplicates(dv, threshold=0.95)                 # dupes.py: [DuplicateGroup]

    labels = org.LabelSet.load("labels.json")                        # labelset.py; or LabelSet([Label(..)])
    labels = org.LabelSet.from_clustering(result)                    #   or: clusters become labels
    cv = org.embed_files(model, files, task="classification")
    out = org.classify(model, cv, labels, threshold=None)            # classify.py: Classification
    out.assignments[i] -> Assignment(path, label | None (unsure), best, confidence, scores, reason, nearest,
                                     words, basis);  .explain(root): why, paths relative to root
    labels.correct(path, "Invoices", vector, org.model_key(model, cv.task)); labels.save()

    plan = org.plan_groups(result.to_dict(), mode="move")            # actions/: move | copy | tag
    plan.describe(), plan.problems                                   #   the preview: nothing changed yet
    done = org.apply(plan, index=ix)                                 # journaled; Result(done, failed,
    org.undo(); org.resume(); org.journals()                         #   skipped, moved [(old, new)])

Threads: embedding holds the model's lock; clustering and classification are pure numpy/scikit-learn
and can run in a worker thread (they limit BLAS/OpenMP to one thread while they run, process-wide).
Long embedding reports `progress(done_files, total_files)` between batches; raise from it to cancel.
Errors a user can act on are mlx_embed.errors types (InvalidArgumentError; actions.JournalError).
Each module's docstring gives the exact rules: how chunks become one file vector, how k is chosen,
how labels and confidences are computed, what apply/undo guarantee.

Modules, lowest first:
    tags.py       Finder tags (macOS) or a sidecar file: get/set a file's tags
    files.py      collect_files (the index's discovery), read_text (the index's extractor)
    vectors.py    embed_files: one vector per file (chunks, reuse of index vectors), the texts for words
    threads.py    single_threaded: BLAS/OpenMP held to one thread while clustering or classifying
    terms.py      WORD (what a word is), cluster_terms (c-TF-IDF), name_clusters (labels)
    cluster.py    cluster / cluster_files: k-means (meaning + words), HDBSCAN, agglomerative; the 2-D map
    dupes.py      near_duplicates: groups of files above a cosine threshold, identical bytes marked
    labelset.py   Label, LabelSet (JSON, corrections, cached example vectors), model_key
    classify.py   prepare, classify, classify_vectors: zero-shot, centroid, logistic; Classification
    actions/      plans, journal, file primitives, crash recovery, apply/resume and undo
                  (see actions/__init__.py)
"""

from .actions import (JournalError, Plan, Result, apply, default_journal_dir, journals, load_plan,
                      plan_groups, resume, undo)
from .classify import Classification, classify, classify_vectors, prepare
from .cluster import Cluster, Clustering, cluster, cluster_files, map_2d
from .dupes import DuplicateGroup, near_duplicates, near_duplicates_of
from .files import FileText, UnreadableFileError, collect_files, read_text
from .labelset import Label, LabelSet, model_key
from .vectors import FileVectors, combine_chunks, embed_files

__all__ = [
    "collect_files", "read_text", "FileText", "UnreadableFileError",
    "embed_files", "FileVectors", "combine_chunks",
    "cluster", "cluster_files", "map_2d", "Cluster", "Clustering",
    "near_duplicates", "near_duplicates_of", "DuplicateGroup",
    "Label", "LabelSet", "classify", "classify_vectors", "prepare", "model_key", "Classification",
    "plan_groups", "load_plan", "apply", "undo", "resume", "journals", "default_journal_dir", "Plan", "Result",
    "JournalError",
]

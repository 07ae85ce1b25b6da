"""Words in the files' text: what counts as a word, and the terms that name a cluster.

    WORD                                   # a word: letters only, 3 or more (every TF-IDF here uses it)
    cluster_terms(texts, labels, top=5) -> {cluster id: [terms]}
    name_clusters(clusters, labels, texts) # sets each Cluster's terms and label, labels made unique

Labels: c-TF-IDF over the files' text (English stop words, programming keywords, and on lines that
credit people, copyright/author/e-mail lines, their names and addresses left out): each
file's word counts are normalised to frequencies, averaged per cluster, and weighted by
log(1 + 1 / total frequency of the word across clusters); the top terms (found in at least a third of
the cluster's files) name the cluster. When the text gives no term, the most common words of the file
names are used, then "cluster N". A label two clusters share gets " (2)", " (3)"...
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

WORD = re.compile(r"(?u)\b[^\W\d_]{3,}\b")
NAME_LINE = re.compile(r"(?im)(copyright|\(c\)|©|author|maintainer|contributor|written by|@|^\s*-- )")
CAPITALISED = re.compile(r"\b[A-Z][\w'-]*")
EMAIL = re.compile(r"[<(]?[\w.+-]+@[\w.-]+[>)]?|https?://\S+")
# Words every program is full of: never a useful name for a group of source files.
CODE_WORDS = frozenset("""self cls def return import from class none true false elif else try except finally
raise lambda yield async await pass break continue while for with not and args kwargs str int bool dict
list tuple len isinstance object super init var let const function public private static void null new
this include define endif ifdef ifndef struct typedef unsigned char float double sizeof""".split())


def cluster_terms(texts: Sequence[str], labels: np.ndarray, top: int = 5) -> dict[int, list[str]]:
    """c-TF-IDF distinctive terms per cluster id (noise, -1, excluded). See the module docstring."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    labels = np.asarray(labels)
    ids = sorted(set(labels.tolist()) - {-1})
    if not ids:
        return {}
    vec = CountVectorizer(token_pattern=WORD.pattern, stop_words=list(ENGLISH_STOP_WORDS | CODE_WORDS),
                          lowercase=True, max_features=50_000)
    try:
        counts = vec.fit_transform([_without_names(t) for t in texts]).astype(np.float64)
    except ValueError:            # no words at all
        return {}
    totals = np.asarray(counts.sum(axis=1)).ravel()
    freq = counts.multiply(1.0 / np.maximum(totals, 1)[:, None]).tocsr()
    present = (counts > 0).astype(np.float64).tocsr()
    vocab = np.array(vec.get_feature_names_out())
    per_cluster = np.vstack([np.asarray(freq[labels == c].mean(axis=0)).ravel() for c in ids])
    idf = np.log1p(1.0 / np.maximum(per_cluster.sum(axis=0), 1e-12))
    out = {}
    for row, c in enumerate(ids):
        members = labels == c
        doc_share = np.asarray(present[members].mean(axis=0)).ravel()
        score = per_cluster[row] * idf * (doc_share >= (1 / 3 if members.sum() > 1 else 1))
        best = [i for i in np.argsort(-score, kind="stable")[:top] if score[i] > 0]
        out[c] = [str(vocab[i]) for i in best]
    return out


def _without_names(text: str) -> str:
    """The text without people's names: on lines that credit someone (copyright, author, maintainer,
    an e-mail address, a changelog's " -- Name <mail>  date" line) capitalised words after the first
    are dropped, so "copyright" stays and "Piers" (Lauder, imaplib's author) does not name a group."""
    if not NAME_LINE.search(text):
        return text
    out = []
    for line in text.splitlines():
        if NAME_LINE.search(line):
            first, _, rest = line.strip().partition(" ")
            line = first + " " + CAPITALISED.sub(" ", EMAIL.sub(" ", rest))
        out.append(line)
    return "\n".join(out)


def _name_label(files: list[Path]) -> str:
    words = Counter(w.lower() for p in files for w in set(WORD.findall(p.stem.replace("_", " "))))
    common = [w for w, n in words.most_common(3) if n > 1 or len(files) == 1]
    return ", ".join(common)


def _dedupe_labels(clusters: list) -> None:
    seen: Counter = Counter()
    for c in clusters:
        seen[c.label] += 1
        if seen[c.label] > 1:
            c.label = f"{c.label} ({seen[c.label]})"


def name_clusters(clusters: list, labels: np.ndarray, texts: Sequence[str] | None) -> None:
    """Each cluster.Cluster's terms (from `texts`, when given) and label: its top 3 terms, else the common words
    of its file names, else "cluster N"; a label already taken gets " (2)", " (3)"..."""
    terms = cluster_terms(texts, labels) if texts is not None else {}
    for c in clusters:
        c.terms = terms.get(c.id, [])
        c.label = ", ".join(c.terms[:3]) if c.terms else _name_label(c.files) or f"cluster {c.id + 1}"
    _dedupe_labels(clusters)

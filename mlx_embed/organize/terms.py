"""Words in the files' text: what counts as a word, and the terms that name a cluster.

    WORD                                   # a word: letters only, 3 or more (every TF-IDF here uses it)
    cluster_terms(texts, labels, top=5) -> {cluster id: [terms]}
    name_clusters(clusters, labels, texts) # sets each Cluster's terms and label, labels made unique

Labels: c-TF-IDF over the files' text (English stop words, programming keywords, and on lines that
credit people, copyright/author/e-mail lines, their names and addresses left out): each
file's word counts are normalised to frequencies, averaged per cluster, and weighted by
log(1 + 1 / total frequency of the word across clusters); the top terms (found in at least a third of
the cluster's files) name the cluster. When the text gives no term, the most common words of the file
names are used, then "group N". A label two clusters share gets " (2)", " (3)"...

Labels as a person would name the folder (name_clusters; issue 26, judged in docs/group_names.md):
candidates are the group's words and two- or three-word phrases (runs of content words, no stop word
inside, found in at least a third of its files), scored by c-TF-IDF (specificity) and, when an `embed`
function is given (the model), by how close each candidate's embedding is to the group's centre
(NAME_MEANING of the score); the top NAME_CANDIDATES are chosen from with maximal marginal relevance
(NAME_MMR: a second term must add meaning, not repeat the first or share a word with it) and written
as a short title: "Event loop and transports", never "loop, event, transport". Every label is safe as a
folder name (safe_folder_name: no comma, no / \\ : * ? " < > | or control character, no leading or
trailing dot or space, not a reserved Windows name, at most NAME_CHARS characters).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
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


NAME_CANDIDATES = 15     # best c-TF-IDF words a name is chosen from ...
NAME_PHRASES = 10        # ... and best two- or three-word phrases
NAME_MEANING = 0.9       # share of closeness to the group centre in a candidate's score (with a model)
NAME_MMR = 0.6           # maximal marginal relevance: weight of relevance against redundancy
NAME_SECOND = 0.7       # a second term joins the title only at this relevance (0..1) or more
NAME_CHARS = 48          # longest label
UNSAFE = re.compile(r'[,/\\:*?"<>|\x00-\x1f\x7f]')
RESERVED = frozenset("con prn aux nul com1 com2 com3 com4 com5 com6 com7 com8 com9 lpt1 lpt2 lpt3 lpt4 lpt5 "
                     "lpt6 lpt7 lpt8 lpt9".split())


def safe_folder_name(text: str, fallback: str = "Group") -> str:
    """`text` as a folder name every common file system accepts (see the module docstring)."""
    name = " ".join(UNSAFE.sub(" ", text).split())
    if len(name) > NAME_CHARS:
        name = name[:NAME_CHARS].rsplit(" ", 1)[0]
    name = name.strip(" .")
    if not name:
        return fallback
    if name.split(".")[0].lower() in RESERVED:
        name += " files"
    return name


def _stop_words() -> frozenset:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS | CODE_WORDS)


def _candidates(text: str, stop: frozenset) -> list[str]:
    """Words (3+ letters, not stop words) and runs of 2-3 of them with nothing between but spaces or
    hyphens (so "event loop" counts, "loop. Event" and "use of the following" do not)."""
    out, run = [], []
    for m in re.finditer(r"(?u)[^\W\d_]+|[^\w\s-]|\d+|\n", text):
        w = m.group(0).lower()
        if WORD.fullmatch(w) and w not in stop:
            run.append(w)
            out.append(w)
            for n in (2, 3):
                if len(run) >= n:
                    out.append(" ".join(run[-n:]))
        else:
            run = []
    return out


def _phrase_scores(texts: Sequence[str], labels: np.ndarray, ids: list[int]):
    """c-TF-IDF of words and phrases per cluster (as cluster_terms, over _candidates)."""
    from sklearn.feature_extraction.text import CountVectorizer

    stop = _stop_words()
    vec = CountVectorizer(analyzer=lambda t: _candidates(t, stop), max_features=100_000)
    try:
        counts = vec.fit_transform([_without_names(t) for t in texts]).astype(np.float64)
    except ValueError:
        return None, None, None
    vocab = np.array(vec.get_feature_names_out())
    totals = np.asarray(counts.sum(axis=1)).ravel()
    freq = counts.multiply(1.0 / np.maximum(totals, 1)[:, None]).tocsr()
    present = (counts > 0).astype(np.float64).tocsr()
    per_cluster = np.vstack([np.asarray(freq[labels == c].mean(axis=0)).ravel() for c in ids])
    idf = np.log1p(1.0 / np.maximum(per_cluster.sum(axis=0), 1e-12))
    shares = np.vstack([np.asarray(present[labels == c].mean(axis=0)).ravel() for c in ids])
    return vocab, per_cluster * idf, shares


def group_title(terms: Sequence[str]) -> str:
    """One or two terms as a short title: "Event loop and transports"."""
    terms = [t for t in terms if t]
    if not terms:
        return ""
    text = terms[0] if len(terms) == 1 else f"{terms[0]} and {terms[1]}"
    return text[:1].upper() + text[1:]


def choose_terms(cands: list[str], relevance: np.ndarray, vectors: np.ndarray | None, n: int = 2) -> list[str]:
    """Up to `n` candidates by maximal marginal relevance: the most relevant first, then the one that is
    relevant and least like those chosen (embedding cosine, or shared words without embeddings); a term
    sharing a word with a chosen one never follows it ("event loop" then "loop")."""
    chosen: list[int] = []
    rel = (relevance - relevance.min()) / max(float(np.ptp(relevance)), 1e-12) if len(relevance) else relevance
    while len(chosen) < n:
        best, best_score = None, -np.inf
        for i, c in enumerate(cands):
            if i in chosen or any(_overlap(c, cands[j]) for j in chosen):
                continue
            if chosen and vectors is not None:
                redundancy = max(float(vectors[i] @ vectors[j]) for j in chosen)
            else:
                redundancy = 0.0
            score = NAME_MMR * rel[i] - (1 - NAME_MMR) * redundancy
            if score > best_score:
                best, best_score = i, score
        if best is None or (chosen and rel[best] < NAME_SECOND):   # a weak second term adds nothing
            break
        chosen.append(best)
    return [cands[i] for i in chosen]


def _named(word: str) -> bool:
    """A word written as a name: lower case, capitalised, an acronym of up to 5 letters, or a capitalised
    name with capitals inside ("CMake"); not a code identifier ("assertEqual") or shouting ("SOFTWARE")."""
    return (word.islower() or (word[:1].isupper() and (word[1:].islower() or len(word) <= 5 or word[1:2].isupper()
                                                     and not word.isupper())))


def _code_like(term: str, texts: list[str]) -> bool:
    """The files write this term mostly as a code identifier or in shouting capitals."""
    forms = Counter(m for t in texts for m in re.findall(r"(?i)\b" + r"[\s-]+".join(re.escape(w) for w in term.split())
                                                         + r"\b", t))
    odd = sum(n for f, n in forms.items() if not all(_named(w) for w in re.split(r"[\s-]+", f)))
    return odd > 0.5 * max(1, sum(forms.values()))


def _overlap(a: str, b: str) -> bool:
    """Two terms share a word, or a word's first five letters ("encoded" and "encoding")."""
    return any(x == y or (len(x) >= 5 and len(y) >= 5 and x[:5] == y[:5]) for x in a.split() for y in b.split())


def _name_label(files: list[Path]) -> str:
    words = Counter(w.lower() for p in files for w in set(WORD.findall(p.stem.replace("_", " "))))
    common = [w for w, n in words.most_common(2) if n > 1 or len(files) == 1]
    return group_title(common)


def _dedupe_labels(clusters: list) -> None:
    seen: Counter = Counter()
    for c in clusters:
        seen[c.label] += 1
        if seen[c.label] > 1:
            c.label = f"{c.label} ({seen[c.label]})"


def name_clusters(clusters: list, labels: np.ndarray, texts: Sequence[str] | None, vectors: np.ndarray | None = None,
                  embed: Callable[[list[str]], np.ndarray] | None = None) -> None:
    """Each cluster.Cluster's terms (c-TF-IDF words, from `texts`) and label: a title from its words and
    phrases (see the module docstring; `embed(strings) -> (n, d)` unit vectors in the space of the files'
    `vectors` adds closeness to the group centre), else the common words of its file names, else
    "Group N"; always safe as a folder name; a label already taken gets " (2)", " (3)"..."""
    labels = np.asarray(labels)
    terms = cluster_terms(texts, labels) if texts is not None else {}
    ids = [c.id for c in clusters]
    vocab = scores = shares = None
    if texts is not None and ids:
        vocab, scores, shares = _phrase_scores(texts, labels, ids)
    centres = None
    if embed is not None and vectors is not None:
        v = np.asarray(vectors, np.float32)
        centres = np.stack([v[labels == i].mean(axis=0) for i in ids])
        centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    for row, c in enumerate(clusters):
        c.terms = terms.get(c.id, [])
        title = ""
        if vocab is not None:
            members = labels == c.id
            need = 1 / 3 if members.sum() > 1 else 1
            score = scores[row] * (shares[row] >= need)
            ranked = [i for i in np.argsort(-score, kind="stable") if score[i] > 0]
            # phrases score lower than words on counts alone: the best of each kind compete on meaning
            top = [i for i in ranked if " " not in vocab[i]][:NAME_CANDIDATES] + \
                [i for i in ranked if " " in vocab[i]][:NAME_PHRASES]
            group_texts = [t for t, m in zip(texts, members) if m]
            top = [i for i in top if not _code_like(str(vocab[i]), group_texts)]
            if top:
                cands = [str(vocab[i]) for i in top]
                rel = _norm(score[top])
                emb = None
                if centres is not None:
                    emb = np.asarray(embed(cands), dtype=np.float32)
                    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
                    sims = emb @ centres.T                     # (candidates, groups)
                    own = sims[:, row]
                    # close to this group's centre, and closer to it than to the other groups' centres
                    other = np.delete(sims, row, axis=1).max(axis=1) if len(ids) > 1 else np.zeros_like(own)
                    rel = (1 - NAME_MEANING) * rel + NAME_MEANING * _norm(own + (own - other))
                title = group_title([_surface(t, group_texts) for t in _as_phrase(choose_terms(cands, rel, emb),
                                                                                     group_texts)])
        c.label = safe_folder_name(title or _name_label(c.files) or f"Group {c.id + 1}", f"Group {c.id + 1}")
    _dedupe_labels(clusters)


def _norm(x: np.ndarray) -> np.ndarray:
    return (x - x.min()) / max(float(np.ptp(x)), 1e-12) if len(x) else x


def _as_phrase(chosen: list[str], texts: list[str]) -> list[str]:
    """Two chosen words that the group's files write side by side ("debian" and "changelog" as "Debian
    changelog") become that one phrase, in the order the files use most."""
    if len(chosen) != 2 or " " in chosen[0] + chosen[1]:
        return chosen
    a, b = chosen
    joined = "\n".join(texts)
    counts = {f"{x} {y}": len(re.findall(rf"(?i)\b{re.escape(x)}[\s-]+{re.escape(y)}\b", joined)) for x, y in ((a, b), (b, a))}
    best = max(counts, key=counts.get)
    return [best] if counts[best] >= max(2, len(texts) / 3) else chosen


def _surface(term: str, texts: list[str]) -> str:
    """The term as the files write it most often: "JSON", "CMake", "HTTP"; lower case if they mostly do."""
    forms = Counter(" ".join(m.split()) for t in texts
                    for m in re.findall(r"(?i)\b" + r"[\s-]+".join(re.escape(w) for w in term.split()) + r"\b", t))
    if not forms:
        return term
    form, _ = forms.most_common(1)[0]
    # an acronym or a name with capitals inside ("JSON", "CMake", "AWS IAM") the files also write in lower case
    cased = [(f, n) for f, n in forms.items() if all(_named(w) for w in f.split()) and any(w[1:2].isupper() for w in f.split())]
    if cased and max(n for _, n in cased) >= 0.1 * sum(forms.values()):
        return max(cased, key=lambda fn: fn[1])[0]
    if form[:1].isupper() and not form[1:2].isupper() and form.lower() == form[:1].lower() + form[1:]:
        return term                       # "Copyright" at a line start is not a name: keep lower case
    return form

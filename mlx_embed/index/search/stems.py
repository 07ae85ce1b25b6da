"""Which words of a text match the query's: the Snowball English stemmer (PyStemmer), used both to
decide whether a keyword hit really holds a query word and to highlight it, so what is bold is what
matched.

    QueryTerms.of(words, phrases)             the query's stems (and its phrases, verbatim)
    terms.spans(text) -> [(start, end)]       the matching words and phrases in `text`, in order
    terms.matched(text) -> set of stems       which of the query's stems `text` holds

Why not FTS5's own porter stems: porter folds "generate" and "General" (and "university" and
"universe") to one stem, so a search for one bolds, and ranks, the other. FTS5 still finds the
candidate chunks (porter is looser, so it misses nothing Snowball would match in practice); a
candidate with none of the query's Snowball stems is not a keyword hit. Tokens as FTS5's unicode61
tokenizer cuts them: runs of letters and digits ("_" and "." separate: "text_wrapping.py" is "text",
"wrapping", "py"), case and diacritics folded.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

_STEMMER = Stemmer.Stemmer("english")
TOKEN = re.compile(r"[^\W_]+")


def fold(word: str) -> str:
    """Lower case without diacritics (FTS5's unicode61 with remove_diacritics 2)."""
    word = word.lower()
    if word.isascii():
        return word
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    return _STEMMER.stemWord(fold(word))


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


@dataclass(frozen=True)
class QueryTerms:
    stems: frozenset[str]
    phrases: tuple[str, ...]
    rx: re.Pattern | None           # candidate words (a stem's prefix) and phrases; stems confirm

    @classmethod
    def of(cls, words: list[str], phrases: list[str]) -> "QueryTerms":
        stems = frozenset(stem(t) for w in words for t in tokens(w))
        # a word stems to s only if it starts with s less its last letter ("happy" -> "happi"): the
        # regex finds those candidates in C, and only they are stemmed
        prefixes = sorted({s[:-1] if len(s) > 2 else s for s in stems}, key=len, reverse=True)
        parts = [r"\s+".join(re.escape(w) for w in p.split()) for p in sorted(phrases, key=len, reverse=True)]
        parts += [rf"(?<![^\W_]){re.escape(p)}[^\W_]*" for p in prefixes if p]
        rx = re.compile("|".join(parts), re.IGNORECASE) if parts else None
        return cls(stems, tuple(" ".join(p.split()) for p in phrases), rx)

    def _hits(self, text: str):
        if self.rx is None:
            return
        for m in self.rx.finditer(text):
            g = m.group()
            if g[:1].isalnum() and not any(c.isspace() for c in g) and TOKEN.fullmatch(g):
                s = stem(g)
                if s in self.stems:
                    yield m.span(), s
                    continue
            if any(" ".join(g.split()).casefold() == p.casefold() for p in self.phrases):
                yield m.span(), None

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [span for span, _ in self._hits(text)]

    def matched(self, text: str) -> set[str]:
        """The query stems `text` holds (a phrase found verbatim counts as all its words)."""
        out: set[str] = set()
        for _, s in self._hits(text):
            if s is None:
                continue
            out.add(s)
        for p in self.phrases:
            if p.casefold() in " ".join(text.split()).casefold():
                out.update(stem(t) for t in tokens(p))
        return out

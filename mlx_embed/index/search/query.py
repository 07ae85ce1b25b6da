"""A query as the searcher uses it, parsed once: its content words, "quoted phrases", the text to
embed, and the filters on files.

    parse_query(text) -> Query(words, phrases, text)    (a tuple: words, phrases, text to embed)
    FileFilter.of(folder, kinds, modified_after, modified_before)    normalised; .active, .as_sql_args()
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

# Words that say nothing about the files wanted: function words and the wording of a question ("how do
# I", "what is the best way to"). BM25 and the name match ignore them; the embedded text keeps them.
STOPWORDS = frozenset("""a an and are as at be been being but by for from has have had how i in into is am
it its of on or that the their there these this those to was were what when where which who whom whose
why will with you your do does did doing can could should would shall may might must about than then
them they we our us me my mine myself not no so if also just only very some any something anything
way ways best easiest want need please using via one own other others such each here get""".split())


class Query(NamedTuple):
    words: list[str]        # content words (stop words dropped, unless nothing else is left)
    phrases: list[str]      # "quoted phrases", whitespace collapsed
    text: str               # what is embedded: the whole query, quotes removed


def parse_query(query: str) -> Query:
    """(words, quoted phrases, text to embed)."""
    phrases = [" ".join(p.split()) for p in re.findall(r'"([^"]+)"', query) if p.strip()]
    rest = re.sub(r'"[^"]*"', " ", query)
    words = [w for w in re.findall(r"\w+", rest.lower()) if w not in STOPWORDS]
    if not words and not phrases:
        words = re.findall(r"\w+", rest.lower())
    plain = " ".join(query.replace('"', " ").split())
    return Query(words, phrases, plain)


def _to_ns(when: datetime | float | int | None) -> int | None:
    if when is None:
        return None
    if isinstance(when, datetime):
        when = when.timestamp()
    return int(float(when) * 1e9)


@dataclass(frozen=True)
class FileFilter:
    """Which files a search may return: under `folder`, of `kinds` (kind or extension), modified in
    [after_ns, before_ns)."""

    folder: str | None = None
    kinds: frozenset[str] = frozenset()
    after_ns: int | None = None
    before_ns: int | None = None

    @classmethod
    def of(cls, folder=None, kinds=None, modified_after=None, modified_before=None) -> "FileFilter":
        root = os.path.abspath(os.path.expanduser(str(folder))).rstrip(os.sep) if folder is not None else None
        return cls(root, frozenset(k.lower().lstrip(".") for k in kinds or ()), _to_ns(modified_after),
                   _to_ns(modified_before))

    @property
    def active(self) -> bool:
        return self.folder is not None or bool(self.kinds) or self.after_ns is not None or self.before_ns is not None

    def as_sql_args(self) -> dict[str, Any]:
        """Keyword arguments for the store's filtered reads."""
        return {"folder": self.folder, "kinds": sorted(self.kinds) or None, "after_ns": self.after_ns,
                "before_ns": self.before_ns}

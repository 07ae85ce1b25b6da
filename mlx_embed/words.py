"""Counted words, the same everywhere the CLI and the app print a count.

    plural(n, "file") -> "1 file" / "2 files" / "1,234 files"
"""

from __future__ import annotations


def plural(n: int, noun: str, many: str | None = None) -> str:
    """A count and its noun, singular for exactly one (`many`: an irregular plural)."""
    return f"{n:,} {noun if n == 1 else (many or noun + 's')}"

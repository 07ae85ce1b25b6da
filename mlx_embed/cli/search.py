"""`mlx-embed search QUERY`: ranked files with the passages that matched, from the local index.

"Quoted phrases" must occur verbatim to get the phrase boost; a query equal to a file name puts that
file first. Identical copies (same content) are one result, "also in N places" (--json: "copies"). Filters: --folder, --type (kind or extension, repeatable), --after / --before (a date
YYYY-MM-DD, or an age: 7d, 2w, 3m, 1y). Exit codes as for `mlx-embed index`; 0 also when nothing matched.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime

from ..errors import InvalidArgumentError
from ..words import plural
from .index import add_index_arguments, open_index

BOLD, RESET = "\033[1m", "\033[0m"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="search the indexed folders", description=__doc__.split("\n\n")[0])
    p.add_argument("query", nargs="+", metavar="QUERY")
    p.add_argument("-k", "--limit", type=int, default=10, help="number of files (default 10)")
    p.add_argument("--folder", default=None, help="only files under this folder")
    p.add_argument("--type", "-t", action="append", dest="kinds", metavar="KIND",
                   help="only this kind (pdf, markdown, source, docx...) or extension (repeatable)")
    p.add_argument("--after", default=None, help="modified on or after: YYYY-MM-DD or an age like 7d, 2w, 3m, 1y")
    p.add_argument("--before", default=None, help="modified before: YYYY-MM-DD or an age")
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "keyword"])
    p.add_argument("--passages", type=int, default=1, help="passages shown per file (default 1)")
    add_index_arguments(p)
    p.set_defaults(run=run)


def parse_when(value: str | None) -> datetime | None:
    if value is None:
        return None
    m = re.fullmatch(r"(\d+)\s*([dwmy])", value.strip().lower())
    if m:
        days = int(m.group(1)) * {"d": 1, "w": 7, "m": 30, "y": 365}[m.group(2)]
        return datetime.fromtimestamp(time.time() - days * 86400)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgumentError(f"Cannot read the date {value!r}: use YYYY-MM-DD or an age like 7d, 2w, 3m, 1y.") from None


def run(args: argparse.Namespace) -> int:
    query = " ".join(args.query)
    with open_index(args, create=False) as ix:
        t0 = time.perf_counter()
        results = ix.search(query, k=args.limit, folder=args.folder, kinds=args.kinds,
                            modified_after=parse_when(args.after), modified_before=parse_when(args.before),
                            mode=args.mode, passages=max(1, args.passages))
    elapsed = time.perf_counter() - t0
    if args.json:
        json.dump({"query": query, "seconds": round(elapsed, 4), "results": [r.to_dict() for r in results]},
                  sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    tty = sys.stdout.isatty()
    if not results:
        print("No matches.", file=sys.stderr)
        return 0
    for i, r in enumerate(results, 1):
        page = f"  p. {r.passages[0].page}" if r.passages and r.passages[0].page else ""
        why = ", ".join(r.matched)
        print(f"{i:>2}. {r.path}{page}  [{why}]")
        for p in r.passages[: args.passages]:
            text = p.marked(BOLD, RESET) if tty else p.marked("**", "**")
            print("    " + " ".join(text.split()))
        if r.copies:  # identical content elsewhere: one result, the other places listed
            print(f"    also in {plural(len(r.copies), 'place')}: " + ", ".join(map(str, r.copies)))
    print(f"{plural(len(results), 'file')} in {elapsed * 1000:.0f} ms", file=sys.stderr)
    return 0

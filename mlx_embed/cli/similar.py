"""`mlx-embed similar PATH`: the indexed files most like PATH, best first, with the passages that matched.

PATH may be an indexed file (its stored vectors: no model is loaded) or any readable file (embedded on the
fly, nothing stored). Near-identical copies are listed apart, not as similar files. Filters: --folder,
--kind (kind or extension, repeatable). Exit codes as for `mlx-embed search`; 0 also when nothing is similar.
"""

from __future__ import annotations

import argparse
import json
import sys

from .index import add_index_arguments, open_index


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("similar", help="files like a given file", description=__doc__.split("\n\n")[0])
    p.add_argument("path", metavar="PATH", help="an indexed file, or any readable file")
    p.add_argument("--k", "-k", type=int, default=10, help="number of files (default 10)")
    p.add_argument("--folder", default=None, help="only files under this folder")
    p.add_argument("--kind", action="append", dest="kinds", metavar="K",
                   help="only this kind (pdf, markdown, source...) or extension (repeatable)")
    add_index_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_index(args, create=False) as ix:
        found = ix.similar(args.path, k=args.k, folder=args.folder, kinds=args.kinds)
    if args.json:
        json.dump(found.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    how = "its stored vectors" if found.stored else "embedded now, not stored"
    print(f"Files like {found.source} ({how}):", file=sys.stderr)
    for d in found.duplicates:
        print(f"    = {d.path}  [near-identical copy]")
    if not found.results:
        print("No similar files.", file=sys.stderr)
    for i, m in enumerate(found.results, 1):
        print(f"{i:>2}. {m.path}  {m.score:.3f}")
        if m.passage is not None and m.source_passage is not None:
            print("    match:  " + _short(m.passage.text))
            print("    source: " + _short(m.source_passage.text))
    print(f"{len(found.results)} files in {found.seconds * 1000:.0f} ms", file=sys.stderr)
    return 0


def _short(text: str, chars: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[:chars - 1] + "…"

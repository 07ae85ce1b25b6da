"""`mlx-embed config get|set|unset|list`: the user's configuration (userconfig.py: config.json, 0600).

    mlx-embed config set model ~/models/all-MiniLM-L6-v2    every command then uses it when neither
                                                            --model, MLX_EMBED_MODEL nor the index names one
Exit codes: 0 ok, 1 `get` of a key that is not set, 2 an unknown key or an empty value.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import error


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="remember settings (the model) for every command",
                       description=__doc__.split("\n\n")[0])
    s = p.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    s.required = True
    g = s.add_parser("get", help="print a key's value (exit 1 if it is not set)")
    g.add_argument("key")
    g.set_defaults(run=run_get)
    st = s.add_parser("set", help="set a key")
    st.add_argument("key")
    st.add_argument("value")
    st.set_defaults(run=run_set)
    u = s.add_parser("unset", help="remove a key")
    u.add_argument("key")
    u.set_defaults(run=run_unset)
    ls = s.add_parser("list", help="every key: its value, or unset; and where the file is")
    ls.add_argument("--json", action="store_true", help="print JSON on stdout")
    ls.set_defaults(run=run_list)


def run_get(args: argparse.Namespace) -> int:
    from ..userconfig import get

    value = get(args.key)
    if value is None:
        error(f"{args.key} is not set (`mlx-embed config set {args.key} VALUE`)")
        return 1
    print(value)
    return 0


def run_set(args: argparse.Namespace) -> int:
    from ..userconfig import set_value

    path = set_value(args.key, args.value)
    print(f"{args.key} = {args.value} (in {path})", file=sys.stderr)
    return 0


def run_unset(args: argparse.Namespace) -> int:
    from ..userconfig import unset

    if not unset(args.key):
        print(f"{args.key} was not set", file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from ..userconfig import KEYS, config_path, values

    data = values()
    if args.json:
        json.dump({"path": str(config_path()), "values": data}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for key in sorted(KEYS):
        print(f"{key} = {data[key]}" if key in data else f"{key} (unset: {KEYS[key]})")
    print(f"# {config_path()}", file=sys.stderr)
    return 0

"""The ``imgfilter`` command: check, explain, query, sql, load, params, catalog.

Exit status: 0 on success, 2 when the query or the data is rejected (the
message with carets on stderr, or with ``--json`` the IMS error body on stdout).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from . import params as P
from .check import Options, check
from .errors import QueryError

EXIT_OK = 0
EXIT_REJECTED = 2


class UsageError(Exception):
    """Bad command-line arguments (not a bad query)."""


def _dump(obj: Any, out: TextIO) -> None:
    json.dump(obj, out, ensure_ascii=False, indent=2)
    out.write("\n")


def _options(args: argparse.Namespace) -> Options:
    return Options(unknown=getattr(args, "unknown", "reject"))


def _report(e: QueryError, args: argparse.Namespace) -> int:
    if getattr(args, "json", False):
        _dump(e.to_ims(), sys.stdout)
    else:
        print(e.render(), file=sys.stderr)
    return EXIT_REJECTED


def cmd_check(args: argparse.Namespace) -> int:
    q = check(args.query, _options(args))
    if args.json:
        _dump({"query": q.normalized(), "warnings": [w.to_dict() for w in q.warnings]}, sys.stdout)
        return EXIT_OK
    print(q.normalized())
    for w in q.warnings:
        print(w.render(q.source), file=sys.stderr)
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    _dump(check(args.query, _options(args)).to_json(), sys.stdout)
    return EXIT_OK


def cmd_params(args: argparse.Namespace) -> int:
    print(P.reference_markdown())
    return EXIT_OK


def _add_query(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", help="a bare query, ?query or /v2/cloudimages?query")
    p.add_argument("--unknown", choices=("reject", "ignore", "property"), default="reject",
                   help="what to do with unknown parameters (default: reject)")
    p.add_argument("--json", action="store_true", help="errors as the IMS JSON body on stdout")


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgfilter", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="check a query; print it normalized, and any warnings")
    _add_query(p)
    p = sub.add_parser("explain", help="print the checked query as JSON")
    _add_query(p)
    sub.add_parser("params", help="print the parameter reference (Markdown)")
    COMMANDS.update(check=cmd_check, explain=cmd_explain, params=cmd_params)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except QueryError as e:
        return _report(e, args)
    except UsageError as e:
        print(f"imgfilter: {e}", file=sys.stderr)
        return EXIT_REJECTED
    except BrokenPipeError:
        # the reader went away (`imgfilter ... | head`): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""The ``imgfilter`` command: check, explain, query, sql, load, params, catalog.

Exit status: 0 on success, 2 when the query or the data is rejected (the
message with carets on stderr, or with ``--json`` the IMS error body on stdout).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import db
from . import params as P
from .ast import CheckedQuery
from .catalog import bundled, generate
from .check import Flavor, Options, check
from .context import Context
from .errors import QueryError
from .memory import run
from .records import Catalog, RecordError
from .records import load as load_records
from .result import Page
from .sql import compile_sql

EXIT_OK = 0
EXIT_REJECTED = 2


class UsageError(Exception):
    """Bad command-line arguments (not a bad query)."""


def _dump(obj: Any, out: TextIO) -> None:
    json.dump(obj, out, ensure_ascii=False, indent=2)
    out.write("\n")


def _flavors(path: str | None) -> dict[str, Flavor] | None:
    if path is None:
        return None
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return {str(k): Flavor(int(v["ram_mb"]), int(v["disk_gb"])) for k, v in doc.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        raise UsageError(f"--flavors {path}: expected {{\"ID\": {{\"ram_mb\": N, \"disk_gb\": N}}}} ({e})") from None


def _options(args: argparse.Namespace) -> Options:
    return Options(unknown=args.unknown, flavors=_flavors(args.flavors))


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


def _context(args: argparse.Namespace) -> Context | None:
    granted = [g for g in args.granted_eps.split(",") if g] if args.granted_eps is not None else None
    if args.project is None and not args.admin:
        if granted is not None:
            return Context(None, True, frozenset(granted))  # trusted, as without a context
        return None  # a trusted caller: no scope
    try:
        return Context.of(args.project, admin=args.admin, granted_eps=granted)
    except ValueError as e:  # an empty --project
        raise UsageError(str(e)) from None


def _catalog(args: argparse.Namespace) -> Catalog:
    return bundled() if args.data is None else load_records(args.data)


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\rloaded {done:,}/{total:,} images", end=end, file=sys.stderr, flush=True)


def _sql_page(args: argparse.Namespace, checked: CheckedQuery, context: Context | None) -> Page:
    if args.db is not None:
        conn = db.connect(args.db)
    elif args.data is not None:  # --engine sqlite --data FILE: a temporary database
        catalog = load_records(args.data)
        conn = sqlite3.connect(":memory:")
        db.load_catalog(conn, catalog)
    else:
        conn = sqlite3.connect(db.bundled_sqlite_path())
    try:
        return db.run(conn, checked, context)
    finally:
        conn.close()


def cmd_query(args: argparse.Namespace) -> int:
    checked = check(args.query, _options(args))
    context = _context(args)
    if args.db is not None and args.data is not None:
        raise UsageError("give --db or --data, not both")
    if args.db is not None or args.engine == "sqlite":
        page = _sql_page(args, checked, context)
    else:
        page = run(checked, _catalog(args), context)
    _dump(page.to_response(), sys.stdout)
    return EXIT_OK


def cmd_sql(args: argparse.Namespace) -> int:
    plan = compile_sql(check(args.query, _options(args)), args.dialect, _context(args))
    for label, stmt in plan.statements():
        print(f"-- {label}")
        print(stmt.sql + ";")
        print(f"-- params: {[p if isinstance(p, str | int | bool | None) else repr(p) for p in stmt.params]}")
    return EXIT_OK


def cmd_load(args: argparse.Namespace) -> int:
    catalog = load_records(args.file)
    conn = db.connect(args.db)
    try:
        n = db.load_catalog(conn, catalog, progress=_progress)
    finally:
        conn.close()
    print(f"loaded {n} images into {args.db}", file=sys.stderr)
    return EXIT_OK


def cmd_catalog(args: argparse.Namespace) -> int:
    _dump({"images": generate()}, sys.stdout)
    return EXIT_OK


def cmd_params(args: argparse.Namespace) -> int:
    print(P.reference_markdown())
    return EXIT_OK


def _add_query(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", help="a bare query, ?query or /v2/cloudimages?query")
    p.add_argument("--unknown", choices=("reject", "ignore", "property"), default="reject",
                   help="what to do with unknown parameters (default: reject)")
    p.add_argument("--json", action="store_true", help="errors as the IMS JSON body on stdout")
    p.add_argument("--flavors", metavar="FILE", help='flavor catalog for flavor_id: '
                   '{"ID": {"ram_mb": N, "disk_gb": N}, ...}')


def _add_context(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", help="the caller's project id (an ordinary caller: scope applies)")
    p.add_argument("--admin", action="store_true", help="the caller is an administrator (no scope)")
    p.add_argument("--granted-eps", metavar="ID,...", help="enterprise projects granted to the caller")


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgfilter", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="check a query; print it normalized, and any warnings")
    _add_query(p)
    p = sub.add_parser("explain", help="print the checked query as JSON")
    _add_query(p)
    p = sub.add_parser("query", help="run a query on image records; print the API response as JSON")
    _add_query(p)
    p.add_argument("--data", metavar="FILE", help="records: {\"images\": [...]}, a JSON array or JSON "
                   "Lines; - for stdin (default: the bundled sample catalog)")
    p.add_argument("--db", metavar="URL", help="run on a database: sqlite:///PATH, postgresql://..., "
                   "mysql://...")
    p.add_argument("--engine", choices=("memory", "sqlite"), default="memory",
                   help="memory (default), or sqlite: run the SQL target on a temporary SQLite database "
                   "of --data (or of the bundled catalog)")
    _add_context(p)
    p = sub.add_parser("sql", help="print the SQL statements and parameters of a query")
    _add_query(p)
    p.add_argument("--dialect", choices=("sqlite", "postgresql", "mysql"), default="sqlite")
    _add_context(p)
    p = sub.add_parser("load", help="load image records into a database (creating the schema)")
    p.add_argument("file", help="records: {\"images\": [...]}, a JSON array or JSON Lines; - for stdin")
    p.add_argument("--db", metavar="URL", required=True, help="sqlite:///PATH, postgresql://..., mysql://...")
    sub.add_parser("params", help="print the parameter reference (Markdown)")
    sub.add_parser("catalog", help="print the bundled sample catalog as JSON")
    COMMANDS.update(check=cmd_check, explain=cmd_explain, params=cmd_params, query=cmd_query,
                    catalog=cmd_catalog, sql=cmd_sql, load=cmd_load)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed its usage message (or --help)
        return EXIT_OK if e.code in (0, None) else EXIT_REJECTED
    try:
        return COMMANDS[args.command](args)
    except QueryError as e:
        return _report(e, args)
    except RecordError as e:
        if getattr(args, "json", False):
            _dump(e.to_ims(), sys.stdout)
        else:
            print(f"imgfilter: bad record: {e}", file=sys.stderr)
        return EXIT_REJECTED
    except db.DatabaseError as e:
        print(f"imgfilter: {e}", file=sys.stderr)
        return EXIT_REJECTED
    except UsageError as e:
        print(f"imgfilter: {e}", file=sys.stderr)
        return EXIT_REJECTED
    except BrokenPipeError:
        # the reader went away (`imgfilter ... | head`): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as e:
        # a database that fails mid-query (connection lost, permissions, a schema
        # that is not imgfilter's) is reported, not dumped as a traceback
        if type(e).__module__.split(".")[0] in ("sqlite3", "psycopg", "pymysql"):
            print(f"imgfilter: database error: {e}", file=sys.stderr)
            return EXIT_REJECTED
        raise


if __name__ == "__main__":
    sys.exit(main())

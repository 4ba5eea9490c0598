"""The imgfilter command: check, explain, query, sql, load, delete, params, catalog, serve."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO
from urllib.parse import quote

from imgfilter import __version__, db, targets
from imgfilter.db.dialects import DIALECTS
from imgfilter.front import codes
from imgfilter.front import params as P
from imgfilter.front.ast import CheckedQuery
from imgfilter.front.check import Flavor, Options, check
from imgfilter.front.errors import QueryError
from imgfilter.io.catalog import generate
from imgfilter.io.load import MODES, LoadResult
from imgfilter.io.output import FORMATS, Writer, dump_json
from imgfilter.io.progress import Progress
from imgfilter.io.records import Image, RecordError
from imgfilter.io.records import load as load_records
from imgfilter.io.records import stream as stream_images
from imgfilter.lowered.context import Context
from imgfilter.result import Page
from imgfilter.targets.sql import MARKER_ID, MARKER_VALUE, ROW_LIMIT, Slot, SqlPlan, Statement, compile_sql

EXIT_OK = 0
EXIT_ENVIRONMENT = 1  # a file that cannot be read or written, a database, a connection
EXIT_REJECTED = 2  # a bad query, bad records, or bad command-line arguments
EXIT_INTERRUPTED = 130  # Ctrl-C

DB_ENV = "IMGFILTER_DB"
ALL_PAGE_SIZE = 100  # the page size of --all when the query gives no limit

EXIT_CODES = f"""exit status:
  {EXIT_OK}    success
  {EXIT_ENVIRONMENT}    the environment failed: a file, the database, a connection, memory
  {EXIT_REJECTED}    the query, the records or the command line is wrong (fix the input)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
With --json every error is a JSON body on stdout: {{"error": {{"code": ..., "message": ...}}}}."""


class UsageError(Exception):
    """Bad command-line arguments (not a bad query)."""


class EnvironmentFailure(Exception):
    """A file that cannot be read, a database or connection that fails."""


class Interrupted(Exception):
    """Ctrl-C; the message says what was (not) done."""


# ---- what the user typed -------------------------------------------------------------

_LOCATION = re.compile(r"[^=&]*\?")  # scheme://host/path? or /path? or ?: no '=' or '&' before the '?'
_HTTP_VERSION = re.compile(r"\s+HTTP/[0-9.]+\s*$")


def query_text(words: Sequence[str], notes: list[str]) -> str:
    """The query of what was typed: a bare query, ?query, a path or a whole URL
    (a log line's ``GET `` and `` HTTP/1.1`` too), several words joined with '&';
    a #fragment is not part of a query and is dropped (with a note)."""
    words = list(words)
    if words and words[0].upper() == "GET":
        words = words[1:]
    if words and re.fullmatch(r"HTTP/[0-9.]+", words[-1]):
        words = words[:-1]
    parts = []
    for word in words:
        text = _HTTP_VERSION.sub("", re.sub(r"^\s*GET\s+", "", word))
        text, hash_, fragment = text.partition("#")
        if hash_:
            notes.append(f"'#{fragment}' is a URL fragment, not part of the query: dropped "
                         "(write a '#' in a value as %23)")
        location = _LOCATION.match(text)
        if location is not None:
            text = text[location.end():]
        elif "://" in text and "=" not in text.split("://", 1)[0]:
            text = ""  # a URL with no query
        if text:
            parts.append(text)
    return "&".join(parts)


def _flavors(path: str | None) -> dict[str, Flavor] | None:
    if path is None:
        return None
    expected = f'--flavors {path}: expected {{"ID": {{"ram_mb": N, "disk_gb": N}}, ...}}'
    doc = json.loads(_read(path), parse_constant=lambda c: c)  # NaN, Infinity: rejected below
    if not isinstance(doc, dict):
        raise UsageError(expected)
    flavors = {}
    for k, v in doc.items():
        ram, disk = (v.get(f) if isinstance(v, dict) else None for f in ("ram_mb", "disk_gb"))
        if not (type(ram) is int and type(disk) is int and 0 <= ram < 2**63 and 0 <= disk < 2**63):
            raise UsageError(f"{expected}; {k!r} has {json.dumps(v)[:80]}")
        flavors[k] = Flavor(ram, disk)
    return flavors


def _is_parquet(path: str) -> bool:
    """A file that starts as Parquet files do (``-``, stdin, is records)."""
    if path == "-":
        return False
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PAR1"
    except OSError:
        return False  # _read says why


def _read(path: str) -> str:
    """A file's text; a file that cannot be read is the environment's failure."""
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise RecordError(path, None, None, f"not UTF-8 text: {e}") from None
    except OSError as e:
        raise EnvironmentFailure(f"cannot read {path}: {e.strerror or e}") from None


def _options(args: argparse.Namespace) -> Options:
    try:
        return Options(unknown=args.unknown, flavors=_flavors(args.flavors))
    except (ValueError, RecordError) as e:  # JSON that does not parse, a file that is not UTF-8
        raise UsageError(f"--flavors {args.flavors}: {e}") from None


def _checked(args: argparse.Namespace) -> CheckedQuery:
    """Check the query and say its warnings on stderr (every command does)."""
    q = check(query_text(args.query, args.notes), _options(args))
    if not getattr(args, "json", False) or args.command != "check":
        for w in q.warnings:
            print(w.render(q.source), file=sys.stderr)
    return q


def _context(args: argparse.Namespace) -> Context | None:
    granted = [g for g in args.granted_eps.split(",") if g] if args.granted_eps is not None else None
    if args.project is None and not args.admin:
        if granted is not None:
            raise UsageError("--granted-eps needs --project (or --admin): they are the caller's grants")
        return None  # a trusted caller: no scope
    try:
        return Context.of(args.project, admin=args.admin, granted_eps=granted)
    except ValueError as e:  # an empty --project
        raise UsageError(str(e)) from None


def _pretty(out: TextIO) -> bool:
    return out.isatty()


def _width(out: TextIO) -> int | None:
    if out.isatty() or "COLUMNS" in os.environ:
        return shutil.get_terminal_size().columns
    return None


# ---- database URLs -----------------------------------------------------------------------

def _connect(url: str, create: bool = False) -> Any:
    """A connection, or one clear line: a bad URL is the user's mistake (exit 2), a
    database that cannot be reached or read is the environment's (exit 1).  Every
    message shows the URL with its password masked."""
    try:
        return db.connect(url, create=create)
    except db.DatabaseURLError as e:
        raise UsageError(str(e)) from None
    except db.DatabaseError as e:
        raise EnvironmentFailure(str(e)) from None


# ---- commands -------------------------------------------------------------------------

def cmd_check(args: argparse.Namespace) -> int:
    q = _checked(args)
    if args.json:
        dump_json({"query": q.normalized(), "warnings": [w.to_dict() for w in q.warnings]}, sys.stdout,
                  _pretty(sys.stdout))
    else:
        print(q.normalized())
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    dump_json(_checked(args).to_json(), sys.stdout, _pretty(sys.stdout))
    return EXIT_OK


_ENGINE_ALIASES = {"sqlite": "sql"}  # the SQL target on a temporary SQLite database (its earlier name)


class _Source:
    """Where pages come from: a registered target (``--engine``, default memory,
    or sql with ``--db``) on ``--data``, the bundled catalog, or ``--db``."""

    def __init__(self, args: argparse.Namespace) -> None:
        name = _ENGINE_ALIASES.get(args.engine, args.engine) or ("sql" if args.db is not None else "memory")
        try:
            self.target = targets.get(name)
        except targets.TargetUnavailable as e:
            raise EnvironmentFailure(str(e)) from None
        if args.db is not None:
            if not self.target.databases:
                raise UsageError(f"--engine {args.engine} runs on --data or the bundled catalog, not on --db")
            try:
                self.source = self.target.connect(args.db)
            except db.DatabaseURLError as e:
                raise UsageError(str(e)) from None
            except db.DatabaseError as e:
                raise EnvironmentFailure(str(e)) from None
        elif args.data is not None and _is_parquet(args.data):
            if "parquet" not in self.target.file_formats:
                raise UsageError(f"--data {args.data} is a Parquet file, which the {name} target does not read: "
                                 "use --engine duckdb, or records (JSON or JSON Lines)")
            self.source = self.target.open_file(args.data)
        elif args.data is not None:
            self.source = self.target.load(load_records(io.StringIO(_read(args.data))))
        else:
            self.source = self.target.bundled()

    def page(self, q: CheckedQuery, context: Context | None) -> Page:
        return self.target.page(self.source, q, context)

    def close(self) -> None:
        self.target.close(self.source)


def _pages(first: CheckedQuery, options: Options, source: _Source, context: Context | None, walk: bool,
           max_items: int | None) -> Iterator[Page]:
    """The query's page, or with ``walk`` every page after it through next_marker."""
    q = first
    if walk and q.limit is None:
        q = _with(q, options, limit=ALL_PAGE_SIZE if max_items is None else min(ALL_PAGE_SIZE, max_items))
    seen: set[str] = set()
    while True:
        page = source.page(q, context)
        yield page
        if not walk or page.next_marker is None or page.next_marker in seen:
            return
        seen.add(page.next_marker)
        q = _with(q, options, marker=page.next_marker)


def _with(q: CheckedQuery, options: Options, **changes: object) -> CheckedQuery:
    """The same query with another marker or limit (checked again, from text)."""
    pairs = [(k, v) for k, v in q.pairs() if k not in changes]
    pairs += [(k, str(v)) for k, v in changes.items()]
    return check("&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in pairs), options)


def cmd_query(args: argparse.Namespace) -> int:
    if args.data is not None and args.db_given:
        raise UsageError("give --db or --data, not both")
    if not args.db_given and (args.data is not None or args.engine is not None):
        args.db = None  # IMGFILTER_DB is only the default
    if args.max_items is not None and (not args.all or args.max_items < 1):
        raise UsageError("--max-items N (N ≥ 1) bounds --all: add --all")
    q = _checked(args)
    context = _context(args)
    writer = Writer(sys.stdout, args.format, tuple(args.column or ()), _width(sys.stdout), _pretty(sys.stdout))
    source = _Source(args)
    shown, next_marker, cut = 0, None, False
    try:
        for page in _pages(q, _options(args), source, context, args.all, args.max_items):
            images = page.images
            if args.max_items is not None and shown + len(images) >= args.max_items:
                cut = shown + len(images) > args.max_items or page.next_marker is not None
                images = images[:args.max_items - shown]
            writer.page(images)
            for note in writer.notes:
                print(f"imgfilter: note: {note}", file=sys.stderr)
            writer.notes.clear()
            shown += len(images)
            next_marker = page.next_marker
            if cut:
                next_marker = str(images[-1]["id"]).lower() if images else None
                break
    finally:
        source.close()
    writer.close(next_marker)
    if next_marker is not None and (args.format != "json" or cut):
        more = f"--max-items reached after {shown} images" if cut else "more images follow"
        print(f"imgfilter: {more}: next_marker={next_marker} (add marker={next_marker} to the query"
              f"{'' if args.all else ', or --all'})", file=sys.stderr)
    return EXIT_OK


# ---- sql ---------------------------------------------------------------------------------

_DIALECT_NAMES = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql",
                  "mysql": "mysql", "mariadb": "mysql", "duckdb": "duckdb"}


def _param_json(p: Any) -> Any:
    if isinstance(p, Slot):
        return {"slot": p.name}
    if hasattr(p, "isoformat"):
        return p.isoformat()
    if isinstance(p, bytes):
        return p.decode("utf-8", "backslashreplace")
    return p


def _param_type(p: Any) -> str:
    if isinstance(p, Slot):
        return "slot"
    if p is None:
        return "null"
    if hasattr(p, "isoformat"):
        return "timestamp"
    return {bool: "boolean", int: "integer", str: "text", bytes: "bytes"}.get(type(p), type(p).__name__)


def _how(plan: SqlPlan) -> list[str]:
    """How the statements make one page, in words."""
    q = plan.query
    steps = []
    if plan.marker_lookup is not None:
        steps.append("run the marker lookup: no row means the marker is not an image this caller may see "
                     "(IMG.0027); its value is the slot 'marker sort value' and the marker is 'marker id'")
    order = " then ".join("the images with no sort value" if s.null else "the images with a sort value"
                          for s in plan.segments)
    steps.append(f"read {order}, in this order ({q.sort_key} {q.sort_dir}, then id)")
    if plan.marker_lookup is not None:
        steps.append("start in the marker's part (by whether its sort value is NULL) with its 'after the marker' "
                     "statement; the parts after it run from their first page")
    if q.limit is None:
        steps.append("no limit: every statement runs and every row is the page")
    elif q.limit == 0:
        steps.append("limit=0: no statement reads rows; the page is empty")
    else:
        steps.append(f"slot 'row limit' is {q.limit}+1 minus the rows already read; stop once {q.limit + 1} "
                     f"rows are read: the row past the limit means more follow, and next_marker is the id "
                     f"of row {q.limit}")
    return steps


def _explain(conn: Any, plan: SqlPlan, stmt: Statement) -> list[str]:
    slots: dict[Slot, Any] = {s: None for s in stmt.params if isinstance(s, Slot)}
    if ROW_LIMIT in slots:
        slots[ROW_LIMIT] = (plan.query.limit or 0) + 1
    if MARKER_ID in slots:
        slots[MARKER_ID] = plan.query.marker
    if MARKER_VALUE in slots and plan.marker_lookup is not None:
        cur = conn.cursor()
        cur.execute(plan.marker_lookup.sql, plan.marker_lookup.bind({}))
        row = cur.fetchone()
        slots[MARKER_VALUE] = row[0] if row is not None else None
    cur = conn.cursor()
    cur.execute(plan.dialect.explain + stmt.sql, stmt.bind(slots))
    rows = cur.fetchall()
    conn.rollback()
    return [plan.dialect.explain_row(tuple(r)) for r in rows]


def cmd_sql(args: argparse.Namespace) -> int:
    q = _checked(args)
    context = _context(args)
    conn = None
    if args.db_given and not args.explain:
        raise UsageError("--db is the database of --explain: add --explain (or --dialect for another dialect)")
    if args.explain:
        if args.db is None:
            raise UsageError(f"--explain runs EXPLAIN on a database: give --db URL (or set {DB_ENV})")
        conn = _connect(args.db)
    try:
        dialect = _DIALECT_NAMES[args.dialect] if args.dialect else "sqlite"
        if conn is not None:
            dialect = db.dialect_of(conn).name
            if args.dialect and _DIALECT_NAMES[args.dialect] != dialect:
                raise UsageError(f"--dialect {args.dialect} but --db is {dialect}: leave --dialect out")
        plan = compile_sql(q, dialect, context)
        doc: dict[str, Any] = {"dialect": dialect, "how": _how(plan), "statements": []}
        for label, stmt in plan.statements():
            entry: dict[str, Any] = {"label": label, "sql": stmt.sql, "params": [_param_json(p) for p in stmt.params],
                                     "types": [_param_type(p) for p in stmt.params]}
            if conn is not None:
                entry["plan"] = _explain(conn, plan, stmt)
            doc["statements"].append(entry)
    finally:
        if conn is not None:
            conn.close()
    if args.format == "json":
        dump_json(doc, sys.stdout, _pretty(sys.stdout))
        return EXIT_OK
    print(f"-- {dialect}: how these statements make a page:")
    for i, step in enumerate(doc["how"], 1):
        print(f"--   {i}. {step}")
    for entry in doc["statements"]:
        print(f"\n-- {entry['label']}")
        print(entry["sql"] + ";")
        print(f"-- params: {json.dumps(entry['params'], ensure_ascii=False)}")
        for line in entry.get("plan", ()):
            print(f"-- plan: {line}")
    return EXIT_OK


# ---- load, catalog, params --------------------------------------------------------------

def _images(path: str, progress: Progress) -> Iterable[Image]:
    """The validated images of FILE (``-``: stdin), read and checked as they
    stream into the database: memory stays bounded whatever the file's size."""
    # reading and validating are interleaved with writing: the "writing" stage counts all three
    if path == "-":
        return stream_images(sys.stdin)
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise EnvironmentFailure(f"cannot read {path}: {e.strerror or e}") from None
    return stream_images(path)


def _load_summary(result: LoadResult, url: str, seconds: float) -> str:
    if result.mode == "replace":
        what = f"{result.images:,} written, {result.removed:,} there before removed first"
    else:
        what = f"{result.inserted:,} inserted, {result.updated:,} updated"
    rate = f", {result.images / seconds:,.0f}/s" if seconds > 0 and result.images else ""
    split = (f"reading and validating {result.reading:.1f} s, writing {result.writing:.1f} s"
             + (f", indexing {result.indexing:.1f} s" if result.indexing else ""))
    return (f"loaded {result.images:,} images into {db.redact_url(url)} (mode {result.mode}: {what}) "
            f"in {seconds:.1f} s{rate} ({split})")


def cmd_load(args: argparse.Namespace) -> int:
    if args.db is None:
        raise UsageError(f"load needs --db URL (or {DB_ENV} set)")
    if args.shards is not None and not args.distributed:
        raise UsageError("--shards N is the shard count of --distributed: add --distributed")
    if args.shards is not None and not 1 <= args.shards <= 64_000:
        raise UsageError("--shards N: N from 1 to 64000")
    progress = Progress(sys.stderr)
    conn = None
    try:
        images = _images(args.file, progress)
        conn = _connect(args.db, create=True)
        result = db.load_images(conn, images, mode=args.mode, progress=progress.loader,
                                distributed=args.distributed, shards=args.shards)
        progress.end()
    except KeyboardInterrupt:
        progress.abandon()
        if conn is not None:
            conn.rollback()  # one transaction: nothing of it stays
        raise Interrupted("interrupted: nothing was written (no images were loaded)") from None
    except db.DatabaseError as e:
        progress.abandon()
        raise EnvironmentFailure(str(e)) from None
    except BaseException:
        progress.abandon()
        raise
    finally:
        if conn is not None:
            conn.close()
    print(_load_summary(result, args.db, progress.elapsed()), file=sys.stderr)
    return EXIT_OK


def _ids(args: argparse.Namespace) -> list[str]:
    ids = list(args.ids)
    if args.ids_from is not None:
        ids.extend(line.strip() for line in _read(args.ids_from).splitlines() if line.strip())
    if not ids:
        raise UsageError("delete needs image ids: ID... or --ids-from FILE")
    return ids


def cmd_delete(args: argparse.Namespace) -> int:
    if args.db is None:
        raise UsageError(f"delete needs --db URL (or {DB_ENV} set)")
    ids = _ids(args)
    wanted = len(set(ids))
    conn = _connect(args.db)
    try:
        deleted = db.delete_images(conn, ids)
    except KeyboardInterrupt:
        raise Interrupted("interrupted: nothing was deleted") from None
    except db.DatabaseError as e:
        raise EnvironmentFailure(str(e)) from None
    finally:
        conn.close()
    missing = f" ({wanted - deleted:,} of the {wanted:,} ids were not there)" if deleted < wanted else ""
    print(f"deleted {deleted:,} images from {db.redact_url(args.db)}{missing}", file=sys.stderr)
    return EXIT_OK


def cmd_catalog(args: argparse.Namespace) -> int:
    if args.format == "jsonl":
        for image in generate():
            dump_json(image, sys.stdout, pretty=False)
    else:
        dump_json({"images": generate()}, sys.stdout, _pretty(sys.stdout))
    return EXIT_OK


def cmd_params(args: argparse.Namespace) -> int:
    if args.openapi:
        from imgfilter.serve import SERVICE_OPTIONS, openapi

        dump_json(openapi(SERVICE_OPTIONS), sys.stdout, _pretty(sys.stdout))
        return EXIT_OK
    print(P.reference_markdown())
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        raise EnvironmentFailure("imgfilter serve needs uvicorn: pip install 'imgfilter[serve]'") from None
    from imgfilter.serve.http import Unavailable
    from imgfilter.serve.main import serve, source

    if args.data is not None and args.db is not None and args.db_given:
        raise UsageError("give --data FILE or --db URL, not both")
    if not 0 <= args.port <= 65535 or args.workers < 1 or args.pool < 1:
        raise UsageError("--port is 0 to 65535; --workers and --pool are at least 1")
    db_url = None if args.data is not None else args.db
    if db_url is not None and not db_url.startswith("sqlite"):  # SQLite: opened read-only below, never created
        _connect(db_url).close()  # a bad URL or an unreachable database is said now, not per request
    try:  # the records are checked (a bad file is said now); each worker loads its own copy
        src = source(args.data, db_url, args.pool)
        src.health()
        src.close()
    except (db.DatabaseError, Unavailable) as e:
        raise EnvironmentFailure(str(e)) from None
    except ValueError as e:  # an in-memory SQLite URL
        raise UsageError(str(e)) from None
    serve(args.host, args.port, args.workers, data=args.data, db_url=db_url, pool_size=args.pool)
    return EXIT_OK


# ---- the parser -----------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}\n{self.format_usage().rstrip()}")


_QUERY_HELP = ("the query: bare (a=1&b=2), ?query, /v2/cloudimages?query or a whole URL; several words "
               "are joined with '&'. A query starting with '-' goes after --")


def _add_query(p: argparse.ArgumentParser, nargs: str = "+") -> None:
    p.add_argument("query", nargs=nargs, metavar="QUERY", help=_QUERY_HELP)
    p.add_argument("--unknown", choices=("reject", "ignore", "property"), default="reject",
                   help="what to do with unknown parameters (default: reject)")
    p.add_argument("--json", action="store_true", help="every error as a JSON body on stdout")
    p.add_argument("--flavors", metavar="FILE", help='flavor catalog for flavor_id: '
                   '{"ID": {"ram_mb": N, "disk_gb": N}, ...}')


def _add_context(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", help="the caller's project id (an ordinary caller: scope applies)")
    p.add_argument("--admin", action="store_true", help="the caller is an administrator (no scope)")
    p.add_argument("--granted-eps", metavar="ID,...", help="enterprise projects granted to the caller "
                   "(needs --project or --admin)")


def _add_db(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--db", metavar="URL", default=os.environ.get(DB_ENV) or None,
                   help=f"{what}: sqlite:///PATH, postgresql://USER@HOST/DB or mysql://USER:PASSWORD@HOST/DB "
                   f"(default: ${DB_ENV})")


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}

_EXAMPLES = {
    "check": "imgfilter check '__imagetype=gold&limit=2'\n"
             "  imgfilter check 'https://ims.example.com/v2/cloudimages?status=active#top'",
    "explain": "imgfilter explain 'tag=env=prod&created_at=gte:2018-01-01T00:00:00Z'",
    "query": "imgfilter query -f table '__imagetype=gold&sort_key=name&limit=10'\n"
             "  imgfilter query --all -f jsonl -c id -c name __platform=Ubuntu\n"
             "  IMGFILTER_DB=sqlite:///images.db imgfilter query --project p1 'limit=5'",
    "sql": "imgfilter sql --dialect postgresql --project p1 'name=CentOS&limit=20'\n"
           "  imgfilter sql --explain --db sqlite:///images.db 'sort_key=name&limit=20'",
    "load": "imgfilter load images.json --db sqlite:///images.db\n"
            "  imgfilter load --mode replace images.jsonl --db postgresql://me@db.example.com/ims",
    "delete": "imgfilter delete --db sqlite:///images.db 5f8e0f4c-0f5b-4f8a-9a57-3e2f3b1c9d10",
    "params": "imgfilter params",
    "catalog": "imgfilter catalog -f jsonl > images.jsonl",
    "serve": "imgfilter serve --db sqlite:///images.db --port 8080 --workers 2\n"
             "  curl -H 'X-Project-Id: P' 'http://127.0.0.1:8080/v2/cloudimages?__imagetype=gold&limit=1'",
}


def _sub(sub: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=help_text, description=help_text[:1].upper() + help_text[1:] + ".",
        epilog=f"example:\n  {_EXAMPLES[name]}\n\n{EXIT_CODES}", formatter_class=argparse.RawDescriptionHelpFormatter)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="imgfilter", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check, explain and run Huawei Cloud IMS GET /v2/cloudimages queries "
                    "(in memory, on SQLite, PostgreSQL or MySQL/MariaDB).",
        epilog="examples:\n" + "\n".join(f"  {e.splitlines()[0]}" for e in _EXAMPLES.values())
        + f"\n\n'imgfilter COMMAND --help' tells more.\n\n{EXIT_CODES}")
    parser.add_argument("--version", action="version", version=f"imgfilter {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = _sub(sub, "check", "check a query; print it normalized (warnings on stderr)")
    _add_query(p)
    p = _sub(sub, "explain", "print the checked query as JSON")
    _add_query(p)
    p = _sub(sub, "query", "run a query on image records and print the images")
    _add_query(p, "*")
    p.add_argument("-f", "--format", choices=FORMATS, default="json",
                   help="json (the API's response body; indented on a terminal), jsonl (one image a line), "
                   "table (fitted to the terminal), csv or value (space-separated, no header)")
    p.add_argument("-c", "--column", action="append", metavar="COLUMN",
                   help="a field to print (repeatable; default: all, or for a table id, name, __imagetype, "
                   "status, created_at)")
    p.add_argument("--all", action="store_true", help="every page, following next_marker, printed as it comes "
                   f"(pages of the query's limit, or {ALL_PAGE_SIZE})")
    p.add_argument("--max-items", type=int, metavar="N", help="with --all: stop after N images")
    p.add_argument("--data", metavar="FILE", help="records: {\"images\": [...]}, a JSON array or JSON "
                   "Lines; - for stdin; with --engine duckdb also a Parquet file of imgfilter's layout "
                   "(default: the bundled sample catalog)")
    _add_db(p, "run on a database")
    p.add_argument("--engine", choices=(*targets.REGISTRY, *_ENGINE_ALIASES),
                   help="the target: memory (the default without --db), sql (the default with --db; on "
                   "--data, a temporary SQLite database), or any other registered target; sqlite is sql")
    _add_context(p)
    p = _sub(sub, "sql", "print the SQL statements of a query, their parameters, and how they make a page")
    _add_query(p, "*")
    p.add_argument("--dialect", choices=tuple(_DIALECT_NAMES), help="sqlite (default), postgresql, "
                   "mysql (mariadb and postgres are the same) or duckdb; with --db, the database's")
    p.add_argument("-f", "--format", choices=("text", "json"), default="text",
                   help="text: SQL with comments (default); json: statements with typed parameters")
    p.add_argument("--explain", action="store_true", help="run EXPLAIN for each statement on --db")
    _add_db(p, "the database for --explain")
    _add_context(p)
    p = _sub(sub, "load", "load image records into a database (creating the schema), in one transaction")
    p.add_argument("file", help="records: {\"images\": [...]}, a JSON array or JSON Lines; - for stdin")
    _add_db(p, "the database")
    p.add_argument("--mode", choices=MODES, default="insert",
                   help="insert: add the images, an id already there is an error (default); upsert: add them "
                   "or rewrite the image of the same id; replace: the database holds exactly the file afterwards")
    p.add_argument("--distributed", action="store_true", help="PostgreSQL with Citus: distribute the tables it "
                   "creates (images by id, the side tables co-located on their image) before loading")
    p.add_argument("--shards", type=int, metavar="N", help="with --distributed: shards per table "
                   "(default: the server's citus.shard_count)")
    p.add_argument("--json", action="store_true", help="every error as a JSON body on stdout")
    p = _sub(sub, "delete", "delete images (with their tags, members and properties) by id, in one transaction")
    p.add_argument("ids", nargs="*", metavar="ID", help="an image id (repeatable)")
    p.add_argument("--ids-from", metavar="FILE", help="ids to delete, one a line; - for stdin")
    _add_db(p, "the database")
    p.add_argument("--json", action="store_true", help="every error as a JSON body on stdout")
    p = _sub(sub, "params", "print the parameter reference (Markdown)")
    p.add_argument("--openapi", action="store_true", help="the OpenAPI 3 description of the endpoint (JSON)")
    p = _sub(sub, "catalog", "print the bundled sample catalog as JSON")
    p.add_argument("-f", "--format", choices=("json", "jsonl"), default="json",
                   help='json: {"images": [...]} (default); jsonl: one image a line')
    p = _sub(sub, "serve", "serve GET /v2/cloudimages over HTTP (needs the [serve] extra: uvicorn)")
    p.add_argument("--data", metavar="FILE", help="records to serve from memory (default: the bundled catalog)")
    _add_db(p, "serve this database, loaded with imgfilter load")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    p.add_argument("--pool", type=int, default=8, help="database connections per worker (default: 8)")
    COMMANDS["serve"] = cmd_serve
    COMMANDS.update(check=cmd_check, explain=cmd_explain, params=cmd_params, query=cmd_query,
                    catalog=cmd_catalog, sql=cmd_sql, load=cmd_load, delete=cmd_delete)
    return parser


# ---- errors -------------------------------------------------------------------------------

def _fail(code: str, message: str, exit_code: int, as_json: bool) -> int:
    """One line on stderr, or with --json an IMS-style body on stdout."""
    message = " ".join(line.strip() for line in message.splitlines() if line.strip())
    if as_json:
        dump_json({"error": {"code": code, "message": message}}, sys.stdout, _pretty(sys.stdout))
    else:
        print(f"imgfilter: {message}", file=sys.stderr)
    return exit_code


def _driver_error(e: BaseException) -> bool:
    return type(e).__module__.split(".")[0] in {d.driver for d in DIALECTS.values()}


def _db_message(e: BaseException) -> str:
    """A driver's error in one line (PostgreSQL adds the statement and a caret
    on more lines), with what to do when the tables are missing."""
    lines = str(e).strip().splitlines()
    message = f"database error: {lines[0] if lines else type(e).__name__}"
    missing = ("no such table" in message or type(e).__name__ == "UndefinedTable"
               or (e.args[:1] == (1146,) and type(e).__module__.startswith("pymysql")))
    if missing:
        message += " (the database has no imgfilter tables: fill it with `imgfilter load FILE --db URL`)"
    return message


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    argv = sys.argv[1:] if argv is None else list(argv)
    as_json = "--json" in argv[:argv.index("--")] if "--" in argv else "--json" in argv
    parser = build_parser()
    notes: list[str] = []  # said after the output or the error
    try:
        return _main(parser, argv, notes, as_json)
    finally:
        for note in notes:
            print(f"imgfilter: note: {note}", file=sys.stderr)


def _main(parser: argparse.ArgumentParser, argv: list[str], notes: list[str], as_json: bool) -> int:
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help, --version
            return EXIT_OK if e.code in (0, None) else EXIT_REJECTED
        args.db_given = "--db" in argv or any(a.startswith("--db=") for a in argv)
        args.notes = notes
        return COMMANDS[args.command](args)
    except QueryError as e:
        if as_json:
            dump_json(e.to_ims(), sys.stdout, _pretty(sys.stdout))
        else:
            print(e.render(), file=sys.stderr)
        return EXIT_REJECTED
    except RecordError as e:
        if as_json:
            dump_json(e.to_ims(), sys.stdout, _pretty(sys.stdout))
            return EXIT_REJECTED
        return _fail(codes.BAD_VALUE, f"bad record: {e}", EXIT_REJECTED, False)
    except UsageError as e:
        msg = str(e)
        if as_json:
            return _fail("CLI.USAGE", msg.splitlines()[0], EXIT_REJECTED, True)
        print(f"imgfilter: {msg}", file=sys.stderr)
        return EXIT_REJECTED
    except EnvironmentFailure as e:
        return _fail("CLI.ENVIRONMENT", str(e), EXIT_ENVIRONMENT, as_json)
    except Interrupted as e:
        return _fail("CLI.INTERRUPTED", str(e), EXIT_INTERRUPTED, as_json)
    except KeyboardInterrupt:
        return _fail("CLI.INTERRUPTED", "interrupted", EXIT_INTERRUPTED, as_json)
    except db.DatabaseError as e:
        return _fail("CLI.DATABASE", f"database error: {e}", EXIT_ENVIRONMENT, as_json)
    except BrokenPipeError:
        # the reader went away (`imgfilter ... | head`): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except MemoryError:
        return _fail("CLI.ENVIRONMENT", "out of memory", EXIT_ENVIRONMENT, as_json)
    except OSError as e:
        return _fail("CLI.ENVIRONMENT", f"I/O error: {e.strerror or e}", EXIT_ENVIRONMENT, as_json)
    except Exception as e:
        # a database that fails mid-query (connection lost, permissions, a schema
        # that is not imgfilter's) is reported, not dumped as a traceback
        if _driver_error(e):
            return _fail("CLI.DATABASE", _db_message(e), EXIT_ENVIRONMENT, as_json)
        return _fail("CLI.INTERNAL", f"internal error (please report it): {type(e).__name__}: {e}",
                     EXIT_ENVIRONMENT, as_json)


if __name__ == "__main__":
    sys.exit(main())

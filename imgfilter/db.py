"""Running the SQL target on a DB-API connection: schema, loader and pages.

Drivers: the standard library's ``sqlite3``; ``psycopg`` 3 and ``PyMySQL``
(the extras ``imgfilter[postgresql]`` and ``imgfilter[mysql]``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import tempfile
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from . import params as P
from .ast import CheckedQuery
from .check import Options, check
from .context import Context
from .dialects import DIALECTS, Dialect
from .dialects import get as get_dialect
from .records import Catalog, Image
from .result import Page
from .schema import DEFAULT_SCHEMA, SIDE_COLUMNS, Schema, create_statements
from .scope import marker_not_found
from .sql import MARKER_ID, MARKER_VALUE, ROW_LIMIT, Slot, SqlPlan, compile_sql

Connection = Any  # a DB-API 2.0 connection of one of the three drivers
Progress = Callable[[int, int], None]

NO_CATALOG = "load one with `imgfilter load FILE --db URL`"


class DatabaseError(Exception):
    """A database URL that cannot be used, a missing driver, a failed connect or
    load, a database without an imgfilter catalog, or one whose columns or
    connection would not compare strings as the spec says."""


_PASSWORD_IN_NETLOC = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*?:)([^/?#]*)(@)")
_PASSWORD_IN_QUERY = re.compile(r"(?i)([?&]password=)[^&#]*")


class DatabaseURLError(DatabaseError):
    """A database URL that is malformed or names no supported engine (the caller's mistake)."""


def redact_url(url: str) -> str:
    """``url`` with its password shown as ``***`` (``mysql://root:***@host/db``);
    works on URLs too malformed to connect to."""
    url = _PASSWORD_IN_NETLOC.sub(r"\1***\3", url, count=1)
    return _PASSWORD_IN_QUERY.sub(r"\1***", url)


def _one_line(error: BaseException, *secrets: str | None) -> str:
    text = " ".join(str(error).split())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def dialect_of(conn: Connection) -> Dialect:
    """The dialect of a connection, from its driver."""
    module = type(conn).__module__.split(".")[0]
    for d in DIALECTS.values():
        if d.driver == module:
            return d
    raise DatabaseError(f"unsupported driver {module!r}: use sqlite3, psycopg or pymysql")


def connect(url: str, *, create: bool = False, readonly: bool = False) -> Connection:
    """Open ``sqlite:///path.db``, ``postgresql://...`` or ``mysql://...``.

    A SQLite file must exist unless ``create`` (for loading): reading never
    creates one.  ``readonly`` opens a SQLite file read-only, usable from any
    thread one at a time (a server's pool); other engines ignore it.  Every
    failure is a one-line ``DatabaseError`` that shows the URL with its
    password masked."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise DatabaseURLError(f"bad database URL {shown}: {e}") from None
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        return _connect_sqlite(url, shown, create, readonly)
    if scheme in ("postgresql", "postgres"):
        try:
            import psycopg
        except ImportError:
            raise DatabaseError("PostgreSQL needs psycopg: pip install 'imgfilter[postgresql]'") from None
        try:
            return psycopg.connect(url.replace(parts.scheme + "://", "postgresql://", 1))
        except (psycopg.Error, ValueError) as e:
            raise DatabaseError(f"cannot connect to {shown}: {_one_line(e, parts.password)}") from None
    if scheme in ("mysql", "mariadb"):
        try:
            import pymysql
        except ImportError:
            raise DatabaseError("MySQL/MariaDB needs PyMySQL: pip install 'imgfilter[mysql]'") from None
        password = unquote(parts.password or "")
        try:
            return pymysql.connect(
                host=parts.hostname or "localhost", port=port or 3306,
                user=unquote(parts.username or "root"), password=password,
                database=unquote(parts.path.lstrip("/")) or None, charset="utf8mb4", autocommit=False,
            )
        except (pymysql.Error, OSError, ValueError) as e:
            raise DatabaseError(f"cannot connect to {shown}: {_one_line(e, password, parts.password)}") from None
    raise DatabaseURLError(f"unsupported database URL {shown}: use sqlite:///PATH, postgresql://... or mysql://...")


def _connect_sqlite(url: str, shown: str, create: bool, readonly: bool = False) -> Connection:
    if "://" not in url:
        raise DatabaseURLError(f"bad SQLite URL {shown}: use sqlite:///relative.db or sqlite:////absolute.db")
    path = url.split("://", 1)[1]
    path = path[1:] if path.startswith("/") else path
    if not path or path == ":memory:":
        return sqlite3.connect(":memory:")
    if not create and not os.path.exists(path):
        raise DatabaseError(f"no imgfilter catalog in {shown}: no such file; {NO_CATALOG}")
    try:
        if create:
            return sqlite3.connect(path)
        if readonly:
            return sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, check_same_thread=False)
        # read-write, never create: a mistyped path must not leave an empty file behind
        return sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True)
    except sqlite3.Error as e:
        raise DatabaseError(f"cannot open {shown}: {_one_line(e)}") from None


# ---- transactions --------------------------------------------------------------------------

@contextmanager
def _transaction(conn: Connection, d: Dialect, begin: tuple[str, ...]) -> Iterator[Any]:
    """A tuple cursor inside the caller's transaction if one is open; otherwise
    inside a transaction of our own, opened with ``begin`` and ended here
    (committed, or rolled back on any failure), so the connection is left as it
    was found: no snapshot kept, no failed transaction behind."""
    cur = d.tuple_cursor(conn)
    if d.in_transaction(conn):
        yield cur
        return
    skip_begin = d.driver_begins and not d.autocommit(conn)
    try:
        for stmt in begin:
            if not (skip_begin and stmt == "BEGIN"):
                cur.execute(stmt)
        yield cur
    except BaseException:
        _rollback(conn)
        raise
    conn.commit()


def _rollback(conn: Connection) -> None:
    with suppress(Exception):  # a lost connection cannot roll back: the original error tells more
        conn.rollback()


# ---- the catalog's columns ---------------------------------------------------------------

# verified (connection, Schema) pairs: weakly per connection; sqlite3 connections
# cannot be weakly referenced, so the last few are held (and compared by identity)
_VERIFIED: weakref.WeakKeyDictionary[Any, set[Schema]] = weakref.WeakKeyDictionary()
_VERIFIED_HELD: OrderedDict[int, tuple[Any, set[Schema]]] = OrderedDict()
_HELD = 16


def _verified(conn: Connection) -> set[Schema]:
    try:
        return _VERIFIED.setdefault(conn, set())
    except TypeError:
        held = _VERIFIED_HELD.get(id(conn))
        if held is None or held[0] is not conn:
            held = _VERIFIED_HELD[id(conn)] = (conn, set())
            while len(_VERIFIED_HELD) > _HELD:
                _VERIFIED_HELD.popitem(last=False)
        _VERIFIED_HELD.move_to_end(id(conn))
        return held[1]


def _compared_columns(schema: Schema) -> dict[str, dict[str, bool | None]]:
    """Per table, the columns a page reads: True for a string column compared by
    order, False for one compared only for equality, None for the others."""
    images: dict[str, bool | None] = {schema.record: None}
    for f in P.FIELDS_LIST:
        text = f.type in (P.FieldType.TEXT, P.FieldType.ID)
        images[schema.column(f.name)] = (f.name in P.SORT_KEYS) if text else None
    out = {schema.images: images}
    for table, cols in ((schema.tags, SIDE_COLUMNS["tags"]), (schema.members, SIDE_COLUMNS["members"]),
                        (schema.properties, SIDE_COLUMNS["properties"])):
        out[table] = {c: (None if c == "is_true" else c == "image_id") for c in cols}
    return out


def verify_catalog(conn: Connection, schema: Schema = DEFAULT_SCHEMA, *, dialect: Dialect | None = None,
                   cursor: Any = None) -> None:
    """Check that the database holds an imgfilter catalog whose string columns
    compare as the spec says (byte-exact, code-point order, no padding): raise
    ``DatabaseError`` naming the table, the column and the fix.  ``run`` does this
    once per connection and ``Schema``; call it again after altering the tables."""
    d = dialect or dialect_of(conn)
    if cursor is None:
        with _transaction(conn, d, d.read_begin) as cur:
            verify_catalog(conn, schema, dialect=d, cursor=cur)
        return
    for table, wanted in _compared_columns(schema).items():
        facts = d.string_columns(cursor, table, wanted)
        if not facts:
            missing = "" if table == schema.images else f" (table {table} is missing)"
            raise DatabaseError(f"no imgfilter catalog in {d.describe(conn)}{missing}: {NO_CATALOG}")
        for col, ordered in wanted.items():
            if col not in facts:
                raise DatabaseError(f"table {table} has no column {col}: not an imgfilter catalog (a service's "
                                    f"own names are given with a Schema)")
            typ, collation, deterministic = facts[col]
            exact = typ in d.binary_types or (typ in d.text_types and (
                collation in d.exact_collations or (ordered is False and deterministic)))
            if ordered is not None and not exact:
                raise DatabaseError(
                    f"column {table}.{col} ({typ} {collation}) does not compare strings byte by byte (case, "
                    f"trailing spaces, code-point order), which filters and scope rely on: {d.collation_fix}")
    _verified(conn).add(schema)


def _check_connection(conn: Connection, d: Dialect) -> None:
    charset = d.client_charset(conn)
    if charset not in d.client_charsets:
        raise DatabaseError(f"the connection's character set is {charset}: text would be sent in it and not "
                            f"match what is stored; connect with {' or '.join(sorted(d.client_charsets))}")


# ---- schema and loading ---------------------------------------------------------------

def create_schema(conn: Connection, dialect: Dialect | None = None, schema: Schema = DEFAULT_SCHEMA) -> None:
    """Create the reference tables and indexes if they are not there (and commit)."""
    d = dialect or dialect_of(conn)
    cur = d.tuple_cursor(conn)
    try:
        for stmt in create_statements(d, schema):
            try:
                cur.execute(stmt)
            except Exception as e:  # an engine without CREATE INDEX IF NOT EXISTS
                if d.duplicate_index_error is not None and getattr(e, "args", (None,))[0] == d.duplicate_index_error:
                    continue
                raise
    except BaseException:
        _rollback(conn)
        raise
    conn.commit()


def _rows(d: Dialect, images: Iterable[Image], schema: Schema) -> Iterator[tuple[str, tuple[Any, ...]]]:
    for img in images:
        row: list[Any] = [img.id]
        for f in P.FIELDS_LIST[1:]:
            v = img.values[f.name]
            row.append(d.bind_time(v) if v is not None and f.type is P.FieldType.TIME else v)
        row.append(json.dumps(img.wire, ensure_ascii=True))
        yield "images", tuple(row)
        for k, v in img.tags:
            yield "tags", (img.id, k, v)
        for member, status in img.members.items():
            yield "members", (img.id, member, status)
        for name, value in img.props.items():
            yield "properties", (img.id, name, value, name in img.flags)


def _insert_sql(d: Dialect, schema: Schema) -> dict[str, str]:
    q = d.ident
    cols = [schema.column(f.name) for f in P.FIELDS_LIST] + [schema.record]

    def ins(table: str, columns: list[str]) -> str:
        return (f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) "
                f"VALUES ({', '.join([d.placeholder] * len(columns))})")

    return {
        "images": ins(schema.images, cols),
        "tags": ins(schema.tags, ["image_id", "tag_key", "tag_value"]),
        "members": ins(schema.members, ["image_id", "member_id", "status"]),
        "properties": ins(schema.properties, ["image_id", "name", "value", "is_true"]),
    }


def load_catalog(conn: Connection, catalog: Catalog, *, dialect: Dialect | None = None,
                 schema: Schema = DEFAULT_SCHEMA, batch_size: int = 2000,
                 progress: Progress | None = None, create: bool = True) -> int:
    """Insert a validated catalog in batches inside one transaction: a failure
    rolls everything back.  Creates the schema first unless ``create`` is
    False, and checks its columns (``verify_catalog``).  Commits (a transaction
    the caller had open too); the connection is left with none open.  Returns
    the image count."""
    d = dialect or dialect_of(conn)
    _check_connection(conn, d)
    if create:
        create_schema(conn, d, schema)
    verify_catalog(conn, schema, dialect=d)
    if d.in_transaction(conn):
        conn.commit()
    sql = _insert_sql(d, schema)
    cur = d.tuple_cursor(conn)
    pending: dict[str, list[tuple[Any, ...]]] = {k: [] for k in sql}
    total, done = len(catalog), 0

    def flush() -> None:
        for table in ("images", "tags", "members", "properties"):
            if pending[table]:
                cur.executemany(sql[table], pending[table])
                pending[table].clear()

    try:
        for stmt in d.write_begin:
            if not (d.driver_begins and not d.autocommit(conn) and stmt == "BEGIN"):
                cur.execute(stmt)
        for table, row in _rows(d, catalog.images, schema):
            pending[table].append(row)
            if table == "images":
                done += 1
                if done % batch_size == 0:
                    flush()
                    if progress is not None and done < total:  # the last call comes after commit
                        progress(done, total)
        flush()
        conn.commit()
    except Exception as e:
        _rollback(conn)
        raise DatabaseError(f"load failed, nothing was written: {_one_line(e)}") from e
    except BaseException:  # Ctrl-C: nothing was written either
        _rollback(conn)
        raise
    if progress is not None:
        progress(total, total)
    return total


# ---- pages -------------------------------------------------------------------------------

def _decode(record: Any) -> Any:
    if isinstance(record, bytes | bytearray | memoryview):
        record = bytes(record).decode("utf-8")
    return json.loads(record)


def run(conn: Connection, query: str | CheckedQuery, context: Context | None = None, *,
        dialect: Dialect | None = None, schema: Schema = DEFAULT_SCHEMA,
        options: Options | None = None) -> Page:
    """Run a query on a database; returns the same ``Page`` as the in-memory
    target, and raises the same ``QueryError``s."""
    checked = check(query, options) if isinstance(query, str) else query
    d = dialect or dialect_of(conn)
    plan = compile_sql(checked, d, context, schema)
    _check_connection(conn, d)
    with _transaction(conn, d, d.read_begin) as cur:
        if schema not in _verified(conn):
            verify_catalog(conn, schema, dialect=d, cursor=cur)
        return _page(cur, plan, checked)


def _page(cur: Any, plan: SqlPlan, checked: CheckedQuery) -> Page:
    """Read one page: the marker's sort value, then segments until the page is full."""
    slots: dict[Slot, Any] = {}
    segments = plan.segments
    after_marker = False
    if plan.marker_lookup is not None:
        cur.execute(plan.marker_lookup.sql, plan.marker_lookup.bind(slots))
        row = cur.fetchone()
        if row is None:
            raise marker_not_found(checked)
        slots[MARKER_VALUE], slots[MARKER_ID] = row[0], checked.marker
        at = next(i for i, s in enumerate(segments) if s.null == (row[0] is None) or len(segments) == 1)
        segments = segments[at:]
        after_marker = True
    limit = checked.limit
    want = None if limit is None else limit + 1
    rows: list[tuple[Any, Any]] = []
    for i, seg in enumerate(segments):
        if limit == 0:
            break
        stmt = seg.after if after_marker and i == 0 else seg.first
        if want is not None:
            slots[ROW_LIMIT] = want - len(rows)
        cur.execute(stmt.sql, stmt.bind(slots))
        rows.extend(cur.fetchall())
        if want is not None and len(rows) >= want:
            break
    more = limit is not None and len(rows) > limit
    page = rows[:limit] if limit is not None else rows
    next_marker = _id(page[-1][0]) if more and page else None
    return Page(tuple(_decode(r[1]) for r in page), next_marker)


def _id(value: Any) -> str:
    return bytes(value).decode("ascii") if isinstance(value, bytes | bytearray) else str(value)


# ---- the bundled catalog as SQLite ---------------------------------------------------------

def bundled_sqlite_path() -> Path:
    """The bundled catalog as an SQLite file in the user's cache, built on first use."""
    from .catalog import bundled

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "imgfilter"
    # named by content, the rows as stored and the schema: a changed generator,
    # validation, wire form or schema never reuses a stale file
    d = get_dialect("sqlite")
    catalog = bundled()
    digest = hashlib.sha256("\n".join(create_statements(d)).encode())
    for table, row in _rows(d, catalog.images, DEFAULT_SCHEMA):
        digest.update(repr((table, row)).encode())
    path = cache / f"catalog-{digest.hexdigest()[:16]}.sqlite3"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp)
        try:
            load_catalog(conn, catalog)
        finally:
            conn.close()
        os.replace(tmp, path)  # atomic: a concurrent first use sees a whole file or none
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path

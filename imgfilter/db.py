"""Running the SQL target on a DB-API connection: schema, loader and pages.

Drivers: the standard library's ``sqlite3``; ``psycopg`` 3 and ``PyMySQL``
(the extras ``imgfilter[postgresql]`` and ``imgfilter[mysql]``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from . import params as P
from .ast import CheckedQuery
from .check import Options, check
from .context import Context
from .dialects import Dialect
from .dialects import get as get_dialect
from .records import Catalog, Image
from .result import Page
from .schema import DEFAULT_SCHEMA, Schema, create_statements
from .scope import marker_not_found
from .sql import MARKER_ID, MARKER_VALUE, ROW_LIMIT, Slot, compile_sql

Connection = Any  # a DB-API 2.0 connection of one of the three drivers
Progress = Callable[[int, int], None]


class DatabaseError(Exception):
    """A database URL that cannot be used, a missing driver, or a failed load."""


def dialect_of(conn: Connection) -> Dialect:
    """The dialect of a connection, from its driver."""
    module = type(conn).__module__.split(".")[0]
    names = {"sqlite3": "sqlite", "psycopg": "postgresql", "pymysql": "mysql"}
    if module not in names:
        raise DatabaseError(f"unsupported driver {module!r}: use sqlite3, psycopg or pymysql")
    return get_dialect(names[module])


def connect(url: str) -> Connection:
    """Open ``sqlite:///path.db``, ``postgresql://...`` or ``mysql://...``."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path
        return sqlite3.connect(path or ":memory:")
    if scheme in ("postgresql", "postgres"):
        try:
            import psycopg
        except ImportError:
            raise DatabaseError("PostgreSQL needs psycopg: pip install 'imgfilter[postgresql]'") from None
        try:
            return psycopg.connect(url.replace(parts.scheme + "://", "postgresql://", 1))
        except psycopg.Error as e:
            raise DatabaseError(f"cannot connect to {url}: {e}") from None
    if scheme in ("mysql", "mariadb"):
        try:
            import pymysql
        except ImportError:
            raise DatabaseError("MySQL/MariaDB needs PyMySQL: pip install 'imgfilter[mysql]'") from None
        try:
            return pymysql.connect(
                host=parts.hostname or "localhost", port=parts.port or 3306,
                user=unquote(parts.username or "root"), password=unquote(parts.password or ""),
                database=parts.path.lstrip("/") or None, charset="utf8mb4", autocommit=False,
            )
        except pymysql.Error as e:
            raise DatabaseError(f"cannot connect to {url}: {e}") from None
    raise DatabaseError(f"unsupported database URL {url!r}: use sqlite:///PATH, postgresql://... or mysql://...")


# ---- schema and loading ---------------------------------------------------------------

def create_schema(conn: Connection, dialect: Dialect | None = None, schema: Schema = DEFAULT_SCHEMA) -> None:
    """Create the reference tables and indexes if they are not there (and commit)."""
    d = dialect or dialect_of(conn)
    cur = conn.cursor()
    for stmt in create_statements(d, schema):
        try:
            cur.execute(stmt)
        except Exception as e:  # MySQL 8 has no CREATE INDEX IF NOT EXISTS
            if d.name == "mysql" and getattr(e, "args", (None,))[0] == 1061:
                continue
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
    False.  Returns the image count."""
    d = dialect or dialect_of(conn)
    if create:
        create_schema(conn, d, schema)
    sql = _insert_sql(d, schema)
    cur = conn.cursor()
    pending: dict[str, list[tuple[Any, ...]]] = {k: [] for k in sql}
    total, done = len(catalog), 0

    def flush() -> None:
        for table in ("images", "tags", "members", "properties"):
            if pending[table]:
                cur.executemany(sql[table], pending[table])
                pending[table].clear()

    try:
        if d.name == "sqlite" and not conn.in_transaction:
            cur.execute("BEGIN")
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
        conn.rollback()
        raise DatabaseError(f"load failed, nothing was written: {e}") from e
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
    cur = conn.cursor()
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
    from .catalog import bundled, generate

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "imgfilter"
    # named by content: a changed generator or schema never reuses a stale file
    digest = hashlib.sha256(json.dumps(generate()).encode())
    digest.update("\n".join(create_statements(get_dialect("sqlite"))).encode())
    path = cache / f"catalog-{digest.hexdigest()[:16]}.sqlite3"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp)
        try:
            load_catalog(conn, bundled())
        finally:
            conn.close()
        os.replace(tmp, path)  # atomic: a concurrent first use sees a whole file or none
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path

"""Loading a validated catalog into a database: the reference schema's DDL
and the rows, in one transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from imgfilter.db.connect import (
    Connection,
    DatabaseError,
    check_connection,
    dialect_of,
    one_line,
    rollback,
)
from imgfilter.db.dialects import Dialect
from imgfilter.db.schema import DEFAULT_SCHEMA, Schema, create_statements
from imgfilter.db.verify import verify_catalog
from imgfilter.front import params as P
from imgfilter.io.records import Catalog, Image

Progress = Callable[[int, int], None]


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
        rollback(conn)
        raise
    conn.commit()


def catalog_rows(d: Dialect, images: Iterable[Image], schema: Schema) -> Iterator[tuple[str, tuple[Any, ...]]]:
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
        **{kind: ins(schema.side_table(kind), list(side_cols))
           for kind, side_cols in schema.side_columns().items()},
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
    check_connection(conn, d)
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
        for table, row in catalog_rows(d, catalog.images, schema):
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
        rollback(conn)
        raise DatabaseError(f"load failed, nothing was written: {one_line(e)}") from e
    except BaseException:  # Ctrl-C: nothing was written either
        rollback(conn)
        raise
    if progress is not None:
        progress(total, total)
    return total



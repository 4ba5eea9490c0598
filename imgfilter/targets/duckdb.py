"""Target: a catalog held by DuckDB, for bulk work on large exported catalogs.

The catalog lives in an in-memory DuckDB database in the reference schema
(``imgfilter.db.schema``) with the dialect table's ``duckdb`` types; pages are
read by the SQL target's own statements and page runner (``targets/sql.py``),
so every rule of the spec is spelled once, from ``lower()``.  DuckDB scans
columns vectorized on every core, which is what a filtered, sorted page over
a million images needs (``benchmarks/bench_duckdb.py``).

Sources: ``load(catalog)`` (a validated ``Catalog``, e.g. from
``imgfilter.io.records.load``), ``open_file(path)`` (JSON / JSON Lines
records, validated as for every target, or a Parquet file in the layout of
``export_parquet``).  Needs the extra ``imgfilter[duckdb]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from imgfilter.db.connect import DatabaseError, one_line
from imgfilter.db.dialects import DUCKDB
from imgfilter.db.schema import DEFAULT_SCHEMA, Schema, create_statements
from imgfilter.front import params as P
from imgfilter.front.ast import CheckedQuery
from imgfilter.io.records import MAX_TEXT, Catalog, Image, RecordError
from imgfilter.io.records import load as load_records
from imgfilter.lowered.context import Context
from imgfilter.result import Page
from imgfilter.targets import sql
from imgfilter.targets.base import Target

Connection = duckdb.DuckDBPyConnection
PARQUET_MAGIC = b"PAR1"

# ---- the tables ---------------------------------------------------------------------------


def create_tables(conn: Connection, schema: Schema = DEFAULT_SCHEMA) -> None:
    """The reference schema's tables, with their primary keys (the marker
    lookup is an index probe) and without the secondary ``(sort column, id)``
    indexes: DuckDB reads ranges and orders by scanning columns, not indexes,
    and each index would slow the load."""
    for stmt in create_statements(DUCKDB, schema):
        if not stmt.startswith("CREATE INDEX"):
            conn.execute(stmt)


def _rows(images: tuple[Image, ...]) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Each image's rows, valued as the SQL target stores them (times as naive
    UTC at microseconds, the response form as JSON text)."""
    time_fields = {f.name for f in P.FIELDS_LIST if f.type is P.FieldType.TIME}
    names = [f.name for f in P.FIELDS_LIST[1:]]
    bind_time = DUCKDB.bind_time
    for img in images:
        values = img.values
        row: list[Any] = [img.id]
        for name in names:
            v = values[name]
            row.append(bind_time(v) if v is not None and name in time_fields else v)
        # the response form as JSON: a frozen mapping is written as the dict it
        # copies (the same text as json.dumps(img.wire), without the copy)
        row.append(json.dumps(img.response, ensure_ascii=True, default=dict))
        yield "images", tuple(row)
        for k, v in img.tags:
            yield "tags", (img.id, k, v)
        for member, status in img.members.items():
            yield "members", (img.id, member, status)
        for name, value in img.props.items():
            yield "properties", (img.id, name, value, name in img.flags)


def load_catalog(conn: Connection, catalog: Catalog, schema: Schema = DEFAULT_SCHEMA,
                 batch_size: int = 50_000) -> int:
    """Create the tables and insert a validated catalog in one transaction
    (DuckDB's appender, batch by batch); returns the image count.  Inside the
    caller's open transaction, loads in it and leaves it open; otherwise a
    failure writes nothing."""
    tables = {"images": schema.images, **{kind: schema.side_table(kind) for kind in ("tags", "members",
                                                                                       "properties")}}
    own = not DUCKDB.in_transaction(conn)
    if own:
        conn.execute("BEGIN")
    try:
        create_tables(conn, schema)
        pending: dict[str, list[tuple[Any, ...]]] = {kind: [] for kind in tables}
        appenders = {kind: conn.appender(table) for kind, table in tables.items()}

        def flush() -> None:
            for kind in ("images", "tags", "members", "properties"):
                if pending[kind]:
                    appenders[kind].append_rows(pending[kind])
                    appenders[kind].flush()
                    pending[kind].clear()

        for kind, row in _rows(catalog.images):
            pending[kind].append(row)
            if len(pending["images"]) >= batch_size:
                flush()
        flush()
        if own:
            conn.commit()
    except BaseException:
        if own:
            conn.rollback()
        raise
    return len(catalog)


def connect_catalog(catalog: Catalog, schema: Schema = DEFAULT_SCHEMA) -> Connection:
    """A new in-memory DuckDB database holding ``catalog``."""
    conn = duckdb.connect(":memory:")
    try:
        load_catalog(conn, catalog, schema)
    except BaseException:
        conn.close()
        raise
    return conn


# ---- Parquet --------------------------------------------------------------------------------
#
# One row per image: the images table's columns (the reference schema's
# names), then its side rows as lists of structs:
#   tags        STRUCT(key VARCHAR, value VARCHAR)[]
#   members     STRUCT(member_id VARCHAR, status VARCHAR)[]
#   properties  STRUCT(name VARCHAR, value VARCHAR, is_true BOOLEAN)[]
# ``layout()`` gives every column with its DuckDB type.

_SIDE_STRUCTS = {
    "tags": ("key", "value"),
    "members": ("member_id", "status"),
    "properties": ("name", "value", "is_true"),
}


def _q(name: str) -> str:
    return DUCKDB.ident(name)


def _export_sql(schema: Schema = DEFAULT_SCHEMA) -> str:
    """The query whose rows are the Parquet file's rows (sorted by id)."""
    cols = [f"i.{_q(schema.column(f.name))}" for f in P.FIELDS_LIST] + [f"i.{_q(schema.record)}"]
    id_col = _q(schema.column("id"))
    for kind, fields in _SIDE_STRUCTS.items():
        side_cols = schema.side_columns()[kind]
        struct = ", ".join(f"{_q(f)}: x.{_q(c)}" for f, c in zip(fields, side_cols[1:], strict=True))
        order = ", ".join(f"x.{_q(c)}" for c in side_cols[1:])
        cols.append(f"(SELECT list({{{struct}}} ORDER BY {order}) FROM {_q(schema.side_table(kind))} x "
                    f"WHERE x.{_q(schema.image_of(kind))} = i.{id_col}) AS {_q(kind)}")
    return f"SELECT {', '.join(cols)} FROM {_q(schema.images)} i ORDER BY i.{id_col}"


def export_parquet(catalog: Catalog, path: str | Path) -> None:
    """Write ``catalog`` as one Parquet file in the layout ``open_parquet`` reads."""
    conn = connect_catalog(catalog)
    try:
        conn.sql(_export_sql()).write_parquet(str(path))
    finally:
        conn.close()


def layout() -> dict[str, str]:
    """The Parquet file's columns and their DuckDB types, in order."""
    conn = duckdb.connect(":memory:")
    try:
        create_tables(conn)
        return {str(name): str(typ) for name, typ in zip(*_describe(conn.sql(_export_sql())), strict=True)}
    finally:
        conn.close()


def _describe(rel: duckdb.DuckDBPyRelation) -> tuple[list[str], list[str]]:
    return list(rel.columns), [str(t) for t in rel.types]


def _bad(path: str | Path, message: str, image_id: str | None = None, field: str | None = None) -> RecordError:
    return RecordError(str(path), image_id, field, message)


def open_parquet(path: str | Path) -> Connection:
    """A new in-memory DuckDB database holding the catalog of a Parquet file in
    ``layout()``; raises ``RecordError`` for a file that is not one.

    Checked: the columns and their types; ids present, unique and lowercase
    UUIDs; each image's members distinct, with a known status; every time
    within the years 1000 to 9999; text within the limits of a validated
    record; the record a JSON object.  The values are otherwise taken as
    exported (``export_parquet`` writes them from validated records)."""
    conn = duckdb.connect(":memory:")
    try:
        _open_parquet(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _open_parquet(conn: Connection, path: str | Path) -> None:
    s = DEFAULT_SCHEMA
    try:
        rel = conn.read_parquet(str(path))
        names, types = _describe(rel)
    except duckdb.Error as e:
        raise _bad(path, f"cannot read as Parquet: {one_line(e)}") from None
    want = layout()
    got = dict(zip(names, types, strict=True))
    wrong = [f"{name} ({want[name]})" + (f" is {got[name]}" if name in got else " is missing")
             for name in want if got.get(name) != want[name]]
    extra = [name for name in got if name not in want]
    if wrong or extra:
        raise _bad(path, "not in imgfilter's Parquet layout: " + "; ".join(
            [*(f"column {w}" for w in wrong), *(f"unknown column {x}" for x in extra)]))
    conn.execute("BEGIN")
    try:
        create_tables(conn)
        conn.execute("CREATE TEMP TABLE f AS SELECT * FROM read_parquet(?)", [str(path)])
        _check_parquet(conn, path)
        image_cols = [s.column(f.name) for f in P.FIELDS_LIST] + [s.record]
        conn.execute(f"INSERT INTO {_q(s.images)} SELECT {', '.join(_q(c) for c in image_cols)} FROM f")
        id_col = _q(s.column("id"))
        for kind, fields in _SIDE_STRUCTS.items():
            conn.execute(f"INSERT INTO {_q(s.side_table(kind))} SELECT {id_col}, "
                         f"{', '.join(f'x.{_q(f)}' for f in fields)} "
                         f"FROM (SELECT {id_col}, unnest({_q(kind)}) AS x FROM f)")
        conn.execute("DROP TABLE f")
        conn.commit()
    except duckdb.ConstraintException as e:
        conn.rollback()
        raise _bad(path, f"not a catalog: {one_line(e)}") from None
    except BaseException:
        conn.rollback()
        raise


def _check_parquet(conn: Connection, path: str | Path) -> None:
    """The checks of ``open_parquet`` on the file's rows (temporary table ``f``)."""
    s = DEFAULT_SCHEMA
    id_col = _q(s.column("id"))
    uuid = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

    def first(condition: str, params: list[Any], table: str = "f") -> Any:
        row = conn.execute(f"SELECT {id_col} FROM {table} WHERE {condition} LIMIT 1", params).fetchone()
        return None if row is None else (row[0],)

    if first(f"{id_col} IS NULL", []) is not None:
        raise _bad(path, "an image has no id", field="id")
    hit = first(f"NOT regexp_full_match({id_col}, ?)", [uuid])
    if hit is not None:
        raise _bad(path, "is not a lowercase UUID", hit[0], "id")
    row = conn.execute(f"SELECT {id_col} FROM f GROUP BY {id_col} HAVING count(*) > 1 LIMIT 1").fetchone()
    if row is not None:
        raise _bad(path, "duplicate id", row[0], "id")
    for f in P.FIELDS_LIST:
        col = _q(s.column(f.name))
        if f.type is P.FieldType.ID:
            hit = first(f"{col} <> lower({col})", [])
            if hit is not None:
                raise _bad(path, "is not in lowercase", hit[0], f.name)
        if f.type in (P.FieldType.TEXT, P.FieldType.ID):
            hit = first(f"length({col}) > ?", [MAX_TEXT])
            if hit is not None:
                raise _bad(path, f"is longer than {MAX_TEXT} characters", hit[0], f.name)
        if f.type is P.FieldType.TIME:
            hit = first(f"{col} NOT BETWEEN ? AND ?", [DUCKDB.bind_time(P.TIME_MIN), DUCKDB.bind_time(P.TIME_MAX)])
            if hit is not None:
                raise _bad(path, "is outside the years 1000 to 9999 (UTC)", hit[0], f.name)
    hit = first(f"{_q(s.column('architecture'))} IS NULL", [])
    if hit is not None:
        raise _bad(path, "is missing (a validated record always has one)", hit[0], "architecture")
    hit = first(f"{_q(s.record)} IS NULL OR json_type({_q(s.record)}) IS DISTINCT FROM 'OBJECT' "
                f"OR json_extract_string({_q(s.record)}, '$.id') IS DISTINCT FROM {id_col}", [])
    if hit is not None:
        raise _bad(path, "is not the image's response form as a JSON object", hit[0], s.record)
    statuses = ", ".join("?" for _ in P.MEMBER_STATUSES)
    hit = first(f"EXISTS (SELECT 1 FROM (SELECT unnest(members) AS m) WHERE m.status IS NULL "
                f"OR m.member_id IS NULL OR m.status NOT IN ({statuses}))", list(P.MEMBER_STATUSES))
    if hit is not None:
        raise _bad(path, "a member without an id or with a status other than "
                   f"{', '.join(P.MEMBER_STATUSES)}", hit[0], "members")
    for kind, fields in _SIDE_STRUCTS.items():
        nulls = " OR ".join(f"x.{_q(f)} IS NULL" for f in fields)
        hit = first(f"EXISTS (SELECT 1 FROM (SELECT unnest({_q(kind)}) AS x) WHERE {nulls})", [])
        if hit is not None:
            raise _bad(path, f"an entry with a missing value ({', '.join(fields)})", hit[0], kind)


def open_file(path: str | Path) -> Connection:
    """A new in-memory DuckDB database holding the catalog in ``path``: a
    Parquet file (``open_parquet``), or records as JSON / JSON Lines
    (``imgfilter.io.records.load``, validated as for every target)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(PARQUET_MAGIC))
    except OSError as e:
        raise _bad(path, f"cannot read: {e}") from None
    if head == PARQUET_MAGIC:
        return open_parquet(path)
    return connect_catalog(load_records(path))


# ---- the target -------------------------------------------------------------------------------


class DuckDBTarget(Target[Connection]):
    """Pages over a catalog held by DuckDB (an in-memory database of its own)."""

    name = "duckdb"
    file_formats = ("json", "parquet")

    def load(self, catalog: Catalog) -> Connection:
        return connect_catalog(catalog)

    def open_file(self, path: str | Path) -> Connection:
        """A source holding the catalog in a records file or a Parquet file."""
        return open_file(path)

    def page(self, source: Connection, query: CheckedQuery, context: Context | None = None) -> Page:
        try:
            return sql.run(source, query, context, dialect=DUCKDB)
        except duckdb.Error as e:
            raise DatabaseError(f"DuckDB: {one_line(e)}") from e

    def close(self, source: Connection) -> None:
        source.close()


TARGET = DuckDBTarget()

__all__ = ["TARGET", "DuckDBTarget", "connect_catalog", "export_parquet", "layout", "load_catalog",
           "open_file", "open_parquet"]

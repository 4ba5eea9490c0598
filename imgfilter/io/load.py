"""Loading validated images into a database: the reference schema's DDL, and
the rows through each engine's bulk path, in one transaction.

The steps are separate functions so that another (e.g. distributing the
tables) can run between them: ``create_tables``, then ``load_images`` (which,
on tables it found empty and just created, builds the secondary indexes after
the rows), then ``create_indexes`` for tables that had none.  How rows go in
is the dialect's ``bulk`` (COPY, multi-row INSERT or executemany); every value
is COPY data or a bound parameter, never SQL text.
"""

from __future__ import annotations

import itertools
import json
import operator
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from imgfilter.db import citus
from imgfilter.db.connect import (
    Connection,
    DatabaseError,
    check_connection,
    dialect_of,
    one_line,
    rollback,
)
from imgfilter.db.dialects import Dialect
from imgfilter.db.schema import DEFAULT_SCHEMA, Schema, index_statements, table_statements
from imgfilter.db.verify import verified, verify_catalog
from imgfilter.front import params as P
from imgfilter.io.records import Catalog, Image, RecordError

Progress = Callable[[int, int], None]  # load_catalog's: (images written, images in the catalog)
# load_images's: (stage, done, total or None); stages "writing" (images) and "indexing" (indexes)
StageProgress = Callable[[str, int, int | None], None]
Mode = Literal["insert", "upsert", "replace"]
MODES: tuple[Mode, ...] = ("insert", "upsert", "replace")
TABLES = ("images", "tags", "members", "properties")  # in the order rows are written
BATCH = 5000  # images per batch: the memory a load holds, whatever the catalog's size
_IN_CHUNK = 500  # ids per IN (...) list
_clock = time.monotonic  # what LoadResult's seconds are measured with


class ImageExists(DatabaseError):
    """``mode="insert"`` met an id the database already holds (nothing was written)."""

    def __init__(self, id_: str) -> None:
        super().__init__(f"image {id_} is already in the database: nothing was written "
                         "(mode upsert updates it, mode replace makes the database the file)")
        self.image_id = id_


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What a load did: ``images`` written, of which ``inserted`` were new and
    ``updated`` replaced an image of the same id; ``removed``: with mode replace,
    the images the database held before (all deleted first); ``seconds`` taken,
    of which ``reading`` waiting for the next images (reading and validating a
    streamed file), ``writing`` building and writing their rows (and checking
    ids already there), ``indexing`` building indexes after the rows."""

    mode: Mode
    images: int
    inserted: int
    updated: int
    removed: int
    seconds: float
    reading: float = 0.0
    writing: float = 0.0
    indexing: float = 0.0


# ---- DDL -----------------------------------------------------------------------------------

def _exists(cur: Any, d: Dialect, schema: Schema) -> bool:
    """Whether the images table exists (read from the engine's catalog)."""
    return bool(d.string_columns(cur, schema.images, [schema.column("id")]))


def _run_ddl(cur: Any, d: Dialect, statements: Iterable[str]) -> None:
    for stmt in statements:
        try:
            cur.execute(stmt)
        except Exception as e:  # an engine without CREATE INDEX IF NOT EXISTS
            if d.duplicate_index_error is not None and getattr(e, "args", (None,))[0] == d.duplicate_index_error:
                continue
            raise


def _ddl(conn: Connection, d: Dialect, statements: Iterable[str]) -> None:
    cur = d.tuple_cursor(conn)
    try:
        _run_ddl(cur, d, statements)
    except BaseException:
        rollback(conn)
        raise
    conn.commit()


def create_tables(conn: Connection, dialect: Dialect | None = None, schema: Schema = DEFAULT_SCHEMA) -> bool:
    """Create the reference tables (primary keys, no secondary index) if they are
    not there, and commit.  Returns whether they were created (so are empty)."""
    d = dialect or dialect_of(conn)
    cur = d.tuple_cursor(conn)
    existed = _exists(cur, d, schema)
    if d.in_transaction(conn):
        conn.commit()
    _ddl(conn, d, table_statements(d, schema))
    return not existed


def create_indexes(conn: Connection, dialect: Dialect | None = None, schema: Schema = DEFAULT_SCHEMA) -> None:
    """Create the secondary indexes that are not there, and commit."""
    d = dialect or dialect_of(conn)
    _ddl(conn, d, index_statements(d, schema))


def create_schema(conn: Connection, dialect: Dialect | None = None, schema: Schema = DEFAULT_SCHEMA) -> None:
    """Create the reference tables and indexes if they are not there (and commit)."""
    d = dialect or dialect_of(conn)
    create_tables(conn, d, schema)
    create_indexes(conn, d, schema)


# ---- rows ----------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    if isinstance(value, MappingProxyType):  # Image.response's frozen objects (arrays are tuples)
        return dict(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


# one encoder for every record: json.dumps with arguments builds a new one per call
_RECORD_JSON = json.JSONEncoder(ensure_ascii=True, default=_plain).encode


def record_json(img: Image) -> str:
    """The image's response form as JSON text (the ``record`` column)."""
    return _RECORD_JSON(img.response)


_FIELD_NAMES = [f.name for f in P.FIELDS_LIST[1:]]
_TIME_AT = [i for i, f in enumerate(P.FIELDS_LIST[1:], start=1) if f.type is P.FieldType.TIME]
_FIELD_VALUES = operator.itemgetter(*_FIELD_NAMES)


def catalog_rows(d: Dialect, images: Iterable[Image], schema: Schema) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Each image's rows: ``("images", row)`` in ``_columns`` order (the typed
    fields, times bound for ``d``, then the record's JSON text), then its tags,
    members and properties."""
    bind_time = d.bind_time
    for img in images:
        image_id = img.id
        row = [image_id, *_FIELD_VALUES(img.values), None]
        last: Any = None
        bound: Any = None
        for i in _TIME_AT:
            v = row[i]
            if v is not None:
                if v is not last:  # updated_at is often created_at's very object
                    last, bound = v, bind_time(v)
                row[i] = bound
        row[-1] = _RECORD_JSON(img.response)
        yield "images", tuple(row)
        for k, v in img.tags:
            yield "tags", (image_id, k, v)
        for member, status in img.members.items():
            yield "members", (image_id, member, status)
        flags = img.flags
        for name, value in img.props.items():
            yield "properties", (image_id, name, value, name in flags)


def _columns(schema: Schema) -> dict[str, list[str]]:
    return {
        "images": [schema.column(f.name) for f in P.FIELDS_LIST] + [schema.record],
        **{kind: list(cols) for kind, cols in schema.side_columns().items()},
    }


def _tables(schema: Schema) -> dict[str, str]:
    return {"images": schema.images, **{kind: schema.side_table(kind) for kind in schema.side_columns()}}


def _insert_sql(d: Dialect, schema: Schema) -> dict[str, str]:
    q = d.ident
    names = _tables(schema)
    return {kind: (f"INSERT INTO {q(names[kind])} ({', '.join(q(c) for c in cols)}) "
                   f"VALUES ({', '.join([d.placeholder] * len(cols))})")
            for kind, cols in _columns(schema).items()}


# ---- bulk writers: one per Dialect.bulk ------------------------------------------------------

Writer = Callable[[str, list[tuple[Any, ...]]], None]


def _executemany(conn: Connection, cur: Any, d: Dialect, schema: Schema) -> Writer:
    sql = _insert_sql(d, schema)

    def write(kind: str, rows: list[tuple[Any, ...]]) -> None:
        cur.executemany(sql[kind], rows)
    return write


def _copy(conn: Connection, cur: Any, d: Dialect, schema: Schema) -> Writer:
    q = d.ident
    names = _tables(schema)
    sql = {kind: f"COPY {q(names[kind])} ({', '.join(q(c) for c in cols)}) FROM STDIN"
           for kind, cols in _columns(schema).items()}

    def write(kind: str, rows: list[tuple[Any, ...]]) -> None:
        with cur.copy(sql[kind]) as copy:
            for row in rows:
                copy.write_row(row)
    return write


def _size(value: Any) -> int:
    """An upper bound of a value's length in a statement (quoted, escaped)."""
    if isinstance(value, str):
        return 2 * len(value.encode()) + 3
    return 32


def _values(conn: Connection, cur: Any, d: Dialect, schema: Schema) -> Writer:
    q = d.ident
    names = _tables(schema)
    columns = _columns(schema)
    heads = {kind: f"INSERT INTO {q(names[kind])} ({', '.join(q(c) for c in cols)}) VALUES "
             for kind, cols in columns.items()}
    groups = {kind: "(" + ", ".join([d.placeholder] * len(cols)) + ")" for kind, cols in columns.items()}
    limit = d.bulk_bytes
    if d.packet_query is not None:
        cur.execute(d.packet_query)
        limit = min(limit, int(cur.fetchone()[0]) // 2)

    def execute(kind: str, chunk: list[tuple[Any, ...]]) -> None:
        cur.execute(heads[kind] + ", ".join([groups[kind]] * len(chunk)), [v for row in chunk for v in row])

    def write(kind: str, rows: list[tuple[Any, ...]]) -> None:
        chunk: list[tuple[Any, ...]] = []
        size = len(heads[kind])
        for row in rows:
            n = sum(_size(v) for v in row) + 2 * len(row) + 4
            if chunk and size + n > limit:
                execute(kind, chunk)
                chunk, size = [], len(heads[kind])
            chunk.append(row)
            size += n
        if chunk:
            execute(kind, chunk)
    return write


WRITERS: dict[str, Callable[[Connection, Any, Dialect, Schema], Writer]] = {
    "executemany": _executemany, "copy": _copy, "values": _values,
}


# ---- loading --------------------------------------------------------------------------------

def _chunks(items: Sequence[str], n: int = _IN_CHUNK) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _ids_present(cur: Any, d: Dialect, schema: Schema, ids: Sequence[str]) -> list[str]:
    """Those of ``ids`` the images table holds."""
    q = d.ident
    id_col = q(schema.column("id"))
    out: list[str] = []
    for chunk in _chunks(ids):
        cur.execute(f"SELECT {id_col} FROM {q(schema.images)} WHERE {id_col} IN "
                    f"({', '.join([d.placeholder] * len(chunk))})", list(chunk))
        out.extend(v.decode() if isinstance(v, bytes | bytearray) else str(v) for (v,) in cur.fetchall())
    return out


def _delete_ids(cur: Any, d: Dialect, schema: Schema, ids: Sequence[str]) -> int:
    """Delete images ``ids`` and their side rows; the number of images deleted."""
    q = d.ident
    deleted = 0
    for chunk in _chunks(ids):
        marks = ", ".join([d.placeholder] * len(chunk))
        for kind in schema.side_columns():
            cur.execute(f"DELETE FROM {q(schema.side_table(kind))} WHERE {q(schema.image_of(kind))} IN ({marks})",
                        list(chunk))
        cur.execute(f"DELETE FROM {q(schema.images)} WHERE {q(schema.column('id'))} IN ({marks})", list(chunk))
        deleted += max(cur.rowcount, 0)
    return deleted


def _delete_all(cur: Any, d: Dialect, schema: Schema) -> int:
    q = d.ident
    cur.execute(f"SELECT COUNT(*) FROM {q(schema.images)}")
    before = int(cur.fetchone()[0])
    for kind in schema.side_columns():
        cur.execute(f"DELETE FROM {q(schema.side_table(kind))}")
    cur.execute(f"DELETE FROM {q(schema.images)}")
    return before


def _begin(conn: Connection, cur: Any, d: Dialect) -> None:
    for stmt in d.write_begin:
        if not (d.driver_begins and not d.autocommit(conn) and stmt == "BEGIN"):
            cur.execute(stmt)


def load_images(conn: Connection, images: Iterable[Image], *, mode: Mode = "insert",
                dialect: Dialect | None = None, schema: Schema = DEFAULT_SCHEMA, batch_size: int = BATCH,
                progress: StageProgress | None = None, create: bool = True,
                distributed: bool = False, shards: int | None = None) -> LoadResult:
    """Write ``images`` (any iterable, consumed once, ``batch_size`` at a time) in
    one transaction: all of them or, on any error or interrupt, nothing.

    ``mode``: ``insert`` (an id the database holds is an ``ImageExists`` error),
    ``upsert`` (insert, or rewrite the image of that id with its tags, members and
    properties) or ``replace`` (the database holds exactly ``images`` afterwards).
    Creates the tables first unless ``create`` is False; on tables it created, the
    secondary indexes are built after the rows, and a load that fails drops them
    again (the database is left as it was).  Readers on other connections see
    the catalog before or after, never a mix.  Commits; the connection is left
    with no transaction open.

    ``distributed`` (PostgreSQL with Citus): tables this call creates are
    distributed (``imgfilter.db.citus.distribute``, ``shards`` per table) before
    the rows go in; existing tables must be distributed already."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    clock = _clock
    started = clock()
    d = dialect or dialect_of(conn)
    check_connection(conn, d)
    fresh = False
    if create:
        fresh = create_tables(conn, d, schema)
        if fresh and distributed:
            try:
                citus.distribute(conn, schema, shards)
            except BaseException:
                _drop(conn, d.tuple_cursor(conn), d, schema, emptied=False)  # as it was found
                raise
        if not fresh:
            create_indexes(conn, d, schema)
    if distributed and not fresh and citus.shard_count(conn, schema) is None:
        raise DatabaseError(f"--distributed: the table {schema.images} exists and is not distributed "
                            "(distribute freshly created tables: load into a new database or schema)")
    verify_catalog(conn, schema, dialect=d)
    if d.in_transaction(conn):
        conn.commit()
    cur = d.tuple_cursor(conn)
    inserted = updated = removed = 0
    committed = False
    try:
        write = WRITERS[d.bulk](conn, cur, d, schema)
        _begin(conn, cur, d)
        if mode == "replace" and not fresh:
            removed = _delete_all(cur, d, schema)
        check = not fresh and mode != "replace"  # ids the tables may hold already
        done = 0
        reading = writing = indexing = 0.0
        it = iter(images)
        while True:
            t0 = clock()
            batch = list(itertools.islice(it, batch_size))
            t1 = clock()
            reading += t1 - t0
            if not batch:
                break
            if check:
                present = _ids_present(cur, d, schema, [img.id for img in batch])
                if present and mode == "insert":
                    raise ImageExists(present[0])
                if present:
                    _delete_ids(cur, d, schema, present)
                    updated += len(present)
            pending: dict[str, list[tuple[Any, ...]]] = {k: [] for k in TABLES}
            for table, row in catalog_rows(d, batch, schema):
                pending[table].append(row)
            for table in TABLES:
                if pending[table]:
                    write(table, pending[table])
            writing += clock() - t1
            done += len(batch)
            if progress is not None:
                progress("writing", done, None)
        inserted = done - updated
        if fresh:  # the indexes after the rows: one sort each, not one insertion per row
            t0 = clock()
            statements = index_statements(d, schema)
            if not d.transactional_ddl:
                conn.commit()  # the engine would commit at the first CREATE INDEX anyway
                committed = True
            for i, stmt in enumerate(statements):
                if progress is not None:
                    progress("indexing", i, len(statements))
                _run_ddl(cur, d, [stmt])
            if progress is not None:
                progress("indexing", len(statements), len(statements))
            indexing = clock() - t0
        conn.commit()
    except BaseException as e:
        rollback(conn)
        if fresh:  # tables this call created (and committed) go again: the database is as it was
            _drop(conn, cur, d, schema, emptied=committed)
        if isinstance(e, ImageExists | RecordError) or not isinstance(e, Exception):
            raise  # Ctrl-C, a bad record from a streaming source, an id already there
        raise DatabaseError(f"load failed, nothing was written: {one_line(e)}") from e
    return LoadResult(mode, done, inserted, updated, removed, clock() - started,
                      reading, writing, indexing)


def _drop(conn: Connection, cur: Any, d: Dialect, schema: Schema, emptied: bool) -> None:
    """Drop the tables a failed load created; if that fails, at least take out
    rows that an engine without transactional DDL committed (``emptied``)."""
    q = d.ident
    try:
        for kind in schema.side_columns():
            cur.execute(f"DROP TABLE IF EXISTS {q(schema.side_table(kind))}")
        cur.execute(f"DROP TABLE IF EXISTS {q(schema.images)}")
        conn.commit()
        verified(conn).discard(schema)  # the next page finds no catalog, as before the load
        return
    except Exception:
        rollback(conn)
    if emptied:
        try:
            _begin(conn, cur, d)
            _delete_all(cur, d, schema)
            conn.commit()
        except Exception:
            rollback(conn)


def delete_images(conn: Connection, ids: Iterable[str], *, dialect: Dialect | None = None,
                  schema: Schema = DEFAULT_SCHEMA) -> int:
    """Delete the images of ``ids`` (with their tags, members and properties) in
    one transaction; ids the database does not hold are skipped.  Returns how
    many images were deleted."""
    d = dialect or dialect_of(conn)
    check_connection(conn, d)
    verify_catalog(conn, schema, dialect=d)
    if d.in_transaction(conn):
        conn.commit()
    wanted = list(dict.fromkeys(str(i) for i in ids))
    cur = d.tuple_cursor(conn)
    try:
        _begin(conn, cur, d)
        deleted = _delete_ids(cur, d, schema, wanted)
        conn.commit()
    except BaseException as e:
        rollback(conn)
        if not isinstance(e, Exception):
            raise
        raise DatabaseError(f"delete failed, nothing was deleted: {one_line(e)}") from e
    return deleted


def load_catalog(conn: Connection, catalog: Catalog, *, dialect: Dialect | None = None,
                 schema: Schema = DEFAULT_SCHEMA, batch_size: int = 2000,
                 progress: Progress | None = None, create: bool = True,
                 mode: Mode = "insert") -> int:
    """``load_images`` of a validated catalog; ``progress(done, total)`` after each
    batch and once after the commit.  Returns the image count."""
    total = len(catalog)

    def stages(stage: str, done: int, _: int | None) -> None:
        if progress is not None and stage == "writing" and done < total:  # the last call comes after commit
            progress(done, total)

    result = load_images(conn, catalog.images, mode=mode, dialect=dialect, schema=schema,
                         batch_size=batch_size, progress=stages, create=create)
    if progress is not None:
        progress(total, total)
    return result.images

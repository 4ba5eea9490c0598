"""Loading at scale (issue 13): sync modes, deleting, streaming sources, the
bulk paths, and indexes built after the rows on fresh tables -- on every engine."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

import imgfilter
from imgfilter import Context, Options, db
from imgfilter.db.dialects import DIALECTS
from imgfilter.db.schema import DEFAULT_SCHEMA, Schema, index_statements
from imgfilter.io.catalog import generate
from imgfilter.io.records import Catalog, Image, RecordError, normalize

from .dbs import ENGINES, isolated
from .fixtures import P1, P2, RECORDS, rec, uid

PROPS = Options(unknown="property")
QUERIES: list[tuple[str, Context | None]] = [
    ("sort_key=id&sort_dir=asc", None), ("tag=env=prod", None), ("tag=new=1", None), ("tag=k", None),
    ("sort_key=name&sort_dir=asc", Context(P2)), ("visibility=shared&member_status=pending", Context(P2)),
    ("custom_prop=blue", Context(P1, is_admin=True)), ("name=renamed", None),
]


def images(records: list[dict[str, Any]]) -> list[Image]:
    return list(Catalog.from_records(records).images)


def agrees(conn: Any, expected: list[dict[str, Any]]) -> None:
    """The database answers every query as the memory target does on ``expected``."""
    catalog = Catalog.from_records(expected)
    for q, ctx in QUERIES:
        checked = imgfilter.check(q, PROPS)
        assert db.run(conn, checked, ctx).images == imgfilter.run(checked, catalog, ctx).images, q


def side_rows(conn: Any, image_id: str) -> dict[str, int]:
    """Rows of each side table for one image."""
    d = db.dialect_of(conn)
    cur = d.tuple_cursor(conn)
    out = {}
    for kind in ("tags", "members", "properties"):
        cur.execute(f"SELECT COUNT(*) FROM {d.ident(DEFAULT_SCHEMA.side_table(kind))} "
                    f"WHERE {d.ident(DEFAULT_SCHEMA.image_of(kind))} = {d.placeholder}", (image_id,))
        out[kind] = int(cur.fetchone()[0])
    conn.commit()
    return out


CHANGED = [
    rec(1, name="renamed", visibility="public", owner="o", tags=["new=1"]),  # its tags rewritten
    rec(3, name="RHEL 7", visibility="private", owner=P1),  # its member (P2, pending) gone
    rec(4, name="shared one", visibility="shared", owner=P1, members=[{"member_id": P2, "status": "pending"}]),
    rec(9, name="new one", visibility="public", owner="o", tags=["env=prod"]),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_insert_refuses_an_id_already_there_and_writes_nothing(engine: str) -> None:
    with isolated(engine) as conn:
        db.load_images(conn, images(RECORDS[:2]))
        with pytest.raises(db.ImageExists, match=f"image {uid(2)} is already in the database: nothing") as e:
            db.load_images(conn, images([rec(50), RECORDS[1], rec(51)]), batch_size=1)
        assert e.value.image_id == uid(2)
        assert sorted(db.run(conn, "").ids) == [uid(1), uid(2)]
        assert not DIALECTS[engine].in_transaction(conn)


@pytest.mark.parametrize("engine", ENGINES)
def test_upsert_inserts_new_ids_and_rewrites_known_ones_with_their_side_rows(engine: str) -> None:
    with isolated(engine) as conn:
        db.load_images(conn, images(RECORDS))
        assert side_rows(conn, uid(1))["tags"] == 2 and side_rows(conn, uid(4))["properties"] == 1
        result = db.load_images(conn, images(CHANGED), mode="upsert", batch_size=3)
        assert (result.mode, result.images, result.inserted, result.updated, result.removed) == \
            ("upsert", 4, 1, 3, 0)
        by_id = {r["id"]: r for r in RECORDS} | {r["id"]: r for r in CHANGED}
        agrees(conn, list(by_id.values()))
        assert side_rows(conn, uid(1)) == {"tags": 1, "members": 0, "properties": 0}
        assert side_rows(conn, uid(3))["members"] == 0 and side_rows(conn, uid(4))["properties"] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_replace_leaves_exactly_the_file(engine: str) -> None:
    with isolated(engine) as conn:
        db.load_images(conn, images(RECORDS))
        result = db.load_images(conn, images(CHANGED), mode="replace", batch_size=2)
        assert (result.images, result.removed) == (4, len(RECORDS))
        agrees(conn, CHANGED)
        for gone in (2, 5, 6, 7, 8):
            assert side_rows(conn, uid(gone)) == {"tags": 0, "members": 0, "properties": 0}
        assert db.load_images(conn, images(CHANGED), mode="replace").removed == 4  # idempotent
        agrees(conn, CHANGED)


def failing(records: list[dict[str, Any]], after: int) -> Iterator[Image]:
    """A streaming source whose record ``after + 1`` is bad."""
    for i, r in enumerate(records):
        if i == after:
            raise RecordError(f"line {i + 1}", r["id"], "created_at", "not a time")
        yield normalize(r, f"line {i + 1}")


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode", ["insert", "upsert", "replace"])
def test_a_bad_record_mid_stream_writes_nothing(engine: str, mode: Any) -> None:
    with isolated(engine) as conn:
        db.load_images(conn, images(RECORDS))
        with pytest.raises(RecordError, match="not a time"):
            source = [rec(30), rec(31), rec(32)] if mode == "insert" else [*CHANGED[:2], rec(30)]
            db.load_images(conn, failing([*source, rec(33)], 3), mode=mode, batch_size=1)
        agrees(conn, RECORDS)
        assert not DIALECTS[engine].in_transaction(conn)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_failure_on_fresh_tables_leaves_the_database_as_it_was(engine: str) -> None:
    """The tables the failed load created are gone too; loading again works."""
    with isolated(engine) as conn:
        with pytest.raises(RecordError):
            db.load_images(conn, failing(RECORDS, 5), batch_size=2)
        with pytest.raises(db.DatabaseError, match="no imgfilter catalog"):
            db.run(conn, "")
        assert not DIALECTS[engine].in_transaction(conn)
        assert db.load_images(conn, images(RECORDS)).inserted == len(RECORDS)
        agrees(conn, RECORDS)


@pytest.mark.parametrize("engine", ENGINES)
def test_delete_images_removes_them_and_their_side_rows(engine: str) -> None:
    with isolated(engine) as conn:
        db.load_images(conn, images(RECORDS))
        assert db.delete_images(conn, [uid(1), uid(4), uid(1), uid(99)]) == 2
        agrees(conn, [r for r in RECORDS if r["id"] not in (uid(1), uid(4))])
        assert side_rows(conn, uid(1))["tags"] == 0 and side_rows(conn, uid(4))["members"] == 0
        assert db.delete_images(conn, []) == 0
        assert db.delete_images(conn, [uid(1), uid(99)]) == 0  # none of them there (any more)


@pytest.mark.parametrize("engine", ENGINES)
def test_delete_images_counts_every_image_deleted_however_many(engine: str) -> None:
    with isolated(engine) as conn:
        records = generate(1234)
        db.load_images(conn, images(records))
        ids = [r["id"] for r in records]
        assert db.delete_images(conn, [*ids[:1100], uid(99)]) == 1100
        assert sorted(db.run(conn, "sort_key=id").ids) == sorted(ids[1100:])


def test_create_schema_makes_the_tables_and_indexes_of_its_schema() -> None:
    mine = Schema(images="vm_images", tags="vm_tags", members="vm_members", properties="vm_props")
    with isolated("sqlite") as conn:
        db.create_schema(conn, schema=mine)
        made = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index') "
                                 "AND name NOT LIKE 'sqlite_%'").fetchall())
        assert made == {**{t: t for t in ("vm_images", "vm_tags", "vm_members", "vm_props")},
                        **{name: table for name, table, _ in mine.indexes()}}


def test_delete_images_on_a_schema_of_other_names() -> None:
    mine = Schema(images="vm_images", tags="vm_tags", members="vm_members", properties="vm_props")
    with isolated("sqlite") as conn:
        db.load_images(conn, images(RECORDS), schema=mine)
        assert db.delete_images(conn, [uid(1), uid(2)], schema=mine) == 2
        assert uid(1) not in db.run(conn, "", schema=mine).ids


def test_a_delete_that_fails_deletes_nothing() -> None:
    with isolated("sqlite") as conn:
        db.load_images(conn, images(RECORDS))
        conn.execute("CREATE TRIGGER keep BEFORE DELETE ON images BEGIN SELECT RAISE(ABORT, 'kept'); END")
        conn.commit()
        with pytest.raises(db.DatabaseError, match="delete failed, nothing was deleted: kept"):
            db.delete_images(conn, [uid(1)])
        assert not conn.in_transaction
        assert side_rows(conn, uid(1))["tags"] == 2  # the side rows deleted before the failure are back


def test_the_source_is_read_once_in_batches_without_its_length() -> None:
    pulled: list[int] = []

    def source() -> Iterator[Image]:
        for i, img in enumerate(images(RECORDS)):
            pulled.append(i)
            yield img

    seen: list[tuple[str, int, int | None]] = []
    with isolated("sqlite") as conn:
        result = db.load_images(conn, source(), batch_size=3, progress=lambda *a: seen.append(a))
        assert result.images == len(RECORDS) and pulled == list(range(len(RECORDS)))
        writing = [s for s in seen if s[0] == "writing"]
        indexing = [s for s in seen if s[0] == "indexing"]
        assert writing == [("writing", 3, None), ("writing", 6, None), ("writing", 8, None)]
        n = len(DEFAULT_SCHEMA.indexes())
        assert indexing[0] == ("indexing", 0, n) and indexing[-1] == ("indexing", n, n)  # fresh tables


def test_fresh_tables_get_their_indexes_after_the_rows() -> None:
    with isolated("sqlite") as conn:
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        db.load_images(conn, images(RECORDS))
        kinds = [s.split()[0] + (" INDEX" if "INDEX" in s.split()[:3] else "") for s in statements]
        last_insert = max(i for i, k in enumerate(kinds) if k == "INSERT")
        first_index = min(i for i, k in enumerate(kinds) if k == "CREATE INDEX")
        assert last_insert < first_index < kinds.index("COMMIT", first_index)
        statements.clear()
        db.load_images(conn, images([rec(20)]))  # tables there: indexes (if missing) before the rows
        kinds = [s.split()[0] + (" INDEX" if "INDEX" in s.split()[:3] else "") for s in statements]
        assert max(i for i, k in enumerate(kinds) if k == "CREATE INDEX") < kinds.index("INSERT")
        conn.set_trace_callback(None)
        names = {r[1] for r in conn.execute("SELECT * FROM sqlite_master WHERE type = 'index'")}
        assert {name for name, _, _ in DEFAULT_SCHEMA.indexes()} <= names


WRITERS = {"sqlite": ["executemany", "values"], "postgresql": ["copy", "values", "executemany"],
           "mysql": ["values", "executemany"]}


@pytest.mark.parametrize(("engine", "bulk"), [(e, b) for e in ENGINES for b in WRITERS[e]])
def test_every_bulk_path_stores_the_same_catalog(engine: str, bulk: str) -> None:
    records = generate(300, 3)
    catalog = Catalog.from_records(records)
    dialect = dataclasses.replace(DIALECTS[engine], bulk=bulk, bulk_bytes=20_000)  # many small statements
    with isolated(engine) as conn:
        db.load_images(conn, catalog.images, dialect=dialect, batch_size=128)
        db.load_images(conn, catalog.images[:50], dialect=dialect, mode="upsert")
        for q in ("sort_key=name&sort_dir=asc", "tag=env=prod&sort_key=created_at", "__platform=Ubuntu"):
            for ctx in (None, Context(P1), Context(P1, is_admin=True)):
                assert db.run(conn, q, ctx, dialect=DIALECTS[engine]).images == \
                    imgfilter.run(q, catalog, ctx).images, (q, ctx)


def test_multi_row_inserts_stay_under_the_packet_limit_and_bind_every_value() -> None:
    pymysql = pytest.importorskip("pymysql")
    records = generate(200, 5)
    sent: list[tuple[str, int]] = []
    real = pymysql.cursors.Cursor.execute

    def execute(self: Any, query: str, args: Any = None) -> Any:
        if query.startswith("INSERT"):
            sent.append((query, len(self.mogrify(query, args).encode())))
        return real(self, query, args)

    limit = 16_000
    dialect = dataclasses.replace(DIALECTS["mysql"], bulk_bytes=limit)
    with isolated("mysql") as conn:
        pymysql.cursors.Cursor.execute = execute
        try:
            db.load_images(conn, Catalog.from_records(records).images, dialect=dialect)
        finally:
            pymysql.cursors.Cursor.execute = real
        assert len(db.run(conn, "limit=1000").images) == 200
    images_sent = [(q, n) for q, n in sent if q.startswith("INSERT INTO `images`")]
    assert len(images_sent) > 1 and max(n for _, n in sent) <= limit
    assert all(q.count("(%s") == q.count("(") - 1 for q, _ in sent)  # column list, then only placeholders
    assert not any(r["id"] in q or (r.get("name") or "\0") in q for q, _ in sent for r in records)
    assert max(q.count("), (") for q, _ in images_sent) > 1  # several rows a statement


@pytest.mark.parametrize("engine", ENGINES)
def test_bad_mode_and_batch_size_are_value_errors(engine: str) -> None:
    with isolated(engine) as conn:
        with pytest.raises(ValueError, match="mode must be one of insert, upsert, replace"):
            db.load_images(conn, [], mode="merge")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="batch_size"):
            db.load_images(conn, [], batch_size=0)


@pytest.mark.parametrize("engine", ENGINES)
def test_an_index_that_fails_after_the_rows_leaves_nothing(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On fresh tables the indexes come last; MySQL commits before DDL, so there the
    loader takes the rows out again."""
    from imgfilter.io import load

    def broken(dialect: Any, schema: Any = DEFAULT_SCHEMA) -> list[str]:
        return ["CREATE INDEX broken_ix ON images (no_such_column)"]

    monkeypatch.setattr(load, "index_statements", broken)
    with isolated(engine) as conn:
        with pytest.raises(db.DatabaseError, match="nothing was written"):
            db.load_images(conn, images(RECORDS))
        monkeypatch.undo()
        with pytest.raises(db.DatabaseError, match="no imgfilter catalog"):
            db.run(conn, "")


@pytest.mark.parametrize("engine", ENGINES)
def test_an_index_that_fails_when_the_tables_cannot_be_dropped_leaves_no_rows(
        engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """If dropping the new tables fails too, the rows MySQL committed before its
    first CREATE INDEX are still taken out."""
    from imgfilter.io import load

    def broken(dialect: Any, schema: Any = DEFAULT_SCHEMA) -> list[str]:
        return ["CREATE INDEX broken_ix ON images (no_such_column)"]

    def undroppable(conn: Any, cur: Any, d: Any, schema: Any, emptied: bool) -> None:
        real_execute = cur.execute
        wrapped = _Refusing(cur, real_execute)
        real_drop(conn, wrapped, d, schema, emptied)

    real_drop = load._drop
    monkeypatch.setattr(load, "index_statements", broken)
    monkeypatch.setattr(load, "_drop", undroppable)
    with isolated(engine) as conn:
        with pytest.raises(db.DatabaseError, match="nothing was written"):
            db.load_images(conn, images(RECORDS))
        monkeypatch.undo()
        assert db.run(conn, "").images == ()
        for n in range(1, 9):
            assert side_rows(conn, uid(n)) == {"tags": 0, "members": 0, "properties": 0}


class _Refusing:
    """A cursor whose DROP statements fail."""

    def __init__(self, cur: Any, execute: Any) -> None:
        self._cur, self._execute = cur, execute

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("DROP"):
            raise RuntimeError("no DROP privilege")
        return self._execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


def test_the_result_splits_the_time_into_reading_writing_and_indexing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Time spent waiting on the source (a streamed file is read and validated
    as it is consumed) is ``reading``; building and writing rows ``writing``;
    the indexes after the rows ``indexing``: on a clock that only the source,
    the writer and the index statements move."""
    import sqlite3

    from imgfilter.io import load

    now = [0.0]
    monkeypatch.setattr(load, "_clock", lambda: now[0])

    def source() -> Iterator[Image]:
        for img in images(RECORDS):
            now[0] += 10.0  # reading and validating one record
            yield img

    writers = dict(load.WRITERS)

    def slow_writer(*args: Any) -> Any:
        write = writers["executemany"](*args)

        def timed(kind: str, rows: list[Any]) -> None:
            now[0] += 1.0
            write(kind, rows)
        return timed

    real_ddl = load._run_ddl

    def slow_ddl(cur: Any, d: Any, statements: Any) -> None:
        now[0] += 100.0
        real_ddl(cur, d, statements)

    monkeypatch.setitem(load.WRITERS, "executemany", slow_writer)
    conn = sqlite3.connect(":memory:")
    monkeypatch.setattr(load, "_run_ddl", slow_ddl)
    result = db.load_images(conn, source(), batch_size=3)
    indexes = len(index_statements(DIALECTS["sqlite"]))
    tables_written = sum(1 for _ in range(0, len(RECORDS), 3)) * 4  # four tables a batch, each has rows
    assert result.reading == 10.0 * len(RECORDS)
    assert result.indexing == 100.0 * indexes
    assert 0 < result.writing <= tables_written
    # and the rest of the total is the one DDL call that created the tables, before any row
    assert result.seconds - (result.reading + result.writing + result.indexing) == 100.0

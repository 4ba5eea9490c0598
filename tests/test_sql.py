"""The SQL target's own promises: bound values, stable text, schema mapping, loading."""

from __future__ import annotations

import io
import json
import sqlite3
from typing import Any
from urllib.parse import quote

import pytest

import imgfilter
from imgfilter import Context, QueryError, db
from imgfilter.db.dialects import DIALECTS
from imgfilter.db.schema import Schema, create_statements
from imgfilter.io.records import Catalog, RecordError
from imgfilter.targets.sql import compile_sql

from .dbs import ENGINES, isolated
from .fixtures import P1, RECORDS, rec, uid

NASTY = ["x' OR '1'='1", 'a"b', "a;DROP TABLE images", "a -- b", "a /* b */", "back\\slash",
         "emoji 😀 𝔘", "per%cent_under", "quote''s", "tab\there"]
NASTY_RECORDS = [rec(100 + i, name=name, visibility="public", owner="o", tags=[f"k=v{i}"])
                 for i, name in enumerate(NASTY)]


def sql_texts(query: str, dialect: str, context: Context | None = None) -> list[str]:
    plan = compile_sql(imgfilter.check(query), dialect, context)
    return [s.sql for _, s in plan.statements()]


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_values_are_bound_never_spliced(dialect: str) -> None:
    for value in NASTY:
        q = imgfilter.check("name=" + imgfilter.front.ast.quote(value, safe=""))  # type: ignore[attr-defined]
        plan = compile_sql(q, dialect, Context(P1))
        for _, stmt in plan.statements():
            assert value not in stmt.sql
            assert "'" not in stmt.sql
        assert value in plan.segments[0].first.params


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_sql_text_depends_on_shape_not_values(dialect: str) -> None:
    a = "name=a&tag=k=v&created_at=gt:2018-01-01T00:00:00Z&marker=" + uid(1) + "&limit=3&min_ram=1"
    b = "name=x'y&tag=z=w&created_at=gt:2020-05-05T05:05:05Z&marker=" + uid(2) + "&limit=300&min_ram=9"
    assert sql_texts(a, dialect, Context(P1)) == sql_texts(b, dialect, Context("other"))
    assert sql_texts(a, dialect) != sql_texts(a.replace("name=a", "owner=a"), dialect)


def test_nul_never_reaches_sql() -> None:
    with pytest.raises(QueryError):
        imgfilter.check("name=a%00b")
    with pytest.raises(RecordError):
        Catalog.from_records([rec(1, name="a\x00b")])


@pytest.mark.parametrize("engine", ENGINES)
def test_hand_picked_metacharacters_match_exactly_what_memory_matches(engine: str) -> None:
    catalog = Catalog.from_records(NASTY_RECORDS)
    with isolated(engine) as conn:
        db.load_catalog(conn, catalog)
        for value in NASTY:
            query = "name=" + quote(value, safe="")
            expected = imgfilter.run(query, catalog).ids
            assert len(expected) == 1
            assert db.run(conn, query).ids == expected
        # the table is intact
        assert len(db.run(conn, "").ids) == len(NASTY)


@pytest.mark.parametrize("engine", ENGINES)
def test_schema_mapping(engine: str) -> None:
    schema = Schema(images="vm_images", tags="vm_tags", members="vm_members", properties="vm_props",
                    record="doc", columns={"name": "image_name", "created_at": "ctime"})
    catalog = Catalog.from_records(RECORDS)
    with isolated(engine) as conn:
        db.load_catalog(conn, catalog, schema=schema)
        for query, context in (("sort_key=name&sort_dir=asc&limit=3", None), ("tag=k", Context(P1)),
                               (f"marker={uid(3)}&limit=2", None)):
            assert db.run(conn, query, context, schema=schema).ids == imgfilter.run(query, catalog, context).ids
    sql = create_statements(DIALECTS["sqlite"], schema)[0]
    assert '"vm_images"' in sql and '"image_name"' in sql and '"ctime"' in sql


def test_schema_rejects_non_identifiers() -> None:
    with pytest.raises(ValueError):
        Schema(images="images; DROP TABLE x")
    with pytest.raises(ValueError):
        Schema(columns={"name": "a b"})
    with pytest.raises(ValueError):
        Schema(columns={"no_such_field": "x"})


@pytest.mark.parametrize("engine", ENGINES)
def test_failed_load_leaves_the_database_as_it_was(engine: str) -> None:
    with isolated(engine) as conn:
        db.load_catalog(conn, Catalog.from_records(RECORDS[:2]))
        # a duplicate of an id already stored fails in the database, mid-load
        again = Catalog.from_records([rec(50), RECORDS[0]])
        with pytest.raises(db.DatabaseError, match="nothing was written"):
            db.load_catalog(conn, again, batch_size=1)
        assert sorted(db.run(conn, "").ids) == [uid(1), uid(2)]


def test_bad_record_is_rejected_before_anything_is_written(tmp_path: Any) -> None:
    path = tmp_path / "x.sqlite3"
    bad = io.StringIO(json.dumps([RECORDS[0], {"id": uid(9), "created_at": "never"}]))
    with pytest.raises(RecordError):
        db.load_catalog(sqlite3.connect(path), imgfilter.load_records(bad))
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_progress_is_reported() -> None:
    seen: list[tuple[int, int]] = []
    db.load_catalog(sqlite3.connect(":memory:"), Catalog.from_records(RECORDS), batch_size=3,
                    progress=lambda done, total: seen.append((done, total)))
    assert seen == [(3, 8), (6, 8), (8, 8)]
    seen.clear()
    db.load_catalog(sqlite3.connect(":memory:"), Catalog.from_records(RECORDS), batch_size=4,
                    progress=lambda done, total: seen.append((done, total)))
    assert seen == [(4, 8), (8, 8)]


def test_connect_urls(tmp_path: Any) -> None:
    conn = db.connect(f"sqlite:///{tmp_path}/a.db", create=True)
    assert db.dialect_of(conn).name == "sqlite"
    with pytest.raises(db.DatabaseError, match="unsupported database URL"):
        db.connect("oracle://x")


def test_bundled_catalog_as_sqlite(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = db.bundled_sqlite_path()
    assert path.exists() and db.bundled_sqlite_path() == path
    conn = sqlite3.connect(path)
    q = "__imagetype=gold&sort_key=name&limit=5"
    from imgfilter.io.catalog import bundled
    assert db.run(conn, q).ids == imgfilter.run(q, bundled()).ids


def test_bundled_catalog_file_is_named_by_the_rows_it_stores(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change of validation or response form alone (the generator unchanged)
    never reuses a file built by the old code."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    before = db.bundled_sqlite_path()
    from imgfilter.io import catalog as catalog_module
    from imgfilter.io import load as load_module
    rows = load_module.catalog_rows

    def other_rows(*args: Any) -> Any:
        for table, row in rows(*args):
            yield table, ((*row[:-1], "{}") if table == "images" else row)

    monkeypatch.setattr(catalog_module, "catalog_rows", other_rows)
    assert db.bundled_sqlite_path() != before


@pytest.mark.parametrize("engine", ENGINES)
def test_bundled_catalog_agrees_on_every_engine(engine: str) -> None:
    """A few hundred realistic queries on the 2,000-image catalog, memory as the reference."""
    from imgfilter.io.catalog import PROJECTS, bundled
    catalog = bundled()
    queries = [
        "", "sort_key=name&sort_dir=asc", "__platform=RedHat&sort_key=size", "tag=env=prod",
        "tag=环境", "__imagetype=private&sort_key=disk_format&sort_dir=asc",
        "created_at=gte:2020-01-01T00:00:00Z&created_at=lt:2021-01-01T00:00:00Z&sort_key=created_at",
        "enterprise_project_id=0&sort_key=status", "__support_kvm=true&__support_s4l=true",
        "status=active&protected=false&sort_key=id&sort_dir=asc", "min_ram=0&sort_key=size&sort_dir=asc",
    ]
    contexts: list[Context | None] = [None, Context(PROJECTS[0]), Context(PROJECTS[1], is_admin=True)]
    with isolated(engine) as conn:
        db.load_catalog(conn, catalog)
        for q in queries:
            for ctx in contexts:
                for limit in ("", "&limit=25"):
                    mem = imgfilter.run(q + limit, catalog, ctx)
                    got = db.run(conn, q + limit, ctx)
                    assert (got.ids, got.next_marker) == (mem.ids, mem.next_marker), (q + limit, ctx)
                    if mem.next_marker:
                        nxt = f"{q}{limit}&marker={mem.next_marker}"
                        assert db.run(conn, nxt, ctx).ids == imgfilter.run(nxt, catalog, ctx).ids
        got = db.run(conn, "limit=1")
        assert got.images[0] == imgfilter.run("limit=1", catalog).images[0]

"""The SQLAlchemy target (``imgfilter.sqlalchemy``): the same pages and errors
as the in-memory target on every engine, the reference schema as MetaData, a
service's own ORM classes, and the clauses a service adds to its own select()."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from functools import partial
from types import SimpleNamespace
from typing import Any, cast

import pytest
import sqlalchemy as sa
from hypothesis import given, note
from hypothesis import strategies as st
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import imgfilter
from imgfilter import Context, QueryError, db
from imgfilter.db.connect import DatabaseError
from imgfilter.db.dialects import DIALECTS, MYSQL
from imgfilter.db.schema import DEFAULT_SCHEMA, Schema
from imgfilter.io.records import Catalog
from imgfilter.lowered.core import lower
from imgfilter.result import Page
from imgfilter.sqlalchemy import ExactText, Tables, UtcTime, after, limit, metadata, order_by, page, reference, where
from imgfilter.targets import get
from imgfilter.targets.sqlalchemy import TARGET, compile_sqlalchemy, engine_of, engine_on

from .catalogs import Case, cases, catalogs
from .dbs import ENGINES, Databases, isolated
from .fixtures import P1, P2, RECORDS, uid
from .helpers import local_time_zone

CATALOG = Catalog.from_records(RECORDS)
QUERIES = [
    "", "sort_key=name&sort_dir=asc&limit=3", "sort_key=name&limit=2", "tag=env&limit=2",
    "sort_key=size&sort_dir=asc&limit=2", "sort_key=id&limit=3", "status=active&sort_key=created_at&limit=1",
    "__support_kvm=true", "created_at=gte:2018-09-06T14:03:27Z&sort_key=status&sort_dir=asc&limit=2",
    "protected=false", "visibility=shared&member_status=pending", "min_ram=2048&min_disk=40",
    "tag=k&tag=env=prod&tag=a&tag=b", "enterprise_project_id=0&limit=1",
]
CONTEXTS = [None, Context(project_id=P1), Context(project_id=P2), Context(is_admin=True)]


@pytest.fixture(scope="module")
def loaded() -> Iterator[dict[str, Any]]:
    """The hand-written records in every engine with a server: name -> DB-API connection."""
    with ExitStack() as stack:
        databases = Databases(stack)
        conns = databases.available()
        for engine in list(conns):
            databases.load(engine, CATALOG)
        yield conns


def outcome(run: Any) -> tuple[Any, ...]:
    try:
        p: Page = run()
    except QueryError as e:
        return ("error", e.code)
    return ("ok", p.ids, p.next_marker, p.images)


def walk(run: Any, query: str, context: Context | None) -> list[tuple[Any, ...]]:
    """Every page of ``query`` following next_marker."""
    pages = []
    marker = None
    for _ in range(len(RECORDS) + 2):
        got = outcome(lambda m=marker: run(imgfilter.check(query + (f"&marker={m}" if m else "")), context))
        pages.append(got)
        marker = got[2] if got[0] == "ok" else None
        if marker is None:
            break
    return pages


def test_registered_and_spelled_as_a_target() -> None:
    t = get("sqlalchemy")
    assert t is TARGET and t.name == "sqlalchemy" and t.databases == ("sqlite", "postgresql", "mysql")


@pytest.mark.parametrize("engine", ENGINES)
def test_pages_equal_memory_on_every_engine(loaded: dict[str, Any], engine: str) -> None:
    if engine not in loaded:
        pytest.skip(f"no {engine} server")
    source = TARGET.attach(loaded[engine])
    memory = get("memory")
    for query in QUERIES:
        for context in CONTEXTS:
            expected = walk(partial(memory.page, CATALOG), query, context)
            got = walk(partial(TARGET.page, source), query, context)
            assert got == expected, (engine, query, context)


@pytest.mark.parametrize("engine", ENGINES)
def test_same_errors_as_every_target(loaded: dict[str, Any], engine: str) -> None:
    if engine not in loaded:
        pytest.skip(f"no {engine} server")
    source = TARGET.attach(loaded[engine])
    unknown = "00000000-0000-4000-8000-999999999999"
    private = next(r["id"] for r in RECORDS if r.get("visibility") == "private" and r.get("owner") == P1)
    for query, context, code in [
        (f"marker={unknown}", None, "IMG.0027"),
        (f"marker={private}", Context(project_id=P2), "IMG.0027"),  # exists, but not among P2's images
        ("__isregistered=false", Context(project_id=P1), "IMG.0026"),
        ("visibility=shared&member_status=accepted", None, "IMG.0001"),
    ]:
        with pytest.raises(QueryError) as e:
            TARGET.page(source, imgfilter.check(query), context)
        assert e.value.code == code
        assert outcome(lambda q=query, c=context: get("memory").page(CATALOG, imgfilter.check(q), c)) == (
            "error", code)


def test_load_connect_and_bundled_sources(tmp_path: Any) -> None:
    src = TARGET.load(CATALOG)
    assert TARGET.page(src, imgfilter.check("sort_key=name&limit=2")) == imgfilter.run("sort_key=name&limit=2",
                                                                                        CATALOG)
    TARGET.close(src)
    path = tmp_path / "c.db"
    conn = db.connect(f"sqlite:///{path}", create=True)
    db.load_catalog(conn, CATALOG)
    conn.close()
    on_url = TARGET.connect(f"sqlite:///{path}")
    assert TARGET.page(on_url, imgfilter.check("tag=env")).ids == imgfilter.run("tag=env", CATALOG).ids
    TARGET.close(on_url)
    with pytest.raises(db.DatabaseError, match="no imgfilter catalog"):
        TARGET.connect(f"sqlite:///{tmp_path}/empty.db")


def test_the_target_raises_the_drivers_error_as_the_dbapi_target_does() -> None:
    import sqlite3

    for target in (TARGET, get("sql")):
        source = target.load(CATALOG)
        raw: Any = source.connection.dbapi_connection if target is TARGET else source
        raw.execute("DROP TABLE image_tags")
        with pytest.raises(sqlite3.OperationalError, match="no such table: image_tags"):
            target.page(source, imgfilter.check("tag=env"))
        target.close(source)


def test_cli_query_through_sqlalchemy_on_a_database(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    from imgfilter.io.cli import main

    url = f"sqlite:///{tmp_path}/images.db"
    conn = db.connect(url, create=True)
    db.load_catalog(conn, CATALOG)
    conn.close()
    query = "sort_key=name&limit=1"
    assert main(["query", "--engine", "sqlalchemy", "--db", url, "--project", P1, query]) == 0
    out, err = capsys.readouterr()
    body = imgfilter.run(query, CATALOG, Context(project_id=P1)).to_response()
    assert json.loads(out) == json.loads(json.dumps(body)) and body["page_info"]["next_marker"]
    assert "next_marker" not in err  # the json body carries it
    empty = f"sqlite:///{tmp_path}/empty.db"
    sqlite_file = db.connect(empty, create=True)
    sqlite_file.close()
    errors = []
    for engine in ("sql", "sqlalchemy"):  # the same one-line error as the DB-API target's
        assert main(["query", "--engine", engine, "--db", empty, ""]) == 1
        errors.append(capsys.readouterr().err)
    assert errors[0] == errors[1] and "no imgfilter catalog in sqlite:///" in errors[1]
    assert errors[1].count("\n") == 1


# ---- agreement on generated catalogs (the lead's suite runs every target; this is ours) ----

@pytest.fixture(scope="module")
def generated() -> Iterator[Databases]:
    with ExitStack() as stack:
        databases = Databases(stack)
        databases.available()
        yield databases


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[Case]]:
    records = draw(catalogs())
    ids = [str(r["id"]).lower() for r in records]
    return records, draw(st.lists(cases(ids, draw(st.booleans())), min_size=1, max_size=6))


@given(scenarios())
def test_generated_catalogs_agree_with_memory(generated: Databases, scenario: Any) -> None:
    records, case_list = scenario
    catalog = Catalog.from_records(records)
    sources = {engine: TARGET.attach(generated.load(engine, catalog)) for engine in list(generated.conns)}
    for case in case_list:
        note(repr(case))
        expected = outcome(lambda c=case: imgfilter.run(c.query, catalog, c.context, c.options))
        for engine, source in sources.items():
            got = outcome(lambda c=case, s=source: page(s, c.query, c.context, options=c.options))
            assert got == expected, f"{engine} disagrees with memory on {case}"


# ---- the reference schema as MetaData ------------------------------------------------------

def _shape(conn: Any) -> dict[str, Any]:
    """Tables, columns (type, nullable), primary keys and indexes, as the engine reports them."""
    insp = sa.inspect(engine_on(conn))
    out: dict[str, Any] = {}
    s = DEFAULT_SCHEMA
    for table in (s.images, s.tags, s.members, s.properties):
        cols = [(c["name"], str(c["type"]), c["nullable"], str(c.get("collation"))) for c in insp.get_columns(table)]
        idx = sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(table))
        out[table] = (cols, insp.get_pk_constraint(table)["constrained_columns"], idx)
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_metadata_create_all_is_the_reference_schema(engine: str) -> None:
    with isolated(engine) as by_sqla, isolated(engine) as by_ddl:
        sa_engine = engine_on(by_sqla)
        metadata().create_all(sa_engine)
        db.create_schema(by_ddl)
        assert _shape(by_sqla) == _shape(by_ddl)
        db.verify_catalog(by_sqla)  # collations and types imgfilter accepts
        db.load_catalog(by_sqla, CATALOG, create=False)
        assert page(sa_engine, "sort_key=name&limit=3") == imgfilter.run("sort_key=name&limit=3", CATALOG)
        sa_engine.dispose(close=False)


def test_metadata_follows_a_schema() -> None:
    mine = Schema(images="vm_images", tags="vm_tags", columns={"name": "display_name"}, tag_key="k")
    md = metadata(mine)
    assert set(md.tables) == {"vm_images", "vm_tags", "image_members", "image_properties"}
    assert "display_name" in md.tables["vm_images"].c and "k" in md.tables["vm_tags"].c
    assert {i.name for i in md.tables["vm_images"].indexes} == {n for n, t, _ in mine.indexes() if t == "vm_images"}
    assert metadata() is not metadata()  # a new MetaData each call: a service may add its own tables


# ---- a service's own ORM classes --------------------------------------------------------------

class Base(DeclarativeBase):
    pass


class VmImage(Base):
    """A service's model: its own table and column names, attributes named otherwise."""

    __tablename__ = "vm_images"
    uuid: Mapped[str] = mapped_column("image_uuid", sa.Text, primary_key=True)
    title: Mapped[str | None] = mapped_column("display_name", sa.Text)
    state: Mapped[str | None] = mapped_column("status", sa.Text)
    visibility: Mapped[str | None] = mapped_column(sa.Text)
    owner: Mapped[str | None] = mapped_column(sa.Text)
    registered: Mapped[bool | None] = mapped_column("isregistered", sa.Boolean)
    protected: Mapped[bool | None] = mapped_column(sa.Boolean)
    min_ram: Mapped[int | None] = mapped_column(sa.Integer)
    min_disk: Mapped[int | None] = mapped_column(sa.Integer)
    size: Mapped[int | None] = mapped_column(sa.Integer)
    enterprise_project_id: Mapped[str | None] = mapped_column(sa.Text)
    created: Mapped[dt.datetime | None] = mapped_column("ctime", UtcTime)
    body: Mapped[str] = mapped_column("record", sa.Text)


class VmTag(Base):
    __tablename__ = "vm_tags"
    image: Mapped[str] = mapped_column("image_id", sa.Text, primary_key=True)
    key: Mapped[str] = mapped_column("tag_key", sa.Text, primary_key=True)
    value: Mapped[str] = mapped_column("tag_value", sa.Text, primary_key=True)


class VmMember(Base):
    __tablename__ = "vm_members"
    image: Mapped[str] = mapped_column("image_id", sa.Text, primary_key=True)
    project: Mapped[str] = mapped_column("member_id", sa.Text, primary_key=True)
    status: Mapped[str] = mapped_column(sa.Text)


class VmProperty(Base):
    __tablename__ = "vm_props"
    image: Mapped[str] = mapped_column("image_id", sa.Text, primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)
    is_true: Mapped[bool] = mapped_column(sa.Boolean)


# the service's tables as a Schema, so that the loader can fill them with the sample records
SERVICE_SCHEMA = Schema(images="vm_images", tags="vm_tags", members="vm_members", properties="vm_props",
                        columns={"id": "image_uuid", "name": "display_name", "created_at": "ctime"})
SERVICE = Tables(VmImage, VmTag, VmMember, VmProperty, columns={
    "id": "uuid", "name": "title", "status": "state", "__isregistered": "registered", "created_at": "created",
    "record": "body", "tag_image": "image", "tag_key": "key", "tag_value": "value", "member_image": "image",
    "member_id": "project", "member_status": "status", "property_image": "image", "property_name": "name",
    "property_value": "value", "property_is_true": "is_true"})


@pytest.fixture
def service() -> Iterator[sa.Engine]:
    import sqlite3

    conn = sqlite3.connect(":memory:")
    db.load_catalog(conn, CATALOG, schema=SERVICE_SCHEMA)
    engine = engine_on(conn)
    yield engine
    engine.dispose(close=False)
    conn.close()


def handler(session: Session, raw: str, context: Context | None) -> tuple[list[str], str | None]:
    """What a service's list handler does with its own select() on its own model."""
    q = imgfilter.check(raw)
    stmt = (sa.select(VmImage).where(where(q, context, SERVICE)).where(after(session, q, context, SERVICE))
            .order_by(*order_by(q, SERVICE)).limit(limit(q)))
    rows = session.scalars(stmt).all()
    shown = rows[:q.limit] if q.limit is not None else rows
    more = q.limit is not None and len(rows) > q.limit
    return [r.uuid for r in shown], (shown[-1].uuid if more and shown else None)


def _ids_walk(run: Any, query: str, context: Context | None) -> Any:
    """(ids, next_marker) of every page following next_marker, or the error code."""
    out = []
    marker = None
    try:
        for _ in range(len(RECORDS) + 2):
            ids, marker = run(query + (f"&marker={marker}" if marker else ""), context)
            out.append((ids, marker))
            if marker is None:
                return out
    except QueryError as e:
        return e.code
    raise AssertionError("the walk did not end")


def _memory(query: str, context: Context | None) -> tuple[list[str], str | None]:
    p = get("memory").page(CATALOG, imgfilter.check(query), context)
    return p.ids, p.next_marker


@pytest.mark.parametrize("query", [q for q in QUERIES if "__support_kvm" not in q])  # not in the model
def test_orm_select_with_the_clauses_walks_as_memory(service: sa.Engine, query: str) -> None:
    with Session(service) as session:
        for context in CONTEXTS:
            expected = _ids_walk(_memory, query, context)
            assert _ids_walk(partial(handler, session), query, context) == expected, (query, context)
            got = outcome(lambda c=context: page(session, query, c, tables=SERVICE))
            assert got == outcome(lambda c=context: get("memory").page(CATALOG, imgfilter.check(query), c))
            # on the Engine itself: a connection of its own, the same caller and tables
            assert outcome(lambda c=context: page(service, query, c, tables=SERVICE)) == got, (query, context)


def _clause_page(conn: Any, raw: str, context: Context | None) -> tuple[list[str], str | None]:
    """One page read with where / after / order_by / limit in a select() of the reference tables."""
    t = reference()
    q = imgfilter.check(raw)
    stmt = (sa.select(t.col("id")).where(where(q, context), after(conn, q, context))
            .order_by(*order_by(q)).limit(limit(q)))
    ids = [str(i) for i in conn.scalars(stmt).all()]
    shown = ids[:q.limit] if q.limit is not None else ids
    more = q.limit is not None and len(ids) > q.limit
    return shown, (shown[-1] if more and shown else None)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_clauses_in_one_statement_walk_as_memory_on_every_engine(loaded: dict[str, Any], engine: str) -> None:
    """where / after / order_by / limit in a select() of the reference tables:
    missing values smallest, the keyset after a marker with or without a sort value."""
    if engine not in loaded:
        pytest.skip(f"no {engine} server")
    with engine_on(loaded[engine]).connect() as conn:
        one = partial(_clause_page, conn)

        for query in [*QUERIES, "sort_key=name&sort_dir=asc&limit=1", "sort_key=size&sort_dir=desc&limit=1"]:
            for context in CONTEXTS:
                assert _ids_walk(one, query, context) == _ids_walk(_memory, query, context), (query, context)
        conn.rollback()


def test_naive_datetime_columns_hold_utc() -> None:
    """A service's DateTime column without a time zone holds naive UTC, and is
    compared so whatever the session's time zone (PostgreSQL would otherwise
    read it in the session's zone against an aware value)."""

    class Base2(DeclarativeBase):
        pass

    class Img(Base2):
        __tablename__ = "naive_images"
        uuid: Mapped[str] = mapped_column(sa.Text, primary_key=True)
        registered: Mapped[bool] = mapped_column(sa.Boolean)
        created: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=False))

    tables = Tables(Img, columns={"id": "uuid", "__isregistered": "registered", "created_at": "created"})
    with isolated("postgresql") as conn:
        conn.execute("SET TIME ZONE 'Asia/Shanghai'")
        conn.commit()
        engine = engine_on(conn)
        Base2.metadata.create_all(engine)
        with Session(engine) as session:
            session.add_all([Img(uuid=uid(i), registered=True, created=dt.datetime(2024, 1, 1, i)) for i in range(4)])
            session.commit()
            q = imgfilter.check("created_at=gte:2024-01-01T09:00:00%2B08:00&sort_key=id&sort_dir=asc")  # 01:00Z
            stmt = sa.select(Img.uuid).where(where(q, None, tables)).order_by(*order_by(q, tables))
            assert list(session.scalars(stmt)) == [uid(1), uid(2), uid(3)]
        engine.dispose(close=False)


def test_orm_marker_errors(service: sa.Engine) -> None:
    with Session(service) as session:
        private = next(r["id"] for r in RECORDS if r.get("visibility") == "private" and r.get("owner") == P1)
        for ctx in (Context(project_id=P2),):
            with pytest.raises(QueryError) as e:
                after(session, imgfilter.check(f"marker={private}"), ctx, SERVICE)
            assert e.value.code == "IMG.0027"
        assert after(session, imgfilter.check(f"marker={private}"), Context(project_id=P1), SERVICE) is not None


def test_tables_name_what_is_missing() -> None:
    with pytest.raises(ValueError, match="no imgfilter name"):
        Tables(VmImage, VmTag, VmMember, VmProperty, columns={"titel": "title"})
    with pytest.raises(ValueError, match=r"id: 'VmImage' has no mapped column attribute 'id'"):
        Tables(VmImage, VmTag, VmMember, VmProperty)  # VmImage names it `uuid`
    with pytest.raises(ValueError, match=r"__os_type: 'VmImage' has no mapped column attribute 'os_type'"):
        where(imgfilter.check("__os_type=Linux"), None, SERVICE)  # a field the model does not have
    with pytest.raises(ValueError, match="record: 'VmImage' has no mapped column attribute 'nope'"):
        Tables(VmImage, VmTag, VmMember, VmProperty, columns={**SERVICE.columns, "record": "nope"})
    no_record = Tables(VmImage, VmTag, VmMember, VmProperty, columns={
        k: v for k, v in SERVICE.columns.items() if k != "record"})  # the clauses do not need it
    assert where(imgfilter.check("name=x"), None, no_record) is not None
    with pytest.raises(ValueError, match=r"page\(\) reads each image's wire form as JSON from a record column"):
        page(sa.create_engine("sqlite://"), "", tables=no_record)
    images_only = Tables(VmImage, columns={"id": "uuid", "name": "title", "__isregistered": "registered"})
    assert where(imgfilter.check("name=x"), None, images_only) is not None
    with pytest.raises(ValueError, match=r"no members table mapped, and the query or the caller's scope reads it"):
        where(imgfilter.check("name=x"), Context(project_id=P1), images_only)
    with pytest.raises(ValueError, match=r"no tags table mapped"):
        where(imgfilter.check("tag=k"), None, images_only)
    md = metadata().tables
    with pytest.raises(ValueError, match="table images has no column 'image_uuid'"):
        Tables(md["images"], md["image_tags"], md["image_members"], md["image_properties"],
               columns={"id": "image_uuid"})


# ---- statements: bound values only, the DB-API target's index-range keyset -----------------

def _sql(engine: str, stmt: Any) -> tuple[str, dict[str, Any]]:
    from sqlalchemy.dialects import mysql, postgresql, sqlite

    dialect = {"sqlite": sqlite, "postgresql": postgresql, "mysql": mysql}[engine].dialect()
    compiled = stmt.compile(dialect=dialect)
    return str(compiled), dict(compiled.params)


@pytest.mark.parametrize("engine", ENGINES)
def test_values_are_bound_and_the_text_depends_on_the_shape_only(engine: str) -> None:
    from imgfilter.db.dialects import get as get_dialect

    evil = "x' OR '1'='1"
    texts = []
    for value in (evil, "plain"):
        q = imgfilter.check(f"name={value}&tag=k={'v'}&sort_key=name&limit=5&marker={uid(1)}")
        plan = compile_sqlalchemy(lower(q, Context(project_id=P1)), reference(), get_dialect(engine))
        stmts = [plan.marker_lookup] + [s for seg in plan.segments for s in (seg.first, seg.after)]
        sqls = [_sql(engine, s) for s in stmts]
        texts.append([t for t, _ in sqls])
        assert all("OR '1'" not in t for t, _ in sqls)
        assert any(value in p.values() for _, p in sqls)
    assert texts[0] == texts[1]


@pytest.mark.parametrize(("engine", "row_value"), [("sqlite", True), ("postgresql", True), ("mysql", False)])
def test_keyset_pages_are_the_dbapi_targets(engine: str, row_value: bool) -> None:
    from imgfilter.db.dialects import get as get_dialect

    q = imgfilter.check(f"sort_key=name&sort_dir=asc&limit=5&marker={uid(1)}")
    plan = compile_sqlalchemy(lower(q), reference(), get_dialect(engine))
    nulls, values = plan.segments  # ascending: the images with no name come first
    assert nulls.null and not values.null
    first, deep = _sql(engine, values.first)[0], _sql(engine, values.after)[0]
    assert re.search(r"images\.name IS NOT NULL", first)
    assert re.search(r"ORDER BY images\.name ASC, images\.id ASC", " ".join(first.split()))
    assert bool(re.search(r"\(images\.name, images\.id\) >", deep)) is row_value
    assert bool(re.search(r"images\.name > .* OR images\.name = .* AND images\.id >", deep)) is not row_value
    null_first = _sql(engine, nulls.first)[0]
    assert "images.name IS NULL" in null_first and "ORDER BY images.id ASC" in " ".join(null_first.split())


def test_page_on_a_connection_leaves_it_as_found(service: sa.Engine) -> None:
    with service.connect() as conn:
        page(conn, "sort_key=name&limit=1", tables=SERVICE)
        assert not conn.in_transaction()  # its own short transaction, committed
        conn.begin()
        page(conn, "sort_key=name&limit=1", tables=SERVICE)
        assert conn.in_transaction()  # the caller's, left open
        conn.rollback()


# ---- the clauses and the target's sources: cases mutation testing found unasked ---------------

@pytest.mark.parametrize("engine", ENGINES)
def test_the_clauses_walk_past_markers_with_no_sort_value(loaded: dict[str, Any], engine: str) -> None:
    """Pages of one image, so that every image, those with no sort value among
    them, is a marker in turn, in both directions."""
    if engine not in loaded:
        pytest.skip(f"no {engine} server")
    with engine_on(loaded[engine]).connect() as conn:
        one = partial(_clause_page, conn)

        for key in ("size", "disk_format", "created_at", "id"):
            for direction in ("asc", "desc"):
                query = f"sort_key={key}&sort_dir={direction}&limit=1"
                walked = _ids_walk(one, query, None)
                assert walked == _ids_walk(_memory, query, None), query
        conn.rollback()


def test_clauses_over_the_metadata_tables_and_a_copy_of_columns() -> None:
    """A ``Tables`` of ``Table`` objects (not ORM classes) reads the reference names,
    side tables included; it keeps its own read-only copy of ``columns``."""
    md = metadata()
    images, tags, members, props = (md.tables[n] for n in ("images", "image_tags", "image_members",
                                                           "image_properties"))
    columns = {"record": "record"}
    t = Tables(images, tags, members, props, columns=columns)
    columns["name"] = "nope"
    assert dict(t.columns) == {"record": "record"}
    with pytest.raises(TypeError):
        t.columns["name"] = "title"  # type: ignore[index]
    engine = sa.create_engine("sqlite://")
    md.create_all(engine)
    with engine.connect() as conn:
        db_conn = conn.connection.driver_connection
        assert db_conn is not None
        db.load_catalog(db_conn, CATALOG)
        for query, context in [("tag=env", None), ("name=x", Context(project_id=P1)), ("__support_kvm=true", None)]:
            q = imgfilter.check(query)
            got = conn.scalars(sa.select(images.c.id).where(where(q, context, t)).order_by(*order_by(q, t))).all()
            assert [str(i) for i in got] == _memory(query, context)[0], query
    unknown = "Tables: no imgfilter name(s) titel, zzz: the names are the record fields, tag_image, tag_key,"
    with pytest.raises(ValueError) as info:
        Tables(images, columns={"zzz": "z", "titel": "title"})
    assert str(info.value).startswith(unknown) and str(info.value).endswith(", property_is_true and record")


def test_where_for_a_query_with_no_condition_is_true_without_a_warning() -> None:
    """An administrator's query with no filters: ``where`` is a condition (true),
    not an empty ``and_()``, which SQLAlchemy deprecates."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cond = where(imgfilter.check(""), Context(is_admin=True))
        sql = str(sa.select(reference().col("id")).where(cond).compile(dialect=sa.create_engine("sqlite://").dialect))
    assert sql.endswith("WHERE 1 = 1")


def test_order_by_id_is_one_term_and_limit_is_one_more() -> None:
    assert [str(c) for c in order_by(imgfilter.check("sort_key=id&sort_dir=asc"))] == ["images.id ASC"]
    assert [str(c) for c in order_by(imgfilter.check("sort_key=name"))] == [
        "images.name IS NOT NULL DESC", "images.name DESC", "images.id DESC"]
    assert limit(imgfilter.check("limit=5")) == 6
    assert limit(imgfilter.check("limit=0")) == 1


def _driver_is_closed(conn: Any) -> bool:
    try:
        conn.execute("SELECT 1")
    except Exception:  # sqlite3.ProgrammingError: Cannot operate on a closed database
        return True
    return False


def test_closing_a_source_closes_what_the_target_opened_only(tmp_path: Any) -> None:
    """``close`` closes the DB-API connection the target opened (``load``,
    ``bundled``, ``connect``) and leaves an attached caller's connection open."""
    path = tmp_path / "c.db"
    made = db.connect(f"sqlite:///{path}", create=True)
    db.load_catalog(made, CATALOG)
    for source in (TARGET.load(CATALOG), TARGET.bundled(), TARGET.connect(f"sqlite:///{path}")):
        driver = source.connection.driver_connection
        assert not _driver_is_closed(driver)
        TARGET.close(source)
        assert _driver_is_closed(driver)
    attached = TARGET.attach(made)
    assert TARGET.page(attached, imgfilter.check("limit=1")).ids
    TARGET.close(attached)
    assert not _driver_is_closed(made)
    assert imgfilter.run("sort_key=id", CATALOG).ids == [
        str(r[0]) for r in made.execute("SELECT id FROM images ORDER BY id DESC").fetchall()]
    made.close()


def test_metadata_asks_mysql_for_innodb_on_every_table() -> None:
    """A server whose default engine is not InnoDB (MyISAM has no transactions)
    still gets InnoDB tables, as ``create_schema`` makes them."""
    from sqlalchemy.dialects import mysql
    from sqlalchemy.schema import CreateTable

    for table in metadata().tables.values():
        ddl = str(CreateTable(table).compile(dialect=mysql.dialect())).strip()
        assert ddl.endswith("ENGINE=InnoDB"), table.name


def test_after_is_an_index_range_keyset_on_sqlite() -> None:
    """``after`` spells the DB-API target's keyset: one row-value comparison on
    (sort column, id) that an index on both seeks to, the missing values apart,
    and the id alone for ``sort_key=id``."""
    src = TARGET.load(CATALOG)
    try:
        first = sorted(r["id"] for r in RECORDS)[0]
        sized = next(r["id"] for r in RECORDS if r.get("size") is not None)
        for query, sql in [
            (f"sort_key=name&sort_dir=asc&marker={first}",
             "images.name IS NOT NULL AND (images.name, images.id) > (?, ?)"),
            (f"sort_key=size&sort_dir=desc&marker={sized}", "(images.size, images.id) < (?, ?) OR images.size IS NULL"),
            (f"sort_key=id&marker={first}", "images.id < ?"),
        ]:
            assert str(after(src, imgfilter.check(query)).compile(dialect=src.dialect)) == sql, query
    finally:
        TARGET.close(src)
    TARGET.close(src)  # closing twice (a service's finally after its own close) is harmless


def test_utc_time_columns_store_none_and_read_naive_values_as_utc() -> None:
    """``UtcTime`` in a service's model: ``None`` is stored as NULL, and a naive
    value read back is UTC whatever the process's time zone."""
    with local_time_zone("Asia/Shanghai"):
        md = sa.MetaData()
        t = sa.Table("times", md, sa.Column("k", sa.Integer, primary_key=True), sa.Column("at", UtcTime()))
        engine = sa.create_engine("sqlite://")
        md.create_all(engine)
        with engine.begin() as conn:
            conn.execute(t.insert(), [{"k": 1, "at": None}, {"k": 2, "at": dt.datetime(2024, 1, 1, 8, tzinfo=dt.UTC)}])
            conn.execute(sa.text("INSERT INTO times VALUES (3, '2024-01-01 08:00:00')"))  # naive text
            got = {k: at for k, at in conn.execute(sa.select(t.c.k, t.c.at))}
        assert got == {1: None, 2: dt.datetime(2024, 1, 1, 8, tzinfo=dt.UTC),
                       3: dt.datetime(2024, 1, 1, 8, tzinfo=dt.UTC)}
        assert all(v is None or v.tzinfo is dt.UTC for v in got.values())


def test_tables_of_something_that_is_not_a_table_or_model() -> None:
    """A table's name given for the table itself: a ``ValueError`` naming it."""
    with pytest.raises(ValueError, match=r"^id: 'images' has no mapped column attribute 'id'"):
        Tables("images")


def test_closing_an_attached_source_leaves_the_callers_transaction_open() -> None:
    """The engine over a caller's connection neither rolls it back nor closes it."""
    conn = db.connect("sqlite://")
    db.load_catalog(conn, CATALOG)
    conn.commit()
    source = TARGET.attach(conn)
    TARGET.page(source, imgfilter.check("limit=1"))
    conn.execute("DELETE FROM image_tags")  # the caller's own work, not committed yet
    TARGET.close(source)
    assert conn.in_transaction
    assert conn.execute("SELECT count(*) FROM image_tags").fetchone() == (0,)
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM image_tags").fetchone() != (0,)
    conn.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_reference_types_in_a_services_table_on_every_engine(engine: str) -> None:
    """``ExactText`` and ``UtcTime`` columns of a service's own table: NULL in and
    out, text byte for byte, and an instant read back in UTC whatever the
    session's time zone (PostgreSQL hands back its session zone's offset)."""
    md = sa.MetaData()
    t = sa.Table("typed", md, sa.Column("k", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("name", ExactText()), sa.Column("at", UtcTime()))
    at = dt.datetime(2024, 1, 1, 8, 0, 0, 123456, tzinfo=dt.UTC)
    with isolated(engine) as conn:
        sa_engine = engine_on(conn)
        with sa_engine.connect() as c:
            if engine == "postgresql":
                c.exec_driver_sql("SET TIME ZONE 'Asia/Shanghai'")
            md.create_all(c)
            c.execute(t.insert(), [{"k": 1, "name": None, "at": None}, {"k": 2, "name": "Ünï ß", "at": at}])
            rows = {k: (name, when) for k, name, when in c.execute(sa.select(t.c.k, t.c.name, t.c.at))}
            c.rollback()
        sa_engine.dispose(close=False)
    assert rows == {1: (None, None), 2: ("Ünï ß", at)}
    assert rows[2][1].tzinfo is dt.UTC


@pytest.mark.parametrize("engine", ENGINES)
def test_tables_reflected_from_the_database_walk_as_memory(loaded: dict[str, Any], engine: str) -> None:
    """A service that reflects imgfilter's tables (``autoload_with``) gets the
    database's own column types: on MySQL/MariaDB ``VARBINARY`` ids and a
    ``LONGBLOB`` record, which the driver hands back as bytes.  The pages, and
    every ``next_marker`` (text, fed back as the next marker), are memory's."""
    if engine not in loaded:
        pytest.skip(f"no {engine} server")
    with engine_on(loaded[engine]).connect() as conn:
        md = sa.MetaData()
        s = DEFAULT_SCHEMA
        tables = Tables(images=sa.Table(s.images, md, autoload_with=conn),
                        tags=sa.Table(s.tags, md, autoload_with=conn),
                        members=sa.Table(s.members, md, autoload_with=conn),
                        properties=sa.Table(s.properties, md, autoload_with=conn))
        if engine == "mysql":
            raw = conn.execute(sa.select(tables.col("id"), tables.col("record")).limit(1)).one()
            assert isinstance(raw[0], bytes) and isinstance(raw[1], bytes)  # what this test is about
        conn.rollback()
        memory = get("memory")
        for query in QUERIES:
            for context in CONTEXTS:
                got = walk(lambda q, c: page(conn, q, c, tables=tables), query, context)
                assert got == walk(partial(memory.page, CATALOG), query, context), (engine, query, context)
                assert all(isinstance(p[2], str) for p in got if p[0] == "ok" and p[2] is not None)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_page_reads_in_a_read_transaction_of_its_own(loaded: dict[str, Any], engine: str) -> None:
    """As the DB-API target: the page's statements run in one transaction it
    began (on PostgreSQL REPEATABLE READ, READ ONLY, without a second BEGIN after
    the one psycopg sends itself, which the server would log as a warning), and
    it is ended after."""
    if engine not in loaded:
        pytest.skip(f"no {engine} server")
    raw = loaded[engine]
    d = DIALECTS[engine]
    notices: list[str] = []

    def notice(n: Any) -> None:
        notices.append(str(n.message_primary))

    if engine == "postgresql":
        raw.add_notice_handler(notice)
    seen: list[Any] = []

    def before(*args: Any) -> None:
        if not seen:  # the first statement of the page
            seen.append(d.in_transaction(raw))
            if engine == "postgresql":
                cur = raw.cursor()
                cur.execute("SHOW transaction_isolation")
                seen.append(cur.fetchone()[0])
                cur.execute("SHOW transaction_read_only")
                seen.append(cur.fetchone()[0])

    try:
        with engine_on(raw).connect() as conn:
            sa.event.listen(conn, "before_cursor_execute", before)
            assert page(conn, "sort_key=name&limit=2").ids
            assert not conn.in_transaction() and not d.in_transaction(raw)
    finally:
        if engine == "postgresql":
            raw.remove_notice_handler(notice)  # the connection is the module's: leave it as found
    assert seen == ([True, "repeatable read", "on"] if engine == "postgresql" else [True])
    assert notices == []


def test_naive_utc_is_bound_whatever_the_local_time_zone() -> None:
    """A time is turned into naive UTC for a ``DateTime`` column without time
    zone on a machine whose local zone is not UTC (not into local wall time)."""
    md = sa.MetaData()
    t = sa.Table("naive", md, sa.Column("id", sa.Text, primary_key=True), sa.Column("isregistered", sa.Boolean),
                 sa.Column("created_at", sa.DateTime(timezone=False)))
    tables = Tables(t)
    q = imgfilter.check("created_at=gte:2024-01-01T09:00:00%2B08:00&sort_key=id&sort_dir=asc")  # 01:00Z
    with local_time_zone("Asia/Shanghai"):
        sa_engine = sa.create_engine("sqlite://")
        with sa_engine.connect() as conn:
            md.create_all(conn)
            conn.execute(t.insert(), [{"id": uid(i), "isregistered": True, "created_at": dt.datetime(2024, 1, 1, i)}
                                      for i in range(4)])
            got = list(conn.scalars(sa.select(t.c.id).where(where(q, None, tables)).order_by(*order_by(q, tables))))
        sa_engine.dispose()
    assert got == [uid(1), uid(2), uid(3)]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_record_column_typed_json_is_read_as_the_image(loaded: dict[str, Any], engine: str) -> None:
    """A service whose model types the record column as ``JSON`` gets each
    record back as a dict from SQLAlchemy: the pages are memory's still."""
    if engine not in loaded:
        pytest.skip(f"no {engine} server")
    with engine_on(loaded[engine]).connect() as conn:
        md = sa.MetaData()
        s = DEFAULT_SCHEMA
        images = sa.Table(s.images, md, sa.Column(s.record, sa.JSON), autoload_with=conn)
        tables = Tables(images=images, tags=sa.Table(s.tags, md, autoload_with=conn),
                        members=sa.Table(s.members, md, autoload_with=conn),
                        properties=sa.Table(s.properties, md, autoload_with=conn))
        record = conn.execute(sa.select(images.c[s.record]).limit(1)).scalar()
        # psycopg decodes JSON only from json/jsonb columns: over TEXT SQLAlchemy hands the text on
        assert isinstance(record, str if engine == "postgresql" else dict)
        conn.rollback()
        memory = get("memory")
        for query in QUERIES[:6]:
            got = walk(lambda q, c: page(conn, q, c, tables=tables), query, None)
            assert got == walk(partial(memory.page, CATALOG), query, None), (engine, query)


def test_engine_of_names_mariadb_and_refuses_other_dialects() -> None:
    assert engine_of(sa.create_engine("mariadb+pymysql://").dialect) is MYSQL  # SQLAlchemy's "mariadb"
    with pytest.raises(DatabaseError) as e:
        engine_of(cast(Any, SimpleNamespace(name="oracle")))
    assert str(e.value) == "unsupported SQLAlchemy dialect 'oracle': use sqlite, postgresql or mysql/mariadb"

"""What a mutation run of the target modules found unasserted.

``lower()`` today puts tag, property and flag tests only at the top of a
conjunction, and never nests a conjunction inside a disjunction; but the
lowered form is the contract between ``lower()`` and every target, and a target
must spell every node wherever it sits.  A property builds predicate trees of
every node at any depth and holds each target's spelling to a reference
evaluator written here from the node docstrings.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import imgfilter
from imgfilter import Options, QueryError, db, targets
from imgfilter.db.connect import DatabaseError
from imgfilter.db.dialects import SQLITE
from imgfilter.db.schema import DEFAULT_SCHEMA, Schema
from imgfilter.io.records import Catalog, Image
from imgfilter.lowered.core import (
    ALWAYS,
    AllOf,
    AnyOf,
    Compare,
    HasFlag,
    HasMember,
    HasProperty,
    HasTag,
    In,
    IsNull,
    Lowered,
    Never,
    Op,
    Order,
    Pred,
)
from imgfilter.targets import memory, sql
from imgfilter.targets import sqlalchemy as sa_target

from .dbs import server_url
from .fixtures import P1, P2, RECORDS, rec

CATALOG = Catalog.from_records([
    *RECORDS,
    rec(9, name="flags", visibility="public", owner=P1, status="active", size=7, __support_s4l="false",
        __support_fpga=True, custom_prop="blue", tags=["env=dev", "k=v"],
        members=[{"member_id": P2, "status": "accepted"}]),
    rec(10, name="flags too", visibility="private", owner=P2, status="queued", __support_fpga="true",
        custom_prop="7", tags=["env=prod"], members=[{"member_id": P1, "status": "accepted"}]),
])

AT = dt.datetime(2018, 9, 6, 14, 3, 27, tzinfo=dt.UTC)
LEAVES: list[Pred] = [
    Compare("status", Op.EQ, "active"), Compare("status", Op.NEQ, "active"), Compare("size", Op.GT, 5),
    Compare("size", Op.LTE, 5), Compare("name", Op.LT, "shared one"), Compare("created_at", Op.GTE, AT),
    Compare("protected", Op.EQ, True), Compare("protected", Op.EQ, False), In("status", ("active", "queued")),
    IsNull("size"), IsNull("enterprise_project_id"), HasTag("k", None), HasTag("k", "v"), HasTag("k", ""),
    HasTag("env", "prod"), HasMember(P2, ("accepted",)), HasMember(P2, ("pending", "accepted")),
    HasMember(P1, ("accepted",)), HasProperty("custom_prop", "blue"), HasProperty("custom_prop", "7"),
    HasFlag("__support_s4l"), HasFlag("__support_fpga"), Never(), ALWAYS,
]


def holds(pred: Pred, img: Image) -> bool:
    """The meaning of each node, as its docstring in ``lowered/core.py`` states it."""
    match pred:
        case Compare(field, op, value):
            v = img.values[field]
            return v is not None and op.fn(v, value)
        case In(field, values):
            return img.values[field] is not None and img.values[field] in values
        case IsNull(field):
            return img.values[field] is None
        case HasTag(key, None):
            return any(k == key for k, _ in img.tags)
        case HasTag(key, value):
            return (key, value) in img.tags
        case HasMember(project, statuses):
            return img.members.get(project) in statuses
        case HasProperty(name, value):
            return img.props.get(name) == value
        case HasFlag(name):
            return name in img.flags
        case AllOf(parts):
            return all(holds(p, img) for p in parts)
        case AnyOf(parts):
            return any(holds(p, img) for p in parts)
        case Never():
            return False
    raise AssertionError(pred)


def trees(leaves: st.SearchStrategy[Pred]) -> st.SearchStrategy[Pred]:
    return st.one_of(st.lists(leaves, max_size=3).map(lambda ps: AllOf(tuple(ps))),
                     st.lists(leaves, min_size=2, max_size=3).map(lambda ps: AnyOf(tuple(ps))))


PREDICATES = st.recursive(st.sampled_from(LEAVES), trees, max_leaves=10)


def by_id(pred: Pred) -> Lowered:
    return Lowered(pred, ALWAYS, Order("id", False))


def memory_ids(pred: Pred) -> list[str]:
    plan = memory._compile_plan(by_id(pred))
    return [img.id for img in CATALOG.images if plan.predicate(img)]


def sql_ids(conn: sqlite3.Connection, pred: Pred) -> list[str]:
    stmt = sql._segment(by_id(pred), False, SQLITE, DEFAULT_SCHEMA, False).first
    return [sql._id(row[0]) for row in conn.execute(stmt.sql, stmt.bind({}))]


def expected(pred: Pred) -> list[str]:
    return sorted(img.id for img in CATALOG.images if holds(pred, img))


_CONN: list[sqlite3.Connection] = []


def loaded() -> sqlite3.Connection:
    if not _CONN:
        conn = sql.TARGET.load(CATALOG)
        assert isinstance(conn, sqlite3.Connection)
        _CONN.append(conn)
    return _CONN[0]


def test_the_leaves_tell_the_images_apart() -> None:
    # the property below is only as good as its leaves: each one holds for some
    # images and not for others (ALWAYS and Never aside)
    for leaf in LEAVES:
        if leaf not in (ALWAYS, Never()):
            assert 0 < len(expected(leaf)) < len(CATALOG.images), leaf


def sqlalchemy_ids(conn: sqlite3.Connection, pred: Pred) -> list[str]:
    import sqlalchemy as sa

    from imgfilter.targets.sqlalchemy import _Spell, engine_on, reference

    t = reference()
    with engine_on(conn).connect() as c:
        ids = [str(i) for i in c.scalars(sa.select(t.col("id")).where(_Spell(t).pred(pred)))]
        c.rollback()
    return sorted(ids)


@given(PREDICATES)
def test_every_node_at_any_depth_means_the_same_in_every_target(pred: Pred) -> None:
    want = expected(pred)
    assert sorted(memory_ids(pred)) == want
    assert sql_ids(loaded(), pred) == want


@given(PREDICATES)
def test_every_node_at_any_depth_means_the_same_through_sqlalchemy(pred: Pred) -> None:
    assert sqlalchemy_ids(loaded(), pred) == expected(pred)


def test_side_tests_and_conjunctions_nested_in_a_disjunction() -> None:
    # the shapes lower() does not produce today, spelled out (the property finds them too)
    cases: list[tuple[Pred, Any]] = [
        (AnyOf((HasTag("env", "dev"), HasFlag("__support_s4l"))), [9, 3]),
        (AnyOf((HasProperty("custom_prop", "7"), Never())), [5, 10]),
        (AnyOf((AllOf((HasTag("k", "v"), Compare("status", Op.EQ, "active"))), IsNull("owner"))), [1, 9]),
        (AnyOf((AllOf(()), Never())), list(range(1, 11))),
        (AllOf((AnyOf((HasTag("k", None), HasFlag("__support_fpga"))), Compare("size", Op.LT, 10))), [3, 9]),
    ]
    conn = loaded()
    for pred, numbers in cases:
        ids = sorted(rec(n)["id"] for n in numbers)
        assert expected(pred) == ids, pred
        assert sorted(memory_ids(pred)) == ids, pred
        assert sql_ids(conn, pred) == ids, pred
        assert sqlalchemy_ids(conn, pred) == ids, pred


# ---- sql.run: the options of a text query, and the catalog check of a named schema ----------

def test_sql_run_checks_text_with_the_callers_options() -> None:
    conn = loaded()
    query = "custom_prop=blue&sort_key=id&sort_dir=asc"
    with pytest.raises(QueryError) as e:
        sql.run(conn, query)  # unknown parameters are refused by default
    assert e.value.errors[0].param == "custom_prop"
    options = Options(unknown="property")
    assert sql.run(conn, query, options=options).ids == [rec(4)["id"], rec(9)["id"]]
    assert sql.run(conn, query, options=options) == memory.run(query, CATALOG, options=options)


def test_sql_run_verifies_the_catalog_of_the_schema_it_reads(tmp_path: Path) -> None:
    # a database holding only a catalog under other table names, opened afresh
    # (load_catalog's own connection counts as verified): run checks that schema
    schema = Schema(images="imgs", tags="img_tags", members="img_members", properties="img_props")
    path = tmp_path / "named.db"
    loader = sqlite3.connect(path)
    db.load_catalog(loader, CATALOG, schema=schema)
    loader.close()
    conn = sqlite3.connect(path)
    try:
        page = sql.run(conn, "sort_key=name&sort_dir=asc&limit=4", schema=schema)
        assert page == memory.run("sort_key=name&sort_dir=asc&limit=4", CATALOG)
        with pytest.raises(DatabaseError):
            sql.run(conn, "limit=1")  # the default tables are not there
    finally:
        conn.close()
    conn = sqlite3.connect(path)  # the same through SQLAlchemy, on the schema's tables
    try:
        with sa_target.engine_on(conn).connect() as sa_conn:
            got = sa_target.page(sa_conn, "sort_key=name&sort_dir=asc&limit=4", tables=sa_target.reference(schema))
        assert got == memory.run("sort_key=name&sort_dir=asc&limit=4", CATALOG)
    finally:
        conn.close()


# ---- the registry and the interface's defaults ------------------------------------------------

def test_an_unknown_target_lists_the_registered_ones() -> None:
    with pytest.raises(targets.TargetUnavailable) as e:
        targets.get("nope")
    assert str(e.value) == f"no target 'nope'; the targets are {', '.join(targets.REGISTRY)}"
    assert "memory, sql" in str(e.value)


def test_available_lists_every_installed_target_past_a_missing_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert targets.available() == {name: targets.get(name) for name in targets.REGISTRY}
    # a target whose extra is missing, registered first, hides none of the others
    installed = list(targets.available())
    assert installed[:2] == ["memory", "sql"]
    ghost = MappingProxyType({"ghost": targets.Entry("imgfilter.targets.no_such_module", "ghost"),
                              **targets.REGISTRY})
    monkeypatch.setattr(targets, "REGISTRY", ghost)
    assert list(targets.available()) == installed


def test_a_target_with_its_own_store_refuses_a_connection() -> None:
    with pytest.raises(TypeError, match=r"^the memory target does not run on a database connection$"):
        memory.TARGET.attach(loaded())


@pytest.mark.parametrize("name", ["sql", "sqlalchemy"])
def test_close_releases_what_the_target_opened_and_leaves_an_attached_connection_open(
        name: str, tmp_path: Path) -> None:
    """``close`` releases what ``load``, ``connect`` and ``bundled`` opened; a
    caller's connection given to ``attach`` stays open for the caller (the SQL
    target closed it)."""
    target = targets.get(name)
    conn = sqlite3.connect(tmp_path / "c.db")
    db.load_catalog(conn, Catalog.from_records(RECORDS))
    source = target.attach(conn)
    assert target.page(source, imgfilter.check("limit=1")).ids
    target.close(source)
    assert conn.execute("SELECT count(*) FROM images").fetchone() == (len(RECORDS),)  # still open
    conn.close()
    for source in (target.load(Catalog.from_records(RECORDS)), target.bundled(),
                   target.connect(f"sqlite:///{tmp_path / 'c.db'}")):
        assert target.page(source, imgfilter.check("limit=1")).ids
        target.close(source)
        with pytest.raises(Exception, match="closed"):
            target.page(source, imgfilter.check("limit=1"))


class _CallersConnection(sqlite3.Connection):
    """A service's own SQLite connection class (``sqlite3.connect(factory=...)``)."""


def test_a_subclass_of_a_drivers_connection_is_that_drivers(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "c.db", factory=_CallersConnection)
    db.load_catalog(conn, Catalog.from_records(RECORDS))
    assert db.run(conn, "sort_key=id&sort_dir=asc").ids == sorted(r["id"] for r in RECORDS)
    conn.close()


@pytest.mark.parametrize("name", ["sql", "sqlalchemy"])
@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_a_source_on_a_server_closed_twice(name: str, engine: str) -> None:
    """A service's ``finally`` may close a source its own code closed already: no
    error (PyMySQL raises "Already closed" on a second ``close()`` of its own)."""
    target = targets.get(name)
    source = target.connect(server_url(engine))
    target.close(source)
    target.close(source)

"""Tests for what a mutation-testing sample found untested.

Each test here kills mutants that survived the rest of the suite: an empty
grant set, the time-range warning against a brute-force search, the SQL plan's
statements with and without a marker, and the MySQL/MariaDB keyset shape run
on SQLite (so it is covered without a MariaDB server).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

import imgfilter
from imgfilter import Context, db
from imgfilter.db.dialects import SQLITE
from imgfilter.front import params as P
from imgfilter.front.ast import format_time
from imgfilter.io.records import Catalog
from imgfilter.targets.sql import compile_sql

from .fixtures import RECORDS, uid
from .targets import Target

# ---- enterprise_project_id=all_granted_eps with no grants -----------------------------


def test_all_granted_eps_without_any_grant_matches_nothing(target: Target) -> None:
    nobody = Context(is_admin=True, granted_eps=frozenset())
    assert target("enterprise_project_id=all_granted_eps", nobody, None).ids == []
    # the same caller sees everything without the filter
    assert len(target("", nobody, None).ids) == len(RECORDS)


# ---- "no time satisfies" against brute force -------------------------------------------

BASE = dt.datetime(2018, 10, 28, 10, 0, 0, tzinfo=dt.UTC)
US = dt.timedelta(microseconds=1)
OPS = {"gt": lambda t, c: t > c, "gte": lambda t, c: t >= c, "lt": lambda t, c: t < c,
       "lte": lambda t, c: t <= c, "eq": lambda t, c: t == c, "neq": lambda t, c: t != c}


def _satisfiable(conds: list[tuple[str, dt.datetime]]) -> bool:
    """Some instant in the range every engine stores meets every condition.

    The set of solutions is an interval less a few points; if it is not empty,
    its least element is TIME_MIN or one microsecond after some condition's
    instant, so those candidates decide it.
    """
    candidates = {P.TIME_MIN, P.TIME_MAX}
    for _, c in conds:
        candidates |= {c + d for d in (-US, 0 * US, US) if (c, d) not in ((P.TIME_MIN, -US), (P.TIME_MAX, US))}
    return any(all(OPS[op](t, c) for op, c in conds) for t in candidates)


instants = st.integers(-3, 3).map(lambda n: BASE + n * US) | st.sampled_from([P.TIME_MIN, P.TIME_MAX])


@given(st.lists(st.tuples(st.sampled_from(sorted(OPS)), instants), min_size=1, max_size=5))
def test_empty_range_warning_is_exact(conds: list[tuple[str, dt.datetime]]) -> None:
    query = "&".join(f"created_at={op}:{format_time(c)}" for op, c in conds)
    q = imgfilter.check(query)
    warned = any("no time satisfies" in w.message for w in q.warnings)
    assert warned == (not _satisfiable(conds)), query


def test_a_satisfiable_instant_within_a_range_does_not_warn() -> None:
    q = imgfilter.check("created_at=eq:2017-06-01T00:00:00Z&created_at=lt:2018-01-01T00:00:00Z")
    assert q.warnings == ()


# ---- the SQL plan's statements ---------------------------------------------------------


def test_plan_without_a_marker_has_no_marker_statements() -> None:
    plan = compile_sql(imgfilter.check("sort_key=name&limit=2"))  # the default dialect: SQLite
    assert plan.dialect is SQLITE and plan.marker_lookup is None
    labels = [label for label, _ in plan.statements()]
    assert labels == ["images with a sort value: first page", "images with no sort value: first page"]
    assert all("?" in stmt.sql for _, stmt in plan.statements())


def test_plan_with_a_marker_looks_it_up_and_reads_after_it() -> None:
    plan = compile_sql(imgfilter.check(f"sort_key=name&sort_dir=asc&limit=2&marker={uid(3)}"))
    assert plan.marker_lookup is not None and uid(3) in plan.marker_lookup.params
    labels = [label for label, _ in plan.statements()]
    assert labels == ["marker lookup",
                      "images with no sort value: first page", "images with no sort value: after the marker",
                      "images with a sort value: first page", "images with a sort value: after the marker"]
    ids = compile_sql(imgfilter.check(f"sort_key=id&marker={uid(3)}")).statements()
    assert [label for label, _ in ids] == ["marker lookup", "images with a sort value: first page",
                                          "images with a sort value: after the marker"]


# ---- the MySQL/MariaDB keyset shape, run on SQLite -------------------------------------

EXPANDED = dataclasses.replace(SQLITE, row_values=False)


@pytest.mark.parametrize("key", P.SORT_KEYS)
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_expanded_keyset_walks_like_memory(key: str, direction: str) -> None:
    catalog = Catalog.from_records(RECORDS)
    conn = sqlite3.connect(":memory:")
    db.load_catalog(conn, catalog)
    query = f"sort_key={key}&sort_dir={direction}"
    after = dict(compile_sql(imgfilter.check(f"{query}&marker={uid(1)}"), EXPANDED).statements())
    assert key == "id" or " OR (" in after["images with a sort value: after the marker"].sql
    full = imgfilter.run(query, catalog).ids
    seen: list[str] = []
    marker = None
    while True:
        q = f"{query}&limit=2" + (f"&marker={marker}" if marker else "")
        page = db.run(conn, q, dialect=EXPANDED)
        assert page == imgfilter.run(q, catalog)
        seen.extend(page.ids)
        marker = page.next_marker
        if marker is None:
            break
    assert seen == full

"""Many tag, flag and property filters: right on every target, and cheap to plan.

Each of these filters reads a side table.  Spelled as one ``EXISTS`` each,
98 of them took PostgreSQL ~20 s to plan (twice per page).  The compiler
spells a few as ``EXISTS`` and groups the rest into one subquery per side
table, so the statement keeps a bounded number of subqueries.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import imgfilter
from imgfilter import Options
from imgfilter.targets.sql import compile_sql

from .fixtures import rec
from .targets import Target, everywhere, placed, placements

PROPERTY = Options(unknown="property", max_pairs=200, max_side_filters=200)
FLAGS = [f"__support_f{i}" for i in range(98)]  # 98 took PostgreSQL ~20 s to plan
TAGS = [f"t{i}=v{i}" for i in range(30)]
PROPS = [f"p{i}" for i in range(30)]

# 1 has every flag, tag and property; 2 lacks one of each kind; 3 has only duplicates
# of one tag's key with two values; 4 carries none.
MANY: list[dict[str, Any]] = [
    rec(1, tags=[*TAGS, "k=a", "k=b"], **{f: "true" for f in FLAGS}, **{p: f"x{p}" for p in PROPS}),
    rec(2, tags=TAGS[1:], **{f: True for f in FLAGS[1:]}, **{p: f"x{p}" for p in PROPS[1:]}),
    rec(3, tags=["k=a", "k=b"], **{FLAGS[0]: "TRUE"}),
    rec(4),
]


def _all_of(flags: list[str], tags: list[str], props: list[str]) -> str:
    return "&".join([f"{f}=true" for f in flags] + [f"tag={t}" for t in tags] + [f"{p}=x{p}" for p in props])


@pytest.fixture(scope="module")
def many_everywhere() -> Iterator[dict[str, Target]]:
    with everywhere(MANY) as (placements, runners):
        if "postgresql" in placements.engines:
            # a hang guard, not a speed bound: planning 100 filters used to take ~20 s
            conn = placements.engines["postgresql"]
            conn.cursor().execute("SET statement_timeout = '5s'")
            conn.commit()
        yield runners


@pytest.fixture(params=placements())
def many(request: pytest.FixtureRequest, many_everywhere: dict[str, Target]) -> Target:
    return placed(many_everywhere, request.param)


def _ids(target: Target, query: str) -> set[int]:
    return {int(i[-12:]) for i in target(query, None, PROPERTY).ids}


def test_over_a_hundred_side_filters_on_every_target(many: Target) -> None:
    assert _ids(many, _all_of(FLAGS, TAGS, PROPS)) == {1}
    assert _ids(many, _all_of(FLAGS[1:], TAGS[1:], PROPS[1:])) == {1, 2}
    # one missing flag, tag or property rules an image out
    assert _ids(many, _all_of(FLAGS, TAGS[1:], PROPS[1:])) == {1}
    assert _ids(many, _all_of(FLAGS[1:], TAGS, PROPS[1:])) == {1}
    assert _ids(many, _all_of(FLAGS[1:], TAGS[1:], PROPS)) == {1}


def test_grouped_conditions_count_each_filter(many: Target) -> None:
    # key-only and key=value on one key, repeated filters, two values of one key
    assert _ids(many, "tag=k&tag=k=a&tag=k=b&tag=k&tag=k=a") == {1, 3}
    assert _ids(many, "tag=k=a&tag=k=b&tag=k=c&tag=k&tag=k") == set()
    assert _ids(many, _all_of(FLAGS[:1], ["k=a", "k=b", "k", "k=a"], [])) == {1, 3}
    # two values asked of one property: no image holds both
    assert _ids(many, "p5=xp5&p5=other&p6=xp6&p7=xp7&p8=xp8") == set()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_subqueries_are_bounded_whatever_the_filter_count(dialect: str) -> None:
    def subqueries(n: int) -> int:
        q = imgfilter.check(_all_of(FLAGS[:n], TAGS[:n], PROPS[:n]), PROPERTY)
        return compile_sql(q, dialect).segments[0].first.sql.count("SELECT") - 1

    assert subqueries(1) == 3  # one EXISTS per filter: a tag, a flag and a property
    assert subqueries(30) == subqueries(10) <= 8


def test_statement_values_stay_bound_in_grouped_conditions() -> None:
    q = imgfilter.check("&".join(f"p{i}=y'{i}" for i in range(6)), PROPERTY)
    stmt = compile_sql(q, "postgresql").segments[0].first
    assert "y'" not in stmt.sql
    assert stmt.sql.count("%s") == len(stmt.params)
    # grouped: each value is bound twice, once to find the rows and once to count them
    assert stmt.params.count("y'5") == 2 and stmt.params.count("y'0") == 1

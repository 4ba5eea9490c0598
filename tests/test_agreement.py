"""The central promise: every target returns the same answer.

For generated (catalog, queries, callers), the in-memory, SQLite, PostgreSQL
and MariaDB targets must give the same ids in the same order, the same
``next_marker`` and the same error code.  Each catalog is loaded into the
databases once and then asked many queries.  Profiles: ``ci`` (default, 200
catalogs per property) and ``thorough`` (IMGFILTER_HYPOTHESIS_PROFILE=thorough,
20,000).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import imgfilter
from imgfilter import QueryError
from imgfilter.io.records import Catalog
from imgfilter.result import Page
from imgfilter.targets.sql import compile_sql

from .catalogs import Case, cases, catalogs
from .dbs import Databases
from .targets import Placements, Target

Outcome = tuple[Any, ...]


@pytest.fixture(scope="session")
def engines() -> Iterator[Placements]:
    with ExitStack() as stack:
        placements = Placements(Databases(stack))
        stack.callback(placements.close)
        yield placements


def outcome(run: Callable[[], Page]) -> Outcome:
    try:
        page = run()
    except QueryError as e:
        return ("error", e.code)
    return ("ok", page.ids, page.next_marker, page.images)


def check_case(runners: dict[str, Target], case: Case) -> Outcome:
    """Every placement's outcome equals the reference's (memory's)."""
    reference, *others = runners.items()
    expected = outcome(partial(reference[1], case.query, case.context, case.options))
    for name, run in others:
        got = outcome(partial(run, case.query, case.context, case.options))
        assert got == expected, f"{name} disagrees with {reference[0]} on {case}"
    return expected


@st.composite
def scenarios(draw: st.DrawFn, paged: bool = False) -> tuple[list[dict[str, Any]], list[Case]]:
    records = draw(catalogs())
    ids = [str(r["id"]).lower() for r in records]
    return records, draw(st.lists(cases(ids, paged), min_size=1, max_size=8))


def loaded(engines: Placements, scenario: tuple[list[dict[str, Any]], list[Case]]
           ) -> tuple[Catalog, dict[str, Target], list[Case]]:
    """The scenario's catalog, loaded into every placement once for all its cases."""
    records, case_list = scenario
    catalog = Catalog.from_records(records)
    return catalog, engines.load(catalog), case_list


@given(scenarios())
def test_every_target_gives_the_same_answer(engines: Placements,
                                            scenario: tuple[list[dict[str, Any]], list[Case]]) -> None:
    _, runners, case_list = loaded(engines, scenario)
    for case in case_list:
        note(repr(case))
        check_case(runners, case)


@given(scenarios(paged=True))
def test_page_walks_give_the_unpaged_answer(engines: Placements,
                                            scenario: tuple[list[dict[str, Any]], list[Case]]) -> None:
    catalog, runners, case_list = loaded(engines, scenario)
    for case in case_list:
        walk(runners, case, len(catalog))


def walk(runners: dict[str, Target], case: Case, size: int) -> None:
    """Following next_marker from the first page yields the unpaged result, on every placement."""
    unpaged_query = "&".join(p for p in case.query.lstrip("?").split("&") if not p.startswith("limit="))
    reference = next(iter(runners.values()))
    unpaged = outcome(partial(reference, unpaged_query, case.context, case.options))
    if unpaged[0] == "error":
        return
    for name, run in runners.items():
        seen: list[str] = []
        marker = None
        for _ in range(size + 2):
            page = run(case.query + (f"&marker={marker}" if marker else ""), case.context, case.options)
            seen.extend(page.ids)
            marker = page.next_marker
            if marker is None:
                break
        assert marker is None, f"{name}: the walk did not end"
        assert seen == unpaged[1], f"{name}: the walk of {case} differs from the unpaged result"


# ---- injection --------------------------------------------------------------------------

META = st.text(alphabet="'\";-/*\\%_ \tx\x7f😀é\u0301#()=", min_size=1, max_size=12)


@given(META, st.sampled_from(["name", "owner_text", "__os_version", "tag"]))
def test_metacharacters_never_change_the_statement(value: str, where: str) -> None:
    def query(v: str) -> str:
        if where == "tag":
            return "tag=k=" + quote(v, safe="")
        if where == "owner_text":
            return "__system__cmkid=" + quote(v, safe="")
        return f"{where}={quote(v, safe='')}"

    try:
        checked = imgfilter.check(query(value))
    except QueryError:
        return  # not a valid value of that parameter (a tag value allows few characters)
    benign = imgfilter.check(query("x"))
    for dialect in ("sqlite", "postgresql", "mysql"):
        got = [s.sql for _, s in compile_sql(checked, dialect).statements()]
        assert got == [s.sql for _, s in compile_sql(benign, dialect).statements()]


@given(st.lists(META, min_size=1, max_size=6, unique=True), st.data())
def test_metacharacters_match_exactly_what_memory_matches(engines: Placements, names: list[str], data: Any) -> None:
    records = [{"id": f"00000000-0000-4000-8000-{i:012d}", "name": n, "__os_version": n[::-1]}
               for i, n in enumerate(names)]
    runners = engines.load(Catalog.from_records(records))
    for n in names:
        for q in (f"name={quote(n, safe='')}", f"__os_version={quote(n[::-1], safe='')}&sort_key=name"):
            expected = check_case(runners, Case(q, None, imgfilter.Options()))
            assert expected[0] == "ok" and len(expected[1]) >= 1

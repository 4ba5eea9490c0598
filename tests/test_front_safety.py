"""Safe to embed (issue 8: items 2, 5, 6, 11, 13 and the side-filter limit) and
page requests reusing the check (issue 14)."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import tracemalloc
from typing import Any

import pytest

import imgfilter
from imgfilter import Context, Options, QueryError
from imgfilter import db as imgdb
from imgfilter.caches import cache_sizes, configure_caches
from imgfilter.front.check import check_uncached
from imgfilter.front.errors import Diagnostic, escape_text
from imgfilter.io.records import Catalog
from imgfilter.targets.memory import compile_query
from imgfilter.targets.sql import compile_sql

from .fixtures import RECORDS

M = "bc6bed6e-ba3a-4447-afcc-449174a3eb52"  # no such image in RECORDS
check_module = sys.modules["imgfilter.front.check"]
PARSE = check_module.parse
IGNORE = Options(unknown="ignore")


def everything(e: QueryError) -> str:
    return repr((str(e), e.to_ims(), e.source, [d.span for d in e.errors]))


# ---- 8.2: no cache hands out another request's text -------------------------------

def test_marker_error_comes_from_the_callers_own_text_in_memory() -> None:
    catalog = Catalog.from_records(RECORDS)
    ctx = Context("p-leak")
    with pytest.raises(QueryError):
        imgfilter.run(f"marker={M}&access_token=SECRET", catalog, ctx, IGNORE)
    mine = f"limit=&marker={M.upper()}"
    with pytest.raises(QueryError) as info:
        imgfilter.run(mine, catalog, ctx, IGNORE)
    assert "SECRET" not in everything(info.value)
    assert info.value.source == mine
    span = info.value.errors[0].span
    assert mine[span.start:span.end] == f"marker={M.upper()}"


def test_marker_error_comes_from_the_callers_own_text_on_sqlite() -> None:
    conn = sqlite3.connect(":memory:")
    imgdb.load_catalog(conn, Catalog.from_records(RECORDS))
    with pytest.raises(QueryError):
        imgdb.run(conn, f"marker={M}&access_token=SECRET", Context("p-leak-sql"), options=IGNORE)
    with pytest.raises(QueryError) as info:
        imgdb.run(conn, f"limit=&marker={M.upper()}", Context("p-leak-sql"), options=IGNORE)
    assert "SECRET" not in everything(info.value)


def test_compiled_plans_hold_the_callers_query() -> None:
    first = imgfilter.check("status=active&access_token=SECRET", IGNORE)
    second = imgfilter.check("status=active&x=1", IGNORE)
    assert first == second  # equal meaning: one cache entry
    for compile_ in (lambda q: compile_query(q, Context("p-plan")), lambda q: compile_sql(q, "postgresql"),
                     lambda q: compile_sql(dialect="postgresql", query=q)):
        compile_(first)
        plan: Any = compile_(second)
        assert plan.query is second
        assert "SECRET" not in plan.query.source and "SECRET" not in repr(plan.query.warnings)


def test_context_errors_come_from_the_callers_query() -> None:
    ctx = Context("p-ctx")
    with pytest.raises(QueryError):
        compile_query(imgfilter.check("__isregistered=false&secret=SECRET", IGNORE), ctx)
    with pytest.raises(QueryError) as info:
        compile_query(imgfilter.check("__isregistered=false&x=y", IGNORE), ctx)
    assert "SECRET" not in everything(info.value)


def test_check_cache_gives_each_caller_its_own_source_and_warnings() -> None:
    imgfilter.check("name=&secret=SECRET&limit=5", IGNORE)
    q = imgfilter.check("name=&other=1&limit=5", IGNORE)
    assert "SECRET" not in q.source and "SECRET" not in repr(q.warnings)


# ---- issue 14: page requests reuse the check ---------------------------------------

def seen_by_caller(checker: Any, query: str, options: Options) -> Any:
    """Everything a caller can see of a check: the query, its text, spans and warnings, or the error."""
    try:
        q = checker(query, options)
    except QueryError as e:
        return ("error", everything(e))
    return ("ok", q, q.source, q.to_json(), q.marker_span, [w.span for w in q.warnings])


class CountingParse:
    """Stands in for the checker's parser and counts whole parses."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return PARSE(*args, **kwargs)


def _same_lengths(page: str) -> str:
    """``page`` with every value replaced by one of the same length: a query whose
    template is the one ``page`` must reuse."""
    return "&".join(f"{k}={'7' * len(v)}" for k, _, v in (pair.partition("=") for pair in page.split("&")))


@pytest.mark.parametrize("page", [
    f"marker={M.upper()}&limit=7", "marker=nope&limit=7", "marker=%zz&limit=7", f"marker={M}&limit=x",
    f"marker={M}&limit=99999", "marker=\x00&limit=1", "marker=\udcff&limit=1", f"marker={M}x&limit=1",
])
def test_a_page_request_is_checked_as_a_whole_check_would(page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    opts = Options(max_limit=50, unknown="ignore")
    base = "name=&created_at=2018-10-28T10:00:00Z&tag=env&zz=1&{page}&sort_key=name"
    with contextlib.suppress(QueryError):
        imgfilter.check(base.format(page=_same_lengths(page)), opts)  # the template, values of the same lengths
    query = base.format(page=page)
    parses = CountingParse()
    monkeypatch.setattr(check_module, "parse", parses)
    seen = seen_by_caller(imgfilter.check, query, opts)
    # every page that is text UTF-8 can carry comes from the template: no whole parse
    assert parses.calls == (1 if "\udcff" in query else 0)
    monkeypatch.undo()
    assert seen == seen_by_caller(check_uncached, query, opts)


def test_a_marker_walk_reuses_the_template(monkeypatch: pytest.MonkeyPatch) -> None:
    configure_caches(page_templates=16)
    imgfilter.check(f"status=active&marker={M}")
    parses = CountingParse()
    monkeypatch.setattr(check_module, "parse", parses)
    q = imgfilter.check(f"status=active&marker={M.replace('b', 'c')}")
    assert q.marker == M.replace("b", "c") and parses.calls == 0
    imgfilter.check(f"status=killed&marker={M.replace('b', 'd')}")  # other filters: another template
    assert parses.calls == 1


def test_only_page_requests_take_a_place_among_the_page_templates() -> None:
    """A query without marker or limit has no template to reuse: checking many of
    them must not push out the templates of the marker walks under way."""
    sizes = cache_sizes()
    configure_caches(check=sizes["check"][1], page_templates=1)  # both emptied
    try:
        imgfilter.check(f"status=active&marker={M}")
        assert cache_sizes()["page_templates"][0] == 1
        for n in range(3):
            imgfilter.check(f"status=active&name=n{n}")
            imgfilter.check(f"name=n{n}&sort_key=name")
        parses = CountingParse()
        with pytest.MonkeyPatch.context() as m:
            m.setattr(check_module, "parse", parses)
            imgfilter.check(f"status=active&marker={M.replace('b', 'c')}")
        assert parses.calls == 0  # the walk's template is still there
    finally:
        configure_caches(page_templates=sizes["page_templates"][1])


# ---- 8.5: floods are refused before parsing ---------------------------------------

class CountingPattern:
    """Stands in for the scanner's pair pattern and counts the pairs it reads."""

    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern
        self.calls = 0

    def match(self, *args: Any) -> Any:
        self.calls += 1
        return self.pattern.match(*args)


def test_a_flood_of_pairs_is_refused_after_max_pairs_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    from imgfilter.front import parse as parse_module

    counter = CountingPattern(parse_module._PAIR_RE)
    monkeypatch.setattr(parse_module, "_PAIR_RE", counter)
    monkeypatch.setattr(parse_module.GRAMMAR, "parse", None)  # the LALR parser must not read it at all
    flood = "a&" * 8192
    with pytest.raises(QueryError) as info:
        check_uncached(flood)
    assert "more than 100 parameters" in info.value.errors[0].message
    assert info.value.errors[0].span.start == 200  # the 101st pair
    assert counter.calls == 101  # not 8,192: bench_parse.py prints the time (0.8 of an ordinary check)


# ---- 8.6: no control or bidi character reaches a message --------------------------

FORGED = "x%0a%0aerror[IMG.0000]: all good%0d%1b[31mRED=1"


@pytest.mark.parametrize("query", [
    FORGED, "a%E2%80%A8b=1", "a%E2%80%AEb=1", "a%C2%85b=1", "a%7Fb=1", "a%E2%81%A6b=1", "a%E2%80%8Fb=1",
    "tag=%0a", "created_at=%1b[2J", "name\u202e=1",
])
def test_messages_and_diagrams_carry_no_control_or_bidi_characters(query: str) -> None:
    with pytest.raises(QueryError) as info:
        imgfilter.check(query)
    e = info.value
    lines = [*str(e).split("\n"), *e.render().split("\n"), e.to_ims()["error"]["message"], str(e.args[0]),
             *(d.message for d in e.errors), *(d.hint or "" for d in e.errors)]
    for text in lines:
        assert text == escape_text(text)
        assert not any(c in text for c in "\r\x1b\x85\x7f\u2028\u2029\u202e\u2066\u200f")
    # every line is one the renderer wrote: a head, a diagram line, a hint, or the blank between errors
    assert all(x == "" or x.startswith(("error[IMG.0", "  |", "  = hint")) for x in str(e).split("\n"))


def test_the_forged_name_is_shown_escaped_and_kept_as_data() -> None:
    with pytest.raises(QueryError) as info:
        imgfilter.check(FORGED)
    d = info.value.errors[0]
    assert d.message.startswith("x\\n\\nerror[IMG.0000]: all good\\r\\x1b[31mRED: ")
    assert d.param == "x\n\nerror[IMG.0000]: all good\r\x1b[31mRED"  # data, unchanged


def test_the_caret_still_points_at_the_escaped_text() -> None:
    source = "name=\x1b[31m&zz=1"
    rendered = Diagnostic("IMG.0001", "m", imgfilter.Span(source.index("zz"), source.index("zz") + 2)).render(source)
    text, carets = rendered.splitlines()[2], rendered.splitlines()[3]
    assert text[carets.index("^"):carets.rindex("^") + 1] == "zz"


def test_warnings_are_escaped_too() -> None:
    q = imgfilter.check("a%0Ab=", Options(unknown="ignore"))
    assert "\n" not in q.warnings[0].message and "a\\nb" in q.warnings[0].message


# ---- 8.11 ----------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["", 5, b"p1"])
def test_a_project_id_must_be_a_non_empty_string(bad: Any) -> None:
    with pytest.raises(ValueError, match="project_id"):
        Context(bad)


@pytest.mark.parametrize("bad", [[""], ["ok", 3], "abc"])
def test_granted_eps_entries_must_be_non_empty_strings(bad: Any) -> None:
    with pytest.raises(ValueError, match="granted_eps"):
        Context.of("p1", granted_eps=bad)


def test_the_cli_says_an_empty_project_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from imgfilter.io.cli import main

    assert main(["query", "--project", "", "--", "limit=1"]) == 2
    assert "project_id must be a non-empty string" in capsys.readouterr().err


def test_page_reads_a_generator_once_with_a_marker() -> None:
    catalog = Catalog.from_records(RECORDS)
    first = imgfilter.run("sort_key=id&sort_dir=asc&limit=1", catalog)
    assert first.next_marker is not None
    q = imgfilter.check(f"sort_key=id&sort_dir=asc&marker={first.next_marker}")
    plan = compile_query(q)
    expected = plan.page(catalog.images)
    assert expected.ids
    assert plan.page(img for img in catalog.images).ids == expected.ids


# ---- item 1: the side-filter limit ---------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda i: f"__support_f{i}=true", lambda i: f"tag=k{i}", lambda i: f"prop{i}=v",
])
def test_side_filters_are_bounded(make: Any) -> None:
    opts = Options(unknown="property")
    imgfilter.check("&".join(make(i) for i in range(64)), opts)
    query = "&".join(make(i) for i in range(65))
    with pytest.raises(QueryError) as info:
        imgfilter.check(query, opts)
    e = info.value.errors[0]
    assert e.code == "IMG.0001"
    assert "65" in e.message and "64" in e.message and "Options.max_side_filters" in e.message
    assert query[e.span.start:e.span.end] == make(64)


def test_side_filters_count_together_and_the_limit_is_an_option() -> None:
    query = "tag=a&__support_x=true&p=1"
    imgfilter.check(query, Options(unknown="property", max_side_filters=3))
    with pytest.raises(QueryError, match="3 tag, __support_"):
        imgfilter.check(query, Options(unknown="property", max_side_filters=2))


# ---- 8.13: a preset for services, configurable caches ------------------------------

def test_for_service_pages_by_default_and_caps_the_limit() -> None:
    opts = Options.for_service()
    assert imgfilter.check("", opts).limit == 25
    assert imgfilter.check("limit=5000", opts).limit == 1000
    assert imgfilter.check("", Options()).limit is None  # the spec's default is unchanged
    opts = Options.for_service(unknown="property")
    long = "p=" + "x" * 3000
    assert imgfilter.check(long, opts) is not imgfilter.check(long, opts)  # not cached
    short = "p=" + "x" * 300
    assert imgfilter.check(short, opts) is imgfilter.check(short, opts)
    assert Options.for_service(default_limit=10, unknown="ignore").unknown == "ignore"


@pytest.mark.parametrize("bad", [{"max_pairs": -1}, {"max_limit": "10"}, {"max_side_filters": True}])
def test_options_refuse_bad_numbers(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Options"):
        Options(**bad)


def test_cache_sizes_are_configurable() -> None:
    names = set(cache_sizes())
    assert {"check", "page_templates", "compile_query", "predicates", "compile_sql"} <= names
    try:
        configure_caches(check=2)
        for i in range(5):
            imgfilter.check(f"limit={i}&status=active")
        assert cache_sizes()["check"] == (2, 2)
        with pytest.raises(ValueError, match="no cache named"):
            configure_caches(nope=1)
        with pytest.raises(ValueError, match="integer"):
            configure_caches(check=-1)
    finally:
        configure_caches(check=2048, page_templates=1024)


def test_a_cached_entry_costs_about_its_query_text() -> None:
    configure_caches(check=64)
    try:
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for i in range(20):
            imgfilter.check(f"p={'x' * 16000}{i}", Options(unknown="property"))
        grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
        tracemalloc.stop()
        assert grown / 20 < 2 * 16384 + 8192  # the query text, kept once in the key and the result
    finally:
        configure_caches(check=2048)


class Unhashable(str):
    def __hash__(self) -> int:
        raise AssertionError("the query was hashed")


def test_a_huge_query_is_refused_before_it_is_hashed() -> None:
    # hashing (for the cache) reads every character; the length check reads none
    with pytest.raises(QueryError, match="at most 16384"):
        imgfilter.check(Unhashable("a=" + "x" * 100_000))

"""Semantics §1: how the raw query string is split and decoded."""

from __future__ import annotations

import pytest

from imgfilter.front.ast import Pair, Span
from imgfilter.front.errors import QueryError
from imgfilter.front.parse import parse


def kv(query: str) -> list[tuple[str, str | None]]:
    return [(p.key, p.value) for p in parse(query).pairs]


@pytest.mark.parametrize("query", [
    "a=1&b=2", "?a=1&b=2", "/v2/cloudimages?a=1&b=2", "a=1&&b=2&", "&a=1&b=2&&",
])
def test_prefixes_and_empty_pairs(query: str) -> None:
    assert kv(query) == [("a", "1"), ("b", "2")]


def test_request_target_without_query_is_empty() -> None:
    assert kv("/v2/cloudimages") == []
    assert kv("") == []
    assert kv("?") == []


def test_pair_splits_at_first_equals() -> None:
    assert kv("tag=a=b&x==") == [("tag", "a=b"), ("x", "=")]


def test_bare_key_and_empty_value() -> None:
    assert kv("name&status=") == [("name", None), ("status", "")]


def test_form_decoding() -> None:
    assert kv("name=a+b%20c%2Bd&k%61y=%e4%B8%ad") == [("name", "a b c+d"), ("kay", "中")]


def test_non_ascii_raw_text_is_kept() -> None:
    assert kv("name=中文 x") == [("name", "中文 x")]


def test_spans_point_into_the_raw_query() -> None:
    q = "?name=a%20b&tag=k%3Dv"
    first, second = parse(q).pairs
    assert q[first.key_span.start:first.key_span.end] == "name"
    assert q[first.value_span.start:first.value_span.end] == "a%20b"
    # decoded characters map back to raw offsets: 'b' of tag value k=v is at its raw place
    assert second.raw_span(2, 3) == Span(q.index("v"), q.index("v") + 1)
    assert q[second.raw_span(1, 2).start:second.raw_span(1, 2).end] == "%3D"


@pytest.mark.parametrize(("query", "bad"), [
    ("name=50%", "%"), ("name=%zz", "%zz"), ("name=%4", "%4"), ("x%g1=1", "%g1"),
])
def test_bad_percent_escape_points_at_the_percent(query: str, bad: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(query)
    e = info.value.errors[0]
    assert e.code == "IMG.0001"
    assert query[e.span.start:e.span.end] == bad


def test_bytes_that_are_not_utf8() -> None:
    q = "name=ok&status=%C3%28"
    with pytest.raises(QueryError) as info:
        parse(q)
    e = info.value.errors[0]
    assert e.span.start == q.index("%C3")
    assert "UTF-8" in e.message


def test_every_decoding_error_is_reported() -> None:
    with pytest.raises(QueryError) as info:
        parse("a=%&b=%ff")
    assert len(info.value.errors) == 2


def test_lone_surrogate_is_rejected() -> None:
    with pytest.raises(QueryError) as info:
        parse("name=\udcff")
    assert info.value.errors[0].span == Span(5, 6)


def test_length_limit() -> None:
    parse("a=" + "x" * 16382)
    with pytest.raises(QueryError) as info:
        parse("a=" + "x" * 16383)
    assert "16384" in info.value.errors[0].message
    parse("a=" + "x" * 40, max_length=42)
    with pytest.raises(QueryError):
        parse("a=" + "x" * 41, max_length=42)


def test_pair_limit() -> None:
    parse("&".join(["a=1"] * 100))
    with pytest.raises(QueryError) as info:
        parse("&".join(["a=1"] * 101))
    assert "more than 100 parameters" in info.value.errors[0].message
    with pytest.raises(QueryError):
        parse("a&b&c", max_pairs=2)


def test_pair_nodes_compare_without_spans() -> None:
    assert Pair("a", "b", 0, 1, 3) == Pair("a", "b", 5, 6, 8)
    assert Pair("a", "b", 5, 6, 8).value_span == Span(7, 8) and Pair("a", None, 5, 6, 6).value_span == Span(6, 6)


def test_the_grammar_tells_an_empty_tag_value_from_none() -> None:
    from imgfilter.front.parse import grammar_value

    # `k=` asks for an empty value, `k` for any value: the grammar itself keeps the '='
    assert tuple(map(str, grammar_value("k=", "tag_filter")[:2])) == ("k", "=")
    assert grammar_value("k", "tag_filter")[1] is None
    assert [str(t) for t in grammar_value("k=v", "tag_filter")] == ["k", "=", "v"]


@pytest.mark.parametrize(("text", "rule", "want"), [
    ("k=", "tag_filter", ("k", "=", None)),  # an empty value
    ("k", "tag_filter", ("k", None, None)),  # any value
    ("k=v", "tag_filter", ("k", "=", "v")),
    ("gt:2018-10-28T10:00:00Z", "time_filter", ("gt", "2018-10-28T10:00:00Z")),
    ("2018-10-28T10:00:00Z", "time_filter", (None, "2018-10-28T10:00:00Z")),
])
def test_the_grammar_path_gives_what_the_fast_path_gives(
        text: str, rule: str, want: tuple[str | None, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from imgfilter.front import parse as parse_module

    pattern, groups = parse_module._FAST[rule]
    m = pattern.fullmatch(text)
    assert m is not None and m.group(*groups) == want
    got = parse_module.grammar_value(text, rule)
    assert got == want and [type(t) for t in got] == [type(t) for t in want]  # plain str, not Token
    # parse_value with a fast path that never matches: the grammar answers, alike
    never = re.compile(r"(?!)")
    monkeypatch.setitem(parse_module._FAST, rule, (never, groups))
    got = parse_module.parse_value(text, rule)
    assert got == want and [type(t) for t in got] == [type(t) for t in want]


def test_the_scanner_and_the_grammar_split_alike() -> None:
    from imgfilter.front.parse import grammar_pairs, scan

    for q in ("/v2/cloudimages?a=1&&b", "?=x&k==&", "/a\n", "/p/q=1", "a?b=1&?c", ""):
        assert scan(q, 100) == grammar_pairs(q)

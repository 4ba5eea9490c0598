"""Property tests of the parse and check stages: round trips and robustness."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

import imgfilter
from imgfilter import QueryError
from imgfilter.check import check_uncached

from .strategies import (
    encode_go_sdk,
    encode_python_sdk,
    encode_shuffled,
    expected_pairs,
    param_sets,
    support_family_names,
)


@given(param_sets(), st.lists(st.sampled_from(["name", "status", "owner", "tag"]), max_size=3, unique=True),
       st.integers(0, 2**32))
def test_round_trip_through_every_client_encoding(
    items: list[tuple[str, str, str]], unset: list[str], seed: int
) -> None:
    wire = [(name, w) for name, w, _ in items]
    expected = expected_pairs(items)
    queries = [encode_python_sdk(wire), encode_shuffled(wire, seed)]
    given_names = {n for n, _ in wire}
    queries.append(encode_go_sdk(wire, [u for u in unset if u not in given_names]))
    checked = [imgfilter.check(q) for q in queries]
    for q in checked:
        assert q.pairs() == expected
    # all encodings mean the same; the normalized form is a fixed point
    assert checked[0] == checked[1] == checked[2]
    assert imgfilter.check(checked[0].normalized()) == checked[0]


def _total(query: str) -> None:
    start = time.perf_counter()
    try:
        result = check_uncached(query)
    except QueryError as e:
        assert e.errors
        for d in e.errors:
            assert 0 <= d.span.start <= d.span.end <= max(len(query), d.span.end)
            d.render(query)
        e.to_ims()
    else:
        assert isinstance(result, imgfilter.CheckedQuery)
        result.to_json()
    assert time.perf_counter() - start < 1.0


@given(st.text())
def test_any_text_is_checked_or_rejected(query: str) -> None:
    _total(query)


@given(st.binary())
def test_any_bytes_as_latin1(data: bytes) -> None:
    _total(data.decode("latin-1"))


@given(st.lists(st.sampled_from([
    "tag", "created_at", "=", "&", "%", "%3D", "%3A", "gt:", "2018-10-28T10:00:00Z", "+", "?", "/",
    "name", "limit", "9", "true", "%E4", "%B8%AD", "__support_", "member_status", "visibility=shared",
]), max_size=30).map("".join))
def test_query_shaped_noise(query: str) -> None:
    _total(query)


@given(support_family_names)
def test_any_support_family_name_is_a_flag(name: str) -> None:
    assert imgfilter.check(f"{name}=true").pairs()[0] == (name, "true")


def test_worst_case_sizes_are_bounded() -> None:
    for q in ("%" * 16384, "&" * 16384, "a" * 16384, "tag=" + "a" * 16380, "=" * 16384,
              "&".join(["tag=a.b"] * 100), "a=" + "%e4%b8%ad" * 1800):
        _total(q)

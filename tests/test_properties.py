"""Property tests of the parse and check stages: round trips and robustness."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import subprocess
import sys
import time

from hypothesis import given, settings
from hypothesis import strategies as st

import imgfilter
from imgfilter import QueryError
from imgfilter.check import check_uncached
from imgfilter.parse import _FAST, SubParseError, grammar_value

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
    # a guard against hangs (catastrophic backtracking, quadratic loops), not a speed measure:
    # the machine is shared, so the bound is generous
    assert time.perf_counter() - start < 10.0


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


# ---- mutations of valid queries, and the command as a process ------------------------

@st.composite
def mutated_queries(draw: st.DrawFn) -> str:
    items = draw(param_sets())
    query = encode_python_sdk([(name, wire) for name, wire, _ in items])
    for _ in range(draw(st.integers(1, 3))):
        if not query:
            break
        i = draw(st.integers(0, len(query) - 1))
        how = draw(st.sampled_from(["insert", "delete", "double", "encode"]))
        if how == "insert":
            query = query[:i] + draw(st.characters()) + query[i:]
        elif how == "delete":
            query = query[:i] + query[i + 1:]
        elif how == "double":
            query = query[:i] + query[i] + query[i:]
        else:
            query = query[:i] + "".join(f"%{b:02X}" for b in query[i].encode("utf-8", "replace")) + query[i + 1:]
    return query


@given(mutated_queries())
def test_mutated_valid_queries(query: str) -> None:
    _total(query)


def _cli(argv: list[str]) -> int:
    from imgfilter.cli import main

    return main(argv)


@given(st.one_of(mutated_queries(), st.text(max_size=60)), st.sampled_from(["check", "query", "explain"]))
def test_cli_exits_0_or_2_in_process(query: str, command: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _cli([command, "--", query])  # an exception escaping here would be a traceback
    if code == 0:
        assert out.getvalue()
    else:
        assert code == 2
        assert err.getvalue().startswith("error[IMG.")


@settings(max_examples=25)  # each example starts an interpreter: a sample, not a search
@given(st.one_of(mutated_queries(), st.text(max_size=40), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))),
       st.sampled_from(["check", "query"]))
def test_cli_process_never_tracebacks(query: str, command: str) -> None:
    query = query.replace("\x00", "")  # argv cannot carry NUL
    proc = subprocess.run([sys.executable, "-m", "imgfilter", command, "--", query], capture_output=True,
                          timeout=60)
    assert proc.returncode in (0, 2), proc.stderr
    assert b"Traceback" not in proc.stderr


@given(st.text(alphabet="gtelqn:0123456789-T Z.+=kv_环中", max_size=40), st.sampled_from(["time_filter", "tag_filter"]))
def test_value_fast_path_agrees_with_the_grammar(text: str, rule: str) -> None:
    fast = _FAST[rule][0].fullmatch(text) is not None
    try:
        grammar_value(text, rule)
        slow = True
    except SubParseError:
        slow = False
    assert fast == slow


@given(st.sampled_from(["gt", "lte", "eq"]), st.datetimes(), st.integers(-23 * 60 - 59, 23 * 60 + 59))
def test_any_instant_with_any_offset(op: str, at: dt.datetime, minutes: int) -> None:
    sign = "-" if minutes < 0 else "%2B"
    offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    _total(f"created_at={op}:{at.isoformat(timespec='seconds')}{offset}")
    _total(f"created_at={op}:{at.isoformat(sep=' ', timespec='seconds')}")

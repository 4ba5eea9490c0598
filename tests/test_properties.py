"""Property tests of the parse and check stages: round trips and robustness."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from hypothesis import example, given, settings
from hypothesis import strategies as st

import imgfilter
from imgfilter import QueryError
from imgfilter.front.ast import CheckedQuery, Span
from imgfilter.front.check import Options, check_uncached
from imgfilter.front.parse import (
    _FAST,
    DecodeError,
    SubParseError,
    check_text,
    decode,
    decode_pairs,
    grammar_pairs,
    grammar_value,
    parse_value,
    scan,
)

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
    from imgfilter.io.cli import main

    return main(argv)


@given(st.one_of(mutated_queries(), st.text(max_size=60)), st.sampled_from(["check", "query", "explain"]))
# a query's warnings are printed (on stderr) before the caller's error (IMG.0027 here)
@example("__support_kvm=true&__support_xen_gpu_type=0&marker=e3e70682-c209-4cac-629f-6fbed82c07cd", "query")
def test_cli_exits_0_or_2_in_process(query: str, command: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _cli([command, "--", query])  # an exception escaping here would be a traceback
    if code == 0:
        assert out.getvalue()
    else:
        assert code == 2
        lines = err.getvalue().splitlines()
        assert any(line.startswith("error[IMG.") for line in lines), err.getvalue()
        assert all(not line.startswith("Traceback") for line in lines)


@settings(max_examples=25)  # each example starts an interpreter: a sample, not a search
@given(st.one_of(mutated_queries(), st.text(max_size=40), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))),
       st.sampled_from(["check", "query"]))
def test_cli_process_never_tracebacks(query: str, command: str) -> None:
    query = query.replace("\x00", "")  # argv cannot carry NUL
    proc = subprocess.run([sys.executable, "-m", "imgfilter", command, "--", query], capture_output=True,
                          timeout=60)
    assert proc.returncode in (0, 2), proc.stderr
    assert b"Traceback" not in proc.stderr


# ---- the fast paths against the grammar: the same result on every input ---------------

@dataclass(frozen=True)
class Rejected:
    pos: int


def _grammar_value_result(text: str, rule: str) -> object:
    try:
        return grammar_value(text, rule)
    except SubParseError as e:
        return Rejected(e.pos)


@given(st.one_of(st.text(alphabet="gtelqn:0123456789-T Z.+=kv_环中", max_size=40), st.text(max_size=20)),
       st.sampled_from(["time_filter", "tag_filter"]))
@example("k=", "tag_filter")
@example("k", "tag_filter")
@example("k=v", "tag_filter")
@example("2018-10-28T10:00:00Z", "time_filter")
@example("gt:2018-10-28T10:00:00Z", "time_filter")
def test_value_fast_path_agrees_with_the_grammar(text: str, rule: str) -> None:
    pattern, groups = _FAST[rule]
    m = pattern.fullmatch(text)
    fast = None if m is None else m.group(*groups)
    grammar = _grammar_value_result(text, rule)
    # the same result: the same value (plain strings and None, element for element) or both reject
    if fast is None:
        assert isinstance(grammar, Rejected)
    else:
        assert isinstance(grammar, tuple)
        assert [type(t) for t in grammar] == [type(t) for t in fast]
        assert grammar == fast
    assert parse_value_result(text, rule) == grammar


def parse_value_result(text: str, rule: str) -> object:
    try:
        return parse_value(text, rule)
    except SubParseError as e:
        return Rejected(e.pos)


def _reference_parse(source: str) -> object:
    """Pairs as the grammar splits them, decoded by the reference decoder (offsets
    for every character), or the errors: what the fast path must give."""
    try:
        raw = grammar_pairs(source)
    except Exception as e:  # the grammar is total: it never fails
        raise AssertionError(f"grammar failed on {source!r}") from e
    out: list[object] = []
    errors: list[object] = []
    for ks, ke, end in raw:
        try:
            key = decode(source[ks:ke], ks)[0]
            value, offsets = (None, None) if end == ke else decode(source[ke + 1:end], ke + 1)
        except DecodeError as e:
            errors.append((e.span, e.message))
            continue
        vs = ke + 1 if end > ke else ke
        spans = [Span(vs + i, vs + i + 1) if offsets is None else Span(offsets[i], offsets[i + 1])
                 for i in range(len(value or ""))]
        out.append((key, value, Span(ks, ke), Span(vs, end), spans))
    return ("errors", errors) if errors else ("pairs", out)


def _fast_parse(source: str) -> object:
    raw = scan(source, 10**6)
    assert raw is not None  # the scanner reads every string
    assert raw == grammar_pairs(source)  # the same pairs at the same offsets
    try:
        pairs = decode_pairs(source, raw)
    except QueryError as e:
        return ("errors", [(d.span, d.message) for d in e.errors])
    # spans of single decoded characters, as error messages would use them
    return ("pairs", [(p.key, p.value, p.key_span, p.value_span,
                       [p.raw_span(i, i + 1) for i in range(len(p.value or ""))]) for p in pairs])


def _utf8_text(source: str) -> bool:
    return check_text(source) is None


FAST_PATH_INPUTS = st.one_of(
    st.text(), st.binary().map(lambda b: b.decode("latin-1")), mutated_queries(),
    st.lists(st.sampled_from(["/v2/x", "?", "/", "=", "&", "%", "%3D", "%e4%b8%ad", "%C3", "%ZZ", "+", "a", "\n",
                              "marker", "limit", "é", "%2B"]), max_size=20).map("".join),
)


@given(FAST_PATH_INPUTS)
def test_query_fast_path_agrees_with_the_grammar(source: str) -> None:
    if _utf8_text(source):  # lone surrogates are refused before either path
        assert _fast_parse(source) == _reference_parse(source)


@st.composite
def page_requests(draw: st.DrawFn) -> tuple[str, str]:
    """A query, and the same query with other marker/limit values (valid or not)."""
    items = draw(param_sets())
    base = [(n, quote(w, safe="~")) for n, w, _ in items if n not in ("marker", "limit")]
    values = st.one_of(st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), st.text(max_size=8),
                       st.integers(0, 10**12).map(str), st.just("%zz"), st.just(""))

    def with_page(marker: str, limit: str) -> str:
        pairs = [*base, ("marker", marker), ("limit", limit)]
        order = draw(st.permutations(range(len(pairs))))
        return "&".join(f"{pairs[i][0]}={pairs[i][1].replace('&', '%26')}" for i in order)

    first = with_page(str(draw(st.uuids())), str(draw(st.integers(0, 100))))
    # the second keeps the first's order of pairs: only the values differ
    second = first
    for name in ("marker", "limit"):
        new = draw(values).replace("&", "%26")
        i = second.index(f"{name}=") + len(name) + 1 if second.startswith(f"{name}=") else \
            second.index(f"&{name}=") + len(name) + 2
        j = second.find("&", i)
        second = second[:i] + new + (second[j:] if j >= 0 else "")
    return first, second


def _seen(check_fn: Callable[[str, Options], CheckedQuery], query: str, options: Options) -> object:
    try:
        q = check_fn(query, options)
    except QueryError as e:
        return ("error", str(e), e.to_ims(), e.source, [d.span for d in e.errors])
    return ("ok", q, q.source, q.to_json(), q.marker_span, [w.span for w in q.warnings])


@given(page_requests(), st.sampled_from([Options(), Options(max_limit=50, default_limit=10)]))
def test_a_page_request_gives_what_a_whole_check_gives(queries: tuple[str, str], options: Options) -> None:
    first, second = queries
    with contextlib.suppress(QueryError):
        imgfilter.check(first, options)
    assert _seen(imgfilter.check, second, options) == _seen(check_uncached, second, options)


@given(st.sampled_from(["gt", "lte", "eq"]), st.datetimes(), st.integers(-23 * 60 - 59, 23 * 60 + 59))
def test_any_instant_with_any_offset(op: str, at: dt.datetime, minutes: int) -> None:
    sign = "-" if minutes < 0 else "%2B"
    offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    _total(f"created_at={op}:{at.isoformat(timespec='seconds')}{offset}")
    _total(f"created_at={op}:{at.isoformat(sep=' ', timespec='seconds')}")

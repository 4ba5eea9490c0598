"""The fast time parser (``fromisoformat`` for the common spellings) agrees with
the dateutil-only reference on every string: same instant and tzinfo, or the
same exception with the same message.  ``freeze`` with its scalar fast path
agrees with the plain one."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Mapping
from types import MappingProxyType

import pytest
from dateutil.parser import isoparse
from hypothesis import example, given, settings
from hypothesis import strategies as st

from imgfilter.front import params as P
from imgfilter.io import records
from imgfilter.io.catalog import API_EXAMPLE, generate
from imgfilter.io.records import freeze, parse_time


def reference_parse_time(value: str) -> dt.datetime:
    """``records.parse_time`` as it was before the fast path (dateutil only)."""
    t = isoparse(value)
    t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
    if not P.TIME_MIN <= t <= P.TIME_MAX:
        raise ValueError("outside the years 1000 to 9999 (UTC) that every database stores")
    return t


def outcome(fn: object, value: str) -> tuple[str, object]:
    assert callable(fn)
    try:
        t = fn(value)
    except (ValueError, OverflowError) as e:
        return "raises", (type(e), str(e))
    assert isinstance(t, dt.datetime)
    return "value", (t, t.tzinfo, t.utcoffset())


def assert_agree(value: str) -> None:
    assert outcome(parse_time, value) == outcome(reference_parse_time, value), value


_PROFILE_EXAMPLES = settings().max_examples  # the loaded profile's (thorough: more)


def _digits(n: int, lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.integers(lo, hi).map(lambda i: str(i).zfill(n))


def _maybe_digits(n: int, lo: int, hi: int) -> st.SearchStrategy[str]:
    """Mostly ``n`` zero-padded digits, sometimes a wrong width."""
    return st.one_of(_digits(n, lo, hi), _digits(n, lo, hi), _digits(n, lo, hi),
                     st.integers(lo, hi).map(str), st.text("0123456789", min_size=0, max_size=n + 2))


YEARS = st.one_of(_digits(4, 1000, 9999), _digits(4, 0, 999), _digits(4, 9998, 9999), _digits(4, 1000, 1001),
                  _maybe_digits(4, 0, 99999))
DATES = st.one_of(
    st.tuples(YEARS, st.sampled_from(["-", "", "/"]), _maybe_digits(2, 0, 13), _maybe_digits(2, 0, 32)).map(
        lambda p: f"{p[0]}{p[1]}{p[2]}{p[1]}{p[3]}"),
    st.tuples(YEARS, st.sampled_from(["-W", "W"]), _maybe_digits(2, 0, 54), st.sampled_from(["", "-"]),
              st.integers(0, 8)).map(lambda p: f"{p[0]}{p[1]}{p[2]}{p[3]}{p[4]}"),  # week dates
    st.tuples(YEARS, st.sampled_from(["-", ""]), _maybe_digits(3, 0, 367)).map(lambda p: "".join(p)),  # ordinal
    st.tuples(YEARS, st.sampled_from(["", "-"]), _maybe_digits(2, 0, 13)).map(lambda p: "".join(p)),  # year/month
)
FRACTIONS = st.one_of(st.just(""), st.tuples(st.sampled_from([".", ".", ",", ":"]),
                                             st.text("0123456789", min_size=0, max_size=9)).map("".join))
OFFSETS = st.one_of(
    st.sampled_from(["", "", "Z", "z", "+00:00", "-00:00", "+0000", "+00", "-00", "UTC", "+", " Z"]),
    st.tuples(st.sampled_from("+-"), _maybe_digits(2, 0, 25), st.sampled_from([":", ""]),
              _maybe_digits(2, 0, 61), st.sampled_from(["", "", ":00", ":30", ".5"])).map("".join),
    st.tuples(st.sampled_from("+-"), _maybe_digits(2, 0, 25)).map("".join),
)
TIMES = st.one_of(
    st.tuples(_maybe_digits(2, 0, 25), st.sampled_from([":", ":", ""]), _maybe_digits(2, 0, 61),
              st.sampled_from([":", ":", "", "-"]), _maybe_digits(2, 0, 61), FRACTIONS, OFFSETS).map(
        lambda p: f"{p[0]}{p[1]}{p[2]}{p[3]}{p[4]}{p[5]}{p[6]}"),
    st.tuples(_maybe_digits(2, 0, 25), st.sampled_from([":", ""]), _maybe_digits(2, 0, 61), OFFSETS).map(
        "".join),  # hh:mm
    st.tuples(_maybe_digits(2, 0, 25), FRACTIONS, OFFSETS).map("".join),  # hh
    st.sampled_from(["24:00:00", "24:00", "24", "24:00:00.000000Z", "24:00:01", "23:59:60", "23:59:59.999999"]),
)
SEPARATORS = st.sampled_from(["T", "T", "T", "t", " ", "_", "", "TT", "\n"])
ISO_LIKE = st.one_of(
    DATES,
    st.tuples(DATES, SEPARATORS, TIMES).map("".join),
    st.tuples(DATES, SEPARATORS, TIMES, st.sampled_from(["\n", " ", "x", "\x00", "Z", "0", "é"])).map("".join),
)
# The canonical spellings, valid and near-miss, every field in range: most take the fast path.
CANONICAL = st.tuples(
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999)),
    st.integers(0, 6), st.sampled_from(["", "Z", "+00:00", "-00:00", "+05:30", "-05:00", "+23:59", "-23:59",
                                        "+14:00", "-12:00", "+01:01"]),
).map(lambda p: p[0].strftime("%Y-%m-%dT%H:%M:%S")
      + ("" if p[1] == 0 else "." + f"{p[0].microsecond:06d}"[:p[1]]) + p[2])


def _mutate(s: str, data: st.DataObject) -> str:
    """``s`` with one character inserted, deleted or replaced."""
    i = data.draw(st.integers(0, len(s)))
    ch = data.draw(st.sampled_from(list("0123456789-+:.,TtZz W\n\u0663\uff10")))
    kind = data.draw(st.sampled_from(["insert", "delete", "replace"]))
    if kind == "insert":
        return s[:i] + ch + s[i:]
    if kind == "delete":
        return s[:i] + s[i + 1:]
    return s[:i] + ch + s[i + 1:]


FAST_EXAMPLES = [
    "2018-10-28T10:00:00Z", "2018-10-28T10:00:00", "2018-10-28T10:00:00.5Z", "2018-10-28T10:00:00.123456Z",
    "2018-10-28T10:00:00+08:00", "2018-10-28T10:00:00-05:00",
    "2018-10-28T10:00:00.000001+05:30", "2018-10-28T10:00:00-00:00", "2018-10-28T10:00:00+23:59",
]
FALLBACK_EXAMPLES = [
    "2018-10-28T10:00:00.1234567Z", "2018-W43-1", "2018W431", "2018-W43-1T10:00:00", "2018-301", "2018301T10:00",
    "2018-10-28T24:00:00Z", "2018-10-28T24:00", "2018-10-28T24:00:01", "20181028T100000", "20181028T100000Z",
    "2018-10-28 10:00:00",
    "2018-10-28t10:00:00", "2018-10-28T10:00:00z", "2018-10-28T10:00:00,5Z", "0999-12-31T23:59:59Z",
    "0000-01-01T00:00:00", "1000-01-01T00:00:00+00:01", "1000-01-01T04:00:00+05:00", "9999-12-31T23:59:59-00:01",
    "9999-12-31T23:00:00-05:00", "2018-02-30T10:00:00Z", "2018-02-29T00:00:00Z", "2016-02-29T00:00:00Z",
    "2018-10-28T10:00:00+0500", "2018-10-28T10:00:00+05", "2018-10-28T10:00:00+05:00:30", "2018-10-28T10:00:00+24:00",
    "2018-10-28T10:00:00+05:60", "2018-10-28T10:00:00Z\n", "2018-10-28T10:00:00 ", " 2018-10-28T10:00:00",
    "2018-10-28T10:00:60", "2018-10-28T10:60:00", "2018-10-28T10:00", "2018-10-28T10", "2018-10-28", "2018-10",
    "2018", "", "T", "2018-10-28T", "2018-10-28T10:00:00.", "2018-10-28T10:00:00.Z", "٢٠١٨-10-28T10:00:00",
    "2018-10-28T10:00:00.12345\u0666Z", "2018-10-28T10:00:00\u2212" "05:00", "+2018-10-28T10:00:00",
    "2018-1-28T10:00:00", "2018-10-28T1:00:00", "12018-10-28T10:00:00",
]


@pytest.mark.parametrize("value", FAST_EXAMPLES + FALLBACK_EXAMPLES)
def test_examples_agree(value: str) -> None:
    assert_agree(value)


def test_fast_path_is_taken_for_the_common_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The common spellings never reach dateutil (else there is no speed-up)."""
    def no_dateutil(value: str) -> dt.datetime:
        raise AssertionError(f"dateutil called for {value!r}")
    monkeypatch.setattr(records, "isoparse", no_dateutil)
    for value in FAST_EXAMPLES:
        assert parse_time(value) == reference_parse_time(value)
    with pytest.raises(AssertionError):
        parse_time("2018-W43-1")


@given(CANONICAL)
@settings(max_examples=max(500, _PROFILE_EXAMPLES))
def test_canonical_spellings_agree(value: str) -> None:
    assert_agree(value)


@given(ISO_LIKE)
@settings(max_examples=max(1000, _PROFILE_EXAMPLES))
@example("2018-10-28T10:00:00Z")
def test_iso_like_strings_agree(value: str) -> None:
    assert_agree(value)


@given(st.one_of(CANONICAL, ISO_LIKE), st.data())
@settings(max_examples=max(500, _PROFILE_EXAMPLES))
def test_near_misses_agree(value: str, data: st.DataObject) -> None:
    assert_agree(_mutate(value, data))


@given(st.text(max_size=40))
def test_junk_agrees(value: str) -> None:
    assert_agree(value)


def test_every_catalog_time_agrees() -> None:
    values = {img[f] for img in [*generate(), *API_EXAMPLE] for f in ("created_at", "updated_at") if f in img}
    assert len(values) > 1000
    for value in values:
        assert isinstance(value, str)
        assert_agree(value)


def reference_freeze(value: object) -> object:
    """``records.freeze`` before its scalar fast path."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: reference_freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(reference_freeze(v) for v in value)
    return value


class _Str(str):
    pass


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
    | st.text(max_size=5).map(_Str),
    lambda kids: st.lists(kids, max_size=4) | st.lists(kids, max_size=4).map(tuple)
    | st.dictionaries(st.text(max_size=3), kids, max_size=4)
    | st.dictionaries(st.text(max_size=3), kids, max_size=4).map(OrderedDict),
    max_leaves=20)


def _plain(value: object) -> object:
    """A frozen value with its types spelled out, for an exact comparison."""
    if isinstance(value, MappingProxyType):
        return ("map", [(k, _plain(v)) for k, v in value.items()])
    if isinstance(value, tuple):
        return ("tuple", [_plain(v) for v in value])
    return (type(value), value)


@given(JSON)
def test_freeze_agrees_with_the_reference(value: object) -> None:
    assert _plain(freeze(value)) == _plain(reference_freeze(value))

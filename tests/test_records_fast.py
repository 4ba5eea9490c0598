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


# ---- normalize: the one-pass common path agrees with the reference ----------------------
#
# The reference is ``normalize`` and its helpers as they were before the common
# path (copied here); records.py keeps the same code as ``_normalize_exact`` for
# the records that leave the common path, but this copy does not change with it.

import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
from typing import Any  # noqa: E402

from imgfilter.io.records import (  # noqa: E402
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_PROPERTY_NAME,
    MAX_TEXT,
    Image,
    RecordError,
    architecture,
    normalize,
    split_tag,
)

_REF_SPECIAL = frozenset({"tags", "members"})
_REF_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _ref_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _ref_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _ref_check_text(text: str) -> None:
    if len(text) > MAX_TEXT:
        raise ValueError(f"is {len(text)} characters long; at most {MAX_TEXT}")


def _ref_check_chars(text: str, what: str) -> None:
    bad = _REF_UNSTORABLE.search(text)
    if bad is None:
        return
    if bad.group() == "\x00":
        raise ValueError(f"{what} contains a NUL character, which PostgreSQL cannot store")
    raise ValueError(f"{what} contains a lone surrogate U+{ord(bad.group()):04X}, which is not Unicode text "
                     "and no database stores")


def _ref_json(value: Any, level: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if _REF_UNSTORABLE.search(value) is not None:
            _ref_check_chars(value, "the value")
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise ValueError(f"an integer of {value.bit_length()} bits is too large (at most {MAX_INT_BITS})")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number, which JSON cannot hold")
        return value
    if not isinstance(value, Mapping | list | tuple):
        raise ValueError(f"a {type(value).__name__} is not a JSON value")
    if level > MAX_DEPTH:
        raise ValueError(f"the record is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            try:
                _ref_check_key(k)
                out[k] = _ref_json(v, level + 1)
            except ValueError as e:
                raise ValueError(f"[{k!r}]{e}" if str(e).startswith("[") else f"[{k!r}]: {e}") from None
        return out
    items: list[Any] = []
    for i, v in enumerate(value):
        try:
            items.append(_ref_json(v, level + 1))
        except ValueError as e:
            raise ValueError(f"[{i}]{e}" if str(e).startswith("[") else f"[{i}]: {e}") from None
    return items


def _ref_check_key(key: Any) -> None:
    if not isinstance(key, str):
        raise ValueError(f"the key {key!r} is not a string")
    if _REF_UNSTORABLE.search(key) is not None:
        _ref_check_chars(key, "the key")


def _ref_normalize_value(t: P.FieldType, value: Any, bounded: bool = True) -> Any:
    if t is P.FieldType.TEXT or t is P.FieldType.ID:
        text = _ref_text(value)
        if text is None:
            raise ValueError(f"{value!r} is not a string")
        if bounded:
            _ref_check_text(text)
        return text.lower() if t is P.FieldType.ID else text
    if t is P.FieldType.BOOL:
        b = _ref_bool(value)
        if b is None:
            raise ValueError(f"{value!r} is not a boolean (true/false)")
        return b
    if t is P.FieldType.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r} is not an integer")
        if not -(2**63) <= value < 2**63:
            raise ValueError(f"{value} is out of the 64-bit range")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an ISO 8601 time string")
    try:
        return parse_time(value)
    except (ValueError, OverflowError) as e:
        raise ValueError(f"{value!r} is not an ISO 8601 time ({e})") from None


def _ref_wire(key: str, value: Any, values: Mapping[str, Any]) -> Any:
    if value is None:
        return None
    spec = P.RESPONSE_FIELDS.get(key)
    if spec is None:
        flag = _ref_bool(value) if key.startswith(P.SUPPORT_PREFIX) else None
        return value if flag is None else ("true" if flag else "false")
    if spec.wire is P.Wire.STRINGS:
        return value
    v = values[key] if key in P.FIELDS else _ref_normalize_value(P.WIRE_TYPES[spec.wire], value, bounded=False)
    if spec.wire is P.Wire.YES_NO:
        return "true" if v else "false"
    if spec.wire is P.Wire.TIME:
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    return v


def _ref_tags(value: Any, position: str, image_id: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise RecordError(position, image_id, "tags", "must be a list of strings")
    for t in value:
        try:
            _ref_check_text(t)
        except ValueError as e:
            raise RecordError(position, image_id, "tags", f"tag {t[:40]!r}: {e}") from None
    return [split_tag(t) for t in value]


def _ref_members(value: Any, position: str, image_id: str) -> dict[str, str]:
    if value is None:
        return {}
    out: dict[str, str] = {}
    if not isinstance(value, list):
        raise RecordError(position, image_id, "members", "must be a list of {member_id, status}")
    for m in value:
        if not (isinstance(m, Mapping) and isinstance(m.get("member_id"), str)
                and m.get("status") in P.MEMBER_STATUSES):
            raise RecordError(position, image_id, "members",
                              f"{m!r} is not {{\"member_id\": ..., \"status\": accepted|rejected|pending}}")
        try:
            _ref_check_text(m["member_id"])
        except ValueError as e:
            raise RecordError(position, image_id, "members", f"member_id {e}") from None
        if m["member_id"] in out:
            raise RecordError(position, image_id, "members", f"member {m['member_id']!r} is listed twice")
        out[m["member_id"]] = m["status"]
    return out


def reference_normalize(record: Any, position: str) -> Image:
    if not isinstance(record, Mapping):
        raise RecordError(position, None, None, f"a record must be a JSON object, not {type(record).__name__}")
    rid = record.get("id")
    if not isinstance(rid, str) or not P.UUID_RE.fullmatch(rid):
        raise RecordError(position, None, "id", "missing" if rid is None else f"{rid!r} is not a UUID")
    image_id = rid.lower()
    doc: dict[str, Any] = {}
    for key, value in record.items():
        try:
            _ref_check_key(key)
        except ValueError as e:
            raise RecordError(position, image_id, key if isinstance(key, str) else None, str(e)) from None
        try:
            doc[key] = _ref_json(value, 2)
        except ValueError as e:
            raise RecordError(position, image_id, key, str(e).removeprefix(": ")) from None
    values: dict[str, Any] = {}
    for fld in P.FIELDS_LIST:
        value = doc.get(fld.name)
        try:
            values[fld.name] = None if value is None else _ref_normalize_value(fld.type, value)
        except ValueError as e:
            raise RecordError(position, image_id, fld.name, str(e)) from None
    tags = _ref_tags(doc.get("tags"), position, image_id)
    members = _ref_members(doc.get("members"), position, image_id)
    wire: dict[str, Any] = {}
    for key, value in doc.items():
        if key not in P.NEVER_IN_RESPONSE:
            try:
                wire[key] = _ref_wire(key, value, values)
            except ValueError as e:
                raise RecordError(position, image_id, key, str(e)) from None
    values["architecture"] = architecture(values["architecture"], doc.get("__support_arm"))
    props: dict[str, str] = {}
    flags: set[str] = set()
    for key, value in wire.items():
        if key in P.FIELDS or key in _REF_SPECIAL or value is None or len(key) > MAX_PROPERTY_NAME:
            continue
        if isinstance(value, bool):
            props[key] = "true" if value else "false"
        elif isinstance(value, str):
            props[key] = value
        elif isinstance(value, int | float):
            props[key] = json.dumps(value)
        else:
            continue
        if _ref_bool(value) is True:
            flags.add(key)
    return Image(image_id, values, frozenset(tags), frozenset(k for k, _ in tags), members, props,
                 frozenset(flags), reference_freeze(wire), record)  # type: ignore[arg-type]


def _exact(value: object) -> object:
    """A value with its types, key order and (for times) offsets spelled out."""
    if isinstance(value, Mapping):
        return (type(value).__name__, [(k, _exact(v)) for k, v in value.items()])
    if isinstance(value, tuple | list | frozenset | set):
        items = sorted(value, key=repr) if isinstance(value, frozenset | set) else value
        return (type(value).__name__, [_exact(v) for v in items])
    if isinstance(value, dt.datetime):
        return ("datetime", value, value.utcoffset(), value.tzinfo)
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return (type(value), value)


def normalize_outcome(fn: Any, record: Any) -> object:
    try:
        img = fn(record, "record 7")
    except RecordError as e:
        return ("error", e.position, e.image_id, e.field, e.message)
    assert img.raw is record
    return ("image", img.id, _exact(img.values), _exact(img.tags), _exact(img.tag_keys), _exact(img.members),
            _exact(img.props), _exact(img.flags), _exact(img.response))


def assert_normalize_agrees(record: Any) -> None:
    assert normalize_outcome(normalize, record) == normalize_outcome(reference_normalize, record), record


KEYS = st.sampled_from([
    *(f.name for f in P.FIELDS_LIST), *P.RESPONSE_FIELDS, "members", "tags", "__support_arm", "__support_new",
    "__support_s4l", "custom", "p" * 255, "q" * 256, "__support_" + "x" * 250, "ключ", "a\x00", "b\ud800",
])
TIMES_TEXT = st.sampled_from([*FAST_EXAMPLES, *FALLBACK_EXAMPLES, "yesterday"])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(2**64), 2**64), st.just(2**63), st.just(-(2**63) - 1),
    st.just(2**4096), st.floats(), st.text(max_size=8), st.sampled_from(["true", "TRUE", "False", "yes", "", "0",
                                                                         "x" * 255, "x" * 256, "a\x00", "\ud800",
                                                                         "é", "7", "-3"]),
    TIMES_TEXT, st.text(max_size=4).map(_Str), st.integers().map(lambda i: _Int(i)),
)


class _Int(int):
    pass


MEMBER = st.one_of(
    st.fixed_dictionaries({"member_id": st.sampled_from(["p1", "p2", "x" * 256, "p\x00"]),
                           "status": st.sampled_from([*P.MEMBER_STATUSES, "maybe", "Accepted"])}),
    st.dictionaries(st.sampled_from(["member_id", "status", "other"]), SCALARS, max_size=3), SCALARS,
)
BOUNDARIES = st.sampled_from([  # where a check changes its answer
    "x" * 255, "x" * 256, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**4096 - 1, 2**4096, True, False, "TRUE",
    "falsE", "true ", 1.5, float("inf"), "2018-10-28T10:00:00Z", "2018-10-28T10:00:00+05:00", "9999-12-31T23:59:59Z",
    "1000-01-01T00:00:00Z", "1000-01-01T00:00:00+00:01", "9999-12-31T23:00:00-05:00", 7, "",
])
VALUES = st.one_of(
    BOUNDARIES, BOUNDARIES, BOUNDARIES, SCALARS,
    st.lists(st.one_of(st.text(max_size=6), st.sampled_from(["k=v", "a.b", "k", "t" * 256, "x\x00"])), max_size=3),
    st.lists(MEMBER, max_size=3), st.lists(SCALARS, max_size=3).map(tuple),
    st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=2) | st.dictionaries(
        st.one_of(st.text(max_size=3), st.sampled_from(["\x00", "\udfff"]), st.integers(0, 3)), kids, max_size=2)
        | st.dictionaries(st.text(max_size=2), kids, max_size=2).map(OrderedDict), max_leaves=6),
    st.integers(MAX_DEPTH - 3, MAX_DEPTH + 1).map(lambda n: _nested(n)),
    st.just({1, 2}),
)


def _nested(levels: int) -> object:
    value: object = "leaf"
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


REAL = [*API_EXAMPLE, *generate(400)]


@st.composite
def varied_record(draw: st.DrawFn) -> Any:
    base = dict(draw(st.sampled_from(REAL)))
    if draw(st.booleans()):  # a field of the tables at a boundary of its check
        base[draw(st.sampled_from(sorted({*P.FIELDS, *P.RESPONSE_FIELDS})))] = draw(BOUNDARIES)
    for _ in range(draw(st.integers(0, 3))):
        base[draw(KEYS)] = draw(VALUES)
    if draw(st.integers(0, 9)) == 0:
        base["id"] = draw(st.sampled_from([None, 5, "nope", str(base["id"]).upper(), "\ud800"]))
    if draw(st.integers(0, 19)) == 0:
        base.pop(draw(st.sampled_from(sorted(base))), None)
    if draw(st.integers(0, 29)) == 0:
        base[draw(st.sampled_from([7, ("a", "b")]))] = "x"
    shape = draw(st.integers(0, 29))
    if shape == 0:
        return OrderedDict(base)
    if shape == 1:
        return MappingProxyType(base)
    if shape == 2:
        return list(base)
    return base


@given(varied_record())
@settings(max_examples=max(1000, _PROFILE_EXAMPLES))
# times without an offset (UTC), at the first and last instants every engine stores
@example({"id": "00000000-0000-4000-8000-000000000001", "created_at": "2018-10-28T10:00:00",
          "updated_at": "1000-01-01T00:00:00Z"})
@example({"id": "00000000-0000-4000-8000-000000000001", "created_at": "9999-12-31T23:59:59.999999Z",
          "updated_at": "2018-10-28T10:00:00+08:00"})
# a property name too long to be a property, then more fields: all of them are read
@example({"id": "00000000-0000-4000-8000-000000000001", "q" * 256: "shown", "name": "n", "custom": "true"})
def test_normalize_agrees_with_the_reference(record: Any) -> None:
    assert_normalize_agrees(record)


@given(varied_record())
@settings(max_examples=max(1000, _PROFILE_EXAMPLES))
@example({"id": "00000000-0000-4000-8000-000000000001", "__support_new": "TRUE", "__support_x": False,
          "__support_y": "no", "__lazyloading": "FALSE", "custom": "TRUE", "other": False})
# (flags not in the table are written true/false; other unlisted keys as given)
@example({"id": "00000000-0000-4000-8000-000000000001", "__description": "d" * 300, "virtual_size": 2**63})
@example({"id": "00000000-0000-4000-8000-000000000001", "p" * 255: "at the limit", "q" * 256: "over it"})
@example({"id": "00000000-0000-4000-8000-000000000001", "shiny": True, "dull": False,  # properties "true"/"false"
          "size": -(2**63), "min_ram": 2**63 - 1, "virtual_size": -(2**63)})  # the 64-bit bounds
@example({"id": "00000000-0000-4000-8000-000000000001", "size": -(2**63) - 1})
def test_the_exact_path_alone_agrees_with_the_reference(record: Any) -> None:
    """Every record read by ``_normalize_exact`` (the path of unusual records and
    of every error), not only those the common path turns away: its response
    form, flags and errors are the reference's."""
    def unusual(record: Any) -> Image:
        raise records._Unusual
    with pytest.MonkeyPatch.context() as m:
        m.setattr(records, "_normalize_plain", unusual)
        assert_normalize_agrees(record)


def test_normalize_agrees_on_every_catalog_record() -> None:
    for record in [*API_EXAMPLE, *generate()]:
        assert_normalize_agrees(record)


def test_catalog_records_take_the_common_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real-shaped records never reach the reference code (else there is no speed-up)."""
    def no_exact(record: Any, position: str) -> Image:
        raise AssertionError(f"the exact path was taken at {position}")
    monkeypatch.setattr(records, "_normalize_exact", no_exact)
    for i, record in enumerate([*API_EXAMPLE, *generate()]):
        normalize(record, f"record {i}")
    with pytest.raises(AssertionError):
        normalize({"id": "not a uuid"}, "record 1")


def test_records_at_the_limits_take_the_common_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Records that are plain but not ASCII, or at a limit (text, tags, member
    ids and property names 255 characters long, nesting 64 levels deep, an
    integer of 4,096 bits, the first and last instants every engine stores),
    numbers in text fields, fields only responses show (a boolean, a number, a
    time), and custom JSON holding nulls and booleans, are read in one pass, and
    as the reference reads them."""
    limit_records = [
        {"id": "00000000-0000-4000-8000-000000000001", "name": "镜像-" + "x" * (MAX_TEXT - 3),
         "enterprise_project_id": "E" * MAX_TEXT, "__description": "Ubuntu 22.04 镜像", "ключ": "значение",
         "custom": {"名": [None, True, False, 1.5, "é"]}, "big": 2**(MAX_INT_BITS - 1),
         "bits": [2**(MAX_INT_BITS - 1)], "__os_bit": 64, "max_ram": 1024,  # numbers where text is expected
         "deleted": False, "virtual_size": 2**40, "deleted_at": "2019-01-01T00:00:00Z",  # only responses show these
         "tags": ["k=" + "v" * (MAX_TEXT - 2), "环境=生产"],
         "members": [{"member_id": "m" * MAX_TEXT, "status": "accepted"}], "p" * MAX_PROPERTY_NAME: True,
         "created_at": "1000-01-01T00:00:00Z", "updated_at": "9999-12-31T23:59:59.999999Z"},  # first, last instants
        # the record is level 1 and the field's value level 2: 63 containers reach level 64
        {"id": "00000000-0000-4000-8000-000000000002", "deep": _nested(MAX_DEPTH - 1)},
    ]
    for record in limit_records:
        assert_normalize_agrees(record)

    def no_exact(record: Any, position: str) -> Image:
        raise AssertionError(f"the exact path was taken at {position}")
    monkeypatch.setattr(records, "_normalize_exact", no_exact)
    for i, record in enumerate(limit_records):
        normalize(record, f"record {i}")


@pytest.mark.parametrize("value", FAST_EXAMPLES + FALLBACK_EXAMPLES)
@pytest.mark.parametrize("field", ["created_at", "deleted_at"])  # a typed field; one only responses show
def test_normalize_agrees_on_every_time_spelling(value: str, field: str) -> None:
    """A time the one-pass check reads, or turns away (``fromisoformat`` reads
    some of those, e.g. an offset with seconds, that the reference refuses), is
    the reference's image or error."""
    assert_normalize_agrees({"id": "00000000-0000-4000-8000-000000000001", field: value})


@pytest.mark.parametrize("record", [
    {"id": "00000000-0000-4000-8000-000000000001", "tags": ("a", "b")},
    {"id": "00000000-0000-4000-8000-000000000001", "custom": OrderedDict(a=1), "n": _Int(3)},
    {"id": "00000000-0000-4000-8000-000000000001", "__support_new": "TRUE", "__support_x": False,
     "__lazyloading": "FALSE", "deleted_at": "2018-10-28T10:00:00.5+01:00", "checksum": 7, "max_ram": -1},
    {"id": "00000000-0000-4000-8000-000000000001", "created_at": "2018-10-28T10:00:00Z",
     "updated_at": "2018-10-28T10:00:00.999999Z", "virtual_size": 2**63},
    {"id": "00000000-0000-4000-8000-000000000001", "members": [{"member_id": "p", "status": "accepted"}] * 2},
    {"id": "00000000-0000-4000-8000-000000000001", "x": {"k": [1, {"j": "\udfff"}]}},
])
def test_normalize_agrees_on_unusual_records(record: Any) -> None:
    assert_normalize_agrees(record)

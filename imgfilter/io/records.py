"""Image records: loading, validation and normalization (done once, at load time).

A record is shaped like an item of the API's response.  One validation
decides for every target: a record is JSON every database stores (string keys,
no NUL or lone surrogate in any string, finite numbers, at most ``MAX_DEPTH``
levels), and each field of the response table has its documented type.  Each
typed field of the parameter table is normalized (times to UTC instants,
booleans in either spelling, UUIDs in lowercase), ``architecture`` is derived
(from its field or ``__support_arm``), tags are split into key and value, memberships indexed, and the
image's response form is built (``Image.wire``).  The original
record is kept as ``Image.raw``; responses never show it.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
import math
import re
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

from dateutil.parser import isoparse

from imgfilter.front import codes
from imgfilter.front import params as P

UTC = dt.UTC
_SPECIAL = frozenset({"tags", "members"})
_SCALARS = frozenset({str, int, float, bool, type(None)})  # exact types: neither mappings nor arrays


class RecordError(ValueError):
    """A record that cannot be used; says where it is, its id and the field."""

    code = codes.BAD_VALUE

    def __init__(self, position: str, image_id: str | None, field_name: str | None, message: str) -> None:
        self.position = position
        self.image_id = image_id
        self.field = field_name
        self.message = message
        where = position + (f" (id {image_id})" if image_id else "")
        what = f" field {field_name!r}:" if field_name else ""
        super().__init__(f"{where}:{what} {message}")

    def to_ims(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": str(self)}}


@dataclass(frozen=True, slots=True, eq=False)
class Image:
    """One normalized record.  ``values`` has every typed field (None when
    missing or null; ``architecture`` always set); ``response``
    is the image as a response shows it, frozen, so that no page
    handed to one caller can change what the next one sees (``wire`` gives a
    fresh, mutable copy); ``raw`` is the record as it was given."""

    id: str
    values: Mapping[str, Any]
    tags: frozenset[tuple[str, str]]
    tag_keys: frozenset[str]
    members: Mapping[str, str]
    props: Mapping[str, str]  # other scalar fields as text (the `property` policy)
    flags: frozenset[str]  # other fields that hold true (the open __support_* family)
    response: Mapping[str, Any] = field(repr=False)
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def wire(self) -> dict[str, Any]:
        """The response form as a new ``dict`` (lists for arrays) of the caller's own."""
        out: dict[str, Any] = thaw(self.response)
        return out


def freeze(value: Any) -> Any:
    """A JSON value no one can change: objects as read-only mappings, arrays as tuples."""
    if type(value) in _SCALARS:  # most values; skips the slower ABC check below
        return value
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A fresh, mutable copy of a frozen JSON value (dicts and lists)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def split_tag(tag: str) -> tuple[str, str]:
    """A stored tag: ``k=v``; legacy ``k.v`` (no '='); or key-only ``k``."""
    if "=" in tag:
        k, _, v = tag.partition("=")
    elif "." in tag:
        k, _, v = tag.partition(".")
    else:
        k, v = tag, ""
    return k, v


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


# The spellings on which ``datetime.fromisoformat`` (C) and dateutil's
# ``isoparse`` were checked to agree (tests/test_records_fast.py): extended
# date with a four-digit year from 1000, ``T``, hh:mm:ss with hours 00-23,
# 1 to 6 fractional digits after a dot, then nothing, ``Z`` or +-hh:mm.  All
# ASCII ([0-9], never \d).  Anything else (week and ordinal dates, 24:00,
# compact forms, a space or lowercase separator, a comma, 7+ fractional
# digits, short offsets) takes dateutil's path.
_FAST_TIME = re.compile(
    r"[1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?")
_fromisoformat = dt.datetime.fromisoformat


def parse_time(value: str) -> dt.datetime:
    """An ISO 8601 timestamp as an aware UTC datetime; no offset means UTC.
    Raises ValueError outside the years 1000 to 9999 (UTC), the range every
    engine stores."""
    t: dt.datetime | None = None
    if _FAST_TIME.fullmatch(value) is not None:
        try:
            t = _fromisoformat(value)
        except ValueError:  # e.g. 2018-02-30: dateutil's path gives its own message
            t = None
    if t is None:
        t = isoparse(value)
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    if not P.TIME_MIN <= t <= P.TIME_MAX:
        raise ValueError("outside the years 1000 to 9999 (UTC) that every database stores")
    return t


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


MAX_TEXT = 255  # characters in a typed text field (IMS's own limit on names)
MAX_PROPERTY_NAME = 255
MAX_DEPTH = 64  # levels of nested objects and arrays in a record, the record itself included
MAX_INT_BITS = 4096  # larger integers are not JSON that every reader takes back
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _check_text(text: str) -> None:
    if len(text) > MAX_TEXT:
        raise ValueError(f"is {len(text)} characters long; at most {MAX_TEXT}")


def _check_chars(text: str, what: str) -> None:
    bad = _UNSTORABLE.search(text)
    if bad is None:
        return
    if bad.group() == "\x00":
        raise ValueError(f"{what} contains a NUL character, which PostgreSQL cannot store")
    raise ValueError(f"{what} contains a lone surrogate U+{ord(bad.group()):04X}, which is not Unicode text "
                     "and no database stores")


def _json(value: Any, level: int) -> Any:
    """A JSON value as every target stores and returns it (a tuple becomes a
    list, a mapping a dict); ValueError if it is not one.  ``level`` is the
    nesting level ``value`` has if it is an object or array; the recursion
    stops at ``MAX_DEPTH``, so loading never nears Python's recursion limit."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if _UNSTORABLE.search(value) is not None:
            _check_chars(value, "the value")
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
                _check_key(k)
                out[k] = _json(v, level + 1)
            except ValueError as e:
                raise ValueError(f"[{k!r}]{e}" if str(e).startswith("[") else f"[{k!r}]: {e}") from None
        return out
    items: list[Any] = []
    for i, v in enumerate(value):
        try:
            items.append(_json(v, level + 1))
        except ValueError as e:
            raise ValueError(f"[{i}]{e}" if str(e).startswith("[") else f"[{i}]: {e}") from None
    return items


def _check_key(key: Any) -> None:
    if not isinstance(key, str):
        raise ValueError(f"the key {key!r} is not a string")
    if _UNSTORABLE.search(key) is not None:
        _check_chars(key, "the key")


def _normalize(t: P.FieldType, value: Any, bounded: bool = True) -> Any:
    """The normalized value of a field of type ``t``, or raise ValueError with the reason."""
    if t is P.FieldType.TEXT or t is P.FieldType.ID:
        text = _text(value)
        if text is None:
            raise ValueError(f"{value!r} is not a string")
        if bounded:  # a column every engine indexes
            _check_text(text)
        return text.lower() if t is P.FieldType.ID else text
    if t is P.FieldType.BOOL:
        b = _bool(value)
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


# ---- the common path: one pass over a record, from tables built once -----------------------
#
# ``normalize`` reads a record once, each key dispatched by ``_PLAN`` (built from
# the parameter table and the response-field table), with str methods where
# the checks used regular expressions (``isascii()`` is O(1) and ASCII holds no
# surrogate; ``"\x00" in`` is a memchr).  It takes the common path only for
# records of plain JSON types (dict, list, str, int, float, bool, None) that
# pass every check; anything else, or any error, goes to ``_normalize_exact``,
# the reference implementation, which gives the error (or the unusual image)
# exactly as before.  tests/test_records_fast.py checks that both agree.

_PASS, _TYPED, _RESPONSE, _TAGS, _MEMBERS = range(5)  # how a key is read
_AS_IS, _YES_NO, _TIME_TEXT = range(3)  # how its normalized value is written in a response


def _plan() -> dict[str, tuple[int, P.FieldType | None, int]]:
    plan: dict[str, tuple[int, P.FieldType | None, int]] = {}
    for name, spec in P.RESPONSE_FIELDS.items():
        out = {P.Wire.YES_NO: _YES_NO, P.Wire.TIME: _TIME_TEXT}.get(spec.wire, _AS_IS)
        if name in P.FIELDS:
            plan[name] = (_TYPED, P.FIELDS[name].type, out)
        elif spec.wire is P.Wire.STRINGS:
            plan[name] = (_TAGS if name == "tags" else _PASS, None, _AS_IS)
        else:
            plan[name] = (_RESPONSE, P.WIRE_TYPES[spec.wire], out)
    for fld in P.FIELDS_LIST:
        if fld.name not in plan:  # a typed field that responses pass through
            plan[fld.name] = (_TYPED, fld.type, -1)
    plan["members"] = (_MEMBERS, None, _AS_IS)
    assert "tags" in plan and set(_SPECIAL) <= set(plan) and not P.NEVER_IN_RESPONSE - {"members"}
    return plan


_PLAN = _plan()
_NO_VALUES: dict[str, Any] = dict.fromkeys(f.name for f in P.FIELDS_LIST)
_INT64 = range(-(2**63), 2**63)
_UUID_MATCH = P.UUID_RE.fullmatch
_isfinite = math.isfinite
_int_repr = int.__repr__
_float_repr = json.dumps
_TRUE_FALSE = ("false", "true")


# the common (key, str value) cases of _normalize_plain, from _PLAN
_Q_TEXT, _Q_ID, _Q_PROP, _Q_TIME, _Q_YES_NO, _Q_SHOWN = range(6)


def _quick_str() -> dict[str, int]:
    quick: dict[str, int] = {}
    for name, (how, ftype, out) in _PLAN.items():
        assert len(name) <= MAX_PROPERTY_NAME
        if how is _TYPED and out is _AS_IS and ftype is P.FieldType.TEXT:
            quick[name] = _Q_TEXT
        elif how is _TYPED and out is _AS_IS and ftype is P.FieldType.ID:
            quick[name] = _Q_ID
        elif how is _TYPED and out is _TIME_TEXT and ftype is P.FieldType.TIME:
            quick[name] = _Q_TIME
        elif how is _TYPED and out is _YES_NO and ftype is P.FieldType.BOOL:
            quick[name] = _Q_YES_NO
        elif how is _RESPONSE and out is _AS_IS and ftype is P.FieldType.TEXT:
            quick[name] = _Q_PROP
    return quick


_QUICK_STR = _quick_str()
_INT_FIELDS = frozenset(n for n, (how, t, out) in _PLAN.items() if how is _TYPED and t is P.FieldType.INT
                        and out is _AS_IS)
_BOOL_FIELDS = frozenset(n for n, (how, t, out) in _PLAN.items() if how is _TYPED and t is P.FieldType.BOOL
                         and out in (_AS_IS, _YES_NO))
_YES_NO_FIELDS = frozenset(n for n in _BOOL_FIELDS if _PLAN[n][2] is _YES_NO)
_Q_OTHER = -1  # a key of the tables with no common case
_KEYS: dict[str, int] = {**dict.fromkeys(_PLAN, _Q_OTHER), **_QUICK_STR}  # every key of the tables: safe to store
assert all(_UNSTORABLE.search(k) is None for k in _KEYS)


class _Unusual(Exception):
    """Internal: the record leaves the common path (``_normalize_exact`` reads it)."""


def _plain_json(value: Any, level: int) -> None:
    """Raise ``_Unusual`` unless ``value`` (a dict or list) is plain JSON every target stores."""
    if level > MAX_DEPTH:
        raise _Unusual
    if type(value) is dict:
        for k in value:
            if type(k) is not str or "\x00" in k or (not k.isascii() and _UNSTORABLE.search(k) is not None):
                raise _Unusual
        items = value.values()
    else:
        items = value
    for v in items:
        t = type(v)
        if t is str:
            if "\x00" in v or (not v.isascii() and _UNSTORABLE.search(v) is not None):
                raise _Unusual
        elif t is int:
            if v.bit_length() > MAX_INT_BITS:
                raise _Unusual
        elif t is float:
            if not _isfinite(v):
                raise _Unusual
        elif t is dict or t is list:
            _plain_json(v, level + 1)
        elif v is not None and t is not bool:
            raise _Unusual


def _typed(t: P.FieldType, value: Any, bounded: bool) -> Any:
    """``_normalize`` for plain values; ``_Unusual`` where it would raise."""
    if t is P.FieldType.TEXT or t is P.FieldType.ID:
        tv = type(value)
        if tv is str:
            text = value
        elif tv is int:
            text = _int_repr(value)
        else:
            raise _Unusual
        if bounded and len(text) > MAX_TEXT:
            raise _Unusual
        return text.lower() if t is P.FieldType.ID else text
    if t is P.FieldType.BOOL:
        if value is True or value is False:
            return value
        if type(value) is str:
            low = value.lower()
            if low == "true":
                return True
            if low == "false":
                return False
        raise _Unusual
    if t is P.FieldType.INT:
        if type(value) is not int or value not in _INT64:
            raise _Unusual
        return value
    if type(value) is not str:
        raise _Unusual
    try:
        return parse_time(value)
    except (ValueError, OverflowError):
        raise _Unusual from None


def _time_and_text(value: str) -> tuple[dt.datetime, str]:
    """``parse_time(value)`` and the time as a response writes it (``_Unusual`` for an error)."""
    if _FAST_TIME.fullmatch(value) is not None:  # parse_time's fast path, the pattern matched once
        try:
            t = _fromisoformat(value)
        except ValueError:
            pass
        else:
            try:
                t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
            except OverflowError:
                raise _Unusual from None
            if not P.TIME_MIN <= t <= P.TIME_MAX:
                raise _Unusual
            if len(value) == 20 and value[19] == "Z":
                return t, value  # YYYY-MM-DDTHH:MM:SSZ already: the same text
            return t, t.strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        t = parse_time(value)
    except (ValueError, OverflowError):
        raise _Unusual from None
    return t, t.strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize(record: Any, position: str) -> Image:
    """Validate one record and build its ``Image``; raise ``RecordError``."""
    try:
        return _normalize_plain(record)
    except _Unusual:
        return _normalize_exact(record, position)


def _normalize_plain(record: Any) -> Image:
    if type(record) is not dict:
        raise _Unusual
    rid = record.get("id")
    if type(rid) is not str or _UUID_MATCH(rid) is None:
        raise _Unusual
    values = _NO_VALUES.copy()
    wire: dict[str, Any] = {}
    props: dict[str, str] = {}
    flags: list[str] = []
    tags: list[tuple[str, str]] = []
    members: dict[str, str] = {}
    plan_of = _PLAN.get
    key_code = _KEYS.get
    last_time: Any = None
    for key, value in record.items():
        q = key_code(key)
        if q is None:  # a key of no table
            if type(key) is not str or "\x00" in key or (not key.isascii() and _UNSTORABLE.search(key) is not None):
                raise _Unusual
            q = _Q_OTHER
            if not key.startswith(P.SUPPORT_PREFIX):
                q = _Q_PROP if len(key) <= MAX_PROPERTY_NAME else _Q_SHOWN
        tv = type(value)
        if tv is str:
            if "\x00" in value or (not value.isascii() and _UNSTORABLE.search(value) is not None):
                raise _Unusual
            # the common cases first: the same results as the general code below
            if q is _Q_TEXT:
                if len(value) > MAX_TEXT:
                    raise _Unusual
                values[key] = wire[key] = value
                continue
            if q is _Q_PROP:
                wire[key] = props[key] = value
                if (len(value) == 4 or not value.isascii()) and value.lower() == "true":
                    flags.append(key)
                continue
            if q is _Q_TIME:
                if value != last_time:  # updated_at is often created_at
                    last_time = value
                    last_t, last_text = _time_and_text(value)
                values[key] = last_t
                wire[key] = last_text
                continue
            if q is _Q_YES_NO:
                low = value.lower()
                if low == "true" or low == "false":
                    values[key] = low == "true"
                    wire[key] = low
                    continue
                raise _Unusual
            if q is _Q_ID:
                if len(value) > MAX_TEXT:
                    raise _Unusual
                values[key] = wire[key] = value.lower()
                continue
            if q is _Q_SHOWN:
                wire[key] = value
                continue
        elif tv is int:
            if value.bit_length() > MAX_INT_BITS:
                raise _Unusual
            if q is _Q_OTHER and key in _INT_FIELDS:
                if value not in _INT64:
                    raise _Unusual
                values[key] = wire[key] = value
                continue
        elif tv is bool and (q is _Q_YES_NO or key in _BOOL_FIELDS):
            values[key] = value
            wire[key] = _TRUE_FALSE[value] if key in _YES_NO_FIELDS else value
            continue
        elif tv is dict or tv is list:
            _plain_json(value, 2)
        elif tv is float:
            if not _isfinite(value):
                raise _Unusual
        elif value is not None and tv is not bool:
            raise _Unusual
        plan = plan_of(key)
        if plan is None:
            how, ftype, out = _PASS, None, _AS_IS
        else:
            how, ftype, out = plan
        if value is None:
            if how is not _MEMBERS:
                wire[key] = None
            continue
        if how is _TYPED:
            assert ftype is not None
            nv = values[key] = _typed(ftype, value, True)
        elif how is _RESPONSE:
            assert ftype is not None
            nv = _typed(ftype, value, False)
        elif how is _TAGS:
            if tv is not list:
                raise _Unusual
            for tag in value:
                if type(tag) is not str or len(tag) > MAX_TEXT:
                    raise _Unusual
                tags.append(split_tag(tag))
            wire[key] = tuple(value)
            continue
        elif how is _MEMBERS:
            if tv is not list:
                raise _Unusual
            for m in value:
                if type(m) is not dict:
                    raise _Unusual
                member, status = m.get("member_id"), m.get("status")
                if (type(member) is not str or type(status) is not str or status not in P.MEMBER_STATUSES
                        or len(member) > MAX_TEXT or member in members):
                    raise _Unusual
                members[member] = status
            continue
        else:  # passes through; an unlisted __support_* flag is written as yes/no
            nv = value
            if key.startswith(P.SUPPORT_PREFIX):
                if value is True or value is False:
                    nv = _TRUE_FALSE[value]
                elif tv is str:
                    low = value.lower()
                    if low == "true" or low == "false":
                        nv = low
            if tv is dict or tv is list:
                wire[key] = freeze(value)
                continue
        if out is _YES_NO:
            nv = "true" if nv else "false"
        elif out is _TIME_TEXT:
            nv = _time_and_text(value)[1]
        elif out < 0:  # a typed field no response table lists: passes through as _wire does
            nv = value
            if key.startswith(P.SUPPORT_PREFIX) and (flag := _bool(value)) is not None:
                nv = "true" if flag else "false"
        wire[key] = nv
        # other scalar fields as a response shows them, for the `property` policy and the __support_* family
        if how is _TYPED or len(key) > MAX_PROPERTY_NAME:
            continue
        tw = type(nv)
        if tw is str:
            props[key] = nv
            if nv.lower() == "true":
                flags.append(key)
        elif tw is bool:
            props[key] = "true" if nv else "false"
            if nv:
                flags.append(key)
        elif tw is int:
            props[key] = _int_repr(nv)
        elif tw is float:
            props[key] = _float_repr(nv)
    values["architecture"] = architecture(values["architecture"], record.get("__support_arm"))
    return Image(values["id"], values, frozenset(tags), frozenset([k for k, _ in tags]), members, props,
                 frozenset(flags), MappingProxyType(wire), record)


def _normalize_exact(record: Any, position: str) -> Image:
    """``normalize`` for any record: the reference, whose errors users read."""
    if not isinstance(record, Mapping):
        raise RecordError(position, None, None, f"a record must be a JSON object, not {type(record).__name__}")
    rid = record.get("id")
    if not isinstance(rid, str) or not P.UUID_RE.fullmatch(rid):
        raise RecordError(position, None, "id", "missing" if rid is None else f"{rid!r} is not a UUID")
    image_id = rid.lower()
    doc: dict[str, Any] = {}
    for key, value in record.items():
        try:
            _check_key(key)
        except ValueError as e:
            raise RecordError(position, image_id, key if isinstance(key, str) else None, str(e)) from None
        try:
            doc[key] = _json(value, 2)
        except ValueError as e:
            raise RecordError(position, image_id, key, str(e).removeprefix(": ")) from None
    values: dict[str, Any] = {}
    for fld in P.FIELDS_LIST:
        value = doc.get(fld.name)
        try:
            values[fld.name] = None if value is None else _normalize(fld.type, value)
        except ValueError as e:
            raise RecordError(position, image_id, fld.name, str(e)) from None
    tags = _tags(doc.get("tags"), position, image_id)
    members = _members(doc.get("members"), position, image_id)
    wire: dict[str, Any] = {}
    for key, value in doc.items():
        if key not in P.NEVER_IN_RESPONSE:
            try:
                wire[key] = _wire(key, value, values)
            except ValueError as e:
                raise RecordError(position, image_id, key, str(e)) from None
    values["architecture"] = architecture(values["architecture"], doc.get("__support_arm"))
    props: dict[str, str] = {}
    flags: set[str] = set()
    for key, value in wire.items():
        # other scalar fields as a response shows them, for the `property` policy and the __support_* family
        if key in P.FIELDS or key in _SPECIAL or value is None or len(key) > MAX_PROPERTY_NAME:
            continue
        if isinstance(value, bool):
            props[key] = "true" if value else "false"
        elif isinstance(value, str):
            props[key] = value
        elif isinstance(value, int | float):
            props[key] = json.dumps(value)
        else:
            continue
        if _bool(value) is True:
            flags.add(key)
    return Image(image_id, values, frozenset(tags), frozenset(k for k, _ in tags), members, props,
                 frozenset(flags), freeze(wire), record)


def architecture(field_value: str | None, support_arm: Any) -> str:
    """The image's architecture: its ``architecture`` field where
    present; otherwise ``arm`` where ``__support_arm`` is true (in either
    spelling), else ``x86``.  Every target filters on this value."""
    if field_value is not None:
        return field_value
    return "arm" if _bool(support_arm) is True else "x86"


def _wire(key: str, value: Any, values: Mapping[str, Any]) -> Any:
    """One field of a response image, from its checked JSON value."""
    if value is None:
        return None
    spec = P.RESPONSE_FIELDS.get(key)
    if spec is None:  # passes through; an unlisted __support_* flag is written as yes/no
        flag = _bool(value) if key.startswith(P.SUPPORT_PREFIX) else None
        return value if flag is None else ("true" if flag else "false")
    if spec.wire is P.Wire.STRINGS:
        return value  # tags: checked by _tags
    v = values[key] if key in P.FIELDS else _normalize(P.WIRE_TYPES[spec.wire], value, bounded=False)
    if spec.wire is P.Wire.YES_NO:
        return "true" if v else "false"
    if spec.wire is P.Wire.TIME:
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    return v


def _tags(value: Any, position: str, image_id: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise RecordError(position, image_id, "tags", "must be a list of strings")
    for t in value:
        try:
            _check_text(t)
        except ValueError as e:
            raise RecordError(position, image_id, "tags", f"tag {t[:40]!r}: {e}") from None
    return [split_tag(t) for t in value]


def _members(value: Any, position: str, image_id: str) -> dict[str, str]:
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
            _check_text(m["member_id"])
        except ValueError as e:
            raise RecordError(position, image_id, "members", f"member_id {e}") from None
        if m["member_id"] in out:
            raise RecordError(position, image_id, "members", f"member {m['member_id']!r} is listed twice")
        out[m["member_id"]] = m["status"]
    return out


class Catalog:
    """A validated set of images, in load order, indexed by id."""

    __slots__ = ("by_id", "images")

    def __init__(self, images: Iterable[Image]) -> None:
        self.images: tuple[Image, ...] = tuple(images)
        self.by_id: dict[str, Image] = {img.id: img for img in self.images}

    def __len__(self) -> int:
        return len(self.images)

    @classmethod
    def from_records(cls, records: Iterable[tuple[str, Any]] | Iterable[Any]) -> Catalog:
        """Records as dicts (or ``(position, dict)`` pairs); raise ``RecordError``."""
        images: list[Image] = []
        seen: dict[str, str] = {}
        for i, item in enumerate(records):
            position, record = f"record {i + 1}", item
            if isinstance(item, tuple):
                if len(item) != 2 or not isinstance(item[0], str):
                    raise RecordError(position, None, None, "expected a record or a (position, record) pair, "
                                      f"not a {len(item)}-tuple" + ("" if len(item) != 2 else
                                                                     " whose position is not a string"))
                position, record = item
            img = normalize(record, position)
            if img.id in seen:
                raise RecordError(position, img.id, "id", f"duplicate id: also {seen[img.id]}")
            seen[img.id] = position
            images.append(img)
        return cls(images)


def _not_a_document(text: str) -> RecordError:
    """The error of a whole text that is neither an array, an object nor JSON
    Lines: a JSON scalar, or text that starts with whitespace json does not skip
    (a form feed, U+2028, ...), as ``json.loads`` of the text reports it."""
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return RecordError(f"line {e.lineno} column {e.colno}", None, None, f"not JSON: {e.msg}")
    except (ValueError, RecursionError) as e:  # a 5,000-digit number; nesting too deep
        return RecordError("document", None, None, f"not usable JSON: {e}")
    return RecordError("document", None, None, "expected {\"images\": [...]}, a JSON array or JSON Lines")


def _json_line(line: str, n: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        raise RecordError(f"line {n}", None, None, f"not JSON: {e.msg}") from None
    except (ValueError, RecursionError) as e:
        raise RecordError(f"line {n}", None, None, f"not usable JSON: {e}") from None


# ---- streaming: records one at a time, in bounded memory --------------------------------
#
# ``stream`` reads a source in chunks of ``_CHUNK`` characters.  JSON Lines are
# read a line at a time.  A JSON array, or the array under ``"images"``, is read
# an element at a time with the standard library's own JSON scanner
# (``JSONDecoder.scan_once``, the C scanner that ``json.loads`` runs), so every
# value, every number and every error message is exactly what ``json.loads``
# of the whole text gives: the reader only walks the brackets, commas and
# colons between elements, as json's C parser does, and turns the positions of
# errors inside a window of the text into the line and column in the whole
# text.  (ijson was tried and set aside: its C backend rejects integers beyond
# 64 bits, which json reads, and NaN and Infinity, which are field errors here;
# 100,000 nested brackets exhaust its memory; its errors carry no position; and
# it read catalog records 3x slower than ``scan_once``.)

_CHUNK = 1 << 20  # characters read at a time
_MARGIN = 64  # an error this close to the end of the text read so far may be a cut, not an error
_LINE1_CAP = 1 << 20  # characters of line 1 kept while a saved response is read (see _after_response)
_JSON_WS = re.compile(r"[ \t\n\r]*")  # what json skips between tokens
_LINE_WS = re.compile(r"[ \t\r]*")  # json's whitespace within a line


def _line_ws(text: str, pos: int, end: int) -> int:
    """Where json's whitespace from ``pos`` ends, at most ``end``."""
    m = _LINE_WS.match(text, pos, end)
    return end if m is None else m.end()


_SPACE = re.compile(r"\s*")  # what str.lstrip() strips (both use Py_UNICODE_ISSPACE)
# json.loads's own scanner (the C one) with its default settings, and its string reader
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


class _Window:
    """The part of a text still needed, read from ``read`` as it is used.

    ``buf[pos:]`` is unread; text before ``pos`` is dropped when more is read,
    unless ``hold`` (all of it is kept).  ``lines`` and ``col``
    count the dropped text's newlines and the characters after its last one,
    so that an offset in ``buf`` still gives the line and column in the whole
    text, as json computes them."""

    def __init__(self, read: Callable[[int], str]) -> None:
        self._read = read
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.hold = True  # until the form of the text is known
        self.lines = 0
        self.col = 0
        # the dropped text of line 1, while it is being kept: None when not or no more (too long)
        self.line1: list[str] | None = None
        self.line1_done = False
        self._line1_size = 0

    def fill(self) -> bool:
        """Read more (dropping what is no longer needed); False at the end of the text."""
        if self.eof:
            return False
        if self.pos and not self.hold:
            self._drop(self.pos)
        # at least as much as is kept: a value larger than a chunk is read again a few times, not once a chunk
        chunk = self._read(max(_CHUNK, len(self.buf)))
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf + chunk if self.buf else chunk
        return True

    def _drop(self, k: int) -> None:
        buf = self.buf
        if self.line1 is not None and not self.line1_done:
            nl = buf.find("\n", 0, k)
            part = buf[:k] if nl < 0 else buf[:nl]
            self._line1_size += len(part)
            if self._line1_size > _LINE1_CAP:
                self.line1 = None
            else:
                self.line1.append(part)
                self.line1_done = nl >= 0
        nl = buf.count("\n", 0, k)
        if nl:
            self.lines += nl
            self.col = k - buf.rfind("\n", 0, k) - 1
        else:
            self.col += k
        self.buf = buf[k:]
        self.pos -= k

    def where(self, pos: int) -> str:
        """``line L column C`` of an offset of ``buf``, in the whole text."""
        nl = self.buf.count("\n", 0, pos)
        col = pos - self.buf.rfind("\n", 0, pos) if nl else self.col + pos + 1
        return f"line {self.lines + nl + 1} column {col}"

    def peek(self, pattern: re.Pattern[str] = _JSON_WS) -> str:
        """Skip what ``pattern`` matches; the next character, or '' at the end."""
        while True:
            m = pattern.match(self.buf, self.pos)
            assert m is not None  # both patterns match the empty string
            self.pos = m.end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def syntax(self, msg: str, pos: int) -> RecordError:
        return RecordError(self.where(pos), None, None, f"not JSON: {msg}")

    def _cut(self, msg: str, pos: int) -> bool:
        """Whether an error may come from the text not read yet; if so, more is read."""
        if self.eof or (pos < len(self.buf) - _MARGIN and not msg.startswith("Unterminated string")):
            return False
        self.fill()
        return True

    def _long_number_cut(self) -> bool:
        """Whether a number too long to read runs to the end of the text read so far (then more is read)."""
        if self.eof:
            return False
        limit = sys.get_int_max_str_digits()
        for m in re.finditer(r"[0-9]+", self.buf[self.pos:]):
            if len(m.group()) > limit:
                if self.pos + m.end() < len(self.buf):
                    return False
                self.fill()
                return True
        return False

    def value(self) -> Any:
        """The JSON value at ``pos`` (after whitespace), as json reads it."""
        while True:
            try:
                obj, end = _scan_once(self.buf, self.pos)
            except StopIteration as e:
                if self._cut("Expecting value", e.value):
                    continue
                raise self.syntax("Expecting value", e.value) from None
            except json.JSONDecodeError as e:
                if self._cut(e.msg, e.pos):
                    continue
                raise self.syntax(e.msg, e.pos) from None
            except (ValueError, RecursionError) as e:  # a 5,000-digit number; nesting too deep
                if isinstance(e, ValueError) and self._long_number_cut():
                    continue  # its message counts the digits: read them all
                raise RecordError("document", None, None, f"not usable JSON: {e}") from None
            if end > len(self.buf) - _MARGIN and not self.eof:
                self.fill()  # a number may go on in the text not read yet ("1." then "5"): read again
                continue
            self.pos = end
            return obj

    def key(self) -> str:
        """The object key whose opening quote is at ``pos``."""
        while True:
            try:
                k, end = _scanstring(self.buf, self.pos + 1)
            except json.JSONDecodeError as e:
                if self._cut(e.msg, e.pos):
                    continue
                raise self.syntax(e.msg, e.pos) from None
            self.pos = end
            return str(k)

    def expect(self, chars: str, msg: str) -> str:
        """The next character after whitespace, which must be one of ``chars``."""
        c = self.peek()
        if not c or c not in chars:
            raise self.syntax(msg, self.pos)
        self.pos += 1
        return c

    def elements(self) -> Iterator[Any]:
        """The elements of the array whose ``[`` was just read, walked as json's parser walks it."""
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            self.peek()
            yield self.value()
            if self.expect(",]", "Expecting ',' delimiter") == "]":
                return

    def rest(self) -> str:
        """The whole text from ``pos`` on, for a text read whole; the window is not used again."""
        parts = [self.buf[self.pos:]]
        while chunk := self._read(_CHUNK):
            parts.append(chunk)
        return "".join(parts)


class _Records:
    """The numbered records of a text, as reading the whole text gives them
    (``json.loads`` of it, or of each line of JSON Lines), read a record at a time.  ``label`` formats a number as the
    record's position; ``lines`` tells whether records are JSON Lines, whose
    errors come a line at a time, or elements of one document, whose own errors
    (JSON, shape) come before any record's, as when it is read whole."""

    def __init__(self, read: Callable[[int], str]) -> None:
        self.w = _Window(read)
        self.label: str  # set before the first record, by the form of the text
        self.lines = False
        self._it = self._records()

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return self._it

    def _records(self) -> Iterator[tuple[int, Any]]:
        w = self.w
        if not w.peek(_SPACE):
            return  # nothing but whitespace
        first = w.pos
        w.pos = 0
        c = w.peek()
        if w.pos != first or c not in "[{":
            # a scalar, or a character that json does not skip before the first: an
            # error, which json gives for the whole text (a scalar may go on for long)
            raise _not_a_document(w.buf[:first] + w.rest())
        w.pos += 1
        if c == "[":
            w.hold = False
            self.label = "item {}"
            yield from enumerate(w.elements())
            if w.peek():
                raise w.syntax("Extra data", w.pos)
            return
        yield from self._object()

    def _object(self) -> Iterator[tuple[int, Any]]:
        """A text that starts with ``{``: a saved response, one record, or JSON Lines."""
        w = self.w
        head: dict[str, Any] = {}
        streamed = False
        line1: str | None = None
        if w.peek() == "}":
            w.pos += 1
        else:
            while True:
                if w.peek() != '"':
                    raise w.syntax("Expecting property name enclosed in double quotes", w.pos)
                key = w.key()
                w.expect(":", "Expecting ':' delimiter")
                c = w.peek()
                if key == "images" and streamed:
                    # json.loads keeps the last; the first one's records are given already
                    raise RecordError("document", None, "images", "is given more than once")
                if key == "images" and c == "[":
                    streamed = True
                    self.label = "images[{}]"
                    nl = w.buf.find("\n", 0, w.pos)  # nothing is dropped yet
                    if nl >= 0:
                        line1 = w.buf[:nl]
                    else:
                        w.line1 = []
                    w.hold = False
                    w.pos += 1
                    yield from enumerate(w.elements())
                else:
                    head[key] = w.value()
                if w.expect(",}", "Expecting ',' delimiter") == "}":
                    break
        if w.peek():  # more after the first object: JSON Lines, as the whole text is read
            self.lines = True
            self.label = "line {}"
            if streamed:
                yield from self._after_response(line1)
                return
            w.pos = 0  # everything is kept: read again from the start
            w.hold = False
            yield from self._json_lines()
            return
        if streamed:
            return
        if "images" in head:
            raise RecordError("document", None, "images", "must be a list")
        self.label = "line {}"
        yield 1, head

    def _after_response(self, line1: str | None) -> Iterator[tuple[int, Any]]:
        """A saved response followed by more text, which the whole-text reading takes for JSON
        Lines: what it says of line 1 (an error, unless line 1 is a record), when
        the part of line 1 dropped from the window is at most ``_LINE1_CAP``
        characters.  Line 1 need not be read to its end: if it goes on past the
        response, the window holds the next character, which is not whitespace,
        and json says "Extra data" of the line whatever follows."""
        w = self.w
        if line1 is None and w.line1 is not None:
            line1 = "".join(w.line1)
            if not w.line1_done:
                line1 += w.buf.partition("\n")[0]
        if line1 is not None and line1.strip(" \t\r"):
            record = _json_line(line1, 1)
            yield 1, record  # the caller's normalize() raises for it in nearly every case
        raise RecordError("line 1", None, None,
                          "a saved response ({\"images\": [...]}) is followed by more text")

    def _json_lines(self) -> Iterator[tuple[int, Any]]:
        """JSON Lines from the start of the text.  Lines end at \\n (or \\r\\n) only:
        U+2028, U+2029 and U+0085 may stand raw inside JSON strings."""
        w = self.w
        n = 1
        while True:
            nl = w.buf.find("\n", w.pos)
            while nl < 0:
                searched = len(w.buf) - w.pos
                if not w.fill():
                    break
                nl = w.buf.find("\n", w.pos + searched)
            buf, begin, end = w.buf, w.pos, len(w.buf) if nl < 0 else nl
            w.pos = end + (nl >= 0)
            start = _line_ws(buf, begin, end)
            if start < end:  # not blank
                try:  # the value read in place: json.loads(line)'s when it ends the line
                    record, stop = _scan_once(buf, start)
                except (StopIteration, ValueError, RecursionError):
                    stop = -1
                if stop < 0 or stop > end or _line_ws(buf, stop, end) != end:
                    record = _json_line(buf[begin:end], n)  # what json.loads says of the line
                yield n, record
            if nl < 0:
                return
            n += 1


_BOM = b"\xef\xbb\xbf"


class _Decoded:
    """UTF-8 text (a BOM skipped, newlines translated as ``open()`` does) of a
    binary file, read in chunks; a byte that is not UTF-8 is a ``RecordError``
    saying what ``Path.read_text`` says of the whole file."""

    def __init__(self, raw: IO[bytes], name: str, first: bytes | None = None) -> None:
        self._raw = raw
        self._name = name
        self._first = first
        self._utf8 = codecs.getincrementaldecoder("utf-8-sig")()
        self._text = io.IncrementalNewlineDecoder(self._utf8, translate=True)
        self._fed = 0
        self._start = b""  # the first three bytes: a BOM?

    def read(self, n: int) -> str:
        while True:
            if self._first is not None:
                data, self._first = self._first, None
            else:
                try:
                    data = self._raw.read(n)
                except OSError as e:
                    raise RecordError(self._name, None, None, f"cannot read: {e}") from None
            if len(self._start) < 3:
                self._start += data[:3 - len(self._start)]
            pending = len(self._utf8.buffer)
            try:
                text = self._text.decode(data, final=not data)
            except UnicodeDecodeError as e:
                # positions as in one decode of the whole file (the BOM not counted)
                base = self._fed - pending - (3 if self._start == _BOM and self._fed >= 3 else 0)
                start, end = base + e.start, base + e.end
                what = (f"byte 0x{e.object[e.start]:02x} in position {start}" if e.end == e.start + 1
                        else f"bytes in position {start}-{end - 1}")
                raise RecordError(self._name, None, None,
                                  f"cannot read: '{e.encoding}' codec can't decode {what}: {e.reason}") from None
            self._fed += len(data)
            if text or not data:
                return text


def _reader(source: str | Path | IO[str] | IO[bytes]) -> tuple[Callable[[int], str], Callable[[], None]]:
    """A ``read(n)`` of the source's text (a leading BOM dropped) and how to close what was opened."""
    if isinstance(source, str | Path) and str(source) != "-":
        try:
            raw = open(source, "rb")  # noqa: SIM115 -- closed by the caller
        except OSError as e:
            raise RecordError(str(source), None, None, f"cannot read: {e}") from None
        return _Decoded(raw, str(source)).read, raw.close
    if isinstance(source, str | Path):
        text_source: IO[Any] = sys.stdin
        name = "-"
    else:
        text_source = source
        name = str(getattr(source, "name", "input"))

    def read_text(n: int) -> str:
        try:
            chunk = text_source.read(n)
        except (OSError, UnicodeDecodeError) as e:
            raise RecordError(name, None, None, f"cannot read: {e}") from None
        return str(chunk)

    try:
        first = text_source.read(_CHUNK)
    except (OSError, UnicodeDecodeError) as e:
        raise RecordError(name, None, None, f"cannot read: {e}") from None
    if isinstance(first, bytes | bytearray):
        return _Decoded(text_source, name, bytes(first)).read, lambda: None
    pending = [str(first).removeprefix("\ufeff")] if first else []

    def read(n: int) -> str:
        if pending:
            return pending.pop() or read_text(n)  # a first chunk that was only the BOM
        return read_text(n)

    return read, lambda: None


class SeenIds:
    """The ids met so far in a stream, each with the number of the record that
    had it first: an open-addressing hash table over three arrays (the id's two
    64-bit halves and the record number: 20 bytes a slot, at most three
    quarters full, so 27-53 bytes an id) -- a dict of ints takes about 115.
    Ids are UUIDs, kept whole as their 128-bit numbers (their canonical
    lowercase text and the number are one-to-one), so no two ids are ever
    confused: the hash only picks where to look.  ``capacity``: the initial
    number of slots, a power of two (the table doubles as it fills)."""

    _MASK = (1 << 64) - 1

    def __init__(self, capacity: int = 1 << 12) -> None:
        if capacity < 1 or capacity & (capacity - 1):
            raise ValueError(f"capacity must be a power of two, not {capacity}")
        self._size = 0
        self._alloc(capacity)

    def _alloc(self, capacity: int) -> None:
        self._cap = capacity
        self._high = array("Q", bytes(8 * capacity))
        self._low = array("Q", bytes(8 * capacity))
        self._first = array("I", bytes(4 * capacity))  # record number + 1; 0: an empty slot

    def __len__(self) -> int:
        return self._size

    def first(self, key: int, n: int) -> int:
        """The number of the first record with ``key``: ``n`` if none had it (then ``key`` is kept)."""
        high, low = key >> 64, key & self._MASK
        mask = self._cap - 1
        # bytes hash with the interpreter's secret key (SipHash): a file cannot be made
        # of ids that all fall on one slot, whatever their bits
        i = hash(key.to_bytes(16, "little")) & mask
        first = self._first
        while first[i]:
            if self._low[i] == low and self._high[i] == high:
                return first[i] - 1
            i = (i + 1) & mask
        if n >= 0xFFFFFFFF and first.typecode == "I":  # n + 1 past 32 bits: past four billion records
            first = self._first = array("Q", first)
        self._high[i], self._low[i], first[i] = high, low, n + 1
        self._size += 1
        if 4 * self._size > 3 * self._cap:  # at most three quarters full
            self._grow()
        return n

    def _grow(self) -> None:
        high, low, first = self._high, self._low, self._first
        self._alloc(2 * self._cap)  # 32-bit record numbers again: first() widens them if it must
        self._size = 0
        for i in range(len(first)):
            if first[i]:
                self.first((high[i] << 64) | low[i], first[i] - 1)


def stream(source: str | Path | IO[str] | IO[bytes]) -> Iterator[Image]:
    """Validated images, one at a time, from a path, ``-`` (stdin) or an open
    text or binary file, in bounded memory: JSON Lines a line at a time; a JSON
    array or saved response an element at a time.  Raises ``RecordError`` as
    ``load`` does for the same text: its position, the record's id, the field.

    Duplicate ids are found in the stream: each id seen is kept whole, as its
    128-bit number, with its record's number, in a compact table (``SeenIds``:
    27-53 bytes an id, against about 115 in a dict of ints)."""
    read, close = _reader(source)
    try:
        records = _Records(read)
        seen = SeenIds()
        for n, record in records:
            try:
                try:
                    img = _normalize_plain(record)
                except _Unusual:
                    img = _normalize_exact(record, records.label.format(n))
                first = seen.first(int(img.id.replace("-", ""), 16), n)
                if first != n:
                    raise RecordError(records.label.format(n), img.id, "id",
                                      f"duplicate id: also {records.label.format(first)}")
            except RecordError:
                if not records.lines:  # a document: its own error, if any, comes first
                    try:
                        for m, later in records:
                            if records.lines:  # a saved response and more text: line 1, read as JSON Lines
                                normalize(later, records.label.format(m))
                    except RecordError as document_error:
                        raise document_error from None
                raise
            yield img
    finally:
        close()


def load(source: str | Path | IO[str] | IO[bytes]) -> Catalog:
    """Load records from a path, ``-`` (stdin) or an open text or binary file."""
    return Catalog(stream(source))

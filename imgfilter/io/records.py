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

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
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


def normalize(record: Any, position: str) -> Image:
    """Validate one record and build its ``Image``; raise ``RecordError``."""
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


def iter_records(text: str) -> Iterator[tuple[str, Any]]:
    """Records of a saved API response ``{"images": [...]}``, a JSON array, or
    JSON Lines, each with its position for error messages."""
    stripped = text.lstrip()
    if not stripped:
        return
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        if stripped[0] == "{" and e.msg == "Extra data":
            yield from _json_lines(text)
            return
        raise RecordError(f"line {e.lineno} column {e.colno}", None, None, f"not JSON: {e.msg}") from None
    except (ValueError, RecursionError) as e:  # a 5,000-digit number; nesting too deep
        raise RecordError("document", None, None, f"not usable JSON: {e}") from None
    if isinstance(doc, Mapping) and "images" in doc:
        doc = doc["images"]
        label = "images[{}]"
    elif isinstance(doc, list):
        label = "item {}"
    elif isinstance(doc, Mapping):
        yield "line 1", doc
        return
    else:
        raise RecordError("document", None, None, "expected {\"images\": [...]}, a JSON array or JSON Lines")
    if not isinstance(doc, list):
        raise RecordError("document", None, "images", "must be a list")
    for i, rec in enumerate(doc):
        yield label.format(i), rec


def _json_lines(text: str) -> Iterator[tuple[str, Any]]:
    # lines end at \n (or \r\n) only: U+2028, U+2029 and U+0085 may stand raw inside JSON strings
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip(" \t\r"):
            continue
        try:
            yield f"line {n}", json.loads(line)
        except json.JSONDecodeError as e:
            raise RecordError(f"line {n}", None, None, f"not JSON: {e.msg}") from None
        except (ValueError, RecursionError) as e:
            raise RecordError(f"line {n}", None, None, f"not usable JSON: {e}") from None


def load(source: str | Path | IO[str]) -> Catalog:
    """Load records from a path, ``-`` (stdin) or an open text file."""
    if isinstance(source, str | Path):
        if str(source) == "-":
            import sys

            text = sys.stdin.read()
        else:
            try:
                text = Path(source).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as e:
                raise RecordError(str(source), None, None, f"cannot read: {e}") from None
    else:
        text = source.read()
    return Catalog.from_records(iter_records(text.removeprefix("\ufeff")))

"""The syntax tree: frozen, slotted dataclasses, each with its span in the raw query.

Two layers:

* ``Pair`` / ``ParsedQuery``: what the grammar read (decoded keys and values);
* ``Filter`` nodes / ``CheckedQuery``: what the checker proved well-typed, the
  one input of every target.

Spans never take part in equality: two queries that say the same thing in
different spellings compare equal.  ``to_json`` gives a stable JSON form.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from imgfilter.front.errors import Diagnostic


@dataclass(frozen=True, slots=True)
class Span:
    """Offsets ``[start, end)`` in the raw query string."""

    start: int
    end: int


NOWHERE = Span(0, 0)


def _span() -> Any:
    return field(default=NOWHERE, compare=False, repr=False)


# ---- parser output -------------------------------------------------------------

def _offset() -> Any:
    return field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Pair:
    """One ``key=value`` pair, decoded.  ``value`` is None for a bare key.

    Offsets in the raw query: the key is ``[start, key_end)``; a value starts
    after the '=' at ``key_end`` and runs to ``end``.  (Plain integers: spans
    are built only when asked, which is what an uncached check mostly skips.)"""

    key: str
    value: str | None
    start: int = _offset()
    key_end: int = _offset()
    end: int = _offset()
    # the raw (still percent-encoded) value when it needed decoding, else None;
    # decoded offsets are mapped back to raw ones from it, only when asked
    raw: str | None = field(default=None, compare=False, repr=False)

    @property
    def key_span(self) -> Span:
        return Span(self.start, self.key_end)

    @property
    def value_span(self) -> Span:
        return Span(self.key_end + 1 if self.end > self.key_end else self.key_end, self.end)

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)

    def raw_span(self, start: int, end: int) -> Span:
        """The raw span of decoded value characters ``[start, end)``."""
        base = self.key_end + 1
        if self.raw is None:
            return Span(base + start, base + end)
        from imgfilter.front.parse import decode  # the one decoding rule; only errors need offsets

        _, o = decode(self.raw, base)
        assert o is not None
        return Span(o[min(start, len(o) - 1)], o[min(end, len(o) - 1)])


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    source: str
    pairs: tuple[Pair, ...]


# ---- checked filter nodes ------------------------------------------------------

Scalar = str | int | bool


def _wire(v: Scalar) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


@dataclass(frozen=True, slots=True)
class FieldIn:
    """A typed record field equals one of ``values`` (several for aliases)."""

    param: str
    field: str
    values: tuple[Scalar, ...]
    span: Span = _span()

    def wire(self) -> tuple[str, str]:
        return self.param, _wire(self.values[0])


@dataclass(frozen=True, slots=True)
class SupportFlag:
    """An open-family ``__support_<name>=true``: the record field is true."""

    name: str
    span: Span = _span()

    def wire(self) -> tuple[str, str]:
        return self.name, "true"


@dataclass(frozen=True, slots=True)
class PropertyEq:
    """Unknown parameter under the ``property`` policy: the record field of the
    same name, as text, equals ``value`` exactly (Glance's behaviour)."""

    name: str
    value: str
    span: Span = _span()

    def wire(self) -> tuple[str, str]:
        return self.name, self.value


@dataclass(frozen=True, slots=True)
class TimeFilter:
    """``created_at`` / ``updated_at`` compared with an instant (UTC, microseconds)."""

    param: str
    field: str
    op: str  # gt gte lt lte eq neq
    at: dt.datetime
    span: Span = _span()

    def wire(self) -> tuple[str, str]:
        return self.param, f"{self.op}:{format_time(self.at)}"


@dataclass(frozen=True, slots=True)
class TagFilter:
    """The image carries tag ``key`` with ``value`` (any value when None)."""

    key: str
    value: str | None
    span: Span = _span()

    def wire(self) -> tuple[str, str]:
        return "tag", self.key if self.value is None else f"{self.key}={self.value}"


@dataclass(frozen=True, slots=True)
class MemberFilter:
    """The caller's membership of the image has ``status``."""

    status: str
    span: Span = _span()

    def wire(self) -> tuple[str, str]:
        return "member_status", self.status


@dataclass(frozen=True, slots=True)
class EnterpriseProject:
    """``0`` (the default project, also when missing), a UUID, or ``all_granted_eps``."""

    value: str
    span: Span = _span()

    def wire(self) -> tuple[str, str]:
        return "enterprise_project_id", self.value


@dataclass(frozen=True, slots=True)
class FlavorFit:
    """Images usable with a flavor: ``min_ram``/``min_disk`` within its size
    (a missing minimum asks for nothing)."""

    flavor_id: str
    ram_mb: int
    disk_gb: int
    span: Span = _span()

    def wire(self) -> tuple[str, str]:
        return "flavor_id", self.flavor_id


Filter = (FieldIn | SupportFlag | PropertyEq | TimeFilter | TagFilter | MemberFilter
          | EnterpriseProject | FlavorFit)


def format_time(t: dt.datetime) -> str:
    """ISO 8601 in UTC with 'Z', microseconds only when non-zero."""
    t = t.astimezone(dt.UTC)
    spec = "%Y-%m-%dT%H:%M:%S.%fZ" if t.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return t.strftime(spec)


@dataclass(frozen=True, slots=True)
class CheckedQuery:
    """A well-typed query: filters (ANDed, in a canonical order), order and page.
    Immutable; equality ignores the source text, spans and warnings."""

    source: str = field(compare=False)
    filters: tuple[Filter, ...]
    sort_key: str
    sort_dir: str
    marker: str | None = None
    limit: int | None = None
    warnings: tuple[Diagnostic, ...] = field(default=(), compare=False)
    marker_span: Span = _span()

    def pairs(self) -> list[tuple[str, str]]:
        """The query as canonical ``(name, value)`` pairs, sorted by name."""
        out = [f.wire() for f in self.filters]
        out.append(("sort_key", self.sort_key))
        out.append(("sort_dir", self.sort_dir))
        if self.marker is not None:
            out.append(("marker", self.marker))
        if self.limit is not None:
            out.append(("limit", str(self.limit)))
        return sorted(out)

    def normalized(self) -> str:
        """The canonical query string (sorted keys, ``quote(value, safe='~')``).
        Parsing it gives a query equal to this one."""
        return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in self.pairs())

    def to_json(self) -> dict[str, Any]:
        return {
            "filters": [node_json(f) for f in self.filters],
            "sort": {"key": self.sort_key, "dir": self.sort_dir},
            "marker": self.marker,
            "limit": self.limit,
            "normalized": self.normalized(),
            "warnings": [w.to_dict() for w in self.warnings],
        }


def node_json(node: Filter) -> dict[str, Any]:
    """The stable JSON form of a filter node: its type, fields and span."""
    out: dict[str, Any] = {"type": type(node).__name__}
    for name in node.__dataclass_fields__:
        if name == "span":
            continue
        v = getattr(node, name)
        if isinstance(v, dt.datetime):
            v = format_time(v)
        elif isinstance(v, tuple):
            v = list(v)
        out[name] = v
    out["span"] = [node.span.start, node.span.end]
    return out

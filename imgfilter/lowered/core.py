"""The lowered form: one small, closed predicate language every target spells.

``lower(query, context)`` turns a checked query and its caller into a
``Lowered``: the condition an image must meet (the query's filters and the
caller's scope, as one conjunction), the condition the marker image must meet
(the scope alone), and the order.  Every decision of the spec that is not pure
spelling is taken here, once:

* ``enterprise_project_id=0`` also matches an image with no enterprise project;
* ``all_granted_eps`` with an unknown grant list restricts nothing, with an
  empty one matches nothing, and counts a missing project as ``0``;
* ``flavor_id``: a missing ``min_ram`` / ``min_disk`` asks for nothing;
* ``tag=key`` (and ``tag=key=``) asks for the key with any value;
* ``member_status`` asks about the caller's own membership;
* an ordinary caller sees registered images that are public, its own, or
  shared with it (accepted, or with the status it filters on);
* a comparison never holds against a missing value (``Compare`` below).

A target only spells these nodes (``match`` over ``Pred`` with
``assert_never``, so mypy proves each target handles every node).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from imgfilter.caches import cached
from imgfilter.front import params as P
from imgfilter.front.ast import (
    CheckedQuery,
    EnterpriseProject,
    FieldIn,
    Filter,
    FlavorFit,
    MemberFilter,
    PropertyEq,
    SupportFlag,
    TagFilter,
    TimeFilter,
)
from imgfilter.lowered.context import Context
from imgfilter.lowered.scope import DEFAULT_EPS, Resolved, Scope, resolve

Value = str | int | bool | dt.datetime
Op = P.TimeOp  # the comparison operators: one table, with their Python and SQL spellings


@dataclass(frozen=True, slots=True)
class Compare:
    """``field op value``; false when the image has no value for ``field``
    (SQL's rule for NULL, and the spec's for times and numbers)."""

    field: str
    op: Op
    value: Value


@dataclass(frozen=True, slots=True)
class In:
    """``field`` equals one of ``values`` (at least two); false when missing."""

    field: str
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class IsNull:
    """The image has no value for ``field``."""

    field: str


@dataclass(frozen=True, slots=True)
class HasTag:
    """The image carries tag ``key``, with ``value`` (any value when None)."""

    key: str
    value: str | None


@dataclass(frozen=True, slots=True)
class HasMember:
    """``project`` is a member of the image with one of ``statuses``."""

    project: str
    statuses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HasProperty:
    """The image's custom property ``name``, as text, equals ``value``."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class HasFlag:
    """The image's property ``name`` is true (``__support_*`` flags)."""

    name: str


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every part holds (no parts: always true)."""

    parts: tuple[Pred, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one part holds (at least two parts)."""

    parts: tuple[Pred, ...]


@dataclass(frozen=True, slots=True)
class Never:
    """No image."""


Pred = Compare | In | IsNull | HasTag | HasMember | HasProperty | HasFlag | AllOf | AnyOf | Never
ALWAYS = AllOf(())


@dataclass(frozen=True, slots=True)
class Order:
    """The total order of a listing.

    Images are ordered by ``field`` and then by ``id``, both ascending or both
    descending.  An image with no value for ``field`` comes before every image
    with one when ascending (after them when descending): a missing value is
    the smallest.  Ids are unique, so the order is total, and a page after a
    marker holds the images strictly after the marker image in this order.
    """

    field: str
    descending: bool


@dataclass(frozen=True, slots=True)
class Lowered:
    """A query lowered for one caller: what every target compiles."""

    where: Pred  # the filters and the caller's scope
    visible: Pred  # the scope alone: where the marker image must be
    order: Order


def all_of(*parts: Pred) -> Pred:
    """The conjunction, flattened and simplified (``Never`` absorbs, ``ALWAYS`` drops)."""
    out: list[Pred] = []
    for p in parts:
        if isinstance(p, Never):
            return p
        out.extend(p.parts if isinstance(p, AllOf) else (p,))
    return out[0] if len(out) == 1 else AllOf(tuple(out))


def any_of(*parts: Pred) -> Pred:
    """The disjunction, flattened and simplified (``Never`` drops, ``ALWAYS`` absorbs)."""
    out: list[Pred] = []
    for p in parts:
        if p == ALWAYS:
            return p
        if isinstance(p, Never):
            continue
        out.extend(p.parts if isinstance(p, AnyOf) else (p,))
    if not out:
        return Never()
    return out[0] if len(out) == 1 else AnyOf(tuple(out))


def _missing_or(field: str, pred: Pred) -> Pred:
    return any_of(IsNull(field), pred)


def _one_of(field: str, values: tuple[Value, ...]) -> Pred:
    if not values:
        return Never()
    return Compare(field, Op.EQ, values[0]) if len(values) == 1 else In(field, values)


def lower_filter(node: Filter, ctx: Resolved) -> Pred:
    """One checked filter as a predicate."""
    match node:
        case FieldIn():
            return _one_of(node.field, node.values)
        case TimeFilter():
            return Compare(node.field, Op.of(node.op), node.at)
        case TagFilter():
            return HasTag(node.key, node.value)
        case MemberFilter():
            assert ctx.member_project is not None  # resolve() requires the caller's project
            return HasMember(ctx.member_project, (node.status,))
        case EnterpriseProject():
            eps = P.PARAMS["enterprise_project_id"].field
            assert eps is not None
            if node.value == DEFAULT_EPS:
                return _missing_or(eps.name, Compare(eps.name, Op.EQ, DEFAULT_EPS))
            if node.value == P.ALL_GRANTED_EPS:
                if ctx.granted_eps is None:
                    return ALWAYS
                granted = _one_of(eps.name, tuple(sorted(ctx.granted_eps)))
                return _missing_or(eps.name, granted) if DEFAULT_EPS in ctx.granted_eps else granted
            return Compare(eps.name, Op.EQ, node.value)
        case FlavorFit():
            ram, disk = (f.name for f in P.PARAMS["flavor_id"].reads)
            return all_of(_missing_or(ram, Compare(ram, Op.LTE, node.ram_mb)),
                          _missing_or(disk, Compare(disk, Op.LTE, node.disk_gb)))
        case SupportFlag():
            return HasFlag(node.name)
        case PropertyEq():
            return HasProperty(node.name, node.value)
    raise AssertionError(f"not a filter: {node!r}")  # pragma: no cover - Filter is closed


def lower_scope(scope: Scope | None) -> Pred:
    """The images an ordinary caller may see (``ALWAYS`` for an administrator)."""
    if scope is None:
        return ALWAYS
    seen: list[Pred] = [Compare("visibility", Op.EQ, "public")]
    if scope.project_id is not None:
        seen.append(Compare("owner", Op.EQ, scope.project_id))
        seen.append(HasMember(scope.project_id, scope.member_statuses))
    return all_of(Compare("__isregistered", Op.EQ, True), any_of(*seen))


@cached("lowered", 1024)
def _lower(filters: tuple[Filter, ...], sort: tuple[str, str], ctx: Resolved) -> Lowered:
    # keyed only on what the lowered form depends on: no text, span, marker or limit
    visible = lower_scope(ctx.scope)
    where = all_of(*(lower_filter(f, ctx) for f in filters), visible)
    return Lowered(where, visible, Order(sort[0], sort[1] == "desc"))


def lower(query: CheckedQuery, context: Context | None = None) -> Lowered:
    """Lower a checked query for a caller; raises the context's ``QueryError``s
    (IMG.0026 for an ordinary caller asking ``__isregistered=false``,
    ``member_status`` without the caller's project).  Cached."""
    return _lower(query.filters, (query.sort_key, query.sort_dir), resolve(query, context))

"""Target (a): a checked query as a Python predicate, sort and page over ``Image``s.

The predicate is generated Python source, compiled once per (query, context)
and cached: one boolean expression per filter, every query value passed in as
a named constant (never spliced into the source), field names taken from the
parameter table.  Evaluating it costs what a hand-written function costs.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, assert_never

from imgfilter.caches import cached
from imgfilter.front import params as P
from imgfilter.front.ast import CheckedQuery
from imgfilter.front.check import Options, check
from imgfilter.io.records import Catalog, Image
from imgfilter.lowered.context import Context
from imgfilter.lowered.core import (
    AllOf,
    AnyOf,
    Compare,
    HasFlag,
    HasMember,
    HasProperty,
    HasTag,
    In,
    IsNull,
    Lowered,
    Never,
    Op,
    Pred,
    lower,
)
from imgfilter.lowered.scope import marker_not_found
from imgfilter.result import Page
from imgfilter.targets.base import Target

Predicate = Callable[[Image], bool]
SortKey = Callable[[Image], tuple[Any, ...]]


class _Source:
    """Collects the expression source and its constants for one predicate."""

    def __init__(self) -> None:
        self.consts: dict[str, object] = {}
        self.temps = 0

    def const(self, value: object) -> str:
        name = f"c{len(self.consts)}"
        self.consts[name] = value
        return name

    def temp(self) -> str:
        self.temps += 1
        return f"t{self.temps}"


def _field(name: str) -> str:
    # only names from the parameter table reach the source, as string literals
    assert name in P.FIELDS, name
    return f"v[{name!r}]"


def _expr(node: Pred, src: _Source) -> str:
    """The Python expression of a lowered predicate."""
    match node:
        case Compare(field, op, value):
            if op is Op.EQ:  # a missing value (None) never equals a value
                return f"{_field(field)} is {value}" if isinstance(value, bool) else \
                    f"{_field(field)} == {src.const(value)}"
            t = src.temp()
            return f"(({t} := {_field(field)}) is not None and {t} {op.py} {src.const(value)})"
        case In(field, values):
            return f"{_field(field)} in {src.const(frozenset(values))}"
        case IsNull(field):
            return f"{_field(field)} is None"
        case HasTag(key, None):
            return f"{src.const(key)} in img.tag_keys"
        case HasTag(key, value):
            return f"{src.const((key, value))} in img.tags"
        case HasMember(project, statuses):
            if len(statuses) == 1:
                return f"img.members.get({src.const(project)}) == {src.const(statuses[0])}"
            return f"img.members.get({src.const(project)}) in {src.const(frozenset(statuses))}"
        case HasProperty(name, value):
            return f"img.props.get({src.const(name)}) == {src.const(value)}"
        case HasFlag(name):
            return f"{src.const(name)} in img.flags"
        case AllOf(parts):
            return " and ".join(f"({_expr(p, src)})" for p in parts) or "True"
        case AnyOf(parts):
            return " or ".join(f"({_expr(p, src)})" for p in parts)
        case Never():
            return "False"
        case _:
            assert_never(node)


def _compile(pred: Pred, src: _Source) -> Predicate:
    code = f"def predicate(img):\n    v = img.values\n    return {_expr(pred, src)}\n"
    namespace: dict[str, Any] = dict(src.consts)
    exec(compile(code, "<imgfilter predicate>", "exec"), namespace)
    fn: Predicate = namespace["predicate"]
    fn.__doc__ = code  # the generated source, for `explain` and debugging
    return fn


def sort_key(key: str) -> SortKey:
    """The total order as a key: missing values smallest, then ``id``."""
    assert key in P.SORT_KEYS
    if key == "id":
        return lambda img: (True, img.id, img.id)

    def k(img: Image) -> tuple[Any, ...]:
        v = img.values[key]
        return (v is not None, v, img.id)

    return k


@dataclass(frozen=True, slots=True)
class Plan:
    """A query compiled for one context: predicate, scope and order."""

    query: CheckedQuery
    predicate: Predicate  # filters AND scope
    visible: Predicate  # scope only: where the marker must be
    key: SortKey
    descending: bool

    def page(self, images: Iterable[Image], by_id: dict[str, Image] | None = None) -> Page:
        """Filter, order and page ``images`` (O(n log k) with a limit of k).

        Each match's sort key is computed once; keys are unique (they end with
        the id), so the (key, image) pairs never compare two images.
        """
        q = self.query
        key = self.key
        mk = None
        if q.marker is not None:
            if by_id is None:
                images = images if isinstance(images, list | tuple) else list(images)  # read once
                by_id = {img.id: img for img in images}
            marker = by_id.get(q.marker)
            if marker is None or not self.visible(marker):
                raise marker_not_found(q)
            mk = key(marker)
        keyed: Iterable[tuple[tuple[Any, ...], Image]] = ((key(img), img) for img in filter(self.predicate, images))
        if mk is not None:
            keyed = ((k, img) for k, img in keyed if (k < mk if self.descending else k > mk))
        if q.limit is None:
            return Page(tuple(img.wire for _, img in sorted(keyed, reverse=self.descending)), None)
        pick = heapq.nlargest if self.descending else heapq.nsmallest
        chosen = pick(q.limit + 1, keyed)
        more = len(chosen) > q.limit
        chosen = chosen[:q.limit]
        return Page(tuple(img.wire for _, img in chosen), chosen[-1][1].id if more and chosen else None)


@dataclass(frozen=True, slots=True)
class _Compiled:
    predicate: Predicate
    visible: Predicate
    key: SortKey
    descending: bool


@cached("predicates", 1024)
def _compile_plan(lowered: Lowered) -> _Compiled:
    # keyed only on the lowered form: no text, span, marker or limit of any
    # request (so a marker walk compiles once, and no caller ever gets another's text)
    src = _Source()
    return _Compiled(_compile(lowered.where, src), _compile(lowered.visible, src),
                     sort_key(lowered.order.field), lowered.order.descending)


@cached("compile_query", 1024, rebind="query")
def compile_query(query: CheckedQuery, context: Context | None = None) -> Plan:
    """Compile a checked query for a caller; raises ``QueryError`` for the
    context's rules (IMG.0026, member_status without a project).  Cached; the
    plan always holds the caller's own query (its marker, limit and text)."""
    c = _compile_plan(lower(query, context))
    return Plan(query, c.predicate, c.visible, c.key, c.descending)


def run(query: str | CheckedQuery, catalog: Catalog, context: Context | None = None,
        options: Options | None = None) -> Page:
    """Check (if given text), compile and run a query over a catalog."""
    checked = check(query, options) if isinstance(query, str) else query
    return compile_query(checked, context).page(catalog.images, catalog.by_id)


class MemoryTarget(Target[Catalog]):
    """The in-memory target: a validated ``Catalog`` is its source."""

    name = "memory"

    def load(self, catalog: Catalog) -> Catalog:
        return catalog

    def page(self, source: Catalog, query: CheckedQuery, context: Context | None = None) -> Page:
        return compile_query(query, context).page(source.images, source.by_id)


TARGET = MemoryTarget()

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
from typing import Any

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
from imgfilter.front.check import Options, check
from imgfilter.io.records import Catalog, Image
from imgfilter.lowered.context import Context
from imgfilter.lowered.scope import DEFAULT_EPS, Resolved, marker_not_found, resolve
from imgfilter.result import Page

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


def _expr(node: Filter, src: _Source, ctx: Resolved) -> str | None:
    """The Python expression for one filter (None: no restriction)."""
    if isinstance(node, FieldIn):
        f = _field(node.field)
        if len(node.values) == 1:
            value = node.values[0]
            return f"{f} is {value}" if isinstance(value, bool) else f"{f} == {src.const(value)}"
        return f"{f} in {src.const(frozenset(node.values))}"
    if isinstance(node, TimeFilter):
        t = src.temp()
        return f"(({t} := {_field(node.field)}) is not None and {t} {P.TimeOp.of(node.op).py} {src.const(node.at)})"
    if isinstance(node, TagFilter):
        if node.value is None:
            return f"{src.const(node.key)} in img.tag_keys"
        return f"{src.const((node.key, node.value))} in img.tags"
    if isinstance(node, MemberFilter):
        return f"img.members.get({src.const(ctx.member_project)}) == {src.const(node.status)}"
    if isinstance(node, EnterpriseProject):
        f = _field("enterprise_project_id")
        if node.value == DEFAULT_EPS:
            t = src.temp()
            return f"(({t} := {f}) is None or {t} == '0')"
        if node.value == P.ALL_GRANTED_EPS:
            if ctx.granted_eps is None:
                return None
            return f"({f} or '0') in {src.const(ctx.granted_eps)}"
        return f"{f} == {src.const(node.value)}"
    if isinstance(node, FlavorFit):
        r, d = src.temp(), src.temp()
        ram, disk = (_field(f.name) for f in P.PARAMS["flavor_id"].reads)
        return (f"(({r} := {ram}) is None or {r} <= {src.const(node.ram_mb)}) and "
                f"(({d} := {disk}) is None or {d} <= {src.const(node.disk_gb)})")
    if isinstance(node, SupportFlag):
        return f"{src.const(node.name)} in img.flags"
    assert isinstance(node, PropertyEq)
    return f"img.props.get({src.const(node.name)}) == {src.const(node.value)}"


def _scope_expr(ctx: Resolved, src: _Source) -> str | None:
    if ctx.scope is None:
        return None
    seen = [f"{_field('visibility')} == 'public'"]
    if ctx.scope.project_id is not None:
        project = src.const(ctx.scope.project_id)
        seen.append(f"{_field('owner')} == {project}")
        seen.append(f"img.members.get({project}) in {src.const(frozenset(ctx.scope.member_statuses))}")
    return f"{_field('__isregistered')} is True and ({' or '.join(seen)})"


def _compile(exprs: list[str], src: _Source) -> Predicate:
    body = " and ".join(f"({e})" for e in exprs) or "True"
    code = f"def predicate(img):\n    v = img.values\n    return {body}\n"
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
def _compile_plan(filters: tuple[Filter, ...], sort: tuple[str, str], ctx: Resolved) -> _Compiled:
    # keyed only on what the generated code depends on: no text, span, marker or
    # limit of any request (so a marker walk compiles once, and no caller ever
    # gets another's text)
    src = _Source()
    exprs = [e for e in (_expr(f, src, ctx) for f in filters) if e is not None]
    scope = _scope_expr(ctx, src)
    visible = _compile([scope] if scope else [], src)
    predicate = _compile(exprs + ([scope] if scope else []), src)
    return _Compiled(predicate, visible, sort_key(sort[0]), sort[1] == "desc")


@cached("compile_query", 1024, rebind="query")
def compile_query(query: CheckedQuery, context: Context | None = None) -> Plan:
    """Compile a checked query for a caller; raises ``QueryError`` for the
    context's rules (IMG.0026, member_status without a project).  Cached; the
    plan always holds the caller's own query (its marker, limit and text)."""
    ctx = resolve(query, context)
    c = _compile_plan(query.filters, (query.sort_key, query.sort_dir), ctx)
    return Plan(query, c.predicate, c.visible, c.key, c.descending)
def run(query: str | CheckedQuery, catalog: Catalog, context: Context | None = None,
        options: Options | None = None) -> Page:
    """Check (if given text), compile and run a query over a catalog."""
    checked = check(query, options) if isinstance(query, str) else query
    return compile_query(checked, context).page(catalog.images, catalog.by_id)

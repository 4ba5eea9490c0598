"""Target (b): a checked query as parameterized SQL for SQLite, PostgreSQL, MySQL/MariaDB.

The compiler is a visitor from filter nodes to SQL fragments.  Every value is
a bound parameter in the driver's paramstyle; identifiers come only from the
``Schema``.  The SQL text depends on the query's shape (and the size of the
context's grant list), never on a value.

Order and pages.  The total order puts images whose sort value is
missing before all others (ascending) or after them (descending).  Rather than
trust each engine's NULL ordering, a page is read from up to two *segments*
in order: the images whose sort value is NULL (ordered by ``id``) and the
others (ordered by sort value, then ``id``).  Each segment's statement is an
index range in the order of the ``(sort column, id)`` index, so neither the
first page nor a page deep behind a marker sorts or scans from the start.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from imgfilter.caches import cached
from imgfilter.db.connect import Connection, check_connection, dialect_of, transaction
from imgfilter.db.dialects import Dialect
from imgfilter.db.dialects import get as get_dialect
from imgfilter.db.schema import DEFAULT_SCHEMA, Schema
from imgfilter.db.verify import verified, verify_catalog
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
from imgfilter.lowered.context import Context
from imgfilter.lowered.scope import DEFAULT_EPS, Resolved, marker_not_found, resolve
from imgfilter.result import Page

SideFilter = TagFilter | SupportFlag | PropertyEq
SIDE_FILTERS = (TagFilter, SupportFlag, PropertyEq)  # filters that read a side table, not a column
# side-table filters spelled as an EXISTS each (per side table); the rest are grouped
SEPARATE_EXISTS = 3


class Slot:
    """A parameter bound at run time: the marker's sort value or id, or the row limit."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


MARKER_VALUE = Slot("marker sort value")
MARKER_ID = Slot("marker id")
ROW_LIMIT = Slot("row limit")


@dataclass(frozen=True, slots=True)
class Statement:
    """SQL text and its parameters (``Slot``s are filled in at run time)."""

    sql: str
    params: tuple[Any, ...]

    def bind(self, values: dict[Slot, Any]) -> tuple[Any, ...]:
        return tuple(values[p] if isinstance(p, Slot) else p for p in self.params)


@dataclass(frozen=True, slots=True)
class Segment:
    """One part of the order: images whose sort value is NULL, or the others."""

    null: bool
    first: Statement  # from the start of the segment
    after: Statement  # strictly after the marker (the marker lies in this segment)


@dataclass(frozen=True, slots=True)
class SqlPlan:
    """Everything needed to read pages of one query for one caller."""

    query: CheckedQuery
    dialect: Dialect
    marker_lookup: Statement | None  # the marker's sort value, within the scope
    segments: tuple[Segment, ...]  # in page order

    def statements(self) -> list[tuple[str, Statement]]:
        """Every statement with a label, for printing."""
        out: list[tuple[str, Statement]] = []
        if self.marker_lookup is not None:
            out.append(("marker lookup", self.marker_lookup))
        for seg in self.segments:
            part = "images with no sort value" if seg.null else "images with a sort value"
            out.append((f"{part}: first page", seg.first))
            if self.query.marker is not None:
                out.append((f"{part}: after the marker", seg.after))
        return out


_TOKEN = re.compile("\x00([0-9]+)\x00")


class _Builder:
    """Collects SQL fragments and their parameters for one statement.

    ``p(value)`` stands a token for the value in the text; ``finish`` replaces
    the tokens with the driver's placeholder and lists the values in the order
    they appear, so fragments may be built in any order.
    """

    def __init__(self, dialect: Dialect, schema: Schema) -> None:
        self.d = dialect
        self.s = schema
        self.values: list[Any] = []

    def p(self, value: Any) -> str:
        self.values.append(value)
        return f"\x00{len(self.values) - 1}\x00"

    def finish(self, sql: str) -> Statement:
        params: list[Any] = []

        def placeholder(m: re.Match[str]) -> str:
            params.append(self.values[int(m.group(1))])
            return self.d.placeholder

        return Statement(_TOKEN.sub(placeholder, sql), tuple(params))

    def col(self, field_name: str) -> str:
        return f"i.{self.d.ident(self.s.column(field_name))}"


    def x(self, column: str) -> str:
        """A side table's column, quoted as every identifier is."""
        return f"x.{self.d.ident(column)}"

    def exists(self, kind: str, conds: list[str]) -> str:
        where = " AND ".join([self.of_image(kind), *conds])
        return f"EXISTS (SELECT 1 FROM {self.d.ident(self.s.side_table(kind))} x WHERE {where})"

    def of_image(self, kind: str) -> str:
        return f"{self.x(self.s.image_of(kind))} = i.{self.d.ident(self.s.column('id'))}"

    def side(self, kind: str, conds: list[str]) -> list[str]:
        """Conditions saying that every one of ``conds`` holds for some row of
        the side table ``kind`` (tags, members or properties).

        The first ``SEPARATE_EXISTS`` are an ``EXISTS`` each, which a planner may
        turn into a semi-join driven by the side table's index (the fast plan
        for a rare tag).  The rest are one correlated subquery that adds up, per
        condition, whether any of the image's rows meets it, so a planner sees
        a bounded number of subqueries however many filters a query has:
        PostgreSQL took ~20 s to plan 98 separate ``EXISTS``.  A repeated
        condition counts once per repetition, so duplicates need no care.
        """
        out = [self.exists(kind, [c]) for c in conds[:SEPARATE_EXISTS]]
        rest = conds[SEPARATE_EXISTS:]
        if rest:
            each = " + ".join(f"MAX(CASE WHEN {c} THEN 1 ELSE 0 END)" for c in rest)
            any_ = " OR ".join(f"({c})" for c in rest)
            out.append(f"(SELECT {each} FROM {self.d.ident(self.s.side_table(kind))} x "
                       f"WHERE {self.of_image(kind)} AND ({any_})) "
                       f"= {len(rest)}")
        return out

    # -- the visitor ------------------------------------------------------------------
    def filter(self, node: Filter, ctx: Resolved) -> str | None:
        """The condition of a filter on the image's own columns (None: no restriction)."""
        if isinstance(node, FieldIn):
            col = self.col(node.field)
            if len(node.values) == 1:
                return f"{col} = {self.p(node.values[0])}"
            return f"{col} IN ({', '.join(self.p(v) for v in node.values)})"
        if isinstance(node, TimeFilter):
            return f"{self.col(node.field)} {P.TimeOp.of(node.op).sql} {self.p(self.d.bind_time(node.at))}"
        if isinstance(node, MemberFilter):
            return self.exists("members", [f"{self.x(self.s.member_id)} = {self.p(ctx.member_project)}",
                                           f"{self.x(self.s.member_status)} = {self.p(node.status)}"])
        if isinstance(node, EnterpriseProject):
            col = self.col("enterprise_project_id")
            if node.value == DEFAULT_EPS:
                return f"({col} IS NULL OR {col} = {self.p(DEFAULT_EPS)})"
            if node.value == P.ALL_GRANTED_EPS:
                if ctx.granted_eps is None:
                    return None
                if not ctx.granted_eps:
                    return "1 = 0"
                granted = sorted(ctx.granted_eps)
                return (f"COALESCE({col}, {self.p(DEFAULT_EPS)}) IN "
                        f"({', '.join(self.p(g) for g in granted)})")
            return f"{col} = {self.p(node.value)}"
        if isinstance(node, FlavorFit):
            ram, disk = (self.col(f.name) for f in P.PARAMS["flavor_id"].reads)
            return (f"({ram} IS NULL OR {ram} <= {self.p(node.ram_mb)}) AND "
                    f"({disk} IS NULL OR {disk} <= {self.p(node.disk_gb)})")
        raise AssertionError(f"not a column filter: {node!r}")

    def side_condition(self, node: SideFilter) -> tuple[str, str]:
        """The side table (kind) a tag, flag or property filter reads, and its condition on one row."""
        s = self.s
        if isinstance(node, TagFilter):
            if node.value is None:
                return "tags", f"{self.x(s.tag_key)} = {self.p(node.key)}"
            return "tags", f"{self.x(s.tag_key)} = {self.p(node.key)} AND {self.x(s.tag_value)} = {self.p(node.value)}"
        if isinstance(node, SupportFlag):
            return "properties", (f"{self.x(s.property_name)} = {self.p(node.name)} AND "
                                  f"{self.x(s.property_is_true)} = {self.p(True)}")
        return "properties", (f"{self.x(s.property_name)} = {self.p(node.name)} AND "
                              f"{self.x(s.property_value)} = {self.p(node.value)}")

    def scope(self, ctx: Resolved) -> str | None:
        if ctx.scope is None:
            return None
        registered = f"{self.col('__isregistered')} = {self.p(True)}"
        seen = [f"{self.col('visibility')} = {self.p('public')}"]
        if ctx.scope.project_id is not None:
            seen.append(f"{self.col('owner')} = {self.p(ctx.scope.project_id)}")
            statuses = ", ".join(self.p(s) for s in ctx.scope.member_statuses)
            seen.append(self.exists("members", [f"{self.x(self.s.member_id)} = {self.p(ctx.scope.project_id)}",
                                                f"{self.x(self.s.member_status)} IN ({statuses})"]))
        return f"{registered} AND ({' OR '.join(seen)})"


def _where(b: _Builder, query: CheckedQuery, ctx: Resolved) -> list[str]:
    conds: list[str] = []
    side: dict[str, list[str]] = {}
    for f in query.filters:
        if isinstance(f, SIDE_FILTERS):
            kind, cond = b.side_condition(f)
            side.setdefault(kind, []).append(cond)
        else:
            c = b.filter(f, ctx)
            if c is not None:
                conds.append(c)
    for kind, side_conds in side.items():
        conds.extend(b.side(kind, side_conds))
    scope = b.scope(ctx)
    if scope is not None:
        conds.append(scope)
    return [f"({c})" for c in conds]


def _statement(query: CheckedQuery, ctx: Resolved, d: Dialect, s: Schema,
               tail: Callable[[_Builder], tuple[list[str], str]]) -> Statement:
    b = _Builder(d, s)
    conds = _where(b, query, ctx)
    extra, order = tail(b)
    where = " AND ".join(conds + extra) or "1 = 1"
    sql = (f"SELECT i.{d.ident(s.column('id'))}, i.{d.ident(s.record)} FROM {d.ident(s.images)} i "
           f"WHERE {where} ORDER BY {order}")
    if query.limit is not None:
        sql += f" LIMIT {b.p(ROW_LIMIT)}"
    return b.finish(sql)


def _segment(query: CheckedQuery, ctx: Resolved, d: Dialect, s: Schema, null: bool) -> Segment:
    desc = query.sort_dir == "desc"
    direction = "DESC" if desc else "ASC"
    lt = "<" if desc else ">"
    key_field = query.sort_key

    def col(b: _Builder) -> str:
        return b.col(key_field)

    def ident(b: _Builder) -> str:
        return b.col("id")

    def first(b: _Builder) -> tuple[list[str], str]:
        if key_field == "id":
            return [], f"{ident(b)} {direction}"
        if null:
            return [f"{col(b)} IS NULL"], f"{ident(b)} {direction}"
        return [f"{col(b)} IS NOT NULL"], f"{col(b)} {direction}, {ident(b)} {direction}"

    def after(b: _Builder) -> tuple[list[str], str]:
        if key_field == "id":
            return [f"{ident(b)} {lt} {b.p(MARKER_ID)}"], f"{ident(b)} {direction}"
        if null:
            return ([f"{col(b)} IS NULL", f"{ident(b)} {lt} {b.p(MARKER_ID)}"], f"{ident(b)} {direction}")
        if d.row_values:
            cond = f"({col(b)}, {ident(b)}) {lt} ({b.p(MARKER_VALUE)}, {b.p(MARKER_ID)})"
        else:
            cond = (f"({col(b)} {lt} {b.p(MARKER_VALUE)} OR ({col(b)} = {b.p(MARKER_VALUE)} AND "
                    f"{ident(b)} {lt} {b.p(MARKER_ID)}))")
        return [cond], f"{col(b)} {direction}, {ident(b)} {direction}"

    return Segment(null, _statement(query, ctx, d, s, first), _statement(query, ctx, d, s, after))


@cached("compile_sql", 1024, rebind="query")  # the plan holds the caller's own query
def compile_sql(query: CheckedQuery, dialect: str | Dialect = "sqlite", context: Context | None = None,
                schema: Schema = DEFAULT_SCHEMA) -> SqlPlan:
    """Compile a checked query for a dialect and a caller; raises ``QueryError``
    for the context's rules, as the in-memory target does."""
    d = get_dialect(dialect)
    ctx = resolve(query, context)
    marker_lookup = None
    if query.marker is not None:
        b = _Builder(d, schema)
        conds = [f"{b.col('id')} = {b.p(query.marker)}"]
        scope = b.scope(ctx)
        if scope is not None:
            conds.append(f"({scope})")
        key = b.col(query.sort_key)
        marker_lookup = b.finish(f"SELECT {key} FROM {d.ident(schema.images)} i WHERE {' AND '.join(conds)}")
    if query.sort_key == "id":
        segments: Sequence[Segment] = (_segment(query, ctx, d, schema, False),)
    else:
        nulls = _segment(query, ctx, d, schema, True)
        values = _segment(query, ctx, d, schema, False)
        segments = (values, nulls) if query.sort_dir == "desc" else (nulls, values)
    return SqlPlan(query, d, marker_lookup, tuple(segments))


# ---- running pages on a DB-API connection ----------------------------------------------

def _decode(record: Any) -> Any:
    if isinstance(record, bytes | bytearray | memoryview):
        record = bytes(record).decode("utf-8")
    return json.loads(record)


def run(conn: Connection, query: str | CheckedQuery, context: Context | None = None, *,
        dialect: Dialect | None = None, schema: Schema = DEFAULT_SCHEMA,
        options: Options | None = None) -> Page:
    """Run a query on a database; returns the same ``Page`` as the in-memory
    target, and raises the same ``QueryError``s."""
    checked = check(query, options) if isinstance(query, str) else query
    d = dialect or dialect_of(conn)
    plan = compile_sql(checked, d, context, schema)
    check_connection(conn, d)
    with transaction(conn, d, d.read_begin) as cur:
        if schema not in verified(conn):
            verify_catalog(conn, schema, dialect=d, cursor=cur)
        return _page(cur, plan, checked)


def _page(cur: Any, plan: SqlPlan, checked: CheckedQuery) -> Page:
    """Read one page: the marker's sort value, then segments until the page is full."""
    slots: dict[Slot, Any] = {}
    segments = plan.segments
    after_marker = False
    if plan.marker_lookup is not None:
        cur.execute(plan.marker_lookup.sql, plan.marker_lookup.bind(slots))
        row = cur.fetchone()
        if row is None:
            raise marker_not_found(checked)
        slots[MARKER_VALUE], slots[MARKER_ID] = row[0], checked.marker
        at = next(i for i, s in enumerate(segments) if s.null == (row[0] is None) or len(segments) == 1)
        segments = segments[at:]
        after_marker = True
    limit = checked.limit
    want = None if limit is None else limit + 1
    rows: list[tuple[Any, Any]] = []
    for i, seg in enumerate(segments):
        if limit == 0:
            break
        stmt = seg.after if after_marker and i == 0 else seg.first
        if want is not None:
            slots[ROW_LIMIT] = want - len(rows)
        cur.execute(stmt.sql, stmt.bind(slots))
        rows.extend(cur.fetchall())
        if want is not None and len(rows) >= want:
            break
    more = limit is not None and len(rows) > limit
    page = rows[:limit] if limit is not None else rows
    next_marker = _id(page[-1][0]) if more and page else None
    return Page(tuple(_decode(r[1]) for r in page), next_marker)


def _id(value: Any) -> str:
    return bytes(value).decode("ascii") if isinstance(value, bytes | bytearray) else str(value)



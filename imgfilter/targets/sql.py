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

import datetime as dt
import json
import re
import sqlite3
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from imgfilter.caches import cached
from imgfilter.db.connect import Connection, SqliteConnection, check_connection, connect, dialect_of, transaction
from imgfilter.db.dialects import Dialect
from imgfilter.db.dialects import get as get_dialect
from imgfilter.db.schema import DEFAULT_SCHEMA, Schema
from imgfilter.db.verify import verified, verify_catalog
from imgfilter.front.ast import CheckedQuery
from imgfilter.front.check import Options, check
from imgfilter.io.records import Catalog
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
    Pred,
    lower,
)
from imgfilter.lowered.scope import marker_not_found
from imgfilter.result import Page
from imgfilter.targets.base import Target

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

    def __init__(self, dialect: Dialect, schema: Schema, pin: str | None = None) -> None:
        self.d = dialect
        self.s = schema
        self.pin = pin  # the one image every side subquery is about (the marker lookup)
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
        where = " AND ".join([self.of_image(kind), *self.pinned(kind), *conds])
        return f"EXISTS (SELECT 1 FROM {self.d.ident(self.s.side_table(kind))} x WHERE {where})"

    def pinned(self, kind: str) -> list[str]:
        """With ``pin``: the side rows' image is also the pinned image (the same
        rows, but a distributed engine such as Citus routes the subquery to one shard)."""
        if self.pin is None:
            return []
        return [f"{self.x(self.s.image_of(kind))} = {self.p(self.pin)}"]

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
    def pred(self, node: Pred) -> str:
        """The SQL condition of a lowered predicate."""
        match node:
            case Compare(field, op, value):
                bound = self.d.bind_time(value) if isinstance(value, dt.datetime) else value
                return f"{self.col(field)} {op.sql} {self.p(bound)}"
            case In(field, values):
                return f"{self.col(field)} IN ({', '.join(self.p(v) for v in values)})"
            case IsNull(field):
                return f"{self.col(field)} IS NULL"
            case HasMember(project, statuses):
                s = self.s
                if len(statuses) == 1:
                    status = f"{self.x(s.member_status)} = {self.p(statuses[0])}"
                else:
                    status = f"{self.x(s.member_status)} IN ({', '.join(self.p(v) for v in statuses)})"
                return self.exists("members", [f"{self.x(s.member_id)} = {self.p(project)}", status])
            case HasTag() | HasProperty() | HasFlag():
                return self.exists(*self.side_condition(node))
            case AllOf(parts):
                return " AND ".join(f"({self.pred(p)})" for p in parts) or "1 = 1"
            case AnyOf(parts):
                return " OR ".join(f"({self.pred(p)})" for p in parts)
            case Never():
                return "1 = 0"
            case _:
                assert_never(node)

    def side_condition(self, node: HasTag | HasProperty | HasFlag) -> tuple[str, list[str]]:
        """The side table (kind) a tag, flag or property test reads, and its conditions on one row."""
        s = self.s
        match node:
            case HasTag(key, None):
                return "tags", [f"{self.x(s.tag_key)} = {self.p(key)}"]
            case HasTag(key, value):
                return "tags", [f"{self.x(s.tag_key)} = {self.p(key)}", f"{self.x(s.tag_value)} = {self.p(value)}"]
            case HasFlag(name):
                return "properties", [f"{self.x(s.property_name)} = {self.p(name)}",
                                      f"{self.x(s.property_is_true)} = {self.p(True)}"]
            case HasProperty(name, value):
                return "properties", [f"{self.x(s.property_name)} = {self.p(name)}",
                                      f"{self.x(s.property_value)} = {self.p(value)}"]
            case _:
                assert_never(node)


def _conjuncts(pred: Pred) -> tuple[Pred, ...]:
    return pred.parts if isinstance(pred, AllOf) else (pred,)


def _where(b: _Builder, pred: Pred) -> list[str]:
    """The conditions of a predicate; tag, flag and property tests at its top
    level are grouped per side table (``_Builder.side``)."""
    conds: list[str] = []
    side: dict[str, list[str]] = {}
    for part in _conjuncts(pred):
        if isinstance(part, HasTag | HasProperty | HasFlag):
            kind, row = b.side_condition(part)
            side.setdefault(kind, []).append(" AND ".join(row))
        else:
            conds.append(b.pred(part))
    for kind, side_conds in side.items():
        conds.extend(b.side(kind, side_conds))
    return [f"({c})" for c in conds]


def _statement(lowered: Lowered, limit: bool, d: Dialect, s: Schema,
               tail: Callable[[_Builder], tuple[list[str], str]]) -> Statement:
    b = _Builder(d, s)
    conds = _where(b, lowered.where)
    extra, order = tail(b)
    where = " AND ".join(conds + extra) or "1 = 1"
    sql = (f"SELECT i.{d.ident(s.column('id'))}, i.{d.ident(s.record)} FROM {d.ident(s.images)} i "
           f"WHERE {where} ORDER BY {order}")
    if limit:
        sql += f" LIMIT {b.p(ROW_LIMIT)}"
    return b.finish(sql)


def _segment(lowered: Lowered, limit: bool, d: Dialect, s: Schema, null: bool) -> Segment:
    """The statements of one segment of the order (``Order``): from its start,
    and strictly after the marker."""
    desc = lowered.order.descending
    direction = "DESC" if desc else "ASC"
    lt = "<" if desc else ">"
    key_field = lowered.order.field

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

    return Segment(null, _statement(lowered, limit, d, s, first), _statement(lowered, limit, d, s, after))


def _marker_lookup(lowered: Lowered, marker: str, d: Dialect, s: Schema) -> Statement:
    """The marker's sort value, if the marker image is one the caller may see.
    Side subqueries are pinned to the marker (one shard on a distributed engine)."""
    b = _Builder(d, s, pin=marker)
    conds = [f"{b.col('id')} = {b.p(marker)}", *_where(b, lowered.visible)]
    return b.finish(f"SELECT {b.col(lowered.order.field)} FROM {d.ident(s.images)} i WHERE {' AND '.join(conds)}")


@cached("compile_sql", 1024, rebind="query")  # the plan holds the caller's own query
def compile_sql(query: CheckedQuery, dialect: str | Dialect = "sqlite", context: Context | None = None,
                schema: Schema = DEFAULT_SCHEMA) -> SqlPlan:
    """Compile a checked query for a dialect and a caller; raises ``QueryError``
    for the context's rules, as the in-memory target does."""
    d = get_dialect(dialect)
    lowered = lower(query, context)
    limit = query.limit is not None
    marker_lookup = None if query.marker is None else _marker_lookup(lowered, query.marker, d, schema)
    if lowered.order.field == "id":
        segments: Sequence[Segment] = (_segment(lowered, limit, d, schema, False),)
    else:
        nulls = _segment(lowered, limit, d, schema, True)
        values = _segment(lowered, limit, d, schema, False)
        segments = (values, nulls) if lowered.order.descending else (nulls, values)
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




class SqlTarget(Target[Connection]):
    """The SQL target on a DB-API connection (SQLite, PostgreSQL, MySQL/MariaDB)."""

    name = "sql"
    databases = ("sqlite", "postgresql", "mysql")

    def load(self, catalog: Catalog) -> Connection:
        from imgfilter.io.load import load_catalog

        conn = self._opened(sqlite3.connect(":memory:", factory=SqliteConnection))
        load_catalog(conn, catalog)
        return conn

    def attach(self, conn: Connection) -> Connection:
        return conn  # the caller's: close() leaves it open

    def connect(self, url: str) -> Connection:
        return self._opened(connect(url))

    def bundled(self) -> Connection:
        from imgfilter.io.catalog import bundled_sqlite_path

        return self._opened(sqlite3.connect(bundled_sqlite_path(), factory=SqliteConnection))

    def page(self, source: Connection, query: CheckedQuery, context: Context | None = None) -> Page:
        return run(source, query, context)

    @staticmethod
    def _opened(conn: Connection) -> Connection:
        _OPENED.add(conn)
        return conn

    def close(self, source: Connection) -> None:
        if source in _OPENED:
            _OPENED.discard(source)
            source.close()


# the connections load, connect and bundled opened (close closes those only)
_OPENED: weakref.WeakSet[Connection] = weakref.WeakSet()


TARGET = SqlTarget()

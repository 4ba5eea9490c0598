"""Target (c): the lowered form as SQLAlchemy Core expressions.

A service that reaches its database through SQLAlchemy adds imgfilter's
filter to its own ``select()`` on its own tables or ORM classes: ``Tables``
maps imgfilter's fields onto them (default: the reference schema, also given
as ``MetaData`` by ``metadata()`` so that Alembic can migrate it), and
``where``, ``order_by``, ``after`` and ``limit`` are the clauses of one page.
``page`` runs a whole page on a ``Connection``, ``Session`` or ``Engine`` and
returns the same ``Page`` and ``QueryError``s as every other target.

The nodes are spelled as ``targets/sql.py`` spells them (``match`` over the
lowered form, side-table tests grouped per table), every value a bound
parameter of the mapped column's type.  ``page`` reads the order in the same
two segments as the DB-API target (images with no sort value, and the
others), each an index range on ``(sort column, id)``, with a row-value
keyset condition on SQLite and PostgreSQL and the expanded one on
MySQL/MariaDB (``Dialect.row_values``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, assert_never, cast

import sqlalchemy as sa
from sqlalchemy.dialects import mysql as sa_mysql
from sqlalchemy.dialects import postgresql as sa_pg
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.engine import Dialect as SADialect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

from imgfilter.caches import cached
from imgfilter.db.connect import Connection, DatabaseError, check_connection, dialect_of
from imgfilter.db.dialects import MYSQL, POSTGRESQL, SQLITE, Dialect
from imgfilter.db.dialects import get as get_dialect
from imgfilter.db.schema import DEFAULT_SCHEMA, SIDE_FIELDS, Schema
from imgfilter.db.verify import verified, verify_catalog
from imgfilter.front import params as P
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
from imgfilter.targets.sql import SEPARATE_EXISTS

UTC = dt.UTC
Column = ColumnElement[Any]
Cond = ColumnElement[bool]


_SA_NAMES = {"mariadb": "mysql"}  # SQLAlchemy's dialect names that are another's in imgfilter's table


def engine_of(dialect: SADialect) -> Dialect:
    """imgfilter's dialect for SQLAlchemy's (``mariadb`` is ``mysql``)."""
    try:
        return get_dialect(_SA_NAMES.get(dialect.name, dialect.name))
    except ValueError:
        raise DatabaseError(f"unsupported SQLAlchemy dialect {dialect.name!r}: "
                            f"use sqlite, postgresql or mysql/mariadb") from None


# ---- the reference schema's column types -------------------------------------------------

# per engine, the SQLAlchemy type of each kind of column, as the dialect table's
# DDL spells it (``Dialect.types``, ``key_text``, ``long_text``): a table of
# differences, so no code asks an engine its name
_TYPES: dict[Dialect, dict[str, TypeEngine[Any]]] = {
    SQLITE: {"text": sa.Text(), "long": sa.Text(), "time": sa.Text(), "bool": sa.Integer(), "int": sa.Integer()},
    POSTGRESQL: {"text": sa_pg.TEXT(collation="C"), "long": sa.Text(), "time": sa_pg.TIMESTAMP(timezone=True),
                 "bool": sa.Boolean(), "int": sa.BigInteger()},
    MYSQL: {"text": sa_mysql.VARBINARY(1020), "long": sa_mysql.LONGBLOB(), "time": sa_mysql.DATETIME(fsp=6),
            "bool": sa.Boolean(), "int": sa.BigInteger()},
}


class _Reference(TypeDecorator[Any]):
    """A column type of the reference schema: ``kind``'s type on each engine (``_TYPES``)."""

    impl = sa.Text
    cache_ok = True
    kind = "text"

    def load_dialect_impl(self, dialect: SADialect) -> TypeEngine[Any]:
        return _TYPES[engine_of(dialect)][self.kind]


class ExactText(_Reference):
    """Text compared byte by byte: SQLite ``TEXT``, PostgreSQL ``TEXT COLLATE "C"``,
    MySQL/MariaDB ``VARBINARY(1020)`` (sent and read as UTF-8 bytes)."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: SADialect) -> Any:
        return value.encode("utf-8") if isinstance(value, str) else value

    def process_result_value(self, value: Any, dialect: SADialect) -> Any:
        return bytes(value).decode("utf-8") if isinstance(value, bytes | bytearray | memoryview) else value

    # only a binary column type (MySQL/MariaDB's) needs converting: elsewhere no Python call per value
    def _binary(self, dialect: SADialect) -> bool:
        return self.load_dialect_impl(dialect).python_type is bytes

    def bind_processor(self, dialect: SADialect) -> Any:
        if self._binary(dialect):
            return super().bind_processor(dialect)
        return self.impl_instance.bind_processor(dialect)

    def result_processor(self, dialect: SADialect, coltype: Any) -> Any:
        if self._binary(dialect):
            return super().result_processor(dialect, coltype)
        return self.impl_instance.result_processor(dialect, coltype)


class LongText(ExactText):
    """The record as JSON, and property values: ``TEXT``, or ``LONGBLOB`` on MySQL/MariaDB."""

    cache_ok = True
    kind = "long"


class UtcTime(_Reference):
    """An instant at microseconds: SQLite fixed-width UTC text, PostgreSQL
    ``TIMESTAMPTZ``, MySQL/MariaDB ``DATETIME(6)`` in UTC; read back as an aware
    UTC datetime, bound as the DB-API target binds it (``Dialect.bind_time``)."""

    cache_ok = True
    kind = "time"

    def process_bind_param(self, value: Any, dialect: SADialect) -> Any:
        return engine_of(dialect).bind_time(value) if isinstance(value, dt.datetime) else value

    def process_result_value(self, value: Any, dialect: SADialect) -> Any:
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value


class _Bool(_Reference):
    cache_ok = True
    kind = "bool"


class _Int(_Reference):
    cache_ok = True
    kind = "int"


def _field_type(t: P.FieldType) -> TypeEngine[Any]:
    match t:
        case P.FieldType.TEXT | P.FieldType.ID:
            return ExactText()
        case P.FieldType.BOOL:
            return _Bool()
        case P.FieldType.INT:
            return _Int()
        case P.FieldType.TIME:
            return UtcTime()
        case _:
            assert_never(t)


def metadata(schema: Schema = DEFAULT_SCHEMA) -> sa.MetaData:
    """The reference schema (``imgfilter.db.schema``) as SQLAlchemy tables, in a
    new ``MetaData``: the same tables, columns, column types per engine, keys and
    indexes as ``imgfilter load`` creates, so ``metadata().create_all(engine)``
    or an Alembic migration made from it holds a catalog imgfilter accepts."""
    md = sa.MetaData()
    s = schema
    kw: dict[str, Any] = {"mysql_engine": "InnoDB"}
    images: list[sa.Column[Any]] = [sa.Column(s.column("id"), ExactText(), primary_key=True, nullable=False)]
    images += [sa.Column(s.column(f.name), _field_type(f.type)) for f in P.FIELDS_LIST if f.name != "id"]
    images.append(sa.Column(s.record, LongText(), nullable=False))
    tables = {
        s.images: sa.Table(s.images, md, *images, **kw),
        s.tags: sa.Table(s.tags, md, *[sa.Column(c, ExactText(), primary_key=True, nullable=False)
                                       for c in (s.tag_image, s.tag_key, s.tag_value)], **kw),
        s.members: sa.Table(s.members, md,
                            sa.Column(s.member_image, ExactText(), primary_key=True, nullable=False),
                            sa.Column(s.member_id, ExactText(), primary_key=True, nullable=False),
                            sa.Column(s.member_status, ExactText(), nullable=False), **kw),
        s.properties: sa.Table(s.properties, md,
                               sa.Column(s.property_image, ExactText(), primary_key=True, nullable=False),
                               sa.Column(s.property_name, ExactText(), primary_key=True, nullable=False),
                               sa.Column(s.property_value, LongText(), nullable=False),
                               sa.Column(s.property_is_true, sa.Boolean(), nullable=False), **kw),
    }
    for name, table, cols in s.indexes():
        sa.Index(name, *(tables[table].c[c] for c in cols))
    return md


# ---- the mapping onto a service's tables ---------------------------------------------------

SIDE_KEYS = tuple(f for fields in SIDE_FIELDS.values() for f in fields)  # tag_image, tag_key, ...
_KINDS = ("tags", "members", "properties")


def _default_names(schema: Schema) -> dict[str, str]:
    """Every mapped name of ``schema``: fields, side-table columns and the record."""
    names = {f.name: schema.column(f.name) for f in P.FIELDS_LIST}
    names.update({k: str(getattr(schema, k)) for k in SIDE_KEYS})
    names["record"] = schema.record
    return names


def _column(entity: Any, name: str, role: str) -> Column:
    """The column ``name`` of a ``Table`` (or other FROM clause), or the mapped
    attribute ``name`` of an ORM class (or ``aliased`` one)."""
    if isinstance(entity, sa.FromClause):
        col = entity.c.get(name)
        if col is None:
            raise ValueError(f"{role}: table {entity.description} has no column {name!r} "
                             f"(map it with Tables(columns={{...}}))")
        return cast(Column, col)
    attr = getattr(entity, name, None)
    if not isinstance(attr, QueryableAttribute):
        raise ValueError(f"{role}: {getattr(entity, '__name__', entity)!r} has no mapped column attribute "
                         f"{name!r} (map it with Tables(columns={{...}}))")
    return attr.expression


@dataclass(frozen=True, eq=False)  # identity: a plan is cached per Tables object
class Tables:
    """Where imgfilter's data lives: the images, tags, members and properties
    tables, each a ``Table`` or an ORM class mapped to one, and ``columns``: the
    column (for a ``Table``) or attribute (for an ORM class) of each imgfilter
    name that differs from the reference schema's, by field name
    (``{"name": "display_name"}``), side-table column name (``tag_image``,
    ``tag_key``, ``tag_value``, ``member_image``, ``member_id``,
    ``member_status``, ``property_image``, ``property_name``,
    ``property_value``, ``property_is_true``) or ``record``.

    The names given, and ``id``, are looked up when the ``Tables`` is made; the
    others when a query first needs them, so a model need not have a column for
    a field its service never filters on, nor a side table it never reads (a
    query that does gets a ``ValueError`` naming the field or table; an
    ordinary caller's scope reads the members table).  ``record`` (the image in its wire form as
    JSON) is read by ``page`` only; the clauses never read it."""

    images: Any
    tags: Any = None
    members: Any = None
    properties: Any = None
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    schema: Schema | None = None  # the reference schema these are (``reference``): verified on a page
    _names: dict[str, str] = field(init=False, repr=False)
    _cols: dict[str, Column] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = _default_names(DEFAULT_SCHEMA)
        unknown = sorted(set(self.columns) - set(names))
        if unknown:
            raise ValueError(f"Tables: no imgfilter name(s) {', '.join(unknown)}: the names are the record "
                             f"fields, {', '.join(SIDE_KEYS)} and record")
        names.update(self.columns)
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_cols", {})
        for key in ("id", *self.columns):
            self.col(key)

    def col(self, key: str) -> Column:
        """The column of an imgfilter field, side-table column name or ``record``."""
        col = self._cols.get(key)
        if col is None:
            kind = next((k for k, keys in SIDE_FIELDS.items() if key in keys), None)
            entity = self.images if kind is None else self.side(kind)
            col = self._cols[key] = _column(entity, self._names[key], key)
        return col

    def side(self, kind: str) -> Any:
        """The table or ORM class of the side table ``kind`` (tags, members or properties)."""
        entity = {"tags": self.tags, "members": self.members, "properties": self.properties}[kind]
        if entity is None:
            raise ValueError(f"Tables: no {kind} table mapped, and the query or the caller's scope reads it "
                             f"(Tables({kind}=...))")
        return entity


@lru_cache(maxsize=16)
def reference(schema: Schema = DEFAULT_SCHEMA) -> Tables:
    """The ``Tables`` of the reference schema (``metadata(schema)``'s tables)."""
    md = metadata(schema).tables
    return Tables(md[schema.images], md[schema.tags], md[schema.members], md[schema.properties],
                  _default_names(schema), schema)


# ---- spelling the lowered form ------------------------------------------------------------

class _Utf8(TypeDecorator[Any]):
    """Text bound to a binary column (``VARBINARY``, ``BLOB``): its UTF-8 bytes."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: SADialect) -> Any:
        return value.encode("utf-8")  # only text is bound with it (_bind_type): a value or the marker


def _python_type(col: Column) -> type | None:
    try:
        return col.type.python_type
    except NotImplementedError:  # a type that does not say (NullType, some custom types)
        return None


def _bind_type(col: Column, value: Any) -> TypeEngine[Any]:
    """The type a value is bound with to compare with ``col``: the column's own,
    but for text to a binary column (its UTF-8 bytes, as MySQL/MariaDB's
    reflected ``VARBINARY`` columns hold it) and a time to a column typed as
    neither ``DateTime`` nor an imgfilter type (imgfilter's text of the
    instant, as its SQLite catalog and ``UtcTime`` hold it)."""
    t: TypeEngine[Any] = col.type
    if isinstance(t, _Reference):
        return t
    py = _python_type(col)
    if isinstance(value, str) and py is bytes:
        return _Utf8()
    if isinstance(value, dt.datetime) and py is not None and not issubclass(py, dt.date):
        return UtcTime()
    return t


def _bind(col: Column, value: Any) -> Column:
    """``value`` as a bound parameter compared with ``col`` (``_bind_type``).  A
    time is bound as an aware UTC datetime, or a naive UTC one to a ``DateTime``
    without time zone."""
    if isinstance(value, dt.datetime):
        value = value.astimezone(UTC)
        if isinstance(col.type, sa.DateTime) and not col.type.timezone:
            value = value.replace(tzinfo=None)
    return sa.literal(value, _bind_type(col, value))


class _Spell:
    """SQLAlchemy conditions of lowered predicates over one ``Tables``."""

    def __init__(self, tables: Tables, pin: Column | None = None) -> None:
        self.t = tables
        self.pin = pin  # the one image every side subquery is about (the marker lookup)

    def col(self, name: str) -> Column:
        return self.t.col(name)

    def eq(self, name: str, value: Any) -> Cond:
        c = self.col(name)
        return c == _bind(c, value)

    def of_image(self, kind: str) -> list[Cond]:
        image = self.col(SIDE_FIELDS[kind][0])
        out = [image == self.col("id")]
        if self.pin is not None:  # the same rows; a distributed engine routes the subquery to one shard
            out.append(image == self.pin)
        return out

    def exists(self, kind: str, conds: list[Cond]) -> Cond:
        return sa.exists().where(*self.of_image(kind), *conds)

    def side(self, kind: str, rows: list[list[Cond]]) -> list[Cond]:
        """Each of ``rows`` (one row's conditions) holds for some row of the side
        table ``kind``: as ``targets/sql.py`` groups them, the first
        ``SEPARATE_EXISTS`` an ``EXISTS`` each, the rest one correlated subquery
        adding up, per condition, whether any of the image's rows meets it."""
        out = [self.exists(kind, row) for row in rows[:SEPARATE_EXISTS]]
        rest = [sa.and_(*row) for row in rows[SEPARATE_EXISTS:]]
        if rest:
            one: Column = sa.literal_column("1")
            zero: Column = sa.literal_column("0")
            total: Column = sa.literal_column(str(len(rest)))  # the count of filters: the query's shape
            each: list[Column] = [sa.func.max(sa.case((c, one), else_=zero)) for c in rest]
            summed = each[0]
            for term in each[1:]:
                summed = summed + term
            out.append(sa.select(summed).where(*self.of_image(kind), sa.or_(*rest)).scalar_subquery() == total)
        return out

    def pred(self, node: Pred) -> Cond:
        """The condition of a lowered predicate."""
        match node:
            case Compare(name, op, value):
                c = self.col(name)
                return cast(Cond, op.fn(c, _bind(c, value)))
            case In(name, values):
                c = self.col(name)
                return c.in_([_bind(c, v) for v in values])
            case IsNull(name):
                return self.col(name).is_(None)
            case HasMember(project, statuses):
                status = self.col("member_status")
                by_status = (self.eq("member_status", statuses[0]) if len(statuses) == 1
                             else status.in_([_bind(status, v) for v in statuses]))
                return self.exists("members", [self.eq("member_id", project), by_status])
            case HasTag() | HasProperty() | HasFlag():
                kind, row = self.side_condition(node)
                return self.exists(kind, row)
            case AllOf(parts):
                return sa.and_(*(self.pred(p) for p in parts)) if parts else sa.true()
            case AnyOf(parts):
                return sa.or_(*(self.pred(p) for p in parts))
            case Never():
                return sa.false()
            case _:
                assert_never(node)

    def side_condition(self, node: HasTag | HasProperty | HasFlag) -> tuple[str, list[Cond]]:
        """The side table (kind) a tag, flag or property test reads, and its conditions on one row."""
        match node:
            case HasTag(key, None):
                return "tags", [self.eq("tag_key", key)]
            case HasTag(key, value):
                return "tags", [self.eq("tag_key", key), self.eq("tag_value", value)]
            case HasFlag(name):
                return "properties", [self.eq("property_name", name), self.eq("property_is_true", True)]
            case HasProperty(name, value):
                return "properties", [self.eq("property_name", name), self.eq("property_value", value)]
            case _:
                assert_never(node)

    def where(self, pred: Pred) -> list[Cond]:
        """The conditions of a predicate; tag, flag and property tests at its top
        level grouped per side table (``side``)."""
        conds: list[Cond] = []
        side: dict[str, list[list[Cond]]] = {}
        for part in pred.parts if isinstance(pred, AllOf) else (pred,):
            if isinstance(part, HasTag | HasProperty | HasFlag):
                kind, row = self.side_condition(part)
                side.setdefault(kind, []).append(row)
            else:
                conds.append(self.pred(part))
        for kind in _KINDS:
            conds.extend(self.side(kind, side.get(kind, [])))
        return conds


# ---- pages: the marker lookup and the two segments ----------------------------------------

MARKER = "imgfilter_marker"  # names of the run-time bound parameters
MARKER_VALUE = "imgfilter_marker_value"
ROW_LIMIT = "imgfilter_row_limit"


@dataclass(frozen=True, slots=True)
class Segment:
    """One part of the order: images whose sort value is NULL, or the others."""

    null: bool
    first: sa.Select[Any]  # from the start of the segment
    after: sa.Select[Any]  # strictly after the marker (the marker lies in this segment)


@dataclass(frozen=True, slots=True)
class SaPlan:
    """The statements of one query for one caller, tables and engine; the
    marker, its sort value and the row limit are bound when a page runs."""

    lowered: Lowered
    marker_lookup: sa.Select[Any]  # the marker's sort value, within the scope
    segments: tuple[Segment, ...]  # in page order


def _keyset(key: Column, ident: Column, value: Column, marker: Column, desc: bool, row_values: bool) -> Cond:
    """``(key, id)`` strictly after ``(value, marker)`` in the order's direction."""
    if row_values:
        a, b = sa.tuple_(key, ident), sa.tuple_(value, marker)
        return a < b if desc else a > b
    if desc:
        return sa.or_(key < value, sa.and_(key == value, ident < marker))
    return sa.or_(key > value, sa.and_(key == value, ident > marker))


@cached("compile_sqlalchemy", 1024)
def compile_sqlalchemy(lowered: Lowered, tables: Tables, engine: Dialect, limited: bool = True) -> SaPlan:
    """The page statements of a lowered query on ``tables`` for an engine (cached:
    a statement object is reused, so SQLAlchemy compiles its text once)."""
    order = lowered.order
    ident, record = tables.col("id"), tables.col("record")
    key = tables.col(order.field)
    marker = sa.bindparam(MARKER, type_=_bind_type(ident, ""))
    value = sa.bindparam(MARKER_VALUE, type_=key.type)
    limit = sa.bindparam(ROW_LIMIT, type_=sa.BigInteger())
    conds = _Spell(tables).where(lowered.where)

    def stmt(extra: list[Cond], by: list[Column]) -> sa.Select[Any]:
        s = sa.select(ident, record).where(*conds, *extra)
        s = s.order_by(*(c.desc() if order.descending else c.asc() for c in by))
        return s.limit(limit) if limited else s

    def segment(null: bool) -> Segment:
        if order.field == "id":
            nxt = ident < marker if order.descending else ident > marker
            return Segment(null, stmt([], [ident]), stmt([nxt], [ident]))
        if null:
            nxt = ident < marker if order.descending else ident > marker
            return Segment(null, stmt([key.is_(None)], [ident]), stmt([key.is_(None), nxt], [ident]))
        after = _keyset(key, ident, value, marker, order.descending, engine.row_values)
        return Segment(null, stmt([key.is_not(None)], [key, ident]), stmt([after], [key, ident]))

    if order.field == "id":
        segments: tuple[Segment, ...] = (segment(False),)
    else:
        nulls, values = segment(True), segment(False)
        segments = (values, nulls) if order.descending else (nulls, values)
    return SaPlan(lowered, marker_lookup(lowered, tables), segments)


@cached("sqlalchemy_marker_lookup", 1024)
def marker_lookup(lowered: Lowered, tables: Tables) -> sa.Select[Any]:
    """The marker's sort value, if the marker image is one the caller may see
    (the marker bound as ``MARKER``).  Side subqueries are pinned to the marker
    (one shard on a distributed engine), as the DB-API target pins them."""
    ident = tables.col("id")
    marker = sa.bindparam(MARKER, type_=_bind_type(ident, ""))
    pinned = _Spell(tables, pin=marker)
    return sa.select(tables.col(lowered.order.field)).where(ident == marker, *pinned.where(lowered.visible))


def _decode(record: Any) -> Any:
    if isinstance(record, bytes | bytearray | memoryview):
        record = bytes(record).decode("utf-8")
    return json.loads(record) if isinstance(record, str) else dict(record)


def _id(value: Any) -> str:
    return bytes(value).decode("ascii") if isinstance(value, bytes | bytearray | memoryview) else str(value)


def _read(conn: SAConnection, plan: SaPlan, checked: CheckedQuery) -> Page:
    """Read one page: the marker's sort value, then segments until the page is full."""
    params: dict[str, Any] = {}
    segments = plan.segments
    after_marker = False
    if checked.marker is not None:
        params[MARKER] = checked.marker
        row = conn.execute(plan.marker_lookup, params).first()
        if row is None:
            raise marker_not_found(checked)
        params[MARKER_VALUE] = row[0]
        at = next(i for i, s in enumerate(segments) if s.null == (row[0] is None) or len(segments) == 1)
        segments = segments[at:]
        after_marker = True
    limit = checked.limit
    want = None if limit is None else limit + 1
    rows: list[Any] = []
    for i, seg in enumerate(segments):
        if limit == 0:
            break
        stmt = seg.after if after_marker and i == 0 else seg.first
        if want is not None:
            params[ROW_LIMIT] = want - len(rows)
        rows.extend(conn.execute(stmt, params).all())
        if want is not None and len(rows) >= want:
            break
    more = limit is not None and len(rows) > limit
    shown = rows[:limit] if limit is not None else rows
    next_marker = _id(shown[-1][0]) if more and shown else None
    return Page(tuple(_decode(r[1]) for r in shown), next_marker)


def _dbapi(conn: SAConnection) -> Any:
    return conn.connection.dbapi_connection


def _begin(conn: SAConnection, d: Dialect) -> None:
    """Open the page's own read transaction as the DB-API target does
    (``Dialect.read_begin``: one snapshot; read-only where the engine has it)."""
    raw = _dbapi(conn)
    skip_begin = d.driver_begins and not d.autocommit(raw)
    cur = d.tuple_cursor(raw)  # fixed statements of the dialect table: straight to the driver
    for stmt in d.read_begin:
        if stmt == "BEGIN" and skip_begin:
            continue  # the driver sends BEGIN itself
        cur.execute(stmt)


def page(source: SAConnection | Session | Engine, query: str | CheckedQuery, context: Context | None = None, *,
         tables: Tables | None = None, options: Options | None = None) -> Page:
    """One page of ``query`` for the caller ``context`` on ``tables`` (default:
    the reference schema), read through SQLAlchemy: the same ``Page`` as every
    other target, and the same ``QueryError``s (IMG.0027 for a marker that names
    no image the caller may see).

    On a ``Connection`` with no transaction begun, and on an ``Engine``, the
    page runs in one short read transaction of its own, committed at the end
    (on PostgreSQL ``REPEATABLE READ, READ ONLY``; on MySQL/MariaDB ``WITH
    CONSISTENT SNAPSHOT``); inside a transaction the caller began (and in a
    ``Session``'s) it runs there and leaves it open.  On the reference schema,
    the first page on a DB-API connection checks that its string columns
    compare byte by byte (``db.verify_catalog``)."""
    checked = check(query, options) if isinstance(query, str) else query
    t = reference() if tables is None else tables
    try:
        t.col("record")
    except ValueError as e:
        raise ValueError(f"page() reads each image's wire form as JSON from a record column: {e}") from None
    if isinstance(source, Engine):
        with source.connect() as conn:
            return page(conn, checked, context, tables=t)
    if isinstance(source, Session):
        return _page(source.connection(), checked, context, t, own=False)
    return _page(source, checked, context, t, own=not source.in_transaction())


def _page(conn: SAConnection, checked: CheckedQuery, context: Context | None, t: Tables, own: bool) -> Page:
    d = engine_of(conn.dialect)
    plan = compile_sqlalchemy(lower(checked, context), t, d, checked.limit is not None)
    if t.schema is not None:
        raw = _dbapi(conn)
        if t.schema not in verified(raw):
            check_connection(raw, d)
            verify_catalog(raw, t.schema, dialect=d)
    if not own:
        return _read(conn, plan, checked)
    with conn.begin():
        _begin(conn, d)
        return _read(conn, plan, checked)


# ---- the clauses a service adds to its own select() -------------------------------------

def where(query: CheckedQuery, context: Context | None = None, tables: Tables | None = None) -> Cond:
    """The query's filters and the caller's scope, as one condition on ``tables``
    (a service's ``select(...).where(...)``).  Raises the context's ``QueryError``s."""
    t = reference() if tables is None else tables
    return sa.and_(sa.true(), *_Spell(t).where(lower(query, context).where))


def order_by(query: CheckedQuery, tables: Tables | None = None) -> list[Column]:
    """The query's order as ``ORDER BY`` terms in one statement: the sort
    column (missing values smallest, on every engine), then the id.  ``page``
    reads the same order as two index ranges instead."""
    t = reference() if tables is None else tables
    desc = query.sort_dir == "desc"
    ident = t.col("id")
    by = [ident] if query.sort_key == "id" else [t.col(query.sort_key).is_not(None), t.col(query.sort_key), ident]
    return [c.desc() if desc else c.asc() for c in by]


def limit(query: CheckedQuery) -> int | None:
    """The rows to fetch for a page: one more than its ``limit``, so that a
    service can tell whether another page follows (None: every row)."""
    return None if query.limit is None else query.limit + 1


def after(source: SAConnection | Session, query: CheckedQuery, context: Context | None = None,
          tables: Tables | None = None) -> Cond:
    """The keyset condition of the page after ``query``'s marker: the images
    after the marker image in ``order_by``'s order (``true()`` without a
    marker).  Looks up the marker's sort value on ``source``, within the
    caller's scope: ``QueryError`` IMG.0027 when it names no image the caller
    may see, as every target raises."""
    t = reference() if tables is None else tables
    if query.marker is None:
        return sa.true()
    conn = source.connection() if isinstance(source, Session) else source
    d = engine_of(conn.dialect)
    row = conn.execute(marker_lookup(lower(query, context), t), {MARKER: query.marker}).first()
    if row is None:
        raise marker_not_found(query)
    ident, desc = t.col("id"), query.sort_dir == "desc"
    marker = _bind(ident, query.marker)
    past = ident < marker if desc else ident > marker
    if query.sort_key == "id":
        return past
    key = t.col(query.sort_key)
    if row[0] is None:  # the marker is among the images with no sort value
        nulls = sa.and_(key.is_(None), past)
        return nulls if desc else sa.or_(nulls, key.is_not(None))
    values = _keyset(key, ident, _bind(key, row[0]), marker, desc, d.row_values)
    return sa.or_(values, key.is_(None)) if desc else sa.and_(key.is_not(None), values)


# ---- the target ------------------------------------------------------------------------------

_URLS = {"sqlite": "sqlite://", "postgresql": "postgresql+psycopg://", "mysql": "mysql+pymysql://"}


def engine_on(conn: Connection) -> Engine:
    """An ``Engine`` over one open DB-API connection (``sqlite3``, ``psycopg``,
    ``PyMySQL``): SQLAlchemy's own dialect for its driver, the connection its
    only one (``StaticPool``).  The engine never closes the connection, and
    does not roll it back when a ``Connection`` of it is closed."""
    d = dialect_of(conn)
    return sa.create_engine(_URLS[d.name], creator=lambda: conn, poolclass=StaticPool, pool_reset_on_return=None)


def _leave(dbapi_connection: Any) -> None:
    """A commit or rollback that leaves the driver's transaction as it is."""


@contextmanager
def _in_callers_transaction(source: SAConnection) -> Iterator[None]:
    """A transaction of SQLAlchemy's over the one the caller opened on its DB-API
    connection, which SQLAlchemy cannot see: ended without a commit or a
    rollback on the driver, so the caller's stays open, as the DB-API target
    leaves it.  Only for this target's own sources: each has its own engine
    (``engine_on``) of one connection, and no other shares its dialect."""
    own = vars(source.engine.dialect)  # the instance's: the class's methods show again after
    own.update(do_commit=_leave, do_rollback=_leave)
    try:
        with source.begin():
            yield
    finally:
        del own["do_commit"], own["do_rollback"]


@dataclass(eq=False)
class _Opened:
    """What the target opened for a source, closed by ``close``."""

    engine: Engine
    dbapi: Connection | None  # the DB-API connection, when the target made it


_SOURCES: weakref.WeakKeyDictionary[SAConnection, _Opened] = weakref.WeakKeyDictionary()


class SqlAlchemyTarget(Target[SAConnection]):
    """The SQLAlchemy target: pages read through SQLAlchemy's dialects on the
    reference schema (SQLite, PostgreSQL, MySQL/MariaDB).  A source is a
    SQLAlchemy ``Connection`` over a DB-API connection (``attach``)."""

    name = "sqlalchemy"
    databases = ("sqlite", "postgresql", "mysql")

    def load(self, catalog: Catalog) -> SAConnection:
        from imgfilter.io.load import load_catalog

        conn = sqlite3.connect(":memory:")
        load_catalog(conn, catalog)
        return self._source(conn, owned=True)

    def attach(self, conn: Connection) -> SAConnection:
        # the catalog is verified on the first page, as the DB-API target does
        return self._source(conn, owned=False)

    def connect(self, url: str) -> SAConnection:
        from imgfilter.db.connect import connect

        conn = connect(url)
        try:
            source = self.attach(conn)
        except BaseException:
            conn.close()
            raise
        _SOURCES[source].dbapi = conn
        return source

    def bundled(self) -> SAConnection:
        from imgfilter.io.catalog import bundled_sqlite_path

        return self._source(sqlite3.connect(bundled_sqlite_path()), owned=True)

    def _source(self, conn: Connection, owned: bool) -> SAConnection:
        engine = engine_on(conn)
        source = engine.connect()
        _SOURCES[source] = _Opened(engine, conn if owned else None)
        return source

    def page(self, source: SAConnection, query: CheckedQuery, context: Context | None = None) -> Page:
        try:
            if (source in _SOURCES and not source.in_transaction()
                    and engine_of(source.dialect).in_transaction(_dbapi(source))):
                with _in_callers_transaction(source):
                    return page(source, query, context)
            return page(source, query, context)
        except sa.exc.DBAPIError as e:
            # the driver's own error, as the DB-API target raises it (the CLI and
            # the server tell a lost database from a bug by it)
            if isinstance(e.orig, Exception):
                raise e.orig from None
            raise

    def close(self, source: SAConnection) -> None:
        opened = _SOURCES.pop(source, None)
        source.close()
        if opened is not None:
            opened.engine.dispose(close=False)
            if opened.dbapi is not None:
                opened.dbapi.close()


TARGET = SqlAlchemyTarget()

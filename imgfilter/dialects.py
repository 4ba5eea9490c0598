"""SQL dialects as small tables of differences (sqlglot-style).

Everything the compiler and the schema need to know about an engine is here:
the driver's paramstyle, identifier quoting, column types that give the spec's
semantics (code-point string order and equality, no trailing-space padding,
UTC instants at microseconds), and how a time is bound.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .params import FieldType

UTC = dt.UTC


def sqlite_time(t: dt.datetime) -> str:
    """Fixed-width UTC text: string order is chronological order."""
    t = t.astimezone(UTC)
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:"
            f"{t.second:02d}.{t.microsecond:06d}")


def mysql_time(t: dt.datetime) -> dt.datetime:
    """DATETIME(6) holds naive UTC."""
    return t.astimezone(UTC).replace(tzinfo=None)


def _same(t: dt.datetime) -> dt.datetime:
    return t


@dataclass(frozen=True, slots=True, eq=False)  # one instance per engine: identity is equality
class Dialect:
    name: str
    placeholder: str  # the driver's paramstyle
    quote: str  # identifier quote character
    types: dict[FieldType, str]  # column type per field type
    key_text: str  # short indexed text (tag keys, member ids, property names)
    long_text: str  # the original record as JSON; property values
    bind_time: Callable[[dt.datetime], Any]
    # keyset condition after (value, id): a row-value comparison, which SQLite and
    # PostgreSQL seek to directly in the (column, id) index; MariaDB scanned the
    # table for it, and builds an index range from `c > v OR (c = v AND id > m)`
    row_values: bool = True
    table_suffix: str = ""

    def ident(self, name: str) -> str:
        return f"{self.quote}{name}{self.quote}"


SQLITE = Dialect(
    "sqlite", "?", '"',
    {
        # TEXT's default BINARY collation compares UTF-8 bytes: code-point order,
        # trailing spaces significant
        FieldType.TEXT: "TEXT", FieldType.ID: "TEXT", FieldType.BOOL: "INTEGER",
        FieldType.INT: "INTEGER", FieldType.TIME: "TEXT",
    },
    key_text="TEXT", long_text="TEXT", bind_time=sqlite_time,
)

POSTGRESQL = Dialect(
    "postgresql", "%s", '"',
    {
        # the "C" collation orders by byte, i.e. by code point for UTF-8
        FieldType.TEXT: 'TEXT COLLATE "C"', FieldType.ID: 'TEXT COLLATE "C"', FieldType.BOOL: "BOOLEAN",
        FieldType.INT: "BIGINT", FieldType.TIME: "TIMESTAMPTZ",
    },
    key_text='TEXT COLLATE "C"', long_text="TEXT", bind_time=_same,
)

MYSQL = Dialect(
    "mysql", "%s", "`",
    {
        # binary strings: byte (code-point) order, case-sensitive, no PAD SPACE,
        # whatever collation the server or database defaults to
        FieldType.TEXT: "VARBINARY(1020)", FieldType.ID: "VARBINARY(1020)", FieldType.BOOL: "BOOLEAN",
        FieldType.INT: "BIGINT", FieldType.TIME: "DATETIME(6)",
    },
    key_text="VARBINARY(1020)", long_text="LONGBLOB", bind_time=mysql_time, row_values=False,
    table_suffix=" ENGINE=InnoDB",
)

DIALECTS: dict[str, Dialect] = {d.name: d for d in (SQLITE, POSTGRESQL, MYSQL)}


def get(name: str | Dialect) -> Dialect:
    if isinstance(name, Dialect):
        return name
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}: expected one of {', '.join(DIALECTS)}") from None

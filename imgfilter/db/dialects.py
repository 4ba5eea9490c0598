"""SQL dialects as small tables of differences (sqlglot-style).

Everything the compiler and the schema need to know about an engine is here:
the driver's paramstyle, identifier quoting, column types that give the spec's
semantics (code-point string order and equality, no trailing-space padding,
UTC instants at microseconds), and how a time is bound; and about its driver:
how to tell whether the caller has a transaction open, how to open a short
one, a cursor that returns tuples, the client character set, the longest
identifier, and which column types and collations compare strings exactly.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from imgfilter.front.params import FieldType

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
    # -- the driver: which DB-API module, and how to ask a connection about its state
    driver: str = "sqlite3"  # top-level module of the connection's class
    in_transaction: Callable[[Any], bool] = lambda conn: False  # the caller has a transaction open
    autocommit: Callable[[Any], bool] = lambda conn: True  # statements outside a transaction commit
    tuple_cursor: Callable[[Any], Any] = lambda conn: conn.cursor()  # rows as tuples, whatever the default
    client_charset: Callable[[Any], str] = lambda conn: "utf8"  # how the driver encodes text
    client_charsets: frozenset[str] = frozenset({"utf8"})  # the ones that carry every code point
    # -- transactions: statements that open one (ended by the driver's commit/rollback).
    # ``driver_begins``: with autocommit off the driver sends BEGIN itself before the
    # first statement, so the leading BEGIN of these is skipped.
    read_begin: tuple[str, ...] = ("BEGIN",)  # one short read-only transaction, one snapshot
    write_begin: tuple[str, ...] = ("BEGIN",)
    driver_begins: bool = False
    # -- limits: the longest identifier (index names are derived to fit every engine's)
    max_identifier: int = 1024
    # -- what makes a string column compare as the spec says (code points, no padding,
    # case-sensitive), read from the catalog by ``string_columns``: a binary type, or
    # a text type whose collation is exact (or, for a column only tested for
    # equality, deterministic)
    string_columns: Callable[[Any, str, Iterable[str]], dict[str, tuple[str, str, bool]]] = (
        lambda cur, table, wanted: {})
    binary_types: frozenset[str] = frozenset()
    text_types: frozenset[str] = frozenset()
    exact_collations: frozenset[str] = frozenset()
    collation_fix: str = ""  # what to change, said in the error
    describe: Callable[[Any], str] = lambda conn: "the database"  # where, for messages (never a password)
    # MySQL 8 has no CREATE INDEX IF NOT EXISTS: create, and take this error code as "exists"
    index_if_not_exists: bool = True
    duplicate_index_error: int | None = None
    # -- `imgfilter sql --explain`: the statement prefix, and one plan row as a line
    explain: str = "EXPLAIN "
    explain_row: Callable[[tuple[Any, ...]], str] = lambda row: " | ".join("" if c is None else str(c) for c in row)
    # -- bulk loading (imgfilter.io.load): how rows go in fast.  ``bulk``: "executemany"
    # (one prepared INSERT, many parameter sets), "copy" (COPY ... FROM STDIN through
    # psycopg's cursor.copy) or "values" (multi-row INSERT ... VALUES (...),(...) of at
    # most ``bulk_bytes``, less than half the server's packet limit read by ``packet_query``)
    bulk: str = "executemany"
    bulk_bytes: int = 4 << 20
    packet_query: str | None = None
    # CREATE/DROP run inside a transaction (rolled back with it); MySQL commits before DDL
    transactional_ddl: bool = True

    def ident(self, name: str) -> str:
        return f"{self.quote}{name}{self.quote}"


# ---- how each driver tells its state (no driver is imported unless it is used) ----------

def _sqlite_in_transaction(conn: Any) -> bool:
    return bool(conn.in_transaction)


def _sqlite_cursor(conn: Any) -> Any:
    cur = conn.cursor()
    cur.row_factory = None  # the connection's row_factory may make dicts or objects
    return cur


_SQLITE_AFFINITY = {0x41: "blob", 0x42: "text", 0x43: "numeric", 0x44: "integer", 0x45: "real"}
_COLLSEQ = re.compile(r"(?:collseq\()?([A-Za-z0-9_]+)")


def _sqlite_string_columns(cur: Any, table: str, wanted: Iterable[str]) -> dict[str, tuple[str, str, bool]]:
    """SQLite's catalog does not list collations: ask the engine how it would
    compare each column with a text value (the comparison opcode of EXPLAIN
    carries the collation in p4, the affinity applied in p5)."""
    out: dict[str, tuple[str, str, bool]] = {}
    cur.execute("SELECT name FROM pragma_table_xinfo(?)", (table,))
    present = {name for (name,) in cur.fetchall()}
    for name in (n for n in wanted if n in present):  # names from a validated Schema
        cur.execute(f'EXPLAIN SELECT "{name}" = \'\' FROM "{table}"')
        ops = [r for r in cur.fetchall() if r[1] == "Eq"]
        m = _COLLSEQ.match(str(ops[0][5])) if ops else None
        affinity = _SQLITE_AFFINITY.get(int(ops[0][6]) & 0x47, "?") if ops else "?"
        out[name] = (affinity, m.group(1).upper() if m else "?", False)
    return out


def _pg_in_transaction(conn: Any) -> bool:
    return int(conn.info.transaction_status) != 0  # not IDLE: in a block, failed, or busy


def _pg_cursor(conn: Any) -> Any:
    from psycopg.rows import tuple_row

    return conn.cursor(row_factory=tuple_row)


_PG_COLUMNS = """
SELECT a.attname, t.typname,
       CASE WHEN c.collname = 'default' THEN d.datcollate ELSE c.collname END,
       COALESCE(c.collisdeterministic, true)
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_collation c ON c.oid = a.attcollation
CROSS JOIN (SELECT datcollate FROM pg_database WHERE datname = current_database()) d
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
"""


def _pg_string_columns(cur: Any, table: str, wanted: Iterable[str]) -> dict[str, tuple[str, str, bool]]:
    cur.execute(_PG_COLUMNS, (f'"{table}"',))
    return {name: (typ, coll or "", bool(det)) for name, typ, coll, det in cur.fetchall()}


def _mysql_in_transaction(conn: Any) -> bool:
    return bool(conn.server_status & 1)  # SERVER_STATUS_IN_TRANS, from the last reply


def _mysql_cursor(conn: Any) -> Any:
    from pymysql.cursors import Cursor

    return conn.cursor(Cursor)  # not the connection's cursorclass (DictCursor, SSCursor...)


_MYSQL_COLUMNS = """
SELECT COLUMN_NAME, DATA_TYPE, COALESCE(COLLATION_NAME, '')
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s
"""


def _mysql_string_columns(cur: Any, table: str, wanted: Iterable[str]) -> dict[str, tuple[str, str, bool]]:
    cur.execute(_MYSQL_COLUMNS, (table,))
    return {_text(name): (_text(typ).lower(), _text(coll), False) for name, typ, coll in cur.fetchall()}


def _text(value: Any) -> str:
    return bytes(value).decode() if isinstance(value, bytes | bytearray) else str(value)


SQLITE = Dialect(
    "sqlite", "?", '"',
    {
        # TEXT's default BINARY collation compares UTF-8 bytes: code-point order,
        # trailing spaces significant
        FieldType.TEXT: "TEXT", FieldType.ID: "TEXT", FieldType.BOOL: "INTEGER",
        FieldType.INT: "INTEGER", FieldType.TIME: "TEXT",
    },
    key_text="TEXT", long_text="TEXT", bind_time=sqlite_time,
    driver="sqlite3", in_transaction=_sqlite_in_transaction, tuple_cursor=_sqlite_cursor,
    # a column with TEXT or no (BLOB) affinity keeps text as text; BINARY compares bytes
    describe=lambda conn: "sqlite:///" + str(conn.execute("PRAGMA database_list").fetchone()[2] or ":memory:"),
    string_columns=_sqlite_string_columns, text_types=frozenset({"text", "blob"}),
    exact_collations=frozenset({"BINARY"}),
    collation_fix="declare it without COLLATE (or COLLATE BINARY) and with a TEXT type",
    explain="EXPLAIN QUERY PLAN ",
    explain_row=lambda row: str(row[-1]),  # the detail column
)

POSTGRESQL = Dialect(
    "postgresql", "%s", '"',
    {
        # the "C" collation orders by byte, i.e. by code point for UTF-8
        FieldType.TEXT: 'TEXT COLLATE "C"', FieldType.ID: 'TEXT COLLATE "C"', FieldType.BOOL: "BOOLEAN",
        FieldType.INT: "BIGINT", FieldType.TIME: "TIMESTAMPTZ",
    },
    key_text='TEXT COLLATE "C"', long_text="TEXT", bind_time=_same,
    driver="psycopg", in_transaction=_pg_in_transaction, autocommit=lambda conn: bool(conn.autocommit),
    tuple_cursor=_pg_cursor, client_charset=lambda conn: str(conn.info.encoding).lower().replace("-", ""),
    client_charsets=frozenset({"utf8"}),
    # REPEATABLE READ: the marker lookup and every segment see one snapshot
    read_begin=("BEGIN", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"), driver_begins=True,
    max_identifier=63,
    describe=lambda conn: f"postgresql://{conn.info.user}@{conn.info.host}:{conn.info.port}/{conn.info.dbname}",
    string_columns=_pg_string_columns, binary_types=frozenset({"bytea"}),
    text_types=frozenset({"text", "varchar"}), exact_collations=frozenset({"C", "POSIX", "ucs_basic"}),
    collation_fix='ALTER TABLE ... ALTER COLUMN ... TYPE text COLLATE "C"',
    bulk="copy",
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
    driver="pymysql", in_transaction=_mysql_in_transaction, autocommit=lambda conn: bool(conn.get_autocommit()),
    tuple_cursor=_mysql_cursor, client_charset=lambda conn: str(conn.charset).lower(),
    client_charsets=frozenset({"utf8mb4"}),  # utf8 (utf8mb3) cannot carry non-BMP characters
    # one snapshot under the session's isolation level (InnoDB's default REPEATABLE READ);
    # SET TRANSACTION ISOLATION LEVEL would fail (1568) after a caller's own SELECT with
    # autocommit off, a transaction the server does not report
    read_begin=("START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT",),
    write_begin=("START TRANSACTION",),
    max_identifier=64,
    # BINARY(n) pads with NUL bytes, and utf8mb4_bin pads with spaces: neither is exact
    describe=lambda conn: f"mysql://{_text(conn.user)}@{conn.host}:{conn.port}/{_text(conn.db or b'')}",
    index_if_not_exists=False, duplicate_index_error=1061,
    string_columns=_mysql_string_columns,
    binary_types=frozenset({"varbinary", "tinyblob", "blob", "mediumblob", "longblob"}),
    text_types=frozenset({"varchar", "tinytext", "text", "mediumtext", "longtext"}),
    exact_collations=frozenset({"utf8mb4_nopad_bin", "utf8mb4_0900_bin"}),
    collation_fix="ALTER TABLE ... MODIFY ... VARBINARY(1020) (or a utf8mb4_nopad_bin / utf8mb4_0900_bin column)",
    bulk="values", packet_query="SELECT @@max_allowed_packet", transactional_ddl=False,
)

def _duckdb_in_transaction(conn: Any) -> bool:
    """DuckDB's Python API does not tell, and a failed BEGIN would abort the
    caller's transaction: outside one, each statement runs in a transaction of
    its own, so two statements see two transaction ids."""
    first = conn.execute("SELECT txid_current()").fetchone()[0]
    return bool(conn.execute("SELECT txid_current()").fetchone()[0] == first)


def _duckdb_string_columns(cur: Any, table: str, wanted: Iterable[str]) -> dict[str, tuple[str, str, bool]]:
    """DuckDB's catalog does not list a column's collation; the session's
    ``default_collation`` (which applies to every column without one) is reported."""
    cur.execute("SELECT current_setting('default_collation')")
    collation = str(cur.fetchone()[0] or "").lower()
    cur.execute("SELECT column_name, lower(data_type) FROM duckdb_columns() "
                "WHERE table_name = ? AND schema_name = current_schema()", [table])
    return {str(name): (str(typ), collation, False) for name, typ in cur.fetchall()}


DUCKDB = Dialect(
    "duckdb", "?", '"',
    {
        # VARCHAR without a collation compares UTF-8 bytes: code-point order, case and
        # trailing spaces significant; TIMESTAMP holds naive UTC at microseconds
        FieldType.TEXT: "VARCHAR", FieldType.ID: "VARCHAR", FieldType.BOOL: "BOOLEAN",
        FieldType.INT: "BIGINT", FieldType.TIME: "TIMESTAMP",
    },
    key_text="VARCHAR", long_text="VARCHAR", bind_time=mysql_time,
    # (c, id) > (v, m) compares structs, in which NULL is larger than every value
    # (true for a missing c): not SQL's row values
    row_values=False,
    driver="_duckdb", in_transaction=_duckdb_in_transaction,
    tuple_cursor=lambda conn: conn,  # conn.cursor() would be another connection, outside our transaction
    # one snapshot (DuckDB's transactions are snapshot-isolated)
    read_begin=("BEGIN TRANSACTION READ ONLY",),
    describe=lambda conn: "the DuckDB database",
    string_columns=_duckdb_string_columns, binary_types=frozenset({"blob"}),
    text_types=frozenset({"varchar"}), exact_collations=frozenset({"", "binary"}),
    collation_fix="RESET default_collation (and declare the column VARCHAR without COLLATE)",
    explain_row=lambda row: str(row[-1]),  # the rendered plan
)

DIALECTS: dict[str, Dialect] = {d.name: d for d in (SQLITE, POSTGRESQL, MYSQL, DUCKDB)}


def get(name: str | Dialect) -> Dialect:
    if isinstance(name, Dialect):
        return name
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}: expected one of {', '.join(DIALECTS)}") from None

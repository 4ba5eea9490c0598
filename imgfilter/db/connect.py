"""Connecting to a database: URLs, drivers, dialect detection and the short
transactions every page and load runs in.

Drivers: the standard library's ``sqlite3``; ``psycopg`` 3 and ``PyMySQL``
(the extras ``imgfilter[postgresql]`` and ``imgfilter[mysql]``).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from imgfilter.db.dialects import DIALECTS, Dialect

Connection = Any  # a DB-API 2.0 connection of one of the three drivers

NO_CATALOG = "load one with `imgfilter load FILE --db URL`"


class DatabaseError(Exception):
    """A database URL that cannot be used, a missing driver, a failed connect or
    load, a database without an imgfilter catalog, or one whose columns or
    connection would not compare strings as the spec says."""


_PASSWORD_IN_NETLOC = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*?:)([^/?#]*)(@)")
_PASSWORD_IN_QUERY = re.compile(r"(?i)([?&]password=)[^&#]*")


class DatabaseURLError(DatabaseError):
    """A database URL that is malformed or names no supported engine (the caller's mistake)."""


def redact_url(url: str) -> str:
    """``url`` with its password shown as ``***`` (``mysql://root:***@host/db``);
    works on URLs too malformed to connect to."""
    url = _PASSWORD_IN_NETLOC.sub(r"\1***\3", url, count=1)
    return _PASSWORD_IN_QUERY.sub(r"\1***", url)


def one_line(error: BaseException, *secrets: str | None) -> str:
    text = " ".join(str(error).split())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class SqliteConnection(sqlite3.Connection):
    """The SQLite connections imgfilter opens: ``sqlite3``'s own, which can also
    be weakly referenced (a target tells those it opened from a caller's)."""


def dialect_of(conn: Connection) -> Dialect:
    """The dialect of a connection, from its driver (also for a subclass of the
    driver's connection class, as ``sqlite3.connect(factory=...)`` makes)."""
    for cls in type(conn).__mro__:
        module = cls.__module__.split(".")[0]
        for d in DIALECTS.values():
            if d.driver == module:
                return d
    module = type(conn).__module__.split(".")[0]
    raise DatabaseError(f"unsupported driver {module!r}: use sqlite3, psycopg or pymysql")


def connect(url: str, *, create: bool = False, readonly: bool = False) -> Connection:
    """Open ``sqlite:///path.db``, ``postgresql://...`` or ``mysql://...``.

    A SQLite file must exist unless ``create`` (for loading): reading never
    creates one.  ``readonly`` opens a SQLite file read-only, usable from any
    thread one at a time (a server's pool); other engines ignore it.  Every
    failure is a one-line ``DatabaseError`` that shows the URL with its
    password masked."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise DatabaseURLError(f"bad database URL {shown}: {e}") from None
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        return _connect_sqlite(url, shown, create, readonly)
    if scheme in ("postgresql", "postgres"):
        try:
            import psycopg
        except ImportError:
            raise DatabaseError("PostgreSQL needs psycopg: pip install 'imgfilter[postgresql]'") from None
        try:
            return psycopg.connect(url.replace(parts.scheme + "://", "postgresql://", 1))
        except (psycopg.Error, ValueError) as e:
            raise DatabaseError(f"cannot connect to {shown}: {one_line(e, parts.password)}") from None
    if scheme in ("mysql", "mariadb"):
        try:
            import pymysql
        except ImportError:
            raise DatabaseError("MySQL/MariaDB needs PyMySQL: pip install 'imgfilter[mysql]'") from None
        password = unquote(parts.password or "")
        try:
            return pymysql.connect(
                host=parts.hostname or "localhost", port=port or 3306,
                user=unquote(parts.username or "root"), password=password,
                database=unquote(parts.path.lstrip("/")) or None, charset="utf8mb4", autocommit=False,
            )
        except (pymysql.Error, OSError, ValueError) as e:
            raise DatabaseError(f"cannot connect to {shown}: {one_line(e, password, parts.password)}") from None
    raise DatabaseURLError(f"unsupported database URL {shown}: use sqlite:///PATH, postgresql://... or mysql://...")


def _connect_sqlite(url: str, shown: str, create: bool, readonly: bool = False) -> Connection:
    if "://" not in url:
        raise DatabaseURLError(f"bad SQLite URL {shown}: use sqlite:///relative.db or sqlite:////absolute.db")
    path = url.split("://", 1)[1]
    path = path[1:] if path.startswith("/") else path
    if not path or path == ":memory:":
        return sqlite3.connect(":memory:", factory=SqliteConnection)
    if not create and not os.path.exists(path):
        raise DatabaseError(f"no imgfilter catalog in {shown}: no such file; {NO_CATALOG}")
    try:
        if create:
            return sqlite3.connect(path, factory=SqliteConnection)
        if readonly:
            return sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, check_same_thread=False,
                                   factory=SqliteConnection)
        # read-write, never create: a mistyped path must not leave an empty file behind
        return sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, factory=SqliteConnection)
    except sqlite3.Error as e:
        raise DatabaseError(f"cannot open {shown}: {one_line(e)}") from None


# ---- transactions --------------------------------------------------------------------------

@contextmanager
def transaction(conn: Connection, d: Dialect, begin: tuple[str, ...]) -> Iterator[Any]:
    """A tuple cursor inside the caller's transaction if one is open; otherwise
    inside a transaction of our own, opened with ``begin`` and ended here
    (committed, or rolled back on any failure), so the connection is left as it
    was found: no snapshot kept, no failed transaction behind."""
    cur = d.tuple_cursor(conn)
    if d.in_transaction(conn):
        yield cur
        return
    skip_begin = d.driver_begins and not d.autocommit(conn)
    try:
        for stmt in begin:
            if not (skip_begin and stmt == "BEGIN"):
                cur.execute(stmt)
        yield cur
    except BaseException:
        rollback(conn)
        raise
    conn.commit()


def rollback(conn: Connection) -> None:
    with suppress(Exception):  # a lost connection cannot roll back: the original error tells more
        conn.rollback()



def check_connection(conn: Connection, d: Dialect) -> None:
    charset = d.client_charset(conn)
    if charset not in d.client_charsets:
        raise DatabaseError(f"the connection's character set is {charset}: text would be sent in it and not "
                            f"match what is stored; connect with {' or '.join(sorted(d.client_charsets))}")



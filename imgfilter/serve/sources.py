"""What the endpoint answers from: a catalog in memory, or a database through a pool."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from imgfilter import db
from imgfilter.db.schema import DEFAULT_SCHEMA, Schema
from imgfilter.front.ast import CheckedQuery
from imgfilter.io.records import Catalog
from imgfilter.lowered.context import Context
from imgfilter.result import Page
from imgfilter.serve.http import WAIT_TIMEOUT, Unavailable
from imgfilter.targets.memory import run


@dataclass(frozen=True, slots=True)
class MemorySource:
    """A catalog in memory (immutable: any number of threads may read it at once)."""

    catalog: Catalog

    def page(self, query: CheckedQuery, context: Context) -> Page:
        return run(query, self.catalog, context)

    def health(self) -> None:
        return None

    def close(self) -> None:
        return None


Connect = Callable[[], Any]


class Pool:
    """At most ``size`` DB-API connections, each used by one request at a time.

    A connection is opened when none is idle and fewer than ``size`` exist; a
    request waits up to ``timeout`` seconds for one, then gets ``Unavailable``
    (503).  After a request the connection's transaction is ended (rolled back:
    pages only read) and it goes back; a connection whose request failed with a
    database error, or whose rollback fails, is closed and forgotten, so the
    next request opens a new one."""

    def __init__(self, connect: Connect, size: int = 8, timeout: float = WAIT_TIMEOUT) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one connection")
        self._connect = connect
        self.size = size
        self.timeout = timeout
        self._idle: list[Any] = []
        self._open = 0
        self._cond = threading.Condition()
        self._closed = False

    @property
    def open_connections(self) -> int:
        with self._cond:
            return self._open

    def _acquire(self) -> Any:
        with self._cond:
            if not self._cond.wait_for(lambda: self._closed or self._idle or self._open < self.size,
                                       timeout=self.timeout):
                raise Unavailable(f"no database connection free within {self.timeout:g} s")
            if self._closed:
                raise Unavailable("the pool is closed")
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            return self._connect()
        except BaseException:
            self._forget()
            raise

    def _forget(self) -> None:
        with self._cond:
            self._open -= 1
            self._cond.notify()

    def _release(self, conn: Any, healthy: bool) -> None:
        if healthy:
            try:
                conn.rollback()  # end the read transaction: the next request sees fresh data, holds no snapshot
            except Exception:
                healthy = False
        if healthy:
            with self._cond:
                if not self._closed:
                    self._idle.append(conn)
                    self._cond.notify()
                    return
        _close_quietly(conn)
        self._forget()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection for one request; a failure other than a query's own error discards it."""
        conn = self._acquire()
        healthy = False
        try:
            yield conn
            healthy = True
        except Exception as e:
            from imgfilter.front.errors import QueryError

            healthy = isinstance(e, QueryError)  # a rejected query (marker not found) leaves it usable
            raise
        finally:
            self._release(conn, healthy)

    def close(self) -> None:
        """Close the idle connections; those in use are closed when they come back."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for conn in idle:
            _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    with suppress(Exception):
        conn.close()


def connector(url: str) -> Connect:
    """How to open a connection to ``url`` for the pool (``db.connect``).  SQLite
    files are opened read-only (a wrong path is an error, not a new empty
    database) and usable from any thread (the pool never lets two use one at once)."""
    scheme = urlsplit(url).scheme.split("+")[0]
    if scheme == "sqlite" and url.partition("://")[2].lstrip("/") in ("", ":memory:"):
        raise ValueError("an SQLite database for the service must be a file (sqlite:///PATH)")
    if scheme in ("postgresql", "postgres"):
        url = with_connect_timeout(url)

    def connect() -> Any:
        try:
            return db.connect(url, readonly=True)
        except db.DatabaseError as e:  # its message shows the URL with the password masked
            raise Unavailable(str(e)) from None

    return connect


CONNECT_TIMEOUT = 5  # seconds: a database host that drops packets is a 503, not a request hung for minutes


def with_connect_timeout(url: str) -> str:
    """A PostgreSQL URL with libpq's ``connect_timeout`` unless it sets one."""
    if "connect_timeout=" in (urlsplit(url).query or ""):
        return url
    return url + ("&" if "?" in url else "?") + f"connect_timeout={CONNECT_TIMEOUT}"


class DatabaseSource:
    """A database loaded with ``imgfilter load`` (or ``db.load_catalog``), through a pool."""

    def __init__(self, connect: Connect | str, *, pool_size: int = 8, timeout: float = WAIT_TIMEOUT,
                 schema: Schema = DEFAULT_SCHEMA) -> None:
        self.pool = Pool(connector(connect) if isinstance(connect, str) else connect, pool_size, timeout)
        self.schema = schema

    def page(self, query: CheckedQuery, context: Context) -> Page:
        with self.pool.connection() as conn:
            return db.run(conn, query, context, schema=self.schema)

    def health(self) -> None:
        with self.pool.connection() as conn:
            cur = conn.cursor()
            cur.execute(f"SELECT 1 FROM {db.dialect_of(conn).ident(self.schema.images)} WHERE 1 = 0")
            cur.fetchall()

    def close(self) -> None:
        self.pool.close()

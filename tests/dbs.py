"""Real database engines for the tests: SQLite always; PostgreSQL and
MariaDB/MySQL when their URLs are set (``.ci/run`` sets them).

Outside CI a missing URL or server skips those tests with a message saying how
to enable them; under ``CI=true`` it fails.  Each test run works in its own
PostgreSQL schema / MariaDB database, dropped at the end.

Opt-in engines (``OPT_IN``) exist only while their URL is set, under CI too:
``citus`` (``IMGFILTER_TEST_CITUS_URL``, a Citus coordinator; CI cannot build
Citus) is PostgreSQL with the reference tables distributed
(``imgfilter.db.citus.distribute``), used by the engine manager below (the
semantic suite and the agreement properties), not by ``ENGINES``' tests.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest

from imgfilter import db
from imgfilter.db.connect import connect
from imgfilter.db.schema import DEFAULT_SCHEMA
from imgfilter.io.records import Catalog

ENV = {"postgresql": "IMGFILTER_TEST_POSTGRESQL_URL", "mysql": "IMGFILTER_TEST_MYSQL_URL",
       "citus": "IMGFILTER_TEST_CITUS_URL"}
EXAMPLE = {"postgresql": "postgresql://postgres@127.0.0.1:5432/test", "mysql": "mysql://root@127.0.0.1:3306/test",
           "citus": "postgresql://postgres@127.0.0.1:9700/test"}
ENGINES = ["sqlite", "postgresql", "mysql"]
# engines that are there only when their URL is set (never a failure under CI)
OPT_IN = [engine for engine in ("citus",) if os.environ.get(ENV[engine])]
POSTGRES_LIKE = ("postgresql", "citus")
OPT_IN_LIKE = {"citus": "postgresql"}  # an opt-in engine runs every target its base engine runs


def _unavailable(engine: str, why: str) -> None:
    message = (f"{engine} tests need a server: {why}. Set {ENV[engine]}={EXAMPLE[engine]} "
               f"(as .ci/run does) to run them.")
    if os.environ.get("CI", "").lower() == "true" and engine not in OPT_IN:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def server_url(engine: str) -> str:
    """The test server URL of ``engine`` from its environment variable; skips
    the test without one (fails it under ``CI=true``)."""
    url = os.environ.get(ENV[engine])
    if not url:
        _unavailable(engine, f"{ENV[engine]} is not set")
    assert url is not None
    return url


@contextmanager
def isolated(engine: str) -> Iterator[Any]:
    """A connection to a fresh, private namespace of ``engine``; dropped after."""
    if engine == "sqlite":
        memory = sqlite3.connect(":memory:")
        try:
            yield memory
        finally:
            memory.close()
        return
    url = server_url(engine)
    try:
        conn: Any = connect(url)
    except Exception as e:
        _unavailable(engine, f"cannot connect to {url} ({e})")
    name = f"imgfilter_test_{uuid.uuid4().hex[:12]}"
    cur = conn.cursor()
    if engine in POSTGRES_LIKE:
        conn.autocommit = True
        cur.execute(f'CREATE SCHEMA "{name}"')
        cur.execute(f'SET search_path TO "{name}"')
        conn.autocommit = False
    else:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        cur.execute(f"USE `{name}`")
    try:
        yield conn
    finally:
        try:
            conn.rollback()
            cur = conn.cursor()
            if engine in POSTGRES_LIKE:
                conn.autocommit = True
                cur.execute(f'DROP SCHEMA "{name}" CASCADE')
            else:
                cur.execute(f"DROP DATABASE `{name}`")
        finally:
            conn.close()


def second_connection(engine: str, conn: Any, **kwargs: Any) -> Any:
    """Another connection to the namespace of ``conn`` (a server engine), e.g. a
    writer next to a reader; ``kwargs`` go to the driver (PyMySQL's ``charset``)."""
    url = os.environ[ENV[engine]]
    cur = conn.cursor()
    if engine == "postgresql":
        cur.execute("SHOW search_path")
        path = cur.fetchone()[0]
        conn.rollback()  # leave the reader as it was: no transaction open
        other: Any = connect(url)
        other.execute(f"SET search_path TO {path}")
        other.commit()
        return other
    import pymysql

    cur.execute("SELECT DATABASE()")
    name = cur.fetchone()[0]
    conn.rollback()
    parts = urlsplit(url)
    return pymysql.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
                           password=parts.password or "", database=name, **{"charset": "utf8mb4", **kwargs})


class Databases:
    """The test run's engine manager: one private database per engine (see
    ``isolated``), created with the reference schema on first use and dropped
    when ``stack`` closes.  ``load`` replaces an engine's catalog."""

    def __init__(self, stack: ExitStack) -> None:
        self.stack = stack
        self.conns: dict[str, Any] = {}

    def get(self, engine: str) -> Any:
        """The engine's connection (skips, or fails under CI, without a server)."""
        if engine not in self.conns:
            conn = self.stack.enter_context(isolated(engine))
            db.create_schema(conn)
            if engine == "citus":
                from imgfilter.db.citus import distribute

                distribute(conn, shards=4)
            self.conns[engine] = conn
        return self.conns[engine]

    def available(self) -> dict[str, Any]:
        """Every engine with a server: all of them under CI (a missing one fails),
        and the opt-in engines whose URL is set."""
        for engine in [*ENGINES, *OPT_IN]:
            try:
                self.get(engine)
            except pytest.skip.Exception:  # outside CI: run with the engines there are
                continue
        return self.conns

    def load(self, engine: str, catalog: Catalog) -> Any:
        """The engine's connection, holding exactly ``catalog``."""
        conn = self.get(engine)
        cur = conn.cursor()
        s = DEFAULT_SCHEMA
        for table in (s.images, s.tags, s.members, s.properties):
            cur.execute(f"DELETE FROM {table}")
        conn.commit()
        db.load_catalog(conn, catalog, create=False)
        return conn

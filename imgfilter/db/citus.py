"""Distributing the reference schema with Citus (distributed PostgreSQL).

``images`` is hash-distributed on its id; the side tables (tags, members,
properties) on their image column, co-located with ``images``, so that every
join and ``EXISTS`` of a page on ``image_id = id`` runs inside one shard.  The
reference schema's DDL works unchanged under Citus: every primary key includes
the distribution column (``images`` is keyed by its id, each side table by its
image column first) and the other indexes are not unique.

``distribute`` runs on freshly created, empty tables (``create_schema`` first)
on the coordinator; loading, pages and every query then go through the
coordinator as on plain PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imgfilter.db.connect import Connection, DatabaseError, dialect_of, one_line, rollback
from imgfilter.db.dialects import POSTGRESQL
from imgfilter.db.schema import DEFAULT_SCHEMA, Schema

MAX_SHARDS = 64_000  # Citus's own limit on shard_count

NO_CITUS = ("the server has no citus extension in this database: install Citus, add it to "
            "shared_preload_libraries and run CREATE EXTENSION citus (on the coordinator and every worker)")


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement and its bound parameters (psycopg's ``%s`` style)."""

    sql: str
    params: tuple[Any, ...]


def _check_shards(shards: int | None) -> None:
    if shards is None:
        return
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= MAX_SHARDS:
        raise ValueError(f"shards must be an integer from 1 to {MAX_SHARDS}, not {shards!r}")


def distribute_statements(schema: Schema = DEFAULT_SCHEMA, shards: int | None = None) -> list[Statement]:
    """The ``create_distributed_table`` calls for ``schema``: ``images`` on its
    id, with ``shards`` shards (None: the server's ``citus.shard_count``,
    32 unless set), then each side table on its image column, co-located with
    ``images`` (so with as many shards).  Table names are passed quoted, as
    the SQL quotes them; column names as they are (Citus looks them up
    verbatim)."""
    _check_shards(shards)
    q = POSTGRESQL.ident
    images = q(schema.images)
    if shards is None:
        out = [Statement("SELECT create_distributed_table(%s::regclass, %s::text)", (images, schema.column("id")))]
    else:
        out = [Statement("SELECT create_distributed_table(%s::regclass, %s::text, shard_count => %s::integer)",
                         (images, schema.column("id"), shards))]
    for kind in ("tags", "members", "properties"):
        out.append(Statement("SELECT create_distributed_table(%s::regclass, %s::text, colocate_with => %s::text)",
                             (q(schema.side_table(kind)), schema.image_of(kind), images)))
    return out


def has_citus(conn: Connection) -> bool:
    """Whether the connection's database has the citus extension."""
    if dialect_of(conn) is not POSTGRESQL:
        return False
    cur = POSTGRESQL.tuple_cursor(conn)
    cur.execute("SELECT 1 FROM pg_extension WHERE extname = %s", ("citus",))
    return cur.fetchone() is not None


def distribute(conn: Connection, schema: Schema = DEFAULT_SCHEMA, shards: int | None = None) -> None:
    """Distribute the freshly created, empty tables of ``schema`` (see
    ``distribute_statements``) in one transaction, and commit.

    A connection that is not PostgreSQL, a server without the citus extension,
    tables that are missing, not empty or already distributed: ``DatabaseError``
    (nothing is distributed).  A bad ``shards``: ``ValueError``."""
    _check_shards(shards)
    d = dialect_of(conn)
    if d is not POSTGRESQL:
        raise DatabaseError(f"Citus distributes PostgreSQL tables, not {d.name} ones")
    q = POSTGRESQL.ident
    tables = [schema.images, schema.tags, schema.members, schema.properties]
    try:
        if not has_citus(conn):
            raise DatabaseError(NO_CITUS)
        cur = POSTGRESQL.tuple_cursor(conn)
        for table in tables:
            cur.execute("SELECT to_regclass(%s)", (q(table),))
            row = cur.fetchone()
            if row is None or row[0] is None:
                raise DatabaseError(f"no table {table}: create the schema first (imgfilter.db.create_schema)")
            cur.execute(
                "SELECT 1 FROM pg_dist_partition WHERE logicalrelid = %s::regclass", (q(table),))
            if cur.fetchone() is not None:
                raise DatabaseError(f"table {table} is already distributed")
            cur.execute(f"SELECT 1 FROM {q(table)} LIMIT 1")
            if cur.fetchone() is not None:
                raise DatabaseError(f"table {table} is not empty: distribute freshly created tables, then load")
        for stmt in distribute_statements(schema, shards):
            cur.execute(stmt.sql, stmt.params)
        conn.commit()
    except DatabaseError:
        rollback(conn)
        raise
    except Exception as e:
        rollback(conn)
        raise DatabaseError(f"distributing the tables failed, nothing was distributed: {one_line(e)}") from e


def shard_count(conn: Connection, schema: Schema = DEFAULT_SCHEMA) -> int | None:
    """The number of shards of ``schema``'s images table, or None when it is
    not distributed (or the server has no Citus)."""
    if not has_citus(conn):
        return None
    cur = POSTGRESQL.tuple_cursor(conn)
    cur.execute("SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = %s::regclass",
                (POSTGRESQL.ident(schema.images),))
    row = cur.fetchone()
    count = int(row[0]) if row is not None else 0
    return count or None

"""A database target safe to embed in a service: current data on a reused
connection, the connection left as found, collations checked, schema names
that fit every engine, any row factory, clear connect errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import imgfilter
from imgfilter import Context, QueryError, db
from imgfilter.db.dialects import DIALECTS
from imgfilter.db.schema import Schema, create_statements
from imgfilter.front import params as P
from imgfilter.io.records import Catalog
from imgfilter.targets import get

from .dbs import ENGINES, isolated, second_connection
from .fixtures import rec, uid

SERVERS = ["postgresql", "mysql"]
PUBLIC = [rec(1, name="a", visibility="public", owner="o"), rec(2, name="b", visibility="public", owner="o")]
STRANGER = Context("stranger")


@contextmanager
def reader_and_writer(engine: str, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """Two connections to one freshly loaded database: a reader, and a writer."""
    if engine == "sqlite":
        path = tmp_path / "two.db"
        writer = sqlite3.connect(path)
        db.load_catalog(writer, Catalog.from_records(PUBLIC))
        reader = db.connect(f"sqlite:///{path}")
        try:
            yield reader, writer
        finally:
            reader.close()
            writer.close()
        return
    with isolated(engine) as writer:
        db.load_catalog(writer, Catalog.from_records(PUBLIC))
        reader = second_connection(engine, writer)
        try:
            yield reader, writer
        finally:
            reader.close()


def make_private(engine: str, writer: Any, n: int) -> None:
    ph = DIALECTS[engine].placeholder
    writer.cursor().execute(f"UPDATE images SET visibility = {ph} WHERE id = {ph}", ("private", uid(n)))


def idle(engine: str, conn: Any) -> bool:
    return not DIALECTS[engine].in_transaction(conn)


# ---- 8.3: current data, and the connection left as it was found -------------------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_a_reused_connection_reads_current_authorization(engine: str, tmp_path: Path) -> None:
    with reader_and_writer(engine, tmp_path) as (reader, writer):
        assert db.run(reader, "sort_key=id&sort_dir=asc", STRANGER).ids == [uid(1), uid(2)]
        assert idle(engine, reader)
        make_private(engine, writer, 1)
        writer.commit()
        # the same reader connection: image 1 is no longer the stranger's to see
        assert db.run(reader, "sort_key=id&sort_dir=asc", STRANGER).ids == [uid(2)]
        assert idle(engine, reader)


def test_a_mysql_reader_that_ran_its_own_select_reads_current_data(tmp_path: Path) -> None:
    with reader_and_writer("mysql", tmp_path) as (reader, writer):
        cur = reader.cursor()
        cur.execute("SELECT count(*) FROM images")  # autocommit off: InnoDB keeps this snapshot
        cur.fetchall()
        make_private("mysql", writer, 1)
        writer.commit()
        assert db.run(reader, "", STRANGER).ids == [uid(2)]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_transaction_the_caller_opened_is_used_and_left_open(engine: str, tmp_path: Path) -> None:
    with reader_and_writer(engine, tmp_path) as (_, writer):
        make_private(engine, writer, 1)  # not committed: the caller's own transaction
        assert not idle(engine, writer)
        assert db.run(writer, "", STRANGER).ids == [uid(2)]  # sees its own change
        assert not idle(engine, writer)  # and neither committed nor rolled it back
        writer.rollback()
        assert sorted(db.run(writer, "", STRANGER).ids) == [uid(1), uid(2)]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_sqlalchemy_target_on_a_connection_in_the_callers_transaction(engine: str, tmp_path: Path) -> None:
    """The SQLAlchemy target over a caller's DB-API connection (``attach``) does as
    the DB-API target: it reads in the transaction the caller opened on the
    driver (which SQLAlchemy cannot see) and neither commits nor rolls it back;
    once the caller has ended it, each page is one transaction of its own again."""
    target = get("sqlalchemy")
    with reader_and_writer(engine, tmp_path) as (reader, writer):
        source = target.attach(writer)
        try:
            make_private(engine, writer, 1)  # not committed: the caller's own transaction
            assert target.page(source, imgfilter.check(""), STRANGER).ids == [uid(2)]  # sees its own change
            assert not idle(engine, writer)
            assert target.page(source, imgfilter.check("limit=1"), STRANGER).ids == [uid(2)]  # and again
            with pytest.raises(QueryError):  # a page that fails leaves the caller's transaction too
                target.page(source, imgfilter.check(f"marker={uid(99)}"), STRANGER)
            assert not idle(engine, writer)
            writer.rollback()  # nothing of it was committed: the reader sees both images still
            assert sorted(db.run(reader, "", STRANGER).ids) == [uid(1), uid(2)]
            assert sorted(target.page(source, imgfilter.check(""), STRANGER).ids) == [uid(1), uid(2)]
            assert idle(engine, writer)  # a page of its own, ended
            with pytest.raises(QueryError):  # one that fails in its own transaction: rolled back
                target.page(source, imgfilter.check(f"marker={uid(99)}"), STRANGER)
            assert idle(engine, writer)
            make_private(engine, reader, 2)
            reader.commit()
            assert target.page(source, imgfilter.check(""), STRANGER).ids == [uid(1)]  # current data
            assert idle(engine, writer)
        finally:
            target.close(source)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_failed_page_leaves_no_transaction_behind(engine: str, tmp_path: Path) -> None:
    with reader_and_writer(engine, tmp_path) as (reader, writer):
        db.run(reader, "")
        with pytest.raises(QueryError):  # raised between the page's statements
            db.run(reader, f"marker={uid(99)}")
        assert idle(engine, reader)
        make_private(engine, writer, 1)
        writer.commit()
        assert db.run(reader, "", STRANGER).ids == [uid(2)]


def test_a_statement_that_fails_on_postgresql_does_not_poison_the_connection(tmp_path: Path) -> None:
    with reader_and_writer("postgresql", tmp_path) as (reader, writer):
        reader.execute("SET lock_timeout = '100ms'")
        reader.commit()
        db.run(reader, "")
        writer.execute("SET lock_timeout = '2s'")  # a reader left in a transaction would hold its lock
        writer.execute("LOCK TABLE images IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(Exception, match="lock"):
            db.run(reader, "")
        writer.rollback()
        assert idle("postgresql", reader)
        assert sorted(db.run(reader, "").ids) == [uid(1), uid(2)]


@pytest.mark.parametrize("engine", SERVERS)
def test_load_on_an_autocommit_connection_is_still_one_transaction(engine: str) -> None:
    with isolated(engine) as conn:
        db.load_catalog(conn, Catalog.from_records(PUBLIC))
        if engine == "postgresql":
            conn.autocommit = True
        else:
            conn.autocommit(True)
        again = Catalog.from_records([rec(50, visibility="public"), PUBLIC[0]])  # the second one is a duplicate
        with pytest.raises(db.DatabaseError, match="nothing was written"):
            db.load_catalog(conn, again, batch_size=1)
        assert idle(engine, conn) and DIALECTS[engine].autocommit(conn)
        assert sorted(db.run(conn, "").ids) == [uid(1), uid(2)]
        db.load_catalog(conn, Catalog.from_records([rec(51)]))
        assert idle(engine, conn) and DIALECTS[engine].autocommit(conn)


# ---- 8.4: collations -------------------------------------------------------------------------

CASES = [rec(1, owner="p1", visibility="private"), rec(2, owner="P1", visibility="private"),
         rec(3, owner="p1 ", visibility="private")]
LOOSE = {
    "sqlite": ("owner", None),  # the column is declared in CREATE TABLE below
    "postgresql": ("owner", "ALTER TABLE images ALTER COLUMN owner TYPE char(64)"),
    "mysql": ("owner", "ALTER TABLE images MODIFY owner VARCHAR(255) CHARACTER SET utf8mb4 "
                       "COLLATE utf8mb4_general_ci"),
}


def service_tables(engine: str, conn: Any) -> None:
    """The reference tables, except that ``images.owner`` compares loosely, as a
    service's own tables might."""
    stmts = create_statements(DIALECTS[engine])
    if engine == "sqlite":
        stmts[0] = stmts[0].replace('"owner" TEXT', '"owner" TEXT COLLATE NOCASE')
    cur = conn.cursor()
    for stmt in stmts:
        cur.execute(stmt)
    alter = LOOSE[engine][1]
    if alter:
        cur.execute(alter)
    conn.commit()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_column_that_compares_loosely_is_refused(engine: str) -> None:
    catalog = Catalog.from_records(CASES)
    with isolated(engine) as conn:
        service_tables(engine, conn)
        with pytest.raises(db.DatabaseError, match=r"column images\.owner .*byte by byte.*: \S"):
            db.load_catalog(conn, catalog)
        # rows put there by the service itself are not shown to the wrong caller either
        cur = conn.cursor()
        ph = DIALECTS[engine].placeholder
        for r in CASES:
            cur.execute(f"INSERT INTO images (id, owner, visibility, isregistered, record) "
                        f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph})", (r["id"], r["owner"], "private", True, "{}"))
        conn.commit()
        with pytest.raises(db.DatabaseError, match=r"images\.owner"):
            db.run(conn, "", Context("p1"))
        assert idle(engine, conn)


def test_postgresql_ordered_columns_need_a_byte_order_collation() -> None:
    with isolated("postgresql") as conn:
        service_tables("postgresql", conn)
        conn.execute("ALTER TABLE images ALTER COLUMN owner TYPE text COLLATE \"C\"")  # fine again
        conn.execute('ALTER TABLE images ALTER COLUMN name TYPE text COLLATE "en-x-icu"')
        conn.commit()
        with pytest.raises(db.DatabaseError, match=r"images\.name \(text en-x-icu\)"):
            db.run(conn, "sort_key=name")


def test_the_catalog_is_verified_once_per_connection_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    db.load_catalog(sqlite3.connect(path), Catalog.from_records(PUBLIC))
    conn = db.connect(f"sqlite:///{path}")
    first: list[str] = []
    conn.set_trace_callback(first.append)
    db.run(conn, "limit=1")
    second: list[str] = []
    conn.set_trace_callback(second.append)
    db.run(conn, "limit=1")
    assert any("pragma_table_xinfo" in s for s in first)  # the check reads the catalog
    assert not any("pragma" in s for s in second)  # the second page does not
    assert second == [s for s in first if "PRAGMA" not in s.upper()]
    db.run(conn, "limit=1", schema=Schema())  # an equal Schema: no check either
    assert not any("pragma" in s for s in second)


# ---- 8.9: schema names --------------------------------------------------------------------------

def index_names(engine: str, conn: Any, table: str) -> set[str]:
    cur = conn.cursor()
    if engine == "sqlite":
        cur.execute(f'PRAGMA index_list("{table}")')
        return {r[1] for r in cur.fetchall()}
    if engine == "postgresql":
        cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", (table,))
        return {r[0] for r in cur.fetchall()}
    cur.execute("SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s", (table,))
    return {r[0].decode() if isinstance(r[0], bytes) else r[0] for r in cur.fetchall()}


@pytest.mark.parametrize("engine", ENGINES)
def test_long_table_names_get_every_index(engine: str) -> None:
    schema = Schema(images="i" * 62, tags="t" * 63, members="m" * 63, properties="p" * 63)
    catalog = Catalog.from_records(PUBLIC)
    with isolated(engine) as conn:
        db.load_catalog(conn, catalog, schema=schema)
        db.load_catalog(conn, Catalog.from_records([rec(3)]), schema=schema)  # again: the indexes exist
        wanted = schema.indexes()
        assert len(wanted) == len(P.SORT_KEYS) + 2 and all(len(name) <= 63 for name, _, _ in wanted)
        for table in (schema.images, schema.tags, schema.members, schema.properties):
            assert {n for n, t, _ in wanted if t == table} <= index_names(engine, conn, table)
        assert db.run(conn, "sort_key=name&sort_dir=asc", schema=schema).ids == \
            imgfilter.run("sort_key=name&sort_dir=asc", Catalog.from_records([*PUBLIC, rec(3)])).ids


@pytest.mark.parametrize("kwargs, words", [
    ({"columns": {"name": "owner"}}, "'owner' is used twice"),
    ({"columns": {"name": "label", "status": "LABEL"}}, "'LABEL' is used twice"),
    ({"columns": {"name": "record"}}, "'record' is used twice"),
    ({"record": "owner"}, "'owner' is used twice"),
    ({"columns": {"owner": "tag_key"}}, "side table"),
    ({"columns": {"owner": "image_id"}}, "side table"),
    ({"record": "value"}, "side table"),
    ({"tags": "images"}, "'images' is used twice"),
    ({"images": "t", "tags": "t_name_id"}, "'t_name_id' is used twice: by table tags and by index on t"),
])
def test_schema_refuses_names_that_collide(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Schema(**kwargs)


def test_long_index_names_stay_distinct() -> None:
    a = Schema(images="a" * 55 + "x")
    b = Schema(images="a" * 55 + "y")
    names_a = {n for n, t, _ in a.indexes() if t == a.images}
    names_b = {n for n, t, _ in b.indexes() if t == b.images}
    assert len(names_a) == 6 and not names_a & names_b and all(len(n) == 63 for n in names_a | names_b)
    assert Schema().indexes()[0][0] == "images_name_id"  # short names are unchanged


# ---- 8.10: rows and charsets ---------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_any_row_factory_or_cursor_class(engine: str) -> None:
    catalog = Catalog.from_records(PUBLIC)
    with isolated(engine) as conn:
        db.load_catalog(conn, catalog)
        if engine == "sqlite":
            conn.row_factory = lambda cur, row: {d[0]: v for d, v in zip(cur.description, row, strict=True)}
        elif engine == "postgresql":
            from psycopg.rows import dict_row
            conn.row_factory = dict_row
        else:
            from pymysql.cursors import DictCursor
            conn.cursorclass = DictCursor
        got = db.run(conn, f"sort_key=name&limit=1&marker={uid(2)}")
        assert got.ids == imgfilter.run(f"sort_key=name&limit=1&marker={uid(2)}", catalog).ids == [uid(1)]


def test_a_mysql_connection_not_in_utf8mb4_is_refused() -> None:
    catalog = Catalog.from_records([rec(1, name="ñ'", visibility="public")])
    with isolated("mysql") as conn:
        db.load_catalog(conn, catalog)
        assert db.run(conn, "name=%C3%B1%27").ids == [uid(1)]
        latin1 = second_connection("mysql", conn, charset="latin1")
        try:
            with pytest.raises(db.DatabaseError, match=r"character set is latin1.*utf8mb4"):
                db.run(latin1, "name=%C3%B1%27")
            with pytest.raises(db.DatabaseError, match="latin1"):
                db.load_catalog(latin1, Catalog.from_records([rec(2)]))
            target = get("sqlalchemy")  # its first page on the connection checks it too
            source = target.attach(latin1)
            with pytest.raises(db.DatabaseError, match=r"character set is latin1.*utf8mb4"):
                target.page(source, imgfilter.check("name=%C3%B1%27"))
            target.close(source)
        finally:
            latin1.close()


def test_a_postgresql_connection_not_in_utf8_is_refused() -> None:
    with isolated("postgresql") as conn:
        db.load_catalog(conn, Catalog.from_records([rec(1, name="ñ'", visibility="public")]))
        conn.execute("SET client_encoding TO 'LATIN1'")
        conn.commit()
        with pytest.raises(db.DatabaseError, match=r"character set is iso88591.*connect with utf8"):
            db.run(conn, "name=%F0%9F%98%80")
        conn.execute("SET client_encoding TO 'UTF8'")
        conn.commit()
        assert db.run(conn, "name=%C3%B1%27").ids == [uid(1)]


# ---- 8.12 and 15.6: connecting ---------------------------------------------------------------

@pytest.mark.parametrize("url, words", [
    ("sqlite:foo.db", "bad SQLite URL sqlite:foo.db: use sqlite:///"),
    ("mysql://root:s3cretpw@127.0.0.1:99999/x", "bad database URL mysql://root:***@127.0.0.1:99999/x: "),
    ("mysql://root:s3cretpw@127.0.0.1:abc/x", "bad database URL mysql://root:***@127.0.0.1:abc/x: "),
    ("postgresql://u:s3cretpw@[::1", "bad database URL postgresql://u:***@[::1: "),
    ("mysql://root:s3cretpw@127.0.0.1:1/x", "cannot connect to mysql://root:***@127.0.0.1:1/x: "),
    ("postgresql://u:s3cretpw@127.0.0.1:1/x", "cannot connect to postgresql://u:***@127.0.0.1:1/x: "),
    ("postgresql://127.0.0.1:1/x?password=s3cretpw", "cannot connect to postgresql://127.0.0.1:1/x?password=***"),
])
def test_connect_failures_are_one_line_without_the_password(url: str, words: str) -> None:
    with pytest.raises(db.DatabaseError) as e:
        db.connect(url)
    message = str(e.value)
    assert "s3cretpw" not in message and "\n" not in message
    assert message.startswith(words)


@pytest.mark.parametrize("url, shown", [
    ("mysql://root:s3cretpw@h:3306/db", "mysql://root:***@h:3306/db"),
    ("postgresql://u:p@ss:w@rd@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u@h/db?sslmode=require&password=x&a=b", "postgresql://u@h/db?sslmode=require&password=***&a=b"),
    ("mysql://host:3306/db", "mysql://host:3306/db"),
    ("sqlite:////tmp/a:b@c.db", "sqlite:////tmp/a:b@c.db"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert db.redact_url(url) == shown


def test_reading_never_creates_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "nonexist.db"
    with pytest.raises(db.DatabaseError, match=r"no imgfilter catalog in sqlite:///.*nonexist\.db.*imgfilter load"):
        db.connect(f"sqlite:///{path}")
    assert not path.exists()
    conn = db.connect(f"sqlite:///{path}", create=True)  # loading may create it
    db.load_catalog(conn, Catalog.from_records(PUBLIC))
    assert db.run(db.connect(f"sqlite:///{path}"), "").ids


@pytest.mark.parametrize("engine", ENGINES)
def test_a_database_never_loaded_says_so(engine: str) -> None:
    with isolated(engine) as conn:
        with pytest.raises(db.DatabaseError, match=r"^no imgfilter catalog in \w+://.*: load one with "
                                                   r"`imgfilter load FILE --db URL`$"):
            db.run(conn, "name=x")
        assert idle(engine, conn)
        db.create_schema(conn)
        conn.cursor().execute("DROP TABLE image_members")
        conn.commit()
        with pytest.raises(db.DatabaseError, match="table image_members is missing"):
            db.run(conn, "")

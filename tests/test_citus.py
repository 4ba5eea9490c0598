"""Distributing the reference schema with Citus (``imgfilter.db.citus``).

The statements are pinned in ``tests/golden_citus.json`` and checked without
Citus (regenerate after an intended change with ``IMGFILTER_UPDATE_GOLDEN=1``
and read the diff).  The refusals run on SQLite and plain PostgreSQL.  The
tests on a real cluster run only when ``IMGFILTER_TEST_CITUS_URL`` names a
Citus coordinator (CI cannot build Citus: they are skipped there, as
everywhere else without the variable).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import imgfilter
from imgfilter import Context, db
from imgfilter.db.citus import distribute, distribute_statements, has_citus, shard_count
from imgfilter.db.schema import DEFAULT_SCHEMA, Schema
from imgfilter.io.records import Catalog

from .dbs import ENV, isolated
from .fixtures import RECORDS

GOLDEN = Path(__file__).with_name("golden_citus.json")
MINE = Schema(images="vm_images", tags="vm_tags", members="vm_members", properties="vm_props",
              tag_image="img", member_image="img", property_image="vm", columns={"id": "image_uuid"})
SCHEMAS = {"default": DEFAULT_SCHEMA, "mine": MINE}
SHARDS = (None, 4, 32)


def generated() -> dict[str, list[dict[str, Any]]]:
    return {f"{name} | shards={shards}": [{"sql": s.sql, "params": list(s.params)}
                                          for s in distribute_statements(schema, shards)]
            for name, schema in SCHEMAS.items() for shards in SHARDS}


def test_distribute_statements_are_pinned() -> None:
    now = generated()
    if os.environ.get("IMGFILTER_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(now, indent=1) + "\n", encoding="utf-8")
    pinned = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(pinned) == sorted(now), "cases added or removed: regenerate (see the module's docstring)"
    for key, statements in now.items():
        assert statements == pinned[key], f"{key}: the statements changed (see the module's docstring)"


@pytest.mark.parametrize("schema", SCHEMAS.values(), ids=SCHEMAS.keys())
def test_side_tables_follow_images_on_their_image_column(schema: Schema) -> None:
    images, *sides = distribute_statements(schema, 8)
    assert images.params == (f'"{schema.images}"', schema.column("id"), 8)
    assert [s.params for s in sides] == [
        (f'"{schema.side_table(kind)}"', schema.image_of(kind), f'"{schema.images}"')
        for kind in ("tags", "members", "properties")]
    assert all("shard_count" not in s.sql for s in sides)  # co-located: images' count
    for stmt in (images, *sides):  # names are bound values, never spliced into the text
        assert schema.images not in stmt.sql and stmt.sql.count("%s") == len(stmt.params)


@pytest.mark.parametrize("shards", [0, -1, 64_001, True, 2.0, "4"])
def test_a_bad_shard_count_is_a_value_error(shards: Any) -> None:
    with pytest.raises(ValueError, match="shards must be an integer from 1 to 64000"):
        distribute_statements(DEFAULT_SCHEMA, shards)
    with pytest.raises(ValueError, match="shards must be an integer"):
        distribute(sqlite3.connect(":memory:"), shards=shards)


@pytest.mark.parametrize("shards", [1, 64_000])
def test_the_shard_count_bounds_are_accepted(shards: int) -> None:
    images, *_ = distribute_statements(DEFAULT_SCHEMA, shards)
    assert images.params[-1] == shards


def test_distributing_sqlite_tables_is_refused() -> None:
    conn = sqlite3.connect(":memory:")
    db.create_schema(conn)
    with pytest.raises(db.DatabaseError, match="Citus distributes PostgreSQL tables, not sqlite ones"):
        distribute(conn)
    assert not has_citus(conn) and shard_count(conn) is None


def test_a_server_without_citus_is_a_database_error() -> None:
    with isolated("postgresql") as conn:
        import psycopg

        cur = conn.cursor()
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        if cur.fetchone() is not None:
            pytest.skip("this PostgreSQL server has the citus extension")
        conn.rollback()
        db.create_schema(conn)
        with pytest.raises(db.DatabaseError, match=r"no citus extension.*CREATE EXTENSION citus"):
            distribute(conn, shards=4)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # no transaction left open
        assert shard_count(conn) is None
        # the connection is usable afterwards: nothing was left half done
        db.load_catalog(conn, Catalog.from_records(RECORDS), create=False)
        assert db.run(conn, "sort_key=name&limit=3").ids == imgfilter.run(
            "sort_key=name&limit=3", Catalog.from_records(RECORDS)).ids


def test_a_failing_server_is_a_database_error_and_rolled_back() -> None:
    with isolated("postgresql") as conn:
        import psycopg

        cur = conn.cursor()
        with pytest.raises(psycopg.errors.DivisionByZero):
            cur.execute("SELECT 1/0")  # the transaction is aborted: every statement fails until a rollback
        with pytest.raises(db.DatabaseError, match=r"distributing the tables failed, nothing was distributed: "
                                                   r".*transaction is aborted"):
            distribute(conn, shards=4)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        cur.execute("SELECT 1")  # usable again
        assert cur.fetchone() == (1,)


# --- on a Citus cluster (IMGFILTER_TEST_CITUS_URL) -------------------------------------------

def _citus() -> Any:
    if not os.environ.get(ENV["citus"]):
        pytest.skip(f"Citus tests need a coordinator: set {ENV['citus']} (CI cannot build Citus)")
    return isolated("citus")


def _placement(conn: Any, table: str) -> tuple[int, int, str]:
    cur = conn.cursor()
    cur.execute("SELECT colocationid, (SELECT count(*) FROM pg_dist_shard s WHERE s.logicalrelid = p.logicalrelid), "
                "column_to_column_name(logicalrelid, partkey) FROM pg_dist_partition p "
                "WHERE logicalrelid = %s::regclass", (f'"{table}"',))
    row = cur.fetchone()
    conn.rollback()
    assert row is not None, f"{table} is not distributed"
    return int(row[0]), int(row[1]), str(row[2])


@pytest.mark.parametrize("schema", SCHEMAS.values(), ids=SCHEMAS.keys())
def test_distributed_tables_are_colocated_and_answer_as_memory(schema: Schema) -> None:
    with _citus() as conn:
        db.create_schema(conn, schema=schema)
        distribute(conn, schema, shards=4)
        assert shard_count(conn, schema) == 4
        images = _placement(conn, schema.images)
        assert images[1:] == (4, schema.column("id"))
        for kind in ("tags", "members", "properties"):
            assert _placement(conn, schema.side_table(kind)) == (images[0], 4, schema.image_of(kind))
        catalog = Catalog.from_records(RECORDS)
        db.load_catalog(conn, catalog, schema=schema, create=False)
        for query, context in [("sort_key=name&sort_dir=asc&limit=4", None), ("tag=env&sort_key=name", None),
                               ("visibility=shared&member_status=pending", Context(project_id="project2")),
                               ("limit=3", Context(project_id="project1"))]:
            expected = imgfilter.run(query, catalog, context)
            got = db.run(conn, query, context=context, schema=schema)
            assert (got.ids, got.next_marker) == (expected.ids, expected.next_marker), query
            if got.next_marker is not None:
                after = f"{query}&marker={got.next_marker}"
                assert db.run(conn, after, context=context, schema=schema).ids == imgfilter.run(
                    after, catalog, context).ids


def test_without_a_shard_count_the_server_default_is_used() -> None:
    with _citus() as conn:
        cur = conn.cursor()
        cur.execute("SHOW citus.shard_count")
        default = int(cur.fetchone()[0])
        conn.rollback()
        db.create_schema(conn)
        distribute(conn)
        assert shard_count(conn) == default


def test_tables_with_rows_or_already_distributed_are_refused_untouched() -> None:
    with _citus() as conn:
        db.load_catalog(conn, Catalog.from_records(RECORDS))
        with pytest.raises(db.DatabaseError, match="table images is not empty"):
            distribute(conn, shards=4)
        assert shard_count(conn) is None  # nothing was distributed
        cur = conn.cursor()
        for table in ("image_properties", "image_members", "image_tags", "images"):
            cur.execute(f"DELETE FROM {table}")
        conn.commit()
        distribute(conn, shards=2)
        with pytest.raises(db.DatabaseError, match="table images is already distributed"):
            distribute(conn, shards=4)
        assert shard_count(conn) == 2


def test_missing_tables_are_a_database_error() -> None:
    with _citus() as conn, pytest.raises(db.DatabaseError, match="no table images: create the schema first"):
        distribute(conn)


# --- loading with distribution (imgfilter load --distributed) ---------------------------------

def test_load_distributed_without_citus_is_a_clear_error(tmp_path: Path) -> None:
    catalog = Catalog.from_records(RECORDS)
    with sqlite3.connect(tmp_path / "x.db") as conn:
        with pytest.raises(db.DatabaseError, match="PostgreSQL"):
            db.load_images(conn, catalog.images, distributed=True)
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)  # no tables left
    with isolated("postgresql") as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        if cur.fetchone() is not None:
            pytest.skip("this PostgreSQL server has the citus extension")
        conn.rollback()
        with pytest.raises(db.DatabaseError, match="no citus extension"):
            db.load_images(conn, catalog.images, distributed=True, shards=4)
        with pytest.raises(db.DatabaseError, match="no imgfilter catalog"):  # the tables it made are gone
            db.run(conn, "")
        db.create_schema(conn)  # tables made without --distributed
        with pytest.raises(db.DatabaseError, match="exists and is not distributed"):
            db.load_images(conn, catalog.images, distributed=True)
        assert db.run(conn, "").ids == []


def test_load_cli_shards_needs_distributed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from imgfilter.io.cli import main

    data = tmp_path / "images.json"
    data.write_text(json.dumps(RECORDS))
    assert main(["load", str(data), "--db", f"sqlite:///{tmp_path}/x.db", "--shards", "4"]) == 2
    assert "add --distributed" in capsys.readouterr().err
    assert main(["load", str(data), "--db", f"sqlite:///{tmp_path}/x.db", "--distributed"]) == 1
    assert "Citus distributes PostgreSQL tables" in capsys.readouterr().err


def test_load_distributed_on_citus_then_upsert(tmp_path: Path) -> None:
    catalog = Catalog.from_records(RECORDS)
    with _citus() as conn:
        result = db.load_images(conn, catalog.images, distributed=True, shards=4)
        assert result.inserted == len(catalog)
        assert shard_count(conn) == 4
        assert _placement(conn, DEFAULT_SCHEMA.tags)[0] == _placement(conn, DEFAULT_SCHEMA.images)[0]
        again = db.load_images(conn, catalog.images, mode="upsert", distributed=True)
        assert (again.inserted, again.updated) == (0, len(catalog))
        for query, context in [("sort_key=name&sort_dir=asc&limit=4", None), ("limit=3", Context("project1"))]:
            got, expected = db.run(conn, query, context), imgfilter.run(query, catalog, context)
            assert (got.ids, got.next_marker) == (expected.ids, expected.next_marker), query

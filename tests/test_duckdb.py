"""The DuckDB target: the same pages and errors as the in-memory target, its
loaders (a catalog, a records file, a Parquet file) and their checks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

duckdb = pytest.importorskip("duckdb")

import imgfilter  # noqa: E402
from imgfilter import Context, QueryError, targets  # noqa: E402
from imgfilter.db.connect import DatabaseError  # noqa: E402
from imgfilter.db.dialects import DUCKDB  # noqa: E402
from imgfilter.db.schema import Schema  # noqa: E402
from imgfilter.io.catalog import bundled  # noqa: E402
from imgfilter.io.records import Catalog, RecordError  # noqa: E402
from imgfilter.result import Page  # noqa: E402
from imgfilter.targets import duckdb as D  # noqa: E402
from imgfilter.targets.memory import TARGET as MEMORY  # noqa: E402
from imgfilter.targets.sql import MARKER_ID, MARKER_VALUE, ROW_LIMIT, compile_sql  # noqa: E402

from .catalogs import Case, cases, catalogs  # noqa: E402
from .fixtures import P1, P2, RECORDS, rec, uid  # noqa: E402
from .helpers import local_time_zone  # noqa: E402

TARGET = D.TARGET
CATALOG = Catalog.from_records(RECORDS)
TABLES = ("images", "image_tags", "image_members", "image_properties")
QUERIES = [
    "", "limit=3", "sort_key=name&sort_dir=asc", "sort_key=size&sort_dir=asc&limit=2", "status=active&tag=k",
    "__support_kvm=true", "name=shared+one", "created_at=gte:2018-09-06T14:03:27Z&sort_key=created_at",
    "visibility=shared&member_status=accepted", "custom_prop=blue", f"marker={uid(4)}&sort_key=disk_format&limit=2",
    "enterprise_project_id=0", "enterprise_project_id=all_granted_eps", "__isregistered=false",
]
CONTEXTS = [None, Context(P2), Context(P1, False, frozenset({"0"})), Context(None, True)]


def outcome(run: Any) -> tuple[Any, ...]:
    try:
        page: Page = run()
    except QueryError as e:
        return ("error", e.code)
    return ("ok", page.ids, page.next_marker, page.images)


@pytest.fixture(scope="module")
def source() -> Iterator[Any]:
    conn = TARGET.load(CATALOG)
    yield conn
    TARGET.close(conn)


def rows(conn: Any, table: str) -> list[tuple[Any, ...]]:
    return sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)


def test_registered_as_a_catalog_target() -> None:
    target = targets.get("duckdb")
    assert target is TARGET and target.name == "duckdb" and target.databases == ()
    assert "duckdb" in targets.available()


def test_same_pages_and_errors_as_memory(source: Any) -> None:
    options = imgfilter.Options(unknown="property")
    seen = set()
    for query in QUERIES:
        for context in CONTEXTS:
            checked = imgfilter.check(query, options)
            expected = outcome(lambda c=checked, x=context: MEMORY.page(CATALOG, c, x))
            assert outcome(lambda c=checked, x=context: TARGET.page(source, c, x)) == expected, (query, context)
            seen.add(expected[0])
    assert seen == {"ok", "error"}  # both kinds of answer were compared


def test_pages_are_the_response_form(source: Any) -> None:
    page = TARGET.page(source, imgfilter.check(f"id={uid(1)}"))
    assert page.images == (CATALOG.by_id[uid(1)].wire,)
    assert page.images[0]["created_at"] == "2018-09-06T14:03:27Z" and page.images[0]["protected"] is True


def test_marker_not_found_is_the_same_error(source: Any) -> None:
    q = imgfilter.check("marker=00000000-0000-4000-8000-999999999999")
    with pytest.raises(QueryError) as got:
        TARGET.page(source, q)
    with pytest.raises(QueryError) as expected:
        MEMORY.page(CATALOG, q)
    assert got.value.code == expected.value.code == "IMG.0027"


def test_times_are_stored_at_microseconds_in_utc(source: Any) -> None:
    # record 3: 2018-09-06T14:03:27.000001Z; record 2: 22:03:27+08:00, i.e. 14:03:27Z
    for query in ("created_at=gt:2018-09-06T14:03:27Z", "created_at=lt:2018-09-06T14:03:27.000001Z",
                  "created_at=eq:2018-09-06T14:03:27Z", "created_at=gte:2018-09-06T22:03:27%2B08:00"):
        checked = imgfilter.check(query + "&sort_key=id")
        assert TARGET.page(source, checked).ids == MEMORY.page(CATALOG, checked).ids, query
    stored = dict(source.execute("SELECT id, created_at FROM images").fetchall())
    assert stored[uid(3)].microsecond == 1 and stored[uid(2)].hour == 14


def test_keyset_after_a_marker_skips_missing_values(source: Any) -> None:
    """DuckDB compares (c, id) > (v, m) as structs, where NULL is larger than
    any value: the statement after a marker must not use it (it returned the
    images with no size again after the last one, and walks never ended)."""
    assert not DUCKDB.row_values
    plan = compile_sql(imgfilter.check("sort_key=size&sort_dir=asc&limit=5"), DUCKDB)
    after = plan.segments[-1].after
    last = source.execute("SELECT size, id FROM images WHERE size IS NOT NULL ORDER BY size DESC, id DESC "
                          "LIMIT 1").fetchone()
    got = source.execute(after.sql, after.bind({MARKER_VALUE: last[0], MARKER_ID: last[1], ROW_LIMIT: 9}))
    assert got.fetchall() == []


def walk(run: Any, query: str, options: imgfilter.Options | None = None) -> list[str]:
    """The ids of every page, following ``next_marker`` from the first page."""
    seen: list[str] = []
    marker = None
    for _ in range(50):
        page = run(imgfilter.check(query + (f"&marker={marker}" if marker else ""), options))
        seen.extend(page.ids)
        marker = page.next_marker
        if marker is None:
            return seen
    raise AssertionError(f"the walk of {query} did not end")


@pytest.mark.parametrize("key", ["name", "size", "created_at", "disk_format", "id"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_page_walks_give_the_unpaged_order(source: Any, key: str, direction: str) -> None:
    query = f"sort_key={key}&sort_dir={direction}"
    full = MEMORY.page(CATALOG, imgfilter.check(query)).ids
    assert len(full) == len(CATALOG)
    for limit in (1, 3):
        assert walk(lambda q: TARGET.page(source, q), f"{query}&limit={limit}") == list(full)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Any]:
    """One DuckDB database, reloaded with each generated catalog (a new one each time costs more)."""
    conn = duckdb.connect()
    yield conn
    conn.close()


@given(catalogs(), st.data())
def test_every_generated_case_agrees_with_memory(scratch: Any, records: list[dict[str, Any]],
                                                 data: st.DataObject) -> None:
    catalog = Catalog.from_records(records)
    ids = [img.id for img in catalog.images]
    conn = scratch
    for table in TABLES:
        conn.execute(f'DROP TABLE IF EXISTS "{table}"')
    D.load_catalog(conn, catalog)
    for _ in range(4):
        case: Case = data.draw(cases(ids))
        note(repr(case))
        expected = outcome(lambda c=case: imgfilter.run(c.query, catalog, c.context, c.options))
        got = outcome(lambda c=case: TARGET.page(conn, imgfilter.check(c.query, c.options), c.context))
        assert got == expected
    paged: Case = data.draw(cases(ids, paged=True))
    note(repr(paged))
    unpaged = "&".join(p for p in paged.query.lstrip("?").split("&") if not p.startswith("limit="))
    expected = outcome(lambda: imgfilter.run(unpaged, catalog, paged.context, paged.options))
    if expected[0] == "ok":
        walked = walk(lambda q: TARGET.page(conn, q, paged.context), paged.query, paged.options)
        assert walked == list(expected[1])


def test_a_page_inside_the_callers_transaction_leaves_it_open() -> None:
    conn = TARGET.load(CATALOG)
    try:
        conn.execute("BEGIN")
        conn.execute("DELETE FROM images WHERE id = ?", [uid(1)])
        assert uid(1) not in TARGET.page(conn, imgfilter.check("")).ids  # its own uncommitted change
        conn.rollback()  # still the caller's transaction: nothing was committed by the page
        assert uid(1) in TARGET.page(conn, imgfilter.check("")).ids
        assert not DUCKDB.in_transaction(conn)  # and no transaction is left open by a page
    finally:
        conn.close()


def test_a_collation_that_ignores_case_is_refused() -> None:
    conn = TARGET.load(CATALOG)
    try:
        conn.execute("SET default_collation = 'nocase'")
        with pytest.raises(DatabaseError, match="default_collation"):
            TARGET.page(conn, imgfilter.check("name=Shared+One"))
    finally:
        conn.close()


def test_times_compare_in_utc_whatever_the_local_time_zone() -> None:
    with local_time_zone("America/New_York"):  # DuckDB's session zone follows it
        conn = TARGET.load(CATALOG)
        try:
            for query in ("created_at=eq:2018-09-06T14:03:27Z", "updated_at=gte:2018-09-06T15:17:33Z&sort_key=name",
                          "created_at=lt:2018-09-06T14:03:28Z"):
                checked = imgfilter.check(query)
                expected = MEMORY.page(CATALOG, checked)
                assert expected.ids and TARGET.page(conn, checked) == expected, query
        finally:
            conn.close()


def test_a_page_on_a_closed_source_is_a_database_error() -> None:
    conn = TARGET.load(CATALOG)
    TARGET.close(conn)
    with pytest.raises(DatabaseError, match=r"^DuckDB: .*closed"):
        TARGET.page(conn, imgfilter.check("limit=1"))


def test_no_secondary_index_is_built() -> None:
    conn = TARGET.load(CATALOG)
    try:
        assert conn.execute("SELECT count(*) FROM duckdb_indexes()").fetchone() == (0,)
        assert sorted(t for (t,) in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()) == \
            sorted(TABLES)
    finally:
        conn.close()


# ---- files -----------------------------------------------------------------------------------

def test_parquet_round_trip_keeps_every_row(tmp_path: Path) -> None:
    catalog = bundled()
    path = tmp_path / "catalog.parquet"
    D.export_parquet(catalog, path)
    assert path.read_bytes()[:4] == b"PAR1"
    loaded, opened = TARGET.load(catalog), TARGET.open_file(path)
    try:
        for table in TABLES:
            assert rows(opened, table) == rows(loaded, table), table
        assert len(rows(opened, "image_tags")) > 0 and len(rows(opened, "image_members")) > 0
        for query in ("sort_key=name&sort_dir=asc&limit=20", "tag=env=prod", "__support_kvm=true&limit=5"):
            checked = imgfilter.check(query)
            assert TARGET.page(opened, checked) == MEMORY.page(catalog, checked)
    finally:
        loaded.close()
        opened.close()


def test_parquet_side_lists_are_sorted(tmp_path: Path) -> None:
    """The same catalog always gives the same file: each image's tags, members
    and properties in the order of their columns (key, then value)."""
    catalog = Catalog.from_records([
        rec(1, tags=["b=1", "a=2", "a=1", "c=1"], visibility="shared",
            members=[{"member_id": "q", "status": "pending"}, {"member_id": "p", "status": "accepted"}]),
        rec(2, tags=["z=0", "y=0"], x_prop="1", a_prop="2")])
    path = tmp_path / "catalog.parquet"
    D.export_parquet(catalog, path)
    conn = duckdb.connect()
    try:
        got = conn.execute("SELECT id, tags, members FROM read_parquet(?) ORDER BY id", [str(path)]).fetchall()
    finally:
        conn.close()
    tags = [[(t["key"], t["value"]) for t in row[1]] for row in got]
    assert tags == [[("a", "1"), ("a", "2"), ("b", "1"), ("c", "1")], [("y", "0"), ("z", "0")]]
    assert [m["member_id"] for m in got[0][2]] == ["p", "q"]


def test_the_layout_and_in_memory_sources_write_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert D.layout()["id"] == "VARCHAR"
    TARGET.close(TARGET.load(CATALOG))
    assert list(tmp_path.iterdir()) == []


def test_a_catalog_loads_into_the_tables_of_its_schema() -> None:
    mine = Schema(images="vm_images", tags="vm_tags", members="vm_members", properties="vm_props")
    conn = D.connect_catalog(CATALOG, mine)
    try:
        tables = {name for (name,) in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert tables == {"vm_images", "vm_tags", "vm_members", "vm_props"}
        assert conn.execute("SELECT count(*) FROM vm_images").fetchone() == (len(CATALOG),)
    finally:
        conn.close()


def test_parquet_layout_is_documented_in_code() -> None:
    columns = D.layout()
    assert list(columns)[:2] == ["id", "name"] and columns["created_at"] == "TIMESTAMP"
    assert columns["tags"] == 'STRUCT("key" VARCHAR, "value" VARCHAR)[]'
    assert columns["members"] == "STRUCT(member_id VARCHAR, status VARCHAR)[]"
    assert columns["properties"] == 'STRUCT("name" VARCHAR, "value" VARCHAR, is_true BOOLEAN)[]'


@pytest.mark.parametrize("form", ["response", "array", "lines"])
def test_records_files_are_validated_as_for_every_target(tmp_path: Path, form: str) -> None:
    path = tmp_path / "records.json"
    if form == "response":
        path.write_text(json.dumps({"images": RECORDS}), encoding="utf-8")
    elif form == "array":
        path.write_text(json.dumps(RECORDS), encoding="utf-8")
    else:
        path.write_text("\n".join(json.dumps(r) for r in RECORDS), encoding="utf-8")
    conn = TARGET.open_file(path)
    try:
        checked = imgfilter.check("sort_key=name&sort_dir=asc")
        assert TARGET.page(conn, checked) == MEMORY.page(CATALOG, checked)
    finally:
        conn.close()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([rec(1, created_at="yesterday")]), encoding="utf-8")
    with pytest.raises(RecordError, match="created_at"):
        TARGET.open_file(bad)


def write_parquet(path: Path, select: str) -> Path:
    """A Parquet file of the exported catalog changed by ``select`` (over table ``f``)."""
    good = path.parent / "good.parquet"
    if not good.exists():
        D.export_parquet(CATALOG, good)
    conn = duckdb.connect()
    try:
        conn.execute("CREATE TABLE f AS SELECT * FROM read_parquet(?)", [str(good)])
        conn.sql(select).write_parquet(str(path))
    finally:
        conn.close()
    return path


LAYOUT = "not in imgfilter's Parquet layout: "
JSON_OBJECT = "is not the image's response form as a JSON object"
ANY_ID = "00000000-0000-4000-8000-[0-9]{12}"  # an image of the catalog
# (the change, the message in full, the field and the image id named: regexes, or None when not named)
BAD_PARQUET: list[tuple[str, str, str | None, str | None]] = [
    ("SELECT * EXCLUDE (name) FROM f", LAYOUT + "column name \\(VARCHAR\\) is missing", None, None),
    ("SELECT *, 1 AS extra FROM f", LAYOUT + "unknown column extra", None, None),
    ("SELECT * EXCLUDE (name), 1 AS extra FROM f",
     LAYOUT + "column name \\(VARCHAR\\) is missing; unknown column extra", None, None),
    ("SELECT * REPLACE (CAST(size AS VARCHAR) AS size) FROM f", LAYOUT + "column size \\(BIGINT\\) is VARCHAR",
     None, None),
    ("SELECT * REPLACE ('A' || substr(id, 2) AS id) FROM f", "is not a lowercase UUID", "id", "A" + ANY_ID[1:]),
    ("SELECT * REPLACE ('x' || substr(id, 2) AS id) FROM f", "is not a lowercase UUID", "id", "x" + ANY_ID[1:]),
    ("SELECT * REPLACE (NULL::VARCHAR AS id) FROM f", "an image has no id", "id", None),
    ("SELECT * FROM f UNION ALL SELECT * FROM f", "duplicate id", "id", ANY_ID),
    ("SELECT * REPLACE (upper(enterprise_project_id) AS enterprise_project_id) FROM f", "is not in lowercase",
     "enterprise_project_id", ANY_ID),
    ("SELECT * REPLACE (NULL::VARCHAR AS architecture) FROM f", "is missing \\(a validated record always has one\\)",
     "architecture", ANY_ID),
    ("SELECT * REPLACE (repeat('x', 256) AS name) FROM f", "is longer than 255 characters", "name", ANY_ID),
    ("SELECT * REPLACE (TIMESTAMP '0999-01-01' AS created_at) FROM f", "is outside the years 1000 to 9999 \\(UTC\\)",
     "created_at", ANY_ID),
    ("SELECT * REPLACE ('[1]' AS record) FROM f", JSON_OBJECT, "record", ANY_ID),
    ("SELECT * REPLACE (replace(record, id, '00000000-0000-4000-8000-999999999999') AS record) FROM f",
     JSON_OBJECT, "record", ANY_ID),
    ("SELECT * REPLACE ([{'member_id': 'p', 'status': 'maybe'}] AS members) FROM f",
     "a member without an id or with a status other than accepted, rejected, pending", "members", ANY_ID),
    ("SELECT * REPLACE ([{'member_id': 'p', 'status': 'pending'}, {'member_id': 'p', 'status': 'accepted'}] "
     "AS members) FROM f", "not a catalog: Constraint Error: .*", None, None),
    ("SELECT * REPLACE ([{'key': 'k', 'value': NULL::VARCHAR}] AS tags) FROM f",
     "an entry with a missing value \\(key, value\\)", "tags", ANY_ID),
]


@pytest.mark.parametrize(("select", "message", "field", "image_id"), BAD_PARQUET)
def test_a_parquet_file_not_in_the_layout_is_a_record_error(tmp_path: Path, select: str, message: str,
                                                            field: str | None, image_id: str | None) -> None:
    path = write_parquet(tmp_path / "bad.parquet", select)
    with pytest.raises(RecordError) as e:
        TARGET.open_file(path)
    assert re.fullmatch(message, e.value.message), e.value.message
    assert (e.value.position, e.value.field) == (str(path), field)
    if image_id is None:
        assert e.value.image_id is None
    else:
        assert re.fullmatch(image_id, e.value.image_id or ""), e.value.image_id


def test_unreadable_files_are_record_errors(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match=r"cannot read: .*No such file") as e:
        TARGET.open_file(tmp_path / "missing.parquet")
    assert e.value.position == str(tmp_path / "missing.parquet")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(RecordError, match=r"cannot read as Parquet: .*magic bytes") as e:
        TARGET.open_file(broken)
    assert e.value.position == str(broken)


def test_bundled_source_holds_the_sample_catalog() -> None:
    conn = TARGET.bundled()
    try:
        assert conn.execute("SELECT count(*) FROM images").fetchone() == (len(bundled()),)
    finally:
        TARGET.close(conn)



def test_records_are_stored_as_the_response_form_text(source: Any) -> None:
    stored = dict(source.execute("SELECT id, record FROM images").fetchall())
    assert stored == {img.id: json.dumps(img.wire, ensure_ascii=True) for img in CATALOG.images}


def test_non_ascii_text_is_stored_as_the_sql_loaders_ascii_json() -> None:
    accented = Catalog.from_records([rec(1, name="Débian ☃", tags=["clé=valeur"])])
    conn = TARGET.load(accented)
    try:
        assert conn.execute("SELECT record FROM images").fetchall() == [
            (json.dumps(accented.images[0].wire, ensure_ascii=True),)]  # the same text as the SQL loader's
    finally:
        conn.close()


# ---- the command line ------------------------------------------------------------------------

def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from imgfilter.io.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_query_on_records_and_parquet(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    records = tmp_path / "images.jsonl"
    records.write_text("\n".join(json.dumps(r) for r in RECORDS), encoding="utf-8")
    parquet = tmp_path / "images.data"  # found by its content, not its name
    D.export_parquet(CATALOG, parquet)
    expected = MEMORY.page(CATALOG, imgfilter.check("sort_key=id&sort_dir=asc&limit=2"), Context(P1))
    for data in (records, parquet):
        code, out, err = cli(capsys, "query", "sort_key=id&sort_dir=asc&limit=2", "--engine", "duckdb",
                             "--data", str(data), "--project", P1)
        assert code == 0, err
        body = json.loads(out)
        assert [i["id"] for i in body["images"]] == list(expected.ids) == [uid(1), uid(2)]
        assert body["page_info"]["next_marker"] == expected.next_marker


def test_cli_parquet_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    parquet = tmp_path / "images.parquet"
    D.export_parquet(CATALOG, parquet)
    code, _, err = cli(capsys, "query", "", "--data", str(parquet))  # the memory target reads records only
    assert code == 2 and "Parquet file" in err and "--engine duckdb" in err
    bad = write_parquet(tmp_path / "bad.parquet", "SELECT * FROM f UNION ALL SELECT * FROM f")
    code, _, err = cli(capsys, "query", "", "--engine", "duckdb", "--data", str(bad))
    assert code == 2 and "duplicate id" in err and "Traceback" not in err


def test_load_catalog_writes_all_or_nothing() -> None:
    conn = duckdb.connect()
    try:
        conn.execute("CREATE TABLE image_tags (image_id VARCHAR)")  # not the reference table: the load fails
        with pytest.raises(duckdb.Error):
            D.load_catalog(conn, CATALOG)
        assert conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'images'").fetchone() == (0,)
        conn.execute("DROP TABLE image_tags")
        conn.execute("BEGIN")  # the caller's transaction: loaded in it, left open
        assert D.load_catalog(conn, CATALOG) == len(CATALOG)
        assert DUCKDB.in_transaction(conn)
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'images'").fetchone() == (0,)
    finally:
        conn.close()


def test_cli_prints_the_duckdb_statements(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "sql", "--dialect", "duckdb", "-f", "json", f"sort_key=name&limit=2&marker={uid(1)}")
    assert code == 0
    doc = json.loads(out)
    sqls = [s["sql"] for s in doc["statements"]]
    assert doc["dialect"] == "duckdb" and len(sqls) == 5
    assert all("%s" not in s for s in sqls) and any(" OR (i.\"name\" = ? AND " in s for s in sqls)

"""SQL target speed: first page, a page 500,000 rows deep, OFFSET, hand-written SQL.

Run by hand: ``python benchmarks/bench_sql.py [--n 1000000] [--db PATH]``.
Builds an N-image SQLite catalog (and PostgreSQL / MariaDB ones when
``IMGFILTER_BENCH_POSTGRESQL_URL`` / ``IMGFILTER_BENCH_MYSQL_URL`` are set; the
tables are created in that database), then for three queries prints the
median ms of: the generated first page; the generated page 500,000 rows deep
(through ``marker``); the same deep page by ``OFFSET``; and hand-written SQL
for the same first and deep pages.  Prints each generated statement's plan
and whether it scans the table or sorts in a temporary b-tree.

``--sqlalchemy`` adds (``--only-sqlalchemy`` runs only) the SQLAlchemy
target against the DB-API target on the same connection: whole pages (first
and deep) through ``imgfilter.sqlalchemy.page`` and ``db.run``, and the deep
page's statement alone (SQLAlchemy: execute of the cached statement object,
which it compiles once; DB-API: ``cursor.execute`` of the cached text), with
their ratios, and the ``EXPLAIN`` of exactly what SQLAlchemy sent.

Last, the cost of many side-table filters (flags, tags, properties): whole
pages with 1, 10, 50 and 100 of them, next to the page with one, and on
PostgreSQL the planning time alone (``EXPLAIN (SUMMARY)``), which grew
super-linearly when each filter was its own ``EXISTS`` (~20 s for 98 flags).
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_seconds
from bench_eval import build

import imgfilter
from imgfilter import db
from imgfilter.io.records import Catalog
from imgfilter.result import Page
from imgfilter.targets.sql import MARKER_ID, MARKER_VALUE, ROW_LIMIT, compile_sql

MARKER_ID_SLOT, MARKER_VALUE_SLOT, ROW_LIMIT_SLOT = MARKER_ID, MARKER_VALUE, ROW_LIMIT

PAGE = 20
DEPTH = 500_000
# (query, hand-written first page, hand-written keyset condition, its ORDER BY)
QUERIES = [
    ("status=active", "status = {p}", ("created_at", "<"), "created_at DESC, id DESC"),
    ("container_format=bare&sort_key=name&sort_dir=asc",
     "container_format = {p} AND name IS NOT NULL", ("name", ">"), "name ASC, id ASC"),
    ("protected=false&sort_key=size&sort_dir=desc",
     "protected = {p} AND size IS NOT NULL", ("size", "<"), "size DESC, id DESC"),
]


def hand_keyset(engine: str, col: str, op: str, p: str) -> str:
    """What one would write by hand for each engine (MySQL does not seek on row values)."""
    if engine == "mysql":
        return f"({col} {op} {p} OR ({col} = {p} AND id {op} {p}))"
    return f"({col}, id) {op} ({p}, {p})"
FIRST_VALUE = {"status=active": "active", "container_format=bare&sort_key=name&sort_dir=asc": "bare",
               "protected=false&sort_key=size&sort_dir=desc": False}


def ensure_sqlite(path: Path, n: int) -> sqlite3.Connection:
    if path.exists():
        conn = sqlite3.connect(path)
        if conn.execute("SELECT count(*) FROM images").fetchone()[0] == n:
            return conn
        conn.close()
        path.unlink()
    t0 = time.perf_counter()
    catalog = Catalog(build(n))
    conn = sqlite3.connect(path)
    db.load_catalog(conn, catalog, batch_size=20_000)
    conn.execute("ANALYZE")
    print(f"loaded {n:,} images into {path} in {time.perf_counter() - t0:.0f} s")
    return conn


def plan_lines(conn: Any, engine: str, sql: str, params: tuple[Any, ...]) -> list[str]:
    cur = conn.cursor()
    if engine == "sqlite":
        cur.execute("EXPLAIN QUERY PLAN " + sql, params)
        return [row[3] for row in cur.fetchall()]
    cur.execute("EXPLAIN " + sql, params)
    rows = cur.fetchall()
    if engine == "mysql":  # id, select_type, table, type, possible_keys, key, key_len, ref, rows, Extra
        return [" | ".join(str(c) for c in row) for row in rows]
    return [row[0] for row in rows]


def full_scan_or_sort(engine: str, lines: list[str]) -> list[str]:
    bad = []
    for line in lines:
        if engine == "sqlite" and (re.search(r"SCAN i$", line) or "TEMP B-TREE" in line):
            bad.append(line)
        if engine == "postgresql" and ("Seq Scan on images" in line or line.strip().startswith("Sort")):
            bad.append(line)
        if engine == "mysql" and (" | i | ALL | " in line or "filesort" in line):
            bad.append(line)
    return bad


def measure(conn: Any, engine: str, depth: int) -> None:
    d = db.dialect_of(conn)
    ph = d.placeholder
    cur = conn.cursor()

    def fetch(sql: str, params: tuple[Any, ...]) -> list[Any]:
        cur.execute(sql, params)
        rows: list[Any] = cur.fetchall()
        return rows

    print(f"\n== {engine}: median ms over 7 runs (page of {PAGE}; deep = {depth:,} rows in) ==")
    print(f"{'query':<50} {'first':>7} {'deep':>7} {'OFFSET':>8} {'gen deep':>9} {'hand deep':>10} "
          f"{'hand 1st':>9} {'deep/first':>10} {'gen/hand':>9}")
    def one(query: str, hand_where: str, key: tuple[str, str], hand_order: str) -> None:
        key_col, key_op = key
        value = FIRST_VALUE[query]
        checked = imgfilter.check(f"{query}&limit={PAGE}")
        order_sql = f"SELECT id FROM images WHERE {hand_where.format(p=ph)} ORDER BY {hand_order} "
        marker = fetch(order_sql + f"LIMIT 1 OFFSET {depth - 1}", (value,))[0][0]
        marker = marker.decode() if isinstance(marker, bytes) else marker
        deep_q = imgfilter.check(f"{query}&limit={PAGE}&marker={marker}")
        plan = compile_sql(checked, d)
        deep_plan = compile_sql(deep_q, d)
        # the marker and the first rows of these queries have a sort value: the value segment
        seg = next(sg for sg in plan.segments if not sg.null)
        first_stmt = seg.first
        first_params = first_stmt.bind({ROW_LIMIT: PAGE + 1})
        mval = fetch(deep_plan.marker_lookup.sql, deep_plan.marker_lookup.params)[0][0]  # type: ignore[union-attr]
        deep_stmt = next(sg for sg in deep_plan.segments if not sg.null).after
        deep_params = deep_stmt.bind({ROW_LIMIT: PAGE + 1, MARKER_VALUE: mval, MARKER_ID: marker})

        # whole pages through db.run (marker lookup, decoding the records) ...
        first = median_seconds(lambda: db.run(conn, checked), number=1, repeat=7)
        deep = median_seconds(lambda: db.run(conn, deep_q), number=1, repeat=7)
        # ... and the generated statement alone, to set against the hand-written one
        gen_deep = median_seconds(lambda: fetch(deep_stmt.sql, deep_params), number=1, repeat=7)
        hand_first_sql = (f"SELECT id, record FROM images WHERE {hand_where.format(p=ph)} "
                          f"ORDER BY {hand_order} LIMIT {PAGE + 1}")
        hand_deep_sql = (f"SELECT id, record FROM images WHERE {hand_where.format(p=ph)} AND "
                         f"{hand_keyset(engine, key_col, key_op, ph)} ORDER BY {hand_order} LIMIT {PAGE + 1}")
        hand_params = (value, mval, mval, marker) if engine == "mysql" else (value, mval, marker)
        offset_sql = hand_first_sql + f" OFFSET {depth}"
        hand_first = median_seconds(lambda: fetch(hand_first_sql, (value,)), number=1, repeat=7)
        hand_deep = median_seconds(lambda: fetch(hand_deep_sql, hand_params), number=1, repeat=7)
        offset = median_seconds(lambda: fetch(offset_sql, (value,)), number=1, repeat=3)
        assert [r[0] for r in fetch(hand_deep_sql, hand_params)][:PAGE] == [
            r[0] for r in fetch(deep_stmt.sql, deep_params)][:PAGE]
        print(f"{query:<50} {first * 1e3:7.2f} {deep * 1e3:7.2f} {offset * 1e3:8.1f} {gen_deep * 1e3:9.3f} "
              f"{hand_deep * 1e3:10.3f} {hand_first * 1e3:9.2f} {deep / first:9.2f}x {gen_deep / hand_deep:8.2f}x")
        for label, stmt, params in (("first page", first_stmt, first_params), ("deep page", deep_stmt, deep_params)):
            lines = plan_lines(conn, engine, stmt.sql, params)
            bad = full_scan_or_sort(engine, lines)
            verdict = "no full scan, no temporary sort" if not bad else "FULL SCAN OR SORT: " + "; ".join(bad)
            print(f"   plan of the {label}: {verdict}")
            for line in lines:
                print(f"      {line}")

    for item in QUERIES:
        one(*item)
    many_filters(conn, engine)


def sqlalchemy_vs_dbapi(conn: Any, engine: str, depth: int) -> None:
    """The SQLAlchemy target against the DB-API target on the same connection."""
    import sqlalchemy as sa

    from imgfilter.lowered.core import lower
    from imgfilter.sqlalchemy import engine_on, page, reference
    from imgfilter.targets.sqlalchemy import MARKER, MARKER_VALUE, ROW_LIMIT, compile_sqlalchemy, engine_of

    sa_engine = engine_on(conn)
    sa_source = sa_engine.connect()
    d = db.dialect_of(conn)
    cur = conn.cursor()
    sent: list[tuple[str, Any]] = []

    @sa.event.listens_for(sa_engine, "before_cursor_execute")
    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        sent.append((statement, parameters))

    print(f"\n== {engine}: SQLAlchemy target / DB-API target, medians of 31 alternating runs (page of {PAGE}) ==")
    print(f"{'query':<50} {'first':>13} {'ratio':>6} {'deep':>13} {'ratio':>6} {'deep stmt':>15} {'ratio':>6}")
    for query, hand_where, _key, hand_order in QUERIES:
        cur.execute(f"SELECT id FROM images WHERE {hand_where.format(p=d.placeholder)} ORDER BY {hand_order} "
                    f"LIMIT 1 OFFSET {depth - 1}", (FIRST_VALUE[query],))
        marker = cur.fetchone()[0]
        marker = marker.decode() if isinstance(marker, bytes) else marker
        conn.rollback()
        first_q = imgfilter.check(f"{query}&limit={PAGE}")
        deep_q = imgfilter.check(f"{query}&limit={PAGE}&marker={marker}")
        assert page(sa_source, deep_q) == db.run(conn, deep_q) and page(sa_source, first_q) == db.run(conn, first_q)
        times: dict[tuple[str, str], float] = {}
        for label, q in (("first", first_q), ("deep", deep_q)):
            def sa_page(q: imgfilter.CheckedQuery = q) -> Page:
                return page(sa_source, q)

            def dbapi_page(q: imgfilter.CheckedQuery = q) -> Page:
                return db.run(conn, q)

            times[label, "sa"], times[label, "dbapi"] = paired(sa_page, dbapi_page, number=3)
        # the deep page's statement alone: marker lookup done, rows fetched
        plan = compile_sqlalchemy(lower(deep_q), reference(), engine_of(sa_engine.dialect))
        dbapi_plan = compile_sql(deep_q, d)
        mval = fetch_one(conn, dbapi_plan.marker_lookup.sql, dbapi_plan.marker_lookup.params)  # type: ignore[union-attr]
        seg = next(sg for sg in plan.segments if not sg.null)
        dseg = next(sg for sg in dbapi_plan.segments if not sg.null)
        dparams = dseg.after.bind({ROW_LIMIT_SLOT: PAGE + 1, MARKER_VALUE_SLOT: mval, MARKER_ID_SLOT: marker})
        raw_value = sa_source.execute(plan.marker_lookup, {MARKER: marker}).scalar()
        sa_params = {MARKER: marker, MARKER_VALUE: raw_value, ROW_LIMIT: PAGE + 1}

        def sa_stmt(stmt: Any = seg.after, params: dict[str, Any] = sa_params) -> list[Any]:
            return list(sa_source.execute(stmt, params).all())

        def dbapi_stmt(sql: str = dseg.after.sql, params: tuple[Any, ...] = dparams) -> list[Any]:
            cur.execute(sql, params)
            return list(cur.fetchall())

        def text(v: Any) -> str:
            return v.decode() if isinstance(v, bytes) else str(v)

        assert [text(r[0]) for r in sa_stmt()] == [text(r[0]) for r in dbapi_stmt()]
        times["stmt", "sa"], times["stmt", "dbapi"] = paired(sa_stmt, dbapi_stmt, number=10)
        sent.clear()
        sa_stmt()
        statement, parameters = sent[-1]
        sa_source.rollback()
        conn.rollback()
        cells = []
        for label in ("first", "deep", "stmt"):
            a, b = times[label, "sa"], times[label, "dbapi"]
            cells.append(f"{a * 1e3:6.3f}/{b * 1e3:6.3f} {a / b:5.2f}x")
        print(f"{query:<50} " + " ".join(cells))
        lines = plan_lines(conn, engine, statement, parameters)
        conn.rollback()
        # the DB-API target aliases images as i; SQLAlchemy names the table
        named = lines if engine == "postgresql" else [re.sub(r"\bimages\b", "i", line) for line in lines]
        bad = full_scan_or_sort(engine, named)
        verdict = "no full scan, no temporary sort" if not bad else "FULL SCAN OR SORT: " + "; ".join(bad)
        print(f"   SQLAlchemy's deep-page statement: {verdict}")
        print("      " + " ".join(statement.split()))
        for line in lines:
            print(f"      {line}")
    sa_source.close()
    sa_engine.dispose(close=False)


def paired(a: Any, b: Any, number: int, repeat: int = 31) -> tuple[float, float]:
    """Medians of ``a`` and ``b`` timed in turn (a, b, a, b, ...), so that both
    meet the same load on a shared machine."""
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(median_seconds(a, number=number, repeat=1))
        tb.append(median_seconds(b, number=number, repeat=1))
    return statistics.median(ta), statistics.median(tb)


def fetch_one(conn: Any, sql: str, params: tuple[Any, ...]) -> Any:
    cur = conn.cursor()
    cur.execute(sql, params)
    value = cur.fetchone()[0]
    conn.rollback()
    return value


MANY_OPTIONS = imgfilter.Options(unknown="property", max_pairs=400, max_side_filters=400)


def many_query(kind: str, n: int) -> str:
    """n side-table filters of one kind, or mixed: flags, tags and properties in turn."""
    def one(i: int) -> str:
        k = kind if kind != "mixed" else ("flags", "tags", "properties")[i % 3]
        return {"flags": f"__support_f{i}=true", "tags": f"tag=k{i}", "properties": f"p{i}=x"}[k]
    return "&".join(one(i) for i in range(n)) + f"&limit={PAGE}"


def many_filters(conn: Any, engine: str) -> None:
    d = db.dialect_of(conn)
    cur = conn.cursor()
    print(f"\n== {engine}: many flag/tag/property filters, median ms of a whole page over 5 runs ==")
    print(f"{'filters':<18} {'1':>8} {'10':>8} {'50':>8} {'100':>8} {'100 / 1':>8}"
          + ("   planning ms (1 / 100)" if engine == "postgresql" else ""))
    for kind in ("flags", "tags", "properties", "mixed"):
        times = []
        for n in (1, 10, 50, 100):
            checked = imgfilter.check(many_query(kind, n), MANY_OPTIONS)

            def page(c: imgfilter.CheckedQuery = checked) -> None:
                db.run(conn, c)
                conn.rollback()

            times.append(median_seconds(page, number=1, repeat=5))
        plans = ""
        if engine == "postgresql":
            ms = []
            for n in (1, 100):
                stmt = compile_sql(imgfilter.check(many_query(kind, n), MANY_OPTIONS), d).segments[0].first
                cur.execute("EXPLAIN (SUMMARY) " + stmt.sql, stmt.bind({ROW_LIMIT: PAGE + 1}))
                line = next(r[0] for r in cur.fetchall() if r[0].startswith("Planning Time"))
                ms.append(line.split(":")[1].split()[0])
                conn.rollback()
            plans = f"   {ms[0]} / {ms[1]}"
        cells = " ".join(f"{t * 1e3:8.2f}" for t in times)
        print(f"{kind:<18} {cells} {times[-1] / times[0]:7.1f}x{plans}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, default=Path("/tmp/imgfilter-bench.sqlite3"))
    ap.add_argument("--sqlalchemy", action="store_true", help="also the SQLAlchemy target against the DB-API one")
    ap.add_argument("--only-sqlalchemy", action="store_true", help="only the SQLAlchemy target against the DB-API one")
    args = ap.parse_args()
    conn = ensure_sqlite(args.db, args.n)
    depth = min(DEPTH, args.n // 2)

    def run(c: Any, engine: str) -> None:
        if not args.only_sqlalchemy:
            measure(c, engine, depth)
        if args.sqlalchemy or args.only_sqlalchemy:
            sqlalchemy_vs_dbapi(c, engine, depth)

    run(conn, "sqlite")
    for engine in ("postgresql", "mysql"):
        url = os.environ.get(f"IMGFILTER_BENCH_{engine.upper()}_URL")
        if url:
            server = db.connect(url)
            ensure_server(server, args.n)
            run(server, engine)


def ensure_server(conn: Any, n: int) -> None:
    cur = conn.cursor()
    try:
        cur.execute("SELECT count(*) FROM images")
        have = cur.fetchone()[0] == n
    except Exception:  # no table yet
        conn.rollback()
        have = False
    if have:
        return
    t0 = time.perf_counter()
    for table in ("images", "image_tags", "image_members", "image_properties"):
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    conn.commit()
    db.load_catalog(conn, Catalog(build(n)), batch_size=20_000)
    cur.execute("ANALYZE" if db.dialect_of(conn).name == "postgresql" else "ANALYZE TABLE images")
    cur.fetchall() if db.dialect_of(conn).name == "mysql" else None
    conn.commit()
    print(f"loaded {n:,} images in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

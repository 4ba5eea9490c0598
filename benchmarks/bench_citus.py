"""Citus vs plain PostgreSQL: load time, first and deep pages, the marker lookup.

Run by hand (CI cannot build Citus)::

    IMGFILTER_CITUS_URL=postgresql://postgres@127.0.0.1:9700/test \\
    IMGFILTER_PG_URL=postgresql://postgres@127.0.0.1:5432/test \\
    python benchmarks/bench_citus.py [--n 1000000] [--shards 4 32] [--repeat 9]

Generates ``n`` images (``imgfilter.io.catalog.generate``), then loads them
into plain PostgreSQL and into Citus once per shard count, each in a private
schema dropped at the end: tables, ``distribute`` (Citus), COPY of every
table, indexes, ANALYZE; the times of each stage are printed.  Then, per
target, the median ms (of ``--repeat`` runs) of ``db.run`` for a first page
and a deep page (the marker at position 500,000 of the query's matches, or
half of them when fewer) of a few typical queries, and the ratio to plain
PostgreSQL measured in the same run.  Every page is checked against the
in-memory target.  Citus pages are measured twice: with the server's settings,
and with ``citus.max_cached_conns_per_worker`` at 4 (the default, 1, makes a
page's multi-shard statement after its marker lookup open a new connection to
each worker).

Last, the marker lookup of an ordinary caller's page as generated, which
repeats the marker's id inside the membership ``EXISTS`` (``x.image_id =
<marker>``) so that Citus routes it to one shard, and without that pin:
median ms and the number of shard tasks (``EXPLAIN``) of each.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_seconds

import imgfilter
from imgfilter import Context, db
from imgfilter.db.citus import distribute
from imgfilter.db.dialects import POSTGRESQL
from imgfilter.db.schema import DEFAULT_SCHEMA, create_statements
from imgfilter.front import params as P
from imgfilter.io.catalog import PROJECTS, generate
from imgfilter.io.load import catalog_rows
from imgfilter.io.records import Catalog
from imgfilter.targets.sql import compile_sql

PAGE = 20
CACHED = 4  # citus.max_cached_conns_per_worker in the second measurement of Citus pages
DEPTH = 500_000
QUERIES: list[tuple[str, Context | None]] = [
    ("sort_key=name&limit=20", None),
    ("__imagetype=gold&sort_key=created_at&sort_dir=desc&limit=20", None),
    ("limit=20", Context(project_id=PROJECTS[0])),  # an ordinary caller (CLI: --project)
]


@contextmanager
def private_schema(url: str) -> Iterator[Any]:
    conn: Any = db.connect(url)
    name = f"imgfilter_bench_{uuid.uuid4().hex[:12]}"
    conn.autocommit = True
    conn.execute(f'CREATE SCHEMA "{name}"')
    conn.execute(f'SET search_path TO "{name}"')
    conn.autocommit = False
    try:
        yield conn
    finally:
        conn.rollback()
        conn.autocommit = True
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')
        conn.close()


def load(conn: Any, catalog: Catalog, shards: int | None, distributed: bool) -> dict[str, float]:
    """Tables, (distribute), COPY, indexes, ANALYZE: seconds per stage."""
    s = DEFAULT_SCHEMA
    statements = create_statements(POSTGRESQL, s)
    tables = [x for x in statements if x.startswith("CREATE TABLE")]
    indexes = [x for x in statements if not x.startswith("CREATE TABLE")]
    times: dict[str, float] = {}
    t = time.perf_counter()
    for stmt in tables:
        conn.execute(stmt)
    conn.commit()
    if distributed:
        distribute(conn, s, shards)
    times["tables"] = time.perf_counter() - t
    t = time.perf_counter()
    q = POSTGRESQL.ident
    names = {"images": s.images, "tags": s.tags, "members": s.members, "properties": s.properties}
    columns = {"images": [s.column(f.name) for f in P.FIELDS_LIST] + [s.record],
               **{k: list(v) for k, v in s.side_columns().items()}}
    side: dict[str, list[tuple[Any, ...]]] = {"tags": [], "members": [], "properties": []}
    cur = conn.cursor()

    def copy_sql(kind: str) -> str:
        return f"COPY {q(names[kind])} ({', '.join(q(c) for c in columns[kind])}) FROM STDIN"

    with cur.copy(copy_sql("images")) as cp:
        for kind, row in catalog_rows(POSTGRESQL, catalog.images, s):
            if kind == "images":
                cp.write_row(row)
            else:
                side[kind].append(row)
    for kind, rows in side.items():
        with cur.copy(copy_sql(kind)) as cp:
            for row in rows:
                cp.write_row(row)
    conn.commit()
    times["copy"] = time.perf_counter() - t
    t = time.perf_counter()
    for stmt in indexes:
        conn.execute(stmt)
    conn.commit()
    times["indexes"] = time.perf_counter() - t
    t = time.perf_counter()
    conn.autocommit = True
    for table in names.values():
        conn.execute(f"ANALYZE {q(table)}")
    conn.autocommit = False
    times["analyze"] = time.perf_counter() - t
    times["total"] = sum(times.values())
    return times


def with_marker(query: str, marker: str) -> str:
    return f"{query}&marker={marker}"


def marker_lookup(query: str, context: Context | None) -> tuple[str, tuple[Any, ...]]:
    plan = compile_sql(imgfilter.check(query), "postgresql", context)
    for label, stmt in plan.statements():
        if label == "marker lookup":
            return stmt.sql, tuple(stmt.params)
    raise AssertionError(f"no marker lookup for {query}")


PIN = ' AND x."image_id" = %s'


def unpinned(sql: str, params: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """The marker lookup without the marker's id inside its side-table subqueries
    (``x.image_id = <marker>``, which lets Citus route it to one shard)."""
    out = list(params)
    while (at := sql.rfind(PIN)) >= 0:
        del out[sql[:at].count("%s")]
        sql = sql[:at] + sql[at + len(PIN):]
    return sql, tuple(out)


def tasks(conn: Any, sql: str, params: tuple[Any, ...]) -> str:
    cur = conn.cursor()
    cur.execute("EXPLAIN " + sql, params)
    text = "\n".join(r[0] for r in cur.fetchall())
    conn.rollback()
    found = re.search(r"Task Count: (\d+)", text)
    return found.group(1) if found else "-"


def measure_pages(conn: Any, expected: dict[str, tuple[list[str], int, str]], repeat: int,
                  name: str) -> dict[str, float]:
    """Median seconds of each query's first and deep page, checked against memory."""
    out: dict[str, float] = {}
    for query, context in QUERIES:
        ids, position, marker = expected[query]
        first = db.run(conn, query, context=context)
        deep = db.run(conn, with_marker(query, marker), context=context)
        assert first.ids == ids[:PAGE], (name, query)
        assert deep.ids == ids[position:position + PAGE], (name, query, "deep")
        for label, text in (("first", query), ("deep", with_marker(query, marker))):
            def page(text: str = text, context: Context | None = context) -> None:
                db.run(conn, text, context=context)

            out[f"{query} | {label}"] = median_seconds(page, number=1, repeat=repeat)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--shards", type=int, nargs="+", default=[4, 32])
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    citus_url, pg_url = os.environ.get("IMGFILTER_CITUS_URL"), os.environ.get("IMGFILTER_PG_URL")
    if not citus_url or not pg_url:
        sys.exit("set IMGFILTER_CITUS_URL (a Citus coordinator) and IMGFILTER_PG_URL (plain PostgreSQL)")

    t = time.perf_counter()
    catalog = Catalog.from_records(generate(args.n))
    print(f"generated and validated {args.n:,} images in {time.perf_counter() - t:.0f} s", flush=True)

    expected: dict[str, tuple[list[str], int, str]] = {}
    for query, context in QUERIES:
        unpaged = query.replace("&limit=20", "").replace("limit=20", "")
        ids = imgfilter.run(unpaged, catalog, context).ids
        position = min(DEPTH, len(ids) // 2)
        expected[query] = (ids, position, ids[position - 1])
        print(f"{query!r} ({'project' if context else 'trusted'}): {len(ids):,} matches, "
              f"deep page after position {position:,}", flush=True)

    targets: list[tuple[str, str, int | None]] = [("postgresql", pg_url, None)]
    targets += [(f"citus {n} shards", citus_url, n) for n in args.shards]
    loads: dict[str, dict[str, float]] = {}
    pages: dict[str, dict[str, float]] = {}
    lookups: dict[str, dict[str, tuple[float, str]]] = {}
    for name, url, shards in targets:
        with private_schema(url) as conn:
            loads[name] = load(conn, catalog, shards, distributed=shards is not None)
            print(f"{name}: loaded in " + ", ".join(f"{k} {v:.1f} s" for k, v in loads[name].items()),
                  flush=True)
            # Citus keeps one connection per worker between statements by default
            # (citus.max_cached_conns_per_worker = 1); a page's multi-shard statement after its
            # marker lookup then opens a new one per worker: measured as set and with CACHED
            settings = [("", None)] if shards is None else [("", None), (f" cached {CACHED}", CACHED)]
            for suffix, cached in settings:
                column = name + suffix
                if cached is not None:
                    conn.execute(f"SET citus.max_cached_conns_per_worker = {int(cached)}")
                    conn.commit()
                pages[column] = measure_pages(conn, expected, args.repeat, column)
            query, context = QUERIES[2]
            marker = expected[query][2]
            sql, params = marker_lookup(with_marker(query, marker), context)
            assert PIN in sql, "the generated marker lookup no longer pins its subqueries to the marker"
            variants = {"without the pin": unpinned(sql, params), "as generated (pinned)": (sql, params)}
            lookups[name] = {}
            for label, (s, p) in variants.items():
                cur = conn.cursor()

                def lookup(s: str = s, p: tuple[Any, ...] = p, cur: Any = cur) -> None:
                    cur.execute(s, p)
                    assert cur.fetchall()
                    conn.rollback()

                lookups[name][label] = (median_seconds(lookup, number=1, repeat=args.repeat * 3),
                                        tasks(conn, s, p))

    base = "postgresql"
    print("\nload (s)")
    for name, times in loads.items():
        print(f"  {name:18} total {times['total']:7.1f}  ({times['total'] / loads[base]['total']:.2f}x)   "
              + "  ".join(f"{k} {v:.1f}" for k, v in times.items() if k != "total"))
    print("\npages: median ms (ratio to plain PostgreSQL)")
    for key in pages[base]:
        print(f"  {key}")
        for name in pages:
            print(f"    {name:28} {pages[name][key] * 1e3:8.2f} ({pages[name][key] / pages[base][key]:6.2f}x)")
    print(f"\nmarker lookup of an ordinary caller ({QUERIES[2][0]!r}, project): median ms, shard tasks")
    for name, variants_ in lookups.items():
        print(f"  {name:18} " + "   ".join(f"{label}: {ms * 1e3:.2f} ms, tasks {n}"
                                           for label, (ms, n) in variants_.items()))


if __name__ == "__main__":
    main()

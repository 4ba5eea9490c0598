"""DuckDB target vs the in-memory target on the same N-image catalog, in one run.

Run by hand: ``python benchmarks/bench_duckdb.py [N]`` (default 1,000,000;
needs ``imgfilter[duckdb]``).  Builds N images (``bench_eval.build``), loads
them into DuckDB (``imgfilter.targets.duckdb``), and for several query shapes
prints the median ms of a page on each target and the ratio; each page is
asserted equal on both (ids, next marker and images).  The first row is the
issue's measure: a filtered, sorted ``limit=10`` page.
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_seconds
from bench_eval import SIX, build

import imgfilter
from imgfilter import Context
from imgfilter.io.catalog import PROJECTS
from imgfilter.io.records import Catalog
from imgfilter.targets.duckdb import TARGET as DUCKDB
from imgfilter.targets.memory import TARGET as MEMORY


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    t0 = time.perf_counter()
    catalog = Catalog(build(n))
    print(f"built {n:,} records in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    conn = DUCKDB.load(catalog)
    print(f"loaded into DuckDB in {time.perf_counter() - t0:.1f} s")
    middle = sorted(img.id for img in catalog.images)[n // 2]
    shapes: list[tuple[str, str, Context | None]] = [
        ("filtered, sorted limit=10", "status=active&sort_key=name&sort_dir=asc&limit=10", None),
        ("6 conditions + tag, limit=10", SIX + "&limit=10", None),
        ("a project's scope, by size", "__imagetype=private&sort_key=size&limit=10", Context(PROJECTS[0])),
        ("deep page after a marker", f"status=active&sort_key=id&sort_dir=asc&limit=10&marker={middle}", None),
        ("tag=env=prod, limit=100", "tag=env=prod&limit=100", None),
        ("no filter, limit=10", "limit=10", None),
    ]
    print(f"{'query':32} {'memory ms':>10} {'duckdb ms':>10} {'ratio':>7}")
    for label, query, context in shapes:
        checked = imgfilter.check(query)
        expected = MEMORY.page(catalog, checked, context)
        assert DUCKDB.page(conn, checked, context) == expected, label
        assert expected.ids, label
        mem = median_seconds(partial(MEMORY.page, catalog, checked, context), number=1, repeat=5)
        duck = median_seconds(partial(DUCKDB.page, conn, checked, context), number=1, repeat=9)
        print(f"{label:32} {mem * 1e3:10.1f} {duck * 1e3:10.1f} {mem / duck:6.1f}x")
    DUCKDB.close(conn)


if __name__ == "__main__":
    main()

"""Memory held per cache entry, measured with tracemalloc.

Run by hand: ``python benchmarks/bench_cache_memory.py``.  For a typical query
(the 15-parameter SDK query of bench_parse.py, made distinct per entry) and a
16 KiB one, fills each cache with N distinct entries and prints the traced
memory growth per entry.
"""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_parse import SDK_QUERY

import imgfilter
from imgfilter import Context, Options
from imgfilter.caches import configure_caches
from imgfilter.targets.sql import compile_sql

N = 500
OPTS = Options(unknown="property")


def typical(i: int) -> str:
    return f"{SDK_QUERY}&p={i}"


def big(i: int) -> str:
    return f"p={'x' * (16384 - 12)}{i:08d}"[:16384]


def per_entry(fill: Callable[[int], object]) -> float:
    configure_caches(check=N, page_templates=N, compile_query=N, predicates=N, compile_sql=N)
    fill(-1)  # imports, first-use allocations
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(N):
        fill(i)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return grown / N


def main() -> None:
    ctx = Context("p1")
    print(f"{'cache':<28} {'typical query':>14} {'16 KiB query':>14}")
    rows: list[tuple[str, Callable[[Callable[[int], str]], Callable[[int], object]]]] = [
        ("check (+ template)", lambda q: lambda i: imgfilter.check(q(i), OPTS)),
        ("compile_query (+ code)", lambda q: lambda i: imgfilter.compile_query(imgfilter.check(q(i), OPTS), ctx)),
        ("compile_sql", lambda q: lambda i: compile_sql(imgfilter.check(q(i), OPTS), "postgresql", ctx)),
    ]
    for label, make in rows:
        small = per_entry(make(typical))
        large = per_entry(make(big))
        print(f"{label:<28} {small / 1024:>11.1f} KiB {large / 1024:>11.1f} KiB")
    print("(compile rows include the check entry of their query)")


if __name__ == "__main__":
    main()

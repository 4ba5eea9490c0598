"""Record validation speed: ``Catalog.from_records`` on generated records, with
the dateutil-only ``parse_time`` (the reference, patched in) and with the
current one (``fromisoformat`` for the common spellings).

Run by hand: ``python benchmarks/bench_records.py [n]`` (default 20000 records).
Prints the median of 5 runs in records/s for each, their ratio, and the median
µs per ``parse_time`` call on the catalog's time strings.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from dateutil.parser import isoparse

from imgfilter.front import params as P
from imgfilter.io import records
from imgfilter.io.catalog import generate
from imgfilter.io.records import Catalog

RUNS = 5


def reference_parse_time(value: str) -> dt.datetime:
    """``records.parse_time`` before the fast path (dateutil only)."""
    t = isoparse(value)
    t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
    if not P.TIME_MIN <= t <= P.TIME_MAX:
        raise ValueError("outside the years 1000 to 9999 (UTC) that every database stores")
    return t


def median_rate(fn: Callable[[], object], n: int) -> float:
    """Median over ``RUNS`` runs of ``n`` divided by the run's seconds."""
    rates = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def main(n: int) -> None:
    recs: list[dict[str, Any]] = generate(n)
    times = [r[f] for r in recs for f in ("created_at", "updated_at") if isinstance(r.get(f), str)]
    new_parse = records.parse_time
    results: dict[str, tuple[float, float]] = {}
    for name, parse in (("old (dateutil)", reference_parse_time), ("new (fromisoformat)", new_parse)):
        records.parse_time = parse  # what _normalize calls
        try:
            rate = median_rate(lambda: Catalog.from_records(recs), n)
            per_call = 1e6 / median_rate(lambda: [parse(t) for t in times], len(times))  # noqa: B023
        finally:
            records.parse_time = new_parse
        results[name] = (rate, per_call)
        print(f"{name:20} {rate:10,.0f} records/s  {1e6 / rate:7.1f} µs/record   "
              f"parse_time {per_call:5.2f} µs/call")
    (old, old_call), (new, new_call) = results.values()
    print(f"speed-up: records x{new / old:.2f}, parse_time x{old_call / new_call:.2f} "
          f"({n} records, {len(times)} time strings, median of {RUNS})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)

"""Record loading: validation speed, and the peak memory of streaming a file.

Run by hand: ``python benchmarks/bench_records.py [n] [--speed-only | --memory-only]``
(n: records in the generated file, default 200,000; speed is measured on
20,000 records).

Speed: the median of 5 runs in records per CPU second (the process's own time,
images consumed and not kept) of ``records._normalize_exact`` (the
previous ``normalize``, kept unchanged as the path of records that leave the
common one) and of ``normalize``, both on the bundled catalog's generated
records, with their ratio; then ``stream`` of the same records as JSON Lines
and as a JSON array from memory (JSON parsing included), next to ``json.loads``
of each line alone; and ``parse_time`` against the dateutil-only reference.

Memory: a generated file of n records is written once as JSON Lines and once as
a JSON array (catalog-shaped records, each with its own id); each of these runs
in a child process of its own and reports its peak RSS (``VmHWM`` of
/proc/self/status; ``ru_maxrss`` elsewhere, which on Linux would still hold
the parent's peak from before ``exec``):
``stream`` counting the images of each file, ``json.loads`` of the array file's
text (the baseline: what reading the whole document costs before any
validation), and ``load`` of the JSON Lines file (the whole ``Catalog``; up to
300,000 records).
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dateutil.parser import isoparse

from imgfilter.front import params as P
from imgfilter.io import records
from imgfilter.io.catalog import generate

RUNS = 5
SPEED_N = 20_000


def reference_parse_time(value: str) -> dt.datetime:
    """``records.parse_time`` before the fast path (dateutil only)."""
    t = isoparse(value)
    t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
    if not P.TIME_MIN <= t <= P.TIME_MAX:
        raise ValueError("outside the years 1000 to 9999 (UTC) that every database stores")
    return t


def median_rate(fn: Callable[[], object], n: int) -> float:
    """Median over ``RUNS`` runs of ``n`` divided by the run's CPU seconds (this process's
    own, so that other work on a shared machine counts less)."""
    rates = []
    for _ in range(RUNS):
        gc.collect()
        start = time.process_time()
        fn()
        rates.append(n / (time.process_time() - start))
    return statistics.median(rates)


def drain(items: Iterable[object]) -> None:
    """Consume without keeping: what is timed is reading, not a growing heap's garbage collection."""
    deque(items, maxlen=0)


def speed() -> None:
    recs: list[dict[str, Any]] = generate(SPEED_N)
    lines = "\n".join(json.dumps(r) for r in recs)
    array = json.dumps(recs)
    exact, fast = records._normalize_exact, records.normalize
    rows = [
        ("old normalize", median_rate(lambda: drain(exact(r, "x") for r in recs), SPEED_N)),
        ("new normalize", median_rate(lambda: drain(fast(r, "x") for r in recs), SPEED_N)),
        ("stream JSON Lines", median_rate(lambda: drain(records.stream(io.StringIO(lines))), SPEED_N)),
        ("stream JSON array", median_rate(lambda: drain(records.stream(io.StringIO(array))), SPEED_N)),
        ("json.loads a line", median_rate(lambda: drain(json.loads(x) for x in lines.split("\n")), SPEED_N)),
    ]
    old = rows[0][1]
    for name, rate in rows:
        print(f"{name:18} {rate:10,.0f} records/s  {1e6 / rate:6.1f} µs/record  x{rate / old:.2f} of old normalize")
    times = [r[f] for r in recs for f in ("created_at", "updated_at") if isinstance(r.get(f), str)]
    ref = 1e6 / median_rate(lambda: [reference_parse_time(t) for t in times], len(times))
    new = 1e6 / median_rate(lambda: [records.parse_time(t) for t in times], len(times))
    print(f"parse_time {new:.2f} µs/call against {ref:.2f} with dateutil only (x{ref / new:.2f})")
    print(f"({SPEED_N} records, median of {RUNS})")


def write_files(n: int, folder: Path) -> tuple[Path, Path]:
    """``n`` catalog-shaped records, each with an id of its own, as JSON Lines and as a JSON array."""
    batch = generate(min(n, 20_000))
    lines, array = folder / "records.jsonl", folder / "records.json"
    with lines.open("w", encoding="utf-8") as jl, array.open("w", encoding="utf-8") as ja:
        ja.write("[")
        for i in range(n):
            rec = dict(batch[i % len(batch)])
            image_id = str(uuid.UUID(int=i + 1, version=4))
            rec.update(id=image_id, self=f"/v2/images/{image_id}", file=f"/v2/images/{image_id}/file")
            text = json.dumps(rec)
            jl.write(text + "\n")
            ja.write(("," if i else "") + text)
        ja.write("]")
    return lines, array


CHILD = """
import json, resource, sys
from pathlib import Path
kind, path = sys.argv[1], sys.argv[2]
if kind == "stream":
    from imgfilter.io.records import stream
    n = sum(1 for _ in stream(path))
elif kind == "load":
    from imgfilter.io.records import load
    n = len(load(path))
elif kind == "import":
    from imgfilter.io.records import stream
    n = 0
else:
    n = len(json.loads(Path(path).read_text(encoding="utf-8")))
# VmHWM: this process's own peak (ru_maxrss would keep the parent's peak from before exec)
status = Path("/proc/self/status")
hwm = [int(x.split()[1]) for x in status.read_text().splitlines() if x.startswith("VmHWM:")] if status.exists() else []
print(n, (hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) // 1024)
"""


def peak(kind: str, path: Path) -> tuple[int, int, float]:
    """Records read, peak RSS in MiB and seconds of a child process doing ``kind``."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], check=True, capture_output=True,
                         text=True, env=os.environ).stdout.split()
    return int(out[0]), int(out[1]), time.perf_counter() - start


def memory(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        lines, array = write_files(n, Path(tmp))
        size = array.stat().st_size / 2**20
        print(f"{n:,} records written in {time.perf_counter() - start:.0f} s: "
              f"JSON array {size:,.0f} MiB, JSON Lines {lines.stat().st_size / 2**20:,.0f} MiB")
        runs: tuple[tuple[str, str, Path], ...] = (
                ("python + imgfilter imported", "import", lines), ("stream, JSON Lines", "stream", lines),
                ("stream, JSON array", "stream", array), ("json.loads, JSON array", "json", array),
                ("load (Catalog), JSON Lines", "load", lines))
        if n > 300_000:  # a whole Catalog of a million images takes ~8 GB: not on a shared machine
            runs = runs[:-1]
        for label, kind, path in runs:
            count, mib, seconds = peak(kind, path)
            print(f"{label:28} peak RSS {mib:7,} MiB  {seconds:6.1f} s  ({count:,} records)")


def main(argv: list[str]) -> None:
    args = [a for a in argv if not a.startswith("--")]
    n = int(args[0]) if args else 200_000
    if "--memory-only" not in argv:
        speed()
    if "--speed-only" not in argv:
        memory(n)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Loading speed: the whole ``imgfilter load`` path (reading, validation,
writing, indexes) against each engine's own bulk load of the same rows,
already prepared, into the same schema (indexes after the rows), in one run.

Run by hand::

    IMGFILTER_TEST_POSTGRESQL_URL=postgresql://postgres@127.0.0.1:5432/test \\
    IMGFILTER_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test \\
    python benchmarks/bench_load.py [N] [--repeat R] [--engines sqlite,postgresql,mysql]

N generated records (default 100,000; ``imgfilter.io.catalog.generate``) are
written as JSON Lines.  For each engine (SQLite: a file; PostgreSQL: a private
schema; MariaDB: a private database, dropped after) and each of R runs
(default 1), two child processes load them into an empty namespace:

- ``imgfilter load FILE --db URL``, as a user runs it;
- the native path: the rows are built first (not timed), then the timed part
  creates the tables, loads the rows (COPY FROM STDIN / multi-row INSERT of at
  most 4 MiB / executemany, in one transaction), builds the indexes and commits.

Prints, per engine, the median seconds and records/s of each, their ratio
(imgfilter / native); how the load's time split (from its summary line:
reading and validating the streamed file, writing rows, indexing), with the
ratio of writing and indexing alone to native; and each child's peak RSS
(``ru_maxrss`` from wait4).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from imgfilter.db import connect
from imgfilter.db.dialects import DIALECTS
from imgfilter.db.schema import DEFAULT_SCHEMA, index_statements, table_statements
from imgfilter.io.catalog import generate
from imgfilter.io.load import _columns, _tables, catalog_rows
from imgfilter.io.records import stream

ENV = {"postgresql": "IMGFILTER_TEST_POSTGRESQL_URL", "mysql": "IMGFILTER_TEST_MYSQL_URL"}
CHUNK_BYTES = 4 << 20


# ---- the native load (runs in a child) ---------------------------------------------------------

def native(engine: str, url: str, path: str) -> float:
    """Seconds to create, bulk-load the prepared rows of ``path``, index and commit."""
    d = DIALECTS[engine]
    s = DEFAULT_SCHEMA
    rows: dict[str, list[tuple[Any, ...]]] = {k: [] for k in ("images", "tags", "members", "properties")}
    for table, row in catalog_rows(d, stream(path), s):
        rows[table].append(row)
    cols, names = _columns(s), _tables(s)
    q = d.ident
    conn = connect(url, create=True)
    cur = conn.cursor()
    start = time.perf_counter()
    for stmt in table_statements(d, s):
        cur.execute(stmt)
    conn.commit()
    if engine == "sqlite":
        cur.execute("BEGIN")
    for kind, batch in rows.items():
        collist = ", ".join(q(c) for c in cols[kind])
        if engine == "postgresql":
            with cur.copy(f"COPY {q(names[kind])} ({collist}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
        elif engine == "mysql":
            group = "(" + ", ".join(["%s"] * len(cols[kind])) + ")"
            chunks: list[list[tuple[Any, ...]]] = [[]]
            size = 0
            for row in batch:
                if size > CHUNK_BYTES:
                    chunks.append([])
                    size = 0
                chunks[-1].append(row)
                size += sum(2 * len(v) if isinstance(v, str) else 8 for v in row)
            for chunk in filter(None, chunks):
                cur.execute(f"INSERT INTO {q(names[kind])} ({collist}) VALUES "
                            + ", ".join([group] * len(chunk)), [v for r in chunk for v in r])
        else:
            cur.executemany(f"INSERT INTO {q(names[kind])} ({collist}) VALUES "
                            f"({', '.join(['?'] * len(cols[kind]))})", batch)
    if engine != "mysql":  # MySQL commits before DDL anyway
        for stmt in index_statements(d, s):
            cur.execute(stmt)
        conn.commit()
    else:
        conn.commit()
        for stmt in index_statements(d, s):
            cur.execute(stmt)
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


# ---- namespaces ----------------------------------------------------------------------------

@contextmanager
def namespace(engine: str, tmp: Path) -> Iterator[str]:
    """A URL of an empty, private place to load into; removed after."""
    if engine == "sqlite":
        path = tmp / f"bench_{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            path.unlink(missing_ok=True)
        return
    base = os.environ[ENV[engine]]
    name = f"imgfilter_bench_{uuid.uuid4().hex[:10]}"
    admin: Any = connect(base)
    if engine == "postgresql":
        admin.autocommit = True
        admin.execute(f'CREATE SCHEMA "{name}"')
        url = base + ("&" if "?" in base else "?") + "options=" + quote(f"-csearch_path={name}")
    else:
        admin.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        url = base.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        if engine == "postgresql":
            admin.execute(f'DROP SCHEMA "{name}" CASCADE')
        else:
            admin.cursor().execute(f"DROP DATABASE `{name}`")
        admin.close()


def run_child(argv: list[str]) -> tuple[float, float, str, str]:
    """Run a child, reaped with wait4 for its own peak RSS: (wall seconds, peak RSS in MB, stdout, stderr)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:4])} failed ({proc.returncode}): {stderr.strip()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, stdout, stderr


def split_seconds(summary: str) -> tuple[float, float]:
    """(reading and validating, writing and indexing) seconds from ``imgfilter load``'s summary line."""
    m = re.search(r"\(reading and validating ([\d.]+) s, writing ([\d.]+) s(?:, indexing ([\d.]+) s)?\)$", summary)
    if m is None:
        raise RuntimeError(f"no time split in the load's summary: {summary}")
    return float(m.group(1)), float(m.group(2)) + float(m.group(3) or 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int, nargs="?", default=100_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--engines", default="sqlite,postgresql,mysql")
    ap.add_argument("--native", nargs=3, metavar=("ENGINE", "URL", "FILE"), help=argparse.SUPPRESS)
    ap.add_argument("--write", nargs=2, metavar=("N", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.write:
        with open(args.write[1], "w", encoding="utf-8") as f:
            for rec in generate(int(args.write[0]), 7):
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        return
    if args.native:
        print(json.dumps({"seconds": native(*args.native)}))
        return
    engines = [e for e in args.engines.split(",") if e == "sqlite" or os.environ.get(ENV.get(e, ""))]
    tmp = Path(tempfile.mkdtemp(prefix="bench_load_"))
    try:
        data = tmp / "images.jsonl"
        # written by a child, so that this process stays small: a child forked from a big
        # parent would report the parent's pages as its own peak RSS
        subprocess.run([sys.executable, __file__, "--write", str(args.n), str(data)], check=True)
        print(f"{args.n:,} records, {data.stat().st_size / 2**20:.0f} MiB of JSON Lines; "
              f"{args.repeat} run(s) each; medians")
        py = sys.executable
        header = (f"{'engine':<11} {'load s':>7} {'load/s':>8} {'read s':>7} {'write s':>8} {'native s':>8} "
                  f"{'native/s':>8} {'ratio':>6} {'write ratio':>11} {'load RSS':>9} {'native RSS':>10}")
        lines = []
        for engine in engines:
            load_s, load_rss, nat_s, nat_rss, read_s, write_s = [], [], [], [], [], []
            for _ in range(args.repeat):
                with namespace(engine, tmp) as url:
                    s, rss, _, err = run_child([py, "-m", "imgfilter", "load", str(data), "--db", url])
                    load_s.append(s)
                    load_rss.append(rss)
                    last = err.strip().splitlines()[-1]
                    reading, writing = split_seconds(last)
                    read_s.append(reading)
                    write_s.append(writing)
                with namespace(engine, tmp) as url:
                    _, rss, out, _ = run_child([py, __file__, "--native", engine, url, str(data)])
                    nat_s.append(json.loads(out)["seconds"])
                    nat_rss.append(rss)
            ls, ns = statistics.median(load_s), statistics.median(nat_s)
            rs, ws = statistics.median(read_s), statistics.median(write_s)
            lines.append(f"{engine:<11} {ls:7.1f} {args.n / ls:8,.0f} {rs:7.1f} {ws:8.1f} "
                         f"{ns:8.1f} {args.n / ns:8,.0f} {ls / ns:6.2f} {ws / ns:11.2f} {max(load_rss):7.0f}MB "
                         f"{max(nat_rss):8.0f}MB")
            print(f"  {engine}: {last}", flush=True)
        print(header)
        print("\n".join(lines))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

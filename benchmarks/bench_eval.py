"""In-memory target speed on 1,000,000 records.

Run by hand: ``python benchmarks/bench_eval.py [N]``.  Prints records/s of the
compiled predicate next to a hand-written, equally missing-value-safe function
measured in the same run, and a ``limit=10`` page next to sorting all matches.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_seconds

import imgfilter
from imgfilter.io.catalog import generate
from imgfilter.io.records import Catalog, Image, freeze
from imgfilter.targets.memory import compile_query, sort_key

SIX = ("__os_type=Linux&protected=false&min_ram=0&tag=env"
       "&created_at=gte:2018-01-01T00:00:00Z&updated_at=neq:2020-01-01T00:00:00Z")
T1 = dt.datetime(2018, 1, 1, tzinfo=dt.UTC)
T2 = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def hand_written(img: Image) -> bool:
    """What a careful engineer would write for SIX by hand."""
    v = img.values
    c, u = v["created_at"], v["updated_at"]
    return (v["__os_type"] == "Linux" and v["protected"] is False and v["min_ram"] == 0
            and "env" in img.tag_keys and c is not None and c >= T1 and u is not None and u != T2)


def build(n: int) -> list[Image]:
    base = Catalog.from_records(generate(20_000, seed=7)).images
    out = []
    for i in range(n):
        img = base[i % len(base)]
        new_id = str(uuid.UUID(int=i))
        out.append(dataclasses.replace(img, id=new_id, response=freeze({**img.wire, "id": new_id}),
                                       raw={**img.raw, "id": new_id}))
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    t0 = time.perf_counter()
    images = build(n)
    print(f"built {n:,} records in {time.perf_counter() - t0:.1f} s")

    plan = compile_query(imgfilter.check(SIX))
    pred = plan.predicate
    assert [i.id for i in images if pred(i)] == [i.id for i in images if hand_written(i)]
    gen = median_seconds(lambda: sum(1 for _ in filter(pred, images)), number=1, repeat=7)
    hand = median_seconds(lambda: sum(1 for _ in filter(hand_written, images)), number=1, repeat=7)
    matches = sum(1 for _ in filter(pred, images))
    print(f"6-condition predicate ({matches:,} matches)")
    print(f"  compiled      {n / gen / 1e6:6.2f} M records/s  ({gen * 1e3:7.1f} ms)")
    print(f"  hand-written  {n / hand / 1e6:6.2f} M records/s  ({hand * 1e3:7.1f} ms)")
    print(f"  compiled / hand-written speed: {hand / gen:.2f}x")

    page_plan = compile_query(imgfilter.check("status=active&sort_key=name&sort_dir=asc&limit=10"))
    key = sort_key("name")
    all_pred = compile_query(imgfilter.check("status=active")).predicate
    page = median_seconds(lambda: page_plan.page(images, {}), number=1, repeat=5)
    full = median_seconds(lambda: sorted(filter(all_pred, images), key=key)[:10], number=1, repeat=5)
    assert page_plan.page(images, {}).ids == [i.id for i in sorted(filter(all_pred, images), key=key)[:10]]
    print("limit=10 page of status=active sorted by name")
    print(f"  heap page     {page * 1e3:7.1f} ms")
    print(f"  full sort     {full * 1e3:7.1f} ms")
    print(f"  page / full sort: {page / full:.2f}x")


if __name__ == "__main__":
    main()

"""Parse+check speed against urllib.parse.parse_qsl on the same strings.

Run by hand: ``python benchmarks/bench_parse.py [runs]``.  Prints, for 1, 5, 15,
50 and 200 parameters, the median µs per call and its ratio to ``parse_qsl`` in
the same run: uncached (``check_uncached``), a marker walk (every call a new
marker, so the exact-string cache never hits and the page template does), and
cached; then the 16-parameter page request, a refused flood, and a profile of
the 16-parameter case by stage.  With ``runs`` > 1 it repeats the table and
prints min/median/max of each ratio over the runs.
"""

from __future__ import annotations

import contextlib
import cProfile
import pstats
import statistics
import sys
import uuid
from collections.abc import Callable
from functools import partial
from itertools import cycle
from pathlib import Path
from urllib.parse import parse_qsl, quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_seconds

import imgfilter
from imgfilter import Options, QueryError
from imgfilter.caches import configure_caches
from imgfilter.front.check import check_uncached

FIFTEEN = {
    "__imagetype": "gold", "__os_type": "Linux", "__platform": "Ubuntu", "container_format": "bare",
    "created_at": "gt:2018-10-28T10:00:00Z", "disk_format": "zvhd2", "limit": "10", "min_disk": "40",
    "min_ram": "1024", "name": "Ubuntu 22.04 server 64bit", "protected": "true", "sort_dir": "asc",
    "sort_key": "name", "status": "active", "tag": "env=prod",
}
# the Huawei Python SDK's encoding: keys sorted, quote(value, safe='~')
SDK_QUERY = "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted(FIFTEEN.items()))
MARKERS = [str(uuid.UUID(int=i * 7919 + 1, version=4)) for i in range(4096)]  # more than the cache holds
OPTS = Options(max_pairs=1000, max_side_filters=1000)
SIZES = (1, 5, 15, 50, 200)


def query_of(n: int) -> str:
    """n parameters: the 15 of the SDK query, then tags (repeatable), SDK-encoded."""
    items = sorted(FIFTEEN.items())[:n] + [("tag", f"k{i}=v{i}") for i in range(max(0, n - 15))]
    return "&".join(f"{k}={quote(v, safe='~')}" for k, v in items)


def walk(base: str) -> Callable[[], object]:
    """One page of a listing walk: the query with the next page's marker."""
    pages = cycle([f"{base}&marker={m}" for m in MARKERS])
    return lambda: imgfilter.check(next(pages), OPTS)


def paired(fn: Callable[[], object], floor: Callable[[], object], number: int, repeat: int = 9) -> tuple[float, float]:
    """Median µs per call of ``fn`` and the median of its per-round ratio to
    ``floor``, the two timed back to back in each round (the machine is shared:
    a ratio of neighbours is steadier than a ratio of medians)."""
    times, ratios = [], []
    for _ in range(repeat):
        a = median_seconds(fn, number=number, repeat=1)
        b = median_seconds(floor, number=number, repeat=1)
        times.append(a)
        ratios.append(a / b)
    return statistics.median(times) * 1e6, statistics.median(ratios)


def measure(label: str, base: str, ratios: dict[str, float], number: int, page_request: bool = False) -> None:
    """``base`` uncached (or, with ``page_request``, ``base`` with a marker) and walked."""
    page = f"{base}&marker={MARKERS[0]}"
    query = page if page_request else base
    imgfilter.check(query, OPTS)
    qsl = median_seconds(partial(parse_qsl, query), number=number) * 1e6
    uncached, r_unc = paired(partial(check_uncached, query, OPTS), partial(parse_qsl, query), number)
    configure_caches(check=0)  # every marker page misses the exact-string cache
    try:
        marker, r_walk = paired(walk(base), partial(parse_qsl, page), number)
    finally:
        configure_caches(check=2048)
    cached = median_seconds(partial(imgfilter.check, query, OPTS), number=20_000) * 1e6
    ratios[f"uncached {label}"] = r_unc
    ratios[f"walk {label}"] = r_walk
    print(f"{label:>6} {len(query):>6} {qsl:>8.1f} {uncached:>12.1f} {r_unc:>5.1f}x "
          f"{marker:>8.1f} {r_walk:>5.2f}x {cached:>10.3f}")


def table() -> dict[str, float]:
    ratios: dict[str, float] = {}
    print(f"{'params':>6} {'chars':>6} {'qsl µs':>8} {'uncached µs':>12} {'ratio':>6} "
          f"{'walk µs':>8} {'ratio':>6} {'cached µs':>10}")
    for n in SIZES:
        measure(str(n), query_of(n), ratios, max(50, 4000 // n))
    # issue 14's 16-parameter page request: the 15-parameter SDK query with a marker
    # (its walk row: the next page's marker in place of this one)
    measure("16*", SDK_QUERY, ratios, 1000, page_request=True)
    print("  16*: the SDK query with a marker; walk ratios are to parse_qsl on the page request itself")
    return ratios


def flood() -> None:
    q = "a&" * 8192

    def refuse() -> None:
        with contextlib.suppress(QueryError):
            check_uncached(q)

    refused = median_seconds(refuse, number=200) * 1e6
    ordinary = median_seconds(partial(check_uncached, SDK_QUERY), number=2000) * 1e6
    print(f"refused flood {q[:6]!r}*8192 ({len(q)} chars): {refused:.1f} µs = {refused / ordinary:.2f} "
          f"ordinary 15-parameter checks ({ordinary:.1f} µs)")


STAGES = {
    "scan (split into pairs)": "scan",
    "decode_pairs (decode, Pair nodes)": "decode_pairs",
    "checker (_Checker.run)": "run",
    "UTF-8 text check": "check_text",
}


def profile() -> None:
    page = f"{SDK_QUERY}&marker={MARKERS[0]}"
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(3000):
        check_uncached(page, OPTS)
    prof.disable()
    stats = pstats.Stats(prof)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]] = stats.stats  # type: ignore[attr-defined]
    total = next(v[3] for k, v in raw.items() if k[2] == "check_uncached")
    print("profile of the uncached 16-parameter request (cumulative share of check_uncached):")
    for label, fn in STAGES.items():
        cum = sum(v[3] for k, v in raw.items() if k[2] == fn and "imgfilter" in k[0])
        print(f"  {label:<36} {100 * cum / total:5.1f}%")
    inside = [(v[2], k) for k, v in raw.items() if "imgfilter" in k[0] or k[0] == "~"]
    print("  top own time:", ", ".join(f"{k[2]} {100 * t / total:.0f}%" for t, k in sorted(inside, reverse=True)[:6]))


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    all_ratios: list[dict[str, float]] = []
    for i in range(runs):
        if runs > 1:
            print(f"-- run {i + 1} of {runs}")
        all_ratios.append(table())
    flood()
    profile()
    if runs > 1:
        print("ratio to parse_qsl over the runs: min / median / max")
        for name in all_ratios[0]:
            values = [r[name] for r in all_ratios]
            print(f"  {name:<12} {min(values):6.2f} {statistics.median(values):6.2f} {max(values):6.2f}")


if __name__ == "__main__":
    main()

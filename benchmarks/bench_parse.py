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
from imgfilter.check import check_uncached

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


def table() -> dict[str, float]:
    ratios: dict[str, float] = {}
    print(f"{'params':>6} {'chars':>6} {'qsl µs':>8} {'uncached µs':>12} {'ratio':>6} "
          f"{'walk µs':>8} {'ratio':>6} {'cached µs':>10}")
    for n in SIZES:
        q = query_of(n)
        page = f"{q}&marker={MARKERS[0]}"
        imgfilter.check(q, OPTS)
        qsl = median_seconds(partial(parse_qsl, page), number=2000) * 1e6
        uncached = median_seconds(partial(check_uncached, q, OPTS), number=max(20, 2000 // n)) * 1e6
        configure_caches(check=0)  # every marker page misses the exact-string cache
        try:
            marker = median_seconds(walk(q), number=2000) * 1e6
        finally:
            configure_caches(check=2048)
        cached = median_seconds(partial(imgfilter.check, q, OPTS), number=20_000) * 1e6
        qsl_q = median_seconds(partial(parse_qsl, q), number=2000) * 1e6
        ratios[f"uncached {n}"] = uncached / qsl_q
        ratios[f"walk {n}"] = marker / qsl
        print(f"{n:>6} {len(q):>6} {qsl_q:>8.1f} {uncached:>12.1f} {uncached / qsl_q:>5.1f}x "
              f"{marker:>8.1f} {marker / qsl:>5.2f}x {cached:>10.3f}")
    # the 16-parameter page request of issue 14: the 15-parameter query with a marker
    page = f"{SDK_QUERY}&marker={MARKERS[0]}"
    qsl = median_seconds(partial(parse_qsl, page), number=5000) * 1e6
    uncached = median_seconds(partial(check_uncached, page, OPTS), number=2000) * 1e6
    configure_caches(check=0)
    try:
        marker = median_seconds(walk(SDK_QUERY), number=5000) * 1e6
    finally:
        configure_caches(check=2048)
    ratios["uncached 16"] = uncached / qsl
    ratios["walk 16"] = marker / qsl
    print(f"16-parameter page request ({len(page)} chars): parse_qsl {qsl:.1f} µs, uncached {uncached:.1f} µs "
          f"({uncached / qsl:.1f}x), marker walk {marker:.1f} µs ({marker / qsl:.2f}x)")
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

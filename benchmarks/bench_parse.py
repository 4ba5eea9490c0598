"""Parse+check speed against urllib.parse.parse_qsl on the same string.

Run by hand: ``python benchmarks/bench_parse.py``.  Prints medians in µs.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from urllib.parse import parse_qsl, quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_seconds

import imgfilter
from imgfilter.check import check_uncached

API_EXAMPLE = "__imagetype=gold&sort_key=name&limit=1"
FIFTEEN = {
    "__imagetype": "gold", "__os_type": "Linux", "__platform": "Ubuntu", "container_format": "bare",
    "created_at": "gt:2018-10-28T10:00:00Z", "disk_format": "zvhd2", "limit": "10", "min_disk": "40",
    "min_ram": "1024", "name": "Ubuntu 22.04 server 64bit", "protected": "true", "sort_dir": "asc",
    "sort_key": "name", "status": "active", "tag": "env=prod",
}
# the Huawei Python SDK's encoding: keys sorted, quote(value, safe='~')
SDK_QUERY = "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted(FIFTEEN.items()))


def main() -> None:
    print(f"{'query':<12} {'uncached µs':>12} {'cached µs':>10} {'parse_qsl µs':>13} {'uncached/qsl':>13}")
    for label, q in (("API example", API_EXAMPLE), ("15 params", SDK_QUERY)):
        imgfilter.check(q)
        uncached = median_seconds(partial(check_uncached, q), number=2000) * 1e6
        cached = median_seconds(partial(imgfilter.check, q), number=200_000) * 1e6
        floor = median_seconds(partial(parse_qsl, q), number=20_000) * 1e6
        print(f"{label:<12} {uncached:12.1f} {cached:10.3f} {floor:13.1f} {uncached / floor:12.1f}x")
    print(f"15-param query ({len(SDK_QUERY)} chars): {SDK_QUERY}")


if __name__ == "__main__":
    main()

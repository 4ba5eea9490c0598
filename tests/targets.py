"""Every target as one callable: (query, context, options) -> Page."""

from __future__ import annotations

from collections.abc import Callable

from imgfilter import Context, Options
from imgfilter.memory import run
from imgfilter.records import Catalog
from imgfilter.result import Page

from .fixtures import RECORDS

Target = Callable[[str, Context | None, Options | None], Page]


def memory_target(records: list[dict[str, object]] = RECORDS) -> Target:
    catalog = Catalog.from_records(records)

    def target(query: str, context: Context | None = None, options: Options | None = None) -> Page:
        return run(query, catalog, context, options)

    return target

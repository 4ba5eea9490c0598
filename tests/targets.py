"""Every target as one callable: (query, context, options) -> Page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from imgfilter import Context, Options, db
from imgfilter.io.records import Catalog
from imgfilter.result import Page
from imgfilter.targets.memory import run

from .fixtures import RECORDS

Target = Callable[[str, Context | None, Options | None], Page]


def memory_target(records: list[dict[str, Any]] = RECORDS) -> Target:
    catalog = Catalog.from_records(records)

    def target(query: str, context: Context | None = None, options: Options | None = None) -> Page:
        return run(query, catalog, context, options)

    return target


def sql_target(conn: Any) -> Target:
    """A connection already loaded with the records."""

    def target(query: str, context: Context | None = None, options: Options | None = None) -> Page:
        return db.run(conn, query, context, options=options)

    return target

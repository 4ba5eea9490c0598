"""Small helpers for asserting on checked queries and their errors, and for
running code under another local time zone."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import imgfilter
from imgfilter import CheckedQuery, Options, QueryError


def ok(query: str, options: Options | None = None) -> CheckedQuery:
    return imgfilter.check(query, options)


def rejected(query: str, options: Options | None = None) -> QueryError:
    with pytest.raises(QueryError) as info:
        imgfilter.check(query, options)
    return info.value


def codes(query: str, options: Options | None = None) -> list[tuple[str, str | None]]:
    """(IMS code, parameter) of each error, in order."""
    return [(e.code, e.param) for e in rejected(query, options).errors]


def underlined(err: QueryError, i: int = 0) -> str:
    """The raw text an error's span points at."""
    span = err.errors[i].span
    return err.source[span.start:span.end]


@contextmanager
def local_time_zone(zone: str) -> Iterator[None]:
    """The process's local time zone is ``zone`` (a ``TZ`` value) inside the block."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()

"""Small helpers for asserting on checked queries and their errors."""

from __future__ import annotations

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

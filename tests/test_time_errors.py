"""Time filters and parameter names a person gets wrong: each mistake has its own
message and a hint that shows the corrected query (issue 15 items 4 and 10, issue 16 item 7)."""

from __future__ import annotations

import pytest

import imgfilter
from imgfilter import QueryError


def only_error(query: str) -> tuple[str, str, str]:
    """The one error's message, hint, and the query text its carets underline."""
    with pytest.raises(QueryError) as info:
        imgfilter.check(query)
    (d,) = info.value.errors
    assert d.hint is not None
    return d.message, d.hint, query[d.span.start:d.span.end]


@pytest.mark.parametrize(("query", "message", "hint", "underlined"), [
    # an unencoded '+' is a space in a query: the hint says %2B, not "offsets are fine"
    ("created_at=gt:2019-01-01T00:00:00+08:00", "unencoded '+' in a query means a space",
     "write '+' as %2B: created_at=gt:2019-01-01T00:00:00%2B08:00", "2019-01-01T00:00:00+08:00"),
    ("created_at=gt:2019-01-01", "a date without a time of day",
     "write created_at=gt:2019-01-01T00:00:00Z (midnight UTC)", "2019-01-01"),
    ("updated_at=lt:2019-01-01T00:00:00", "the time has no zone",
     "append Z for UTC (updated_at=lt:2019-01-01T00:00:00Z)", "2019-01-01T00:00:00"),
    ("created_at=gt:2019-01-01T00:00:00.1234567Z", "more than 6 fractional digits",
     "created_at=gt:2019-01-01T00:00:00.123456Z", "2019-01-01T00:00:00.1234567Z"),
    ("created_at=gt:2019-01-01T00:00:00z", "'T' and 'Z' are upper case",
     "write created_at=gt:2019-01-01T00:00:00Z", "2019-01-01T00:00:00z"),
    ("created_at=gte:1546300800", "an epoch number", "write created_at=gte:2019-01-01T00:00:00Z", "1546300800"),
    ("created_at=gte:1546300800000", "an epoch number", "write created_at=gte:2019-01-01T00:00:00Z",
     "1546300800000"),
    ("created_at=>2018-01-01T00:00:00Z", "'>' is not an operator",
     "write created_at=gt:2018-01-01T00:00:00Z", ">"),
    ("created_at=<=2018-01-01T00:00:00Z", "'<=' is not an operator",
     "write created_at=lte:2018-01-01T00:00:00Z", "<="),
    ("created_at=gte:", "the time is missing after 'gte:'", "created_at=gte:2018-10-28T10:00:00Z", "gte:"),
    ("created_at=gt:2019-01-01T00:00:00%2B0800", "the offset needs a colon",
     "created_at=gt:2019-01-01T00:00:00%2B08:00", "2019-01-01T00:00:00%2B0800"),
    ("created_at=GT:2019-01-01T00:00:00Z", "'GT' is not an operator", "did you mean 'gt'?", "GT"),
])
def test_each_time_mistake_has_its_own_message_and_fix(query: str, message: str, hint: str, underlined: str) -> None:
    got_message, got_hint, got_underlined = only_error(query)
    assert message in got_message
    assert hint in got_hint
    assert got_underlined == underlined


@pytest.mark.parametrize("query", [
    "created_at=gt:2019-01-01T00:00:00+08:00", "created_at=gt:2019-01-01", "created_at=gt:2019-01-01T00:00:00",
    "created_at=gt:2019-01-01T00:00:00.1234567Z", "created_at=gt:2019-01-01T00:00:00z", "created_at=gt:1546300800",
    "created_at=>2018-01-01T00:00:00Z", "created_at=gt:2019-01-01T00:00:00%2B0800",
])
def test_the_suggested_fix_is_accepted(query: str) -> None:
    _, hint, _ = only_error(query)
    fixed = next(w for w in hint.replace("(", " ").replace(")", " ").split() if w.startswith("created_at="))
    assert imgfilter.check(fixed).filters


def test_the_missing_time_is_not_called_a_bad_operator() -> None:
    message, _, _ = only_error("updated_at=lt:")
    assert "not an operator" not in message and "missing" in message


@pytest.mark.parametrize(("query", "hint"), [
    (" __imagetype=gold", "the name has a leading space ('+' and %20 are spaces in a query): write '__imagetype'"),
    ("limit+=2", "the name has a trailing space ('+' and %20 are spaces in a query): write 'limit'"),
    ("%20status%20=active", "the name has a leading and trailing space"),
    ("created_at>=2018-01-01T00:00:00Z", "operators go in the value: write created_at=gte:2018-01-01T00:00:00Z"),
    ("updated_at<2018-01-01T00:00:00Z", "operators go in the value: write updated_at=lt:2018-01-01T00:00:00Z"),
    ("__imagtype=gold", "did you mean '__imagetype'?"),
])
def test_unknown_names_say_what_is_wrong(query: str, hint: str) -> None:
    _, got, _ = only_error(query)
    assert hint in got


def test_the_space_hint_also_comes_with_unknown_ignore() -> None:
    q = imgfilter.check(" __imagetype=gold", imgfilter.Options(unknown="ignore"))
    (w,) = q.warnings
    assert w.hint is not None and "leading space" in w.hint

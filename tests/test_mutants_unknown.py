"""The `unknown` policies (issue 16, item 7 and what a mutation run of
check.py found unasserted): warnings of `ignore` and of an empty `property`
value, the NUL check, and a typed field's integer range on every target."""

from __future__ import annotations

import pytest

import imgfilter
from imgfilter import Context, Options, QueryError
from imgfilter.front.ast import FieldIn

from .helpers import rejected
from .targets import Target

PROPERTY = Options(unknown="property")
ADMIN = Context(is_admin=True)


def test_reject_says_where_to_look() -> None:
    e = rejected("foo=1").errors[0]
    assert (e.message, e.hint) == ("foo: unknown parameter", "see `imgfilter params` for the parameters this API takes")
    assert "foo=1"[e.span.start:e.span.end] == "foo"


def test_ignore_warns_about_each_name() -> None:
    text = "foo=1&limt=2"
    q = imgfilter.check(text, Options(unknown="ignore"))
    assert q.filters == ()
    assert [(w.message, w.param, w.value, w.hint, text[w.span.start:w.span.end]) for w in q.warnings] == [
        ("foo: unknown parameter ignored", "foo", "1", None, "foo"),
        ("limt: unknown parameter ignored", "limt", "2", "did you mean 'limit'?", "limt"),
    ]


def test_property_with_an_empty_value_is_ignored_with_a_warning() -> None:
    q = imgfilter.check("foo=&size=", PROPERTY)
    assert q.filters == ()
    assert [(w.message, w.param, w.value, w.span.start, w.span.end) for w in q.warnings] == [
        ("foo: empty value: the parameter is ignored", "foo", "", 0, 4),
        ("size: empty value: the parameter is ignored", "size", "", 5, 10),
    ]


@pytest.mark.parametrize("text", ["foo=a%00b", "fo%00o=ab"])
def test_property_refuses_a_nul(text: str) -> None:
    [e] = rejected(text, PROPERTY).errors
    assert e.message.endswith(": the name or value contains a NUL character")


@pytest.mark.parametrize("value", ["9223372036854775807", "0"])
def test_a_typed_field_compares_as_an_integer_up_to_the_64_bit_limit(target: Target, value: str) -> None:
    q = imgfilter.check(f"size={value}", PROPERTY)
    assert q.filters == (FieldIn("size", "size", (int(value),)),)
    assert target(f"size={value}", ADMIN, PROPERTY).ids == []


@pytest.mark.parametrize("value", ["9223372036854775808", "9999999999999999999", "10000000000000000000", "1x", "-1"])
def test_a_typed_field_refuses_what_no_engine_compares(target: Target, value: str) -> None:
    with pytest.raises(QueryError) as info:
        target(f"size={value}", ADMIN, PROPERTY)
    [e] = info.value.errors
    assert e.message == f"size: {value!r} is not an integer from 0 to 9223372036854775807"


@pytest.mark.parametrize(("value", "n"), [("0000000000000000000001", 1), ("0" * 30 + "9223372036854775807", 2**63 - 1)])
def test_a_typed_field_reads_leading_zeros_as_the_number(value: str, n: int) -> None:
    text = f"name=x&size={value}"
    q = imgfilter.check(text, PROPERTY)
    [size] = [f for f in q.filters if isinstance(f, FieldIn) and f.param == "size"]
    assert size.values == (n,)
    assert text[size.span.start:size.span.end] == f"size={value}"  # the filter points at its pair
    with pytest.raises(QueryError):
        imgfilter.check("size=" + "0" * 30 + "9223372036854775808", PROPERTY)

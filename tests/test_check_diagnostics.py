"""Every diagnostic of the checker's pair and cross-parameter rules as a user
reads it: code, message, hint, the text its span underlines, the parameter and
value it names, and whether it is an error or a warning (what a mutation run
of check.py found unasserted)."""

from __future__ import annotations

import pytest

import imgfilter
from imgfilter import Options, QueryError
from imgfilter.front.ast import FieldIn
from imgfilter.front.errors import Diagnostic

Row = tuple[str, str, str | None, str, str | None, str | None, str]


def _diagnostics(query: str, options: Options | None = None) -> list[Row]:
    try:
        found: tuple[Diagnostic, ...] | list[Diagnostic] = imgfilter.check(query, options).warnings
    except QueryError as e:
        found = e.errors
    return [(d.code, d.message, d.hint, query[d.span.start:d.span.end], d.param, d.value, d.severity.value)
            for d in found]


GPU = "__support_xen_gpu_type"
NO_COEXIST = "the attributes do not co-exist, so nothing matches"


@pytest.mark.parametrize(("query", "expected"), [
    ("=abc", [("IMG.0001", "a parameter has a value but no name", "write name=value", "=abc", None, "abc", "error")]),
    ("status=active&name=", [("IMG.0001", "name: empty value: the parameter is ignored",
                              "omit the parameter, or give it a value", "name=", "name", "", "warning")]),
    ("name=a&status=active&name=b", [
        ("IMG.0001", "name: given more than once",
         "only tag, created_at, updated_at may repeat; first given at offset 0", "name=b", "name", "b", "error")]),
    ("tag=a&tag=b&name=x&name=y", [
        ("IMG.0001", "name: given more than once",
         "only tag, created_at, updated_at may repeat; first given at offset 12", "name=y", "name", "y", "error")]),
    ("name=a%00b", [("IMG.0001", "name: the value contains a NUL character", None, "%00", "name", "a\x00b", "error")]),
    ("member_status=pending", [
        ("IMG.0001", "member_status: needs visibility=shared in the same query", "add visibility=shared",
         "member_status=pending", "member_status", "pending", "error")]),
    ("visibility=public&member_status=pending", [
        ("IMG.0001", "member_status: needs visibility=shared in the same query", "add visibility=shared",
         "member_status=pending", "member_status", "pending", "error")]),
    (f"{GPU}=M60&__support_xen=true&__support_kvm=true", [
        ("IMG.0001", f"{GPU}: cannot be combined with __support_xen: {NO_COEXIST}", "drop __support_xen",
         f"{GPU}=M60", GPU, "M60", "warning"),
        ("IMG.0001", f"{GPU}: cannot be combined with __support_kvm: {NO_COEXIST}", "drop __support_kvm",
         f"{GPU}=M60", GPU, "M60", "warning")]),
    (f"__support_kvm=true&{GPU}=M60", [
        ("IMG.0001", f"{GPU}: cannot be combined with __support_kvm: {NO_COEXIST}", "drop __support_kvm",
         f"{GPU}=M60", GPU, "M60", "warning")]),
    ("created_at=gt:2019-01-01T00:00:00Z&updated_at=gt:2018-01-01T00:00:00Z"
     "&created_at=lt:2018-01-01T00:00:00.5%2B08:00", [
         ("IMG.0001", "created_at: no time satisfies all of gt:2019-01-01T00:00:00Z and "
          "lt:2017-12-31T16:00:00.500000Z", "check the operators: gt means strictly after",
          "created_at=lt:2018-01-01T00:00:00.5%2B08:00", "created_at", None, "warning")]),
    ("updated_at=lt:2018-01-01T00:00:00Z&name=x&updated_at=gte:2018-01-01T00:00:00Z", [
        ("IMG.0001", "updated_at: no time satisfies all of lt:2018-01-01T00:00:00Z and gte:2018-01-01T00:00:00Z",
         "check the operators: gt means strictly after", "updated_at=gte:2018-01-01T00:00:00Z", "updated_at", None,
         "warning")]),
    # three bounds: the warning underlines the last one given
    ("created_at=gt:2019-01-01T00:00:00Z&created_at=lt:2018-01-01T00:00:00Z&created_at=gte:2017-01-01T00:00:00Z", [
        ("IMG.0001", "created_at: no time satisfies all of gt:2019-01-01T00:00:00Z and lt:2018-01-01T00:00:00Z and "
         "gte:2017-01-01T00:00:00Z", "check the operators: gt means strictly after",
         "created_at=gte:2017-01-01T00:00:00Z", "created_at", None, "warning")]),
])
def test_each_rule_says_what_and_where(query: str, expected: list[Row]) -> None:
    assert _diagnostics(query) == expected


def test_too_many_side_filters_underline_those_over_the_limit() -> None:
    query = "tag=a&__support_x=true&name=n&foo=1&tag=b"
    assert _diagnostics(query, Options(unknown="property", max_side_filters=2)) == [
        ("IMG.0001", "the query has 4 tag, __support_* and property filters; at most 2 are allowed "
         "(Options.max_side_filters)", "send fewer tag, __support_* or unknown-parameter filters",
         "foo=1&tag=b", None, None, "error")]
    # filters that read no side table do not count, and the limit itself is allowed
    assert _diagnostics(query, Options(unknown="property", max_side_filters=4)) == []
    assert imgfilter.check("name=n&status=active&protected=true", Options(max_side_filters=0)).filters


def test_a_clamped_limit_points_at_the_limit_pair() -> None:
    assert _diagnostics("name=x&limit=50", Options(max_limit=10)) == [
        ("IMG.0001", "limit: 50 is above the maximum; clamped to 10", None, "limit=50", "limit", "50", "warning")]


def test_each_time_parameter_is_judged_on_its_own_times() -> None:
    # an empty created_at range says nothing about updated_at, and the reverse
    both = "created_at=gt:2019-01-01T00:00:00Z&updated_at=lt:2018-01-01T00:00:00Z"
    assert _diagnostics(both) == []
    only_updated = "created_at=gt:2019-01-01T00:00:00Z&updated_at=gt:2019-01-01T00:00:00Z" \
                   "&updated_at=lt:2018-01-01T00:00:00Z"
    assert [row[4] for row in _diagnostics(only_updated)] == ["updated_at"]


@pytest.mark.parametrize(("query", "expected"), [
    ("sort_key=nme", [("IMG.0001", "sort_key: 'nme' is not one of name, container_format, disk_format, status, id, "
                                   "size, created_at", "did you mean 'name'?", "nme", "sort_key", "nme", "error")]),
    ("sort_key=zzz", [("IMG.0001", "sort_key: 'zzz' is not one of name, container_format, disk_format, status, id, "
                                   "size, created_at", None, "zzz", "sort_key", "zzz", "error")]),
    ("sort_dir=DESC", [("IMG.0001", "sort_dir: 'DESC' is not one of asc, desc", "did you mean 'desc'?", "DESC",
                        "sort_dir", "DESC", "error")]),
    ("min_disk=0", [("IMG.0001", "min_disk: '0' is not an integer from 1 to 1024", None, "0", "min_disk", "0",
                     "error")]),
    ("limit=x", [("IMG.0001", "limit: 'x' is not an integer from 0 to 2147483647",
                  "write a decimal integer without sign or spaces", "x", "limit", "x", "error")]),
])
def test_page_and_order_errors(query: str, expected: list[Row]) -> None:
    assert _diagnostics(query) == expected


def test_an_empty_query_asks_for_the_default_order_and_no_page() -> None:
    q = imgfilter.check("")
    assert (q.filters, q.sort_key, q.sort_dir, q.marker, q.limit, q.warnings) == ((), "created_at", "desc", None,
                                                                                   None, ())
    assert (q.marker_span.start, q.marker_span.end) == (0, 0)
    assert imgfilter.check("", Options(default_limit=7)).limit == 7


def test_order_and_page_are_what_was_sent() -> None:
    text = "sort_dir=asc&limit=5&marker=BC6BED6E-BA3A-4447-AFCC-449174A3EB52&sort_key=name"
    q = imgfilter.check(text)
    assert (q.sort_key, q.sort_dir, q.marker, q.limit) == ("name", "asc", "bc6bed6e-ba3a-4447-afcc-449174a3eb52", 5)
    assert text[q.marker_span.start:q.marker_span.end] == "marker=BC6BED6E-BA3A-4447-AFCC-449174A3EB52"


@pytest.mark.parametrize("value", ["Red%20Hat", "Red+Hat", "RedHat"])
def test_an_alias_matches_every_spelling_of_its_value(value: str) -> None:
    [f] = imgfilter.check(f"__platform={value}").filters
    assert isinstance(f, FieldIn) and f.values == ("RedHat", "Red Hat")


def test_a_query_that_is_not_text_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"^query must be str, not bytes$"):
        imgfilter.check(b"name=x")  # type: ignore[arg-type]


def test_only_queries_up_to_max_cached_length_are_kept() -> None:
    from imgfilter.caches import cache_sizes, configure_caches

    before = {name: size for name, (_, size) in cache_sizes().items()}
    configure_caches(check=16, page_templates=16)
    try:
        opts = Options(max_cached_length=10, max_length=12)
        for query in ("name=abcdefg", "name=abcdef", "name=abcde"):  # 12, 11, 10 characters
            assert imgfilter.check(query, opts).filters
        assert cache_sizes()["check"][0] == 1  # only the one of 10 characters
        assert imgfilter.check("name=abcdefg", Options(max_length=12)).filters  # no cache limit: kept
        assert cache_sizes()["check"][0] == 2
        with pytest.raises(QueryError):
            imgfilter.check("name=abcdefgh", Options(max_length=12))  # too long: refused, not kept
        assert cache_sizes()["check"][0] == 2
    finally:
        configure_caches(**before)


def test_a_repeated_parameter_is_refused_with_its_own_code() -> None:
    """IMS answers a bad value of ``__os_type`` with IMG.0122; a repeated one too."""
    with pytest.raises(QueryError) as info:
        imgfilter.check("__os_type=Linux&__os_type=Windows")
    assert [(e.code, e.message, e.param) for e in info.value.errors] == [
        ("IMG.0122", "__os_type: given more than once", "__os_type")]
    with pytest.raises(QueryError) as info:
        imgfilter.check("__os_type=Li%00n%00ux")
    [e] = info.value.errors
    assert (e.code, e.message, e.span.start, e.span.end) == (
        "IMG.0122", "__os_type: the value contains a NUL character", 12, 15)  # the first %00


def test_a_page_query_longer_than_the_parsers_default_is_checked_under_raised_limits() -> None:
    """Options that allow a query longer than ``parse``'s own default (16,384
    characters) are the limits the page-template path parses with too."""
    options = Options(max_length=20_000, max_cached_length=None, max_side_filters=250, max_pairs=250)
    query = "&".join(f"tag={i:03d}" + "k" * 33 + "=" + "v" * 43 for i in range(200)) + "&limit=5"
    assert len(query) > 16_384
    for limit in (5, 6):  # the second reuses the first one's template
        checked = imgfilter.check(query.replace("limit=5", f"limit={limit}"), options)
        assert (checked.limit, len(checked.filters)) == (limit, 200)


def test_an_error_beside_a_marker_is_shown_in_the_callers_query() -> None:
    """A query the page-template path checks (it has a limit) and finds wrong is
    reported against its own text, with the caret under the bad value."""
    query = "status=bogus&limit=5"
    with pytest.raises(QueryError) as info:
        imgfilter.check(query)
    assert info.value.source == query
    assert str(info.value).splitlines()[-2:] == ["  | status=bogus&limit=5", "  |        ^^^^^"]


def test_a_limit_inside_a_value_is_not_a_page_parameter() -> None:
    """``name=a?limit=6`` holds text that looks like a page parameter; the page
    template of one such query serves the next one right."""
    for n in (6, 7, 8):
        checked = imgfilter.check(f"limit=5&name=a?limit={n}&sort_key=name")
        assert checked.limit == 5
        assert [f.values for f in checked.filters if isinstance(f, FieldIn)] == [(f"a?limit={n}",)]

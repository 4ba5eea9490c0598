"""What a mutation run of check.py found unasserted: the service preset's
limits, epoch-number hints, the time-value messages, and the value and span
each error and filter carries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import imgfilter
from imgfilter import Flavor, Options, QueryError
from imgfilter.front.ast import FieldIn, TimeFilter

from .helpers import local_time_zone, ok, rejected


def test_the_service_preset_limits_length_and_caching() -> None:
    o = Options.for_service()
    assert (o.default_limit, o.max_limit, o.max_length, o.max_cached_length) == (25, 1000, 8192, 2048)
    at_limit = "name=" + "n" * (8192 - 5)
    assert [d.message for d in rejected(at_limit, o).errors] == ["name: 8187 characters is not 1 to 255 characters"]
    e = rejected(at_limit + "n", o)
    assert [d.message for d in e.errors] == ["the query is 8193 characters long; at most 8192 are allowed"]


def test_length_and_pair_limits_are_the_callers() -> None:
    e = rejected("name=abcdefgh", Options(max_length=10))
    assert e.errors[0].message == "the query is 13 characters long; at most 10 are allowed"
    assert ok("name=abcde", Options(max_length=10)).filters
    assert rejected("name=a&status=active&limit=3", Options(max_pairs=2)).errors
    assert rejected("name=a&status=active&protected=true", Options(max_pairs=2)).errors  # no page pair
    # a query longer than max_cached_length is checked uncached, under the same limits
    assert rejected("name=a&status=active&protected=true", Options(max_pairs=2, max_cached_length=10)).errors
    assert ok("name=a&status=active", Options(max_pairs=2)).filters


@pytest.mark.parametrize(("epoch", "fix"), [
    ("1540720800", "2018-10-28T10:00:00Z"),  # seconds
    ("1540720800000", "2018-10-28T10:00:00Z"),  # milliseconds
    ("15407208000", "2458-03-27T04:00:00Z"),  # 11 digits: still seconds
    ("154072080000", "1974-11-19T05:48:00Z"),  # 12 digits: milliseconds
])
def test_an_epoch_number_gets_the_time_it_means(epoch: str, fix: str) -> None:
    with local_time_zone("CST-8"):  # the hint is UTC whatever the machine's zone
        e = rejected(f"created_at=gt:{epoch}").errors[0]
    assert e.message == f"created_at: {epoch!r} is not a time: an epoch number (seconds since 1970)"
    assert e.hint == f"write created_at=gt:{fix}"


def test_a_time_without_operator_is_fixed_with_eq() -> None:
    e = rejected("updated_at=2018-10-28").errors[0]
    assert e.message == "updated_at: '2018-10-28' is not a time: a date without a time of day"
    assert e.hint == "write updated_at=eq:2018-10-28T00:00:00Z (midnight UTC)"


def test_operator_messages_list_the_operators() -> None:
    e = rejected("created_at=>2018-10-28T10:00:00Z").errors[0]
    assert e.message == "created_at: '>' is not an operator: operators are words (gt, gte, lt, lte, eq, neq)"
    assert e.hint == "write created_at=gt:2018-10-28T10:00:00Z"
    e = rejected("created_at=after:2018-10-28T10:00:00Z").errors[0]
    assert e.message == "created_at: 'after' is not an operator: expected one of gt, gte, lt, lte, eq, neq"


def test_a_value_that_is_no_time_gets_the_time_formats() -> None:
    e = rejected("created_at=1gt:2018-10-28T10:00:00Z").errors[0]
    assert e.message == ("created_at: '1gt:2018-10-28T10:00:00Z' is not op:time "
                         "(e.g. created_at=gt:2018-10-28T10:00:00Z)")
    assert e.hint == ("times are YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DD HH:MM:SS (UTC) or RFC 3339 with an offset "
                      "(its '+' written %2B)")


def test_errors_carry_the_value_as_sent() -> None:
    e = rejected("id=not-a-uuid&status=activ").errors
    assert [(d.param, d.value) for d in e] == [("id", "not-a-uuid"), ("status", "activ")]
    assert e[0].hint == "a UUID looks like bc6bed6e-ba3a-4447-afcc-449174a3eb52"


def test_flavor_errors_say_what_is_missing() -> None:
    e = rejected("flavor_id=s6.large.2").errors[0]
    assert e.message == "flavor_id: filtering by flavor needs a flavor catalog, and none is configured"
    assert e.hint == "pass Options(flavors={...}) (CLI: --flavors FILE)"
    opts = Options(flavors={"s6.large.2": Flavor(8192, 40)})
    e = rejected("flavor_id=s6.large.3", opts).errors[0]
    assert e.message == "flavor_id: no flavor 's6.large.3' in the flavor catalog"
    assert e.hint == "did you mean 's6.large.2'?"


def test_filters_point_at_their_pair() -> None:
    text = "status=active&id=BC6BED6E-BA3A-4447-AFCC-449174A3EB52&flavor_id=s6.large.2"
    q = imgfilter.check(text, Options(flavors={"s6.large.2": Flavor(8192, 40)}))
    spans = {type(f).__name__ + ":" + getattr(f, "param", "flavor"): text[f.span.start:f.span.end] for f in q.filters}
    assert spans["FieldIn:id"] == "id=BC6BED6E-BA3A-4447-AFCC-449174A3EB52"
    assert spans["FlavorFit:flavor"] == "flavor_id=s6.large.2"
    with pytest.raises(QueryError):
        imgfilter.check("flavor_id=s6.large.2")


def test_support_flag_errors_name_the_flag_sent() -> None:
    e = rejected("__support_a=maybe&__support_b=no").errors
    assert [d.message for d in e] == ["__support_a: 'maybe' is not true (omit the parameter otherwise)",
                                      "__support_b: 'no' is not true (omit the parameter otherwise)"]


@pytest.mark.parametrize(("query", "message", "hint"), [
    ("tag=a.b.c", "tag: '.' is not allowed here: expected key=value, key= or key",
     "tags written 'a.b.c' before the tag upgrade are queried as tag=a=b.c"),
    ("tag=a=b c", "tag: ' ' is not allowed here: expected key=value, key= or key",
     "a tag key is letters, digits, '_', '-' or CJK ideographs; a value may also hold '.'"),
    ("tag=a=b.c=d", "tag: '=' is not allowed here: expected key=value, key= or key",
     "a tag key is letters, digits, '_', '-' or CJK ideographs; a value may also hold '.'"),
])
def test_tag_errors_point_at_the_character_and_say_why(query: str, message: str, hint: str) -> None:
    e = rejected(query).errors[0]
    assert (e.message, e.hint) == (message, hint)
    assert query[e.span.start:e.span.end] == message.split("'")[1]


def test_tag_length_errors_point_at_the_key_or_the_value() -> None:
    key, value = "k" * 37, "v" * 44
    e = rejected(f"tag={key}=v").errors[0]
    assert e.message == "tag: the key is 37 characters; at most 36"
    assert f"tag={key}=v"[e.span.start:e.span.end] == key
    e = rejected(f"tag=k={value}").errors[0]
    assert e.message == "tag: the value is 44 characters; at most 43"
    assert f"tag=k={value}"[e.span.start:e.span.end] == value
    assert ok(f"tag={'k' * 36}={'v' * 43}").filters


def test_a_bad_member_status_gets_a_suggestion() -> None:
    e = rejected("visibility=shared&member_status=pendng").errors
    assert [(d.code, d.param, d.value, d.message, d.hint) for d in e] == [
        ("IMG.0001", "member_status", "pendng", "member_status: 'pendng' is not one of accepted, rejected, pending",
         "did you mean 'pending'?")]


@pytest.mark.parametrize(("query", "hint"), [
    ("__platform=ORACLE LINUX", "did you mean 'Oracle Linux'?"),  # another case
    ("__platform=ORACLELINUX", "did you mean 'Oracle Linux'?"),  # the space left out
    ("__platform=Ubunt", "did you mean 'Ubuntu'?"),  # a near miss
    ("protected=flase", "did you mean 'false'?"),
    ("status=zzzzzz", None),  # nothing near: no hint
    ("%20LIMIT%20=5", "did you mean 'limit'?"),  # spaces around an unknown name
    (" limit=5", "the name has a leading space ('+' and %20 are spaces in a query): write 'limit'"),
    ("created_at>=", "operators go in the value: write created_at=gte:TIME"),
    ("created_at%3E%0A=2018-01-01T00:00:00Z", "operators go in the value: write created_at=gte:2018-01-01T00:00:00Z"),
])
def test_hints_suggest_what_was_meant(query: str, hint: str | None) -> None:
    assert rejected(query).errors[0].hint == hint


def test_text_errors_have_the_parameters_code_and_one_reason() -> None:
    [e] = rejected("flavor_id=" + "x" * 65).errors
    assert (e.code, e.message) == ("IMG.0192", "flavor_id: 65 characters is not a flavor id "
                                               "(1 to 64 characters of [0-9A-Za-z._-])")
    [e] = rejected("owner=" + "a" * 64 + "%24").errors  # too long and a '$': the length speaks
    assert e.message == "owner: 65 characters is not 1 to 64 characters of [0-9A-Za-z_-]"
    [e] = rejected("owner=a%24b").errors
    assert e.message == "owner: '$' is not allowed: 1 to 64 characters of [0-9A-Za-z_-]"
    assert "owner=a%24b"[e.span.start:e.span.end] == "%24"


@pytest.mark.parametrize("pair", ["enterprise_project_id=0", "enterprise_project_id=all_granted_eps",
                                  "enterprise_project_id=ABCDEF01-0000-4000-8000-000000000001", "name=x y"])
def test_each_filter_points_at_its_pair(pair: str) -> None:
    text = f"status=active&{pair}"
    q = imgfilter.check(text)
    assert sorted(text[f.span.start:f.span.end] for f in q.filters) == sorted([pair, "status=active"])


def _times(text: str) -> list[dt.datetime]:
    return [f.at for f in imgfilter.check(text).filters if isinstance(f, TimeFilter)]


def test_query_times_are_utc_whatever_the_machine_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "CST-8")
    time.tzset()
    try:
        got = _times("created_at=gt:2018-01-01 00:00:00&updated_at=lt:2018-01-01T08:00:00%2B08:00")
    finally:
        monkeypatch.undo()
        time.tzset()
    utc = dt.datetime(2018, 1, 1, tzinfo=dt.UTC)
    assert got == [utc, utc]
    assert [t.utcoffset() for t in got] == [dt.timedelta(0), dt.timedelta(0)]


def test_a_time_without_operator_warns_with_the_fix() -> None:
    q = imgfilter.check("created_at=2018-01-01T00:00:00%2B08:00")
    assert [(w.message, w.hint) for w in q.warnings] == [
        ("created_at: no operator: taken as eq", "write created_at=eq:2018-01-01T00:00:00+08:00")]


@pytest.mark.parametrize(("value", "message", "hint"), [
    ("gt:2018-02-30T00:00:00Z", "'2018-02-30T00:00:00Z' is not a valid time: day is out of range for month", None),
    ("gt:9999-12-31T23:00:00-05:00", "'9999-12-31T23:00:00-05:00' is outside the years 1000 to 9999 (UTC)",
     "every database compares times in that range"),
])
def test_time_errors_point_at_the_time(value: str, message: str, hint: str | None) -> None:
    text = f"created_at={value}"
    [e] = rejected(text).errors
    assert (e.message, e.hint) == (f"created_at: {message}", hint)
    assert text[e.span.start:e.span.end] == value[3:]


@pytest.mark.parametrize(("text", "empty"), [
    ("gte:{T}&lte:{T1}&neq:{T}", False),  # one instant left
    ("gte:{T}&lte:{T1}&neq:{T}&neq:{T1}", True),
    ("gt:{T}&lt:{T2}", False),  # T + 1 µs
    ("gt:{T1}&lt:{T3}", False),
    ("gt:{T1}&lt:{T2}", True),
])
def test_the_no_time_warning_counts_microseconds(text: str, empty: bool) -> None:
    stamps = {f"T{n}" if n else "T": f"2018-01-01T00:00:00.{n:06d}Z" for n in range(4)}
    query = "&".join(f"created_at={part}" for part in text.format(**stamps).split("&"))
    warned = any("no time satisfies" in w.message for w in imgfilter.check(query).warnings)
    assert warned is empty


def test_int_and_time_filters_point_at_their_pair() -> None:
    text = "min_ram=512&created_at=gt:2018-01-01T00:00:00Z"
    q = imgfilter.check(text)
    assert sorted(text[f.span.start:f.span.end] for f in q.filters) == ["created_at=gt:2018-01-01T00:00:00Z",
                                                                       "min_ram=512"]


@pytest.mark.parametrize(("query", "hint"), [
    ("__support_kvm=FALSE", "omit the parameter to not filter on it: images without the capability "
                            "carry no such attribute"),
    ("__support_s4l=false", "omit the parameter to not filter on it: images without the capability "
                            "carry no such attribute"),
    ("__support_kvm=yes", None),
    ("protected=fals", "did you mean 'false'?"),
])
def test_capability_flags_take_only_true(query: str, hint: str | None) -> None:
    [e] = rejected(query).errors
    assert e.message == f"{query.split('=')[0]}: {query.split('=')[1]!r} is not " + (
        "true (omit the parameter otherwise)" if query.startswith("__support") else "true or false")
    assert e.hint == hint


def test_options_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match=r"^unknown must be reject, ignore or property, not 'x'$"):
        Options(unknown="x")  # type: ignore[arg-type]
    for name in ("max_length", "max_pairs", "max_side_filters", "default_limit", "max_limit", "max_cached_length"):
        zero: dict[str, Any] = {name: 0}
        assert getattr(Options(**zero), name) == 0  # 0 is a limit too
        for bad in (-1, True, 1.5, "3"):
            kwargs: dict[str, Any] = {name: bad}
            with pytest.raises(ValueError, match=rf"^Options\.{name} must be an integer >= 0, not "):
                Options(**kwargs)


@pytest.mark.parametrize("pair", ["status=active", "__support_kvm=true", "__platform=RedHat", "protected=true"])
def test_enum_and_flag_filters_point_at_their_pair(pair: str) -> None:
    text = f"name=x&{pair}"
    q = imgfilter.check(text)
    assert sorted(text[f.span.start:f.span.end] for f in q.filters) == sorted([pair, "name=x"])


@pytest.mark.parametrize(("query", "message", "hint"), [
    ("marker=abc", "marker: 'abc' is not a UUID", "the marker is the id of the last image of the previous page"),
    ("limit=-1", "limit: '-1' is not an integer from 0 to 2147483647",
     "write a decimal integer without sign or spaces"),
])
def test_page_parameter_errors_say_what_to_send(query: str, message: str, hint: str) -> None:
    [e] = rejected(query).errors
    assert (e.message, e.hint) == (message, hint)


def test_a_page_request_differing_in_its_first_character_is_checked_afresh() -> None:
    marker = "bc6bed6e-ba3a-4447-afcc-449174a3eb52"
    assert ok(f"name=a&limit=2&marker={marker}").limit == 2
    e = rejected(f"aame=a&limit=3&marker={marker}")  # same text after the first character
    assert [d.message for d in e.errors] == ["aame: unknown parameter"]


def test_page_requests_differing_in_marker_or_limit_share_one_template() -> None:
    from imgfilter.caches import cache_sizes, configure_caches

    before = {name: size for name, (_, size) in cache_sizes().items()}
    configure_caches(page_templates=16, check=16)
    try:
        ids = ["bc6bed6e-ba3a-4447-afcc-449174a3eb52", "0328c25e-c840-4496-81ac-c4e01b214b1f"]
        for limit in (10, 25):  # values of one length: the template notes where they are
            for marker in ids:
                assert ok(f"status=active&limit={limit}&marker={marker}").limit == limit
        assert cache_sizes()["page_templates"][0] == 1
        for limit in (10, 25):  # the page parameter first
            assert ok(f"limit={limit}&status=active").limit == limit
        assert cache_sizes()["page_templates"][0] == 2
    finally:
        configure_caches(**before)


def test_a_limit_equal_to_the_maximum_is_served_without_a_warning() -> None:
    opts = Options(max_limit=100)
    q = ok("limit=100", opts)
    assert (q.limit, q.warnings) == (100, ())
    q = ok("limit=101", opts)
    assert q.limit == 100
    assert [w.message for w in q.warnings] == ["limit: 101 is above the maximum; clamped to 100"]


@pytest.mark.parametrize("value", ["a b", "a%0A", "a=b%20c"])
def test_only_a_dot_in_a_tag_key_gets_the_tag_upgrade_hint(value: str) -> None:
    [e] = rejected(f"tag={value}").errors
    assert e.hint == "a tag key is letters, digits, '_', '-' or CJK ideographs; a value may also hold '.'"


@pytest.mark.parametrize(("query", "value"), [
    ("limit=0000000000005", 5), ("limit=" + "0" * 40 + "7", 7), ("limit=00000000000000", 0),
    ("min_ram=00000000000000512", 512), ("min_disk=0000000000001024", 1024),
])
def test_leading_zeros_do_not_make_an_integer_too_large(query: str, value: int) -> None:
    q = ok(query)
    if query.startswith("limit"):
        assert q.limit == value
    else:
        [f] = q.filters
        assert isinstance(f, FieldIn) and f.values == (value,)


@pytest.mark.parametrize(("query", "domain"), [
    ("limit=0002147483648", "0 to 2147483647"), ("min_disk=00000000001025", "1 to 1024"),
    ("min_disk=0000000000000", "1 to 1024"), ("min_ram=1" + "0" * 12, "0 to 2147483647"),
])
def test_integers_out_of_range_are_refused_with_or_without_leading_zeros(query: str, domain: str) -> None:
    name, value = query.split("=")
    [e] = rejected(query).errors
    assert e.message == f"{name}: {value!r} is not an integer from {domain}"


GENERIC_TAG_HINT = "a tag key is letters, digits, '_', '-' or CJK ideographs; a value may also hold '.'"


@pytest.mark.parametrize(("value", "hint"), [
    ("a.", "tags written 'a.' before the tag upgrade are queried as tag=a="),
    ("k" * 36 + ".v", f"tags written {'k' * 36 + '.v'!r} before the tag upgrade are queried as tag={'k' * 36}=v"),
    ("k." + "v" * 43, f"tags written {'k.' + 'v' * 43!r} before the tag upgrade are queried as tag=k={'v' * 43}"),
    # the rewritten tag would be refused too: no such advice
    (".a", GENERIC_TAG_HINT), (".", GENERIC_TAG_HINT), ("a.b c", GENERIC_TAG_HINT), ("a.b%3Dc", GENERIC_TAG_HINT),
    ("k" * 37 + ".v", GENERIC_TAG_HINT), ("k." + "v" * 44, GENERIC_TAG_HINT),
])
def test_the_tag_upgrade_hint_offers_only_a_tag_the_api_takes(value: str, hint: str) -> None:
    [e] = rejected(f"tag={value}").errors
    assert e.message == "tag: '.' is not allowed here: expected key=value, key= or key"
    assert e.hint == hint
    if "before the tag upgrade" in hint:
        assert ok(hint.rsplit(" ", 1)[1]).filters  # the advice is a query the API takes

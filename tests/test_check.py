"""Semantics §2–§4, §6, §7: what the checker accepts, and how it rejects."""

from __future__ import annotations

import datetime as dt

import pytest

import imgfilter
from imgfilter import Flavor, Options, Severity
from imgfilter.front import params as P
from imgfilter.front.ast import (
    EnterpriseProject,
    FieldIn,
    FlavorFit,
    MemberFilter,
    PropertyEq,
    SupportFlag,
    TagFilter,
    TimeFilter,
)

from .helpers import codes, ok, rejected, underlined

UUID = "bc6bed6e-ba3a-4447-afcc-449174a3eb52"
UTC = dt.UTC


def only(query: str, options: Options | None = None) -> object:
    (f,) = ok(query, options).filters
    return f


# ---- enums and their codes ------------------------------------------------------

@pytest.mark.parametrize("param", [p for p in P.PARAMS_LIST if p.kind is P.Kind.ENUM])
def test_every_enum_value_is_accepted_and_others_rejected_with_its_code(param: P.Param) -> None:
    for choice in param.choices:
        f = only(f"{param.name}={choice.replace(' ', '%20')}")
        assert isinstance(f, FieldIn) and choice in f.values
    err = rejected(f"{param.name}=nonsense")
    assert err.errors[0].code == param.code
    assert err.errors[0].param == param.name
    assert "nonsense" in err.errors[0].message


def test_ims_codes_of_the_spec() -> None:
    assert codes("__imagetype=golden") == [("IMG.0024", "__imagetype")]
    assert codes("__os_type=linuxx") == [("IMG.0122", "__os_type")]
    assert codes("architecture=amd64") == [("IMG.0212", "architecture")]
    assert codes("enterprise_project_id=x") == [("IMG.0155", "enterprise_project_id")]
    assert codes("tag=a%20b") == [("IMG.0115", "tag")]
    assert codes("flavor_id=s6.large") == [("IMG.0192", "flavor_id")]


def test_enum_values_are_case_sensitive_with_a_hint() -> None:
    err = rejected("__os_type=linux")
    assert err.errors[0].hint == "did you mean 'Linux'?"
    assert rejected("sort_dir=ASC").errors[0].hint == "did you mean 'asc'?"


def test_platform_redhat_spellings_match_each_other() -> None:
    assert only("__platform=RedHat") == FieldIn("__platform", "__platform", ("RedHat", "Red Hat"))
    assert only("__platform=Red+Hat") == FieldIn("__platform", "__platform", ("RedHat", "Red Hat"))
    assert only("__platform=Oracle%20Linux") == FieldIn("__platform", "__platform", ("Oracle Linux",))


# ---- booleans ---------------------------------------------------------------------

@pytest.mark.parametrize("text", ["true", "True", "TRUE", "false", "False"])
def test_booleans_in_any_case(text: str) -> None:
    assert only(f"protected={text}") == FieldIn("protected", "protected", (text.lower() == "true",))


def test_boolean_rejects_other_words() -> None:
    assert codes("protected=yes") == [("IMG.0001", "protected")]
    assert rejected("__isregistered=ture").errors[0].hint == "did you mean 'true'?"


@pytest.mark.parametrize("flag", P.SUPPORT_FLAGS)
def test_support_flags_true_only(flag: str) -> None:
    assert only(f"{flag}=True") == FieldIn(flag, flag, (True,))
    err = rejected(f"{flag}=false")
    assert "omit the parameter" in (err.errors[0].hint or "")


def test_open_support_family() -> None:
    assert only("__support_s4l=true") == SupportFlag("__support_s4l")
    assert "omit" in (rejected("__support_s4l=false").errors[0].hint or "")
    # not the family: upper case, or nothing after the prefix
    assert codes("__support_S4L=true") == [("IMG.0001", "__support_S4L")]
    assert codes("__support_=true") == [("IMG.0001", "__support_")]


# ---- integers and text ------------------------------------------------------------

def test_min_ram_range() -> None:
    assert only("min_ram=0") == FieldIn("min_ram", "min_ram", (0,))
    assert only(f"min_ram={2**31 - 1}") == FieldIn("min_ram", "min_ram", (2**31 - 1,))
    for bad in (str(2**31), "-1", "+5", "1.5", "0x10", " 1", "9" * 5000):
        assert codes(f"min_ram={bad.replace(' ', '%20')}") == [("IMG.0001", "min_ram")], bad


def test_min_disk_range_is_1_to_1024() -> None:
    assert only("min_disk=1") == FieldIn("min_disk", "min_disk", (1,))
    assert only("min_disk=1024") == FieldIn("min_disk", "min_disk", (1024,))
    assert codes("min_disk=0") == [("IMG.0001", "min_disk")]
    assert codes("min_disk=1025") == [("IMG.0001", "min_disk")]


def test_name_exact_with_colons_and_any_text() -> None:
    # a ':' in a value of a parameter without operators is just a character (pitfall)
    assert only("name=win:2019") == FieldIn("name", "name", ("win:2019",))
    assert only("name=CentOS+7.3+64bit") == FieldIn("name", "name", ("CentOS 7.3 64bit",))
    assert only("name=" + "n" * 255).values == ("n" * 255,)  # type: ignore[attr-defined]
    assert codes("name=" + "n" * 256) == [("IMG.0001", "name")]


def test_nul_in_a_value_is_rejected_where_it_is() -> None:
    err = rejected("name=a%00b")
    assert underlined(err) == "%00"


def test_owner_characters_and_length() -> None:
    assert only("owner=1bed856811654c1cb661a6ca845ebc77").values == (  # type: ignore[attr-defined]
        "1bed856811654c1cb661a6ca845ebc77",)
    err = rejected("owner=abc%2Fdef")
    assert underlined(err) == "%2F"
    assert codes("owner=" + "a" * 65) == [("IMG.0001", "owner")]


def test_gpu_types() -> None:
    assert only("__support_xen_gpu_type=M60_vGPU").values == ("M60_vGPU",)  # type: ignore[attr-defined]
    assert codes("__support_kvm_gpu_type=V100-x") == [("IMG.0001", "__support_kvm_gpu_type")]


def test_os_version_and_cmk() -> None:
    assert only("__os_version=CentOS+7.3+64bit").values == ("CentOS 7.3 64bit",)  # type: ignore[attr-defined]
    assert only("__system__cmkid=key-1").values == ("key-1",)  # type: ignore[attr-defined]


# ---- ids --------------------------------------------------------------------------

def test_uuid_any_case_compared_lowercase() -> None:
    assert only(f"id={UUID.upper()}") == FieldIn("id", "id", (UUID,))
    assert codes("id=not-a-uuid") == [("IMG.0001", "id")]
    assert codes(f"id={UUID}0") == [("IMG.0001", "id")]


def test_enterprise_project_values_and_their_errors() -> None:
    assert only("enterprise_project_id=0") == EnterpriseProject("0")
    assert only("enterprise_project_id=all_granted_eps") == EnterpriseProject("all_granted_eps")
    assert only(f"enterprise_project_id={UUID.upper()}") == EnterpriseProject(UUID)
    assert rejected("enterprise_project_id=all_granted").errors[0].hint == "did you mean 'all_granted_eps'?"


def test_flavor_needs_a_catalog() -> None:
    err = rejected("flavor_id=s6.large.2")
    assert err.errors[0].code == "IMG.0192"
    assert "flavor catalog" in err.errors[0].message
    opts = Options(flavors={"s6.large.2": Flavor(ram_mb=8192, disk_gb=40)})
    assert only("flavor_id=s6.large.2", opts) == FlavorFit("s6.large.2", 8192, 40)
    err = rejected("flavor_id=s6.large.3", opts)
    assert err.errors[0].code == "IMG.0192"
    assert err.errors[0].hint == "did you mean 's6.large.2'?"
    assert codes("flavor_id=a/b", opts) == [("IMG.0192", "flavor_id")]


# ---- tags (§3) --------------------------------------------------------------------

@pytest.mark.parametrize(("query", "key", "value"), [
    ("tag=k=v", "k", "v"), ("tag=k%3Dv", "k", "v"), ("tag=k=", "k", ""), ("tag=k", "k", None),
    ("tag=k=v.1-2_3", "k", "v.1-2_3"), ("tag=%E7%8E%AF%E5%A2%83=%E7%94%9F%E4%BA%A7", "环境", "生产"),
    ("tag=a-b_c=", "a-b_c", ""),
])
def test_tag_forms(query: str, key: str, value: str | None) -> None:
    assert only(query) == TagFilter(key, value)


def test_legacy_dot_tag_is_an_error_with_the_new_form() -> None:
    err = rejected("tag=a.b")
    assert err.errors[0].code == "IMG.0115"
    assert "tag=a=b" in (err.errors[0].hint or "")
    assert underlined(err) == "."


@pytest.mark.parametrize("bad", ["tag=a%20b", "tag=k=v=w", "tag==v", "tag=k=v%2F", "tag=" + "k" * 37,
                                 "tag=k=" + "v" * 44])
def test_bad_tags(bad: str) -> None:
    assert codes(bad) == [("IMG.0115", "tag")]


def test_tag_limits_inclusive() -> None:
    ok("tag=" + "k" * 36 + "=" + "v" * 43)


def test_tags_repeat_and_all_hold() -> None:
    q = ok("tag=a=1&tag=b&tag=a=2")
    assert set(q.filters) == {TagFilter("a", "1"), TagFilter("b", None), TagFilter("a", "2")}


# ---- times (§4) -------------------------------------------------------------------

T0 = dt.datetime(2018, 10, 28, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "at"), [
    ("gt:2018-10-28T10:00:00Z", T0),
    ("gt:2018-10-28%2010:00:00", T0),
    ("gt:2018-10-28+10:00:00", T0),
    ("gt%3A2018-10-28T10%3A00%3A00Z", T0),
    ("gt:2018-10-28T18:00:00%2B08:00", T0),
    ("gt:2018-10-28T09:30:00.25-00:30", T0 + dt.timedelta(microseconds=250000)),
    ("gt:2018-10-28T10:00:00.000001Z", T0 + dt.timedelta(microseconds=1)),
])
def test_time_formats(value: str, at: dt.datetime) -> None:
    assert only(f"created_at={value}") == TimeFilter("created_at", "created_at", "gt", at)


@pytest.mark.parametrize("op", P.TIME_OPS)
def test_time_operators(op: str) -> None:
    assert only(f"updated_at={op}:2018-10-28T10:00:00Z") == TimeFilter("updated_at", "updated_at", op, T0)


def test_time_without_operator_is_eq_with_a_warning() -> None:
    q = ok("created_at=2018-10-28T10:00:00Z")
    assert q.filters == (TimeFilter("created_at", "created_at", "eq", T0),)
    assert [w.severity for w in q.warnings] == [Severity.WARNING]
    assert "eq" in q.warnings[0].message


@pytest.mark.parametrize(("bad", "underline"), [
    ("created_at=GT:2018-10-28T10:00:00Z", "GT"),
    ("created_at=after:2018-10-28T10:00:00Z", "after"),
    ("created_at=gt:2018-02-30T10:00:00Z", "2018-02-30T10:00:00Z"),
    ("created_at=gt:2018-10-28T24:00:00Z", "2018-10-28T24:00:00Z"),
    ("created_at=gt:2018-10-28T10:00:00", "2018-10-28T10:00:00"),
    ("created_at=gt:2018-10-28", "2018-10-28"),
    ("created_at=gt:2018-10-28T10:00:00.1234567Z", ".1234567Z"),
    ("created_at=gt:yesterday", "yesterday"),
])
def test_bad_times(bad: str, underline: str) -> None:
    err = rejected(bad)
    assert err.errors[0].param == "created_at"
    assert underline in underlined(err) or underlined(err) in underline


@pytest.mark.parametrize("value", [
    "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00%2B05:00", "0999-12-31T23:59:59Z",
])
def test_times_outside_what_every_engine_stores(value: str) -> None:
    err = rejected(f"created_at=gt:{value}")
    assert "outside the years 1000 to 9999" in err.errors[0].message
    ok("created_at=gt:1000-01-01T00:00:00Z&created_at=lt:9999-12-31T23:59:59.999999Z")


def test_time_filters_repeat() -> None:
    q = ok("created_at=gte:2018-10-28T10:00:00Z&created_at=lt:2019-01-01T00:00:00Z")
    assert [f.op for f in q.filters] == ["gte", "lt"]  # type: ignore[union-attr]
    assert q.warnings == ()


@pytest.mark.parametrize("query", [
    "created_at=gt:2019-01-01T00:00:00Z&created_at=lt:2018-01-01T00:00:00Z",
    "created_at=gt:2018-01-01T00:00:00Z&created_at=lt:2018-01-01T00:00:00Z",
    "created_at=gte:2018-01-01T00:00:00Z&created_at=lt:2018-01-01T00:00:00Z",
    "created_at=eq:2018-01-01T00:00:00Z&created_at=eq:2018-01-02T00:00:00Z",
    "created_at=eq:2018-01-01T00:00:00Z&created_at=neq:2018-01-01T08:00:00%2B08:00",
    "created_at=eq:2017-01-01T00:00:00Z&created_at=gt:2018-01-01T00:00:00Z",
])
def test_unsatisfiable_time_ranges_warn(query: str) -> None:
    q = ok(query)
    assert any("no time satisfies" in w.message for w in q.warnings)


def test_satisfiable_single_instant_does_not_warn() -> None:
    q = ok("created_at=gte:2018-01-01T00:00:00Z&created_at=lte:2018-01-01T00:00:00Z")
    assert q.warnings == ()


# ---- repeats, empties, unknowns ---------------------------------------------------

def test_non_repeatable_parameters_given_twice() -> None:
    err = rejected("status=active&status=queued")
    assert err.errors[0].param == "status"
    assert "more than once" in err.errors[0].message
    assert underlined(err) == "status=queued"


@pytest.mark.parametrize("query", ["visibility=", "visibility", "status=&name=&limit"])
def test_empty_values_are_warnings_and_ignored(query: str) -> None:
    q = ok(query)
    assert q.filters == ()
    assert q.warnings and all(w.severity is Severity.WARNING for w in q.warnings)


def test_empty_value_then_a_real_one_is_not_a_repeat() -> None:
    assert ok("status=&status=active").filters == (FieldIn("status", "status", ("active",)),)


def test_unknown_parameter_policies() -> None:
    err = rejected("stauts=active")
    assert err.errors[0].hint == "did you mean 'status'?"
    assert underlined(err) == "stauts"
    q = ok("stauts=active&foo=bar", Options(unknown="ignore"))
    assert q.filters == () and len(q.warnings) == 2
    q = ok("foo=bar&size=0", Options(unknown="property"))
    assert set(q.filters) == {PropertyEq("foo", "bar"), FieldIn("size", "size", (0,))}
    assert codes("size=big", Options(unknown="property")) == [("IMG.0001", "size")]
    assert codes("fo%00o=bar", Options(unknown="property")) == [("IMG.0001", "fo\x00o")]


def test_keys_are_case_sensitive() -> None:
    err = rejected("Status=active")
    assert err.errors[0].hint == "did you mean 'status'?"


def test_a_value_without_a_name() -> None:
    err = rejected("=active")
    assert "no name" in err.errors[0].message


# ---- cross-parameter rules --------------------------------------------------------

def test_member_status_needs_visibility_shared() -> None:
    assert ok("member_status=pending&visibility=shared").filters[0] == MemberFilter("pending")
    assert codes("member_status=pending") == [("IMG.0001", "member_status")]
    assert codes("member_status=pending&visibility=public") == [("IMG.0001", "member_status")]
    assert rejected("member_status=pending&visibility=shared&x=1").errors[0].param == "x"


def test_gpu_type_with_xen_or_kvm_warns() -> None:
    q = ok("__support_xen_gpu_type=M60&__support_xen=true&__support_kvm=true")
    assert len(q.warnings) == 2
    assert ok("__support_xen_gpu_type=M60").warnings == ()


# ---- sort and page (§6) -----------------------------------------------------------

def test_sort_defaults() -> None:
    q = ok("")
    assert (q.sort_key, q.sort_dir, q.marker, q.limit) == ("created_at", "desc", None, None)
    assert (ok("sort_key=name").sort_dir) == "desc"
    q = ok("sort_dir=asc")
    assert (q.sort_key, q.sort_dir) == ("created_at", "asc")


@pytest.mark.parametrize("key", P.SORT_KEYS)
def test_every_sort_key(key: str) -> None:
    assert ok(f"sort_key={key}&sort_dir=asc").sort_key == key


def test_bad_sort_and_page_values() -> None:
    assert rejected("sort_key=size2").errors[0].hint == "did you mean 'size'?"
    assert codes("sort_key=updated_at") == [("IMG.0001", "sort_key")]
    assert codes("limit=-1") == [("IMG.0001", "limit")]
    assert codes("marker=abc") == [("IMG.0001", "marker")]


def test_marker_and_limit() -> None:
    q = ok(f"marker={UUID.upper()}&limit=0")
    assert (q.marker, q.limit) == (UUID, 0)


def test_default_and_maximum_limit() -> None:
    opts = Options(default_limit=25, max_limit=100)
    assert ok("", opts).limit == 25
    assert ok("limit=7", opts).limit == 7
    q = ok("limit=1000", opts)
    assert q.limit == 100
    assert "clamped" in q.warnings[0].message


# ---- errors (§7) ------------------------------------------------------------------

def test_all_errors_are_reported_together_in_order() -> None:
    err = rejected("status=activ&limt=5&tag=a.b")
    assert [(e.code, e.param) for e in err.errors] == [
        ("IMG.0001", "status"), ("IMG.0001", "limt"), ("IMG.0115", "tag")]


def test_caret_rendering() -> None:
    err = rejected("status=activ&limt=5")
    text = err.render()
    lines = text.splitlines()
    assert lines[0] == "error[IMG.0001]: status: 'activ' is not one of queued, saving, deleted, killed, active"
    assert lines[2] == "  | status=activ&limt=5"
    assert lines[3] == "  |        ^^^^^"
    assert lines[4] == "  = hint: did you mean 'active'?"
    assert "  |              ^^^^" in text


def test_caret_rendering_of_a_long_query_is_windowed() -> None:
    q = "name=" + "x" * 200 + "&status=bad"
    text = rejected(q).render()
    assert max(len(line) for line in text.splitlines()) < 200
    source_line, caret_line = text.splitlines()[2:4]
    col = caret_line.index("^")
    assert source_line[col:col + 3] == "bad"


def test_ims_error_body() -> None:
    body = rejected("__imagetype=golden&limt=1").to_ims()
    assert body["error"]["code"] == "IMG.0024"
    assert "__imagetype" in body["error"]["message"] and "golden" in body["error"]["message"]
    assert [e["param"] for e in body["errors"]] == ["__imagetype", "limt"]
    assert body["errors"][0]["span"] == [12, 18]


def test_no_lark_internals_in_messages() -> None:
    for q in ("tag=a%20b", "created_at=gt:x", "tag==", "created_at=:"):
        for e in rejected(q).errors:
            assert "__ANON" not in e.message and "Token" not in e.message and "$END" not in e.message


# ---- the API ----------------------------------------------------------------------

def test_checked_query_is_immutable_and_cached() -> None:
    q = ok("__imagetype=gold&sort_key=name&limit=1")
    with pytest.raises(AttributeError):
        q.limit = 5  # type: ignore[misc]
    assert imgfilter.check("__imagetype=gold&sort_key=name&limit=1") is q


def test_normalized_round_trips() -> None:
    q = ok("tag=k=v&created_at=gt:2018-10-28T18:00:00%2B08:00&__platform=RedHat&name=a%20b&id=" + UUID.upper())
    again = ok(q.normalized())
    assert again == q
    assert again.normalized() == q.normalized()


def test_to_json_is_stable() -> None:
    j = ok("tag=k=v&limit=3").to_json()
    assert j["filters"] == [{"type": "TagFilter", "key": "k", "value": "v", "span": [0, 7]}]
    assert j["sort"] == {"key": "created_at", "dir": "desc"}
    assert j["limit"] == 3


def test_non_string_query_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        imgfilter.check(b"a=1")  # type: ignore[arg-type]

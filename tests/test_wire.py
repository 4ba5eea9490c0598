"""Responses in IMS's wire form (semantics §8), `architecture` as IMS records it
(semantics §2), real IMS dumps, and records no target can store (issue 8,
items 7, 8 and 11)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

import imgfilter
from imgfilter import Context
from imgfilter.front import params as P
from imgfilter.io.catalog import API_EXAMPLE, bundled
from imgfilter.io.records import MAX_DEPTH, Catalog, RecordError, load

from .fixtures import P1, P2, RECORDS, rec, uid
from .targets import Target, everywhere, placed, placements

UTC_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

SPELLED = rec(
    1, name="spelled", visibility="public", owner=P1, __imagetype="gold",
    __isregistered="TRUE", protected="false", deleted="True", __system_support_market="FALSE",
    __support_kvm=True, __support_xen="True", __support_arm="TRUE", __lazyloading=True, __whole_image="FALSE",
    __support_s4l="TRUE", __support_kvm_fpga_type="VU9P", __support_agent_list="hss,ces",
    min_ram=2048, min_disk=40, size=0, virtual_size=None, __os_bit=64, max_ram=4096,
    created_at="2018-09-06T22:03:27.999999+08:00", updated_at="2019-01-01 00:00:00",
    deleted_at="2020-02-29T12:00:00.5-03:30", enterprise_project_id="7A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D",
    tags=["k=v", "a.b"], members=[{"member_id": P2, "status": "accepted"}],
    service_prop={"nested": [1, 2.5, None, "x"]}, custom_prop="Blue",
)
SPELLED["id"] = SPELLED["id"].upper()
WIRE = {
    "id": uid(1), "name": "spelled", "visibility": "public", "owner": P1, "__imagetype": "gold",
    "__isregistered": "true", "protected": False, "deleted": True, "__system_support_market": False,
    "__support_kvm": "true", "__support_xen": "true", "__support_arm": "true", "__lazyloading": "true",
    "__whole_image": "false", "__support_s4l": "true", "__support_kvm_fpga_type": "VU9P",
    "__support_agent_list": "hss,ces", "min_ram": 2048, "min_disk": 40, "size": 0, "virtual_size": None,
    "__os_bit": "64", "max_ram": "4096", "created_at": "2018-09-06T14:03:27Z", "updated_at": "2019-01-01T00:00:00Z",
    "deleted_at": "2020-02-29T15:30:00Z", "enterprise_project_id": "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "tags": ["k=v", "a.b"], "service_prop": {"nested": [1, 2.5, None, "x"]}, "custom_prop": "Blue",
}


# ---- the wire form ------------------------------------------------------------------------

def test_every_spelling_is_served_in_wire_form() -> None:
    img = Catalog.from_records([SPELLED]).images[0]
    assert img.wire == WIRE
    assert list(img.wire) == [k for k in SPELLED if k != "members"]  # the record's own order
    assert img.raw is SPELLED  # the original, for the embedding code


def test_times_keep_full_precision_for_comparisons() -> None:
    cat = Catalog.from_records([SPELLED])
    assert imgfilter.run("created_at=gt:2018-09-06T14:03:27Z", cat).ids == [uid(1)]
    assert imgfilter.run("created_at=eq:2018-09-06T14:03:27Z", cat).ids == []


@pytest.mark.parametrize("caller", [None, Context(P1), Context(P2), Context(is_admin=True)])
def test_no_response_carries_members_on_any_target(target: Target, caller: Context | None) -> None:
    page = target("visibility=shared", caller, None)
    assert page.images, "the shared images are visible to this caller"
    body = page.to_response()
    assert all("members" not in img for img in body["images"])
    assert "member_id" not in json.dumps(body)


def test_pages_are_the_wire_form_on_every_target(target: Target) -> None:
    wire = {img.id: img.wire for img in Catalog.from_records(RECORDS).images}
    page = target("sort_key=id&sort_dir=asc", None, None)
    assert list(page.images) == [wire[i] for i in sorted(wire)]
    shown = {img["id"]: img for img in page.images}
    assert shown[uid(2)]["protected"] is True and shown[uid(2)]["__support_xen"] == "true"  # "True", "TRUE"
    assert shown[uid(2)]["created_at"] == "2018-09-06T14:03:27Z"  # was +08:00
    assert shown[uid(3)]["__support_s4l"] == "true"  # JSON true
    assert shown[uid(6)]["__isregistered"] == "false"


def test_changing_a_response_body_does_not_change_the_catalog() -> None:
    cat = Catalog.from_records(RECORDS)
    body = imgfilter.run(f"id={uid(1)}", cat).to_response()
    body["images"][0]["name"] = "changed"
    body["images"][0]["members"] = ["leak"]
    assert imgfilter.run(f"id={uid(1)}", cat).images[0]["name"] == "CentOS 7.3 64bit"
    assert "members" not in imgfilter.run(f"id={uid(1)}", cat).images[0]


def test_one_callers_page_never_changes_the_next_callers(target: Target) -> None:
    """Nested values and the page's own images too: a service that annotates a
    page for one tenant must not show it to the next (nor make a response
    disagree with the filters)."""
    first = target(f"id={uid(1)}", None, None)
    first.images[0]["name"] = "changed"  # type: ignore[index]
    first.images[0]["tags"].append("leaked")
    body = first.to_response()
    body["images"][0]["tags"].append("leaked too")
    again = target(f"id={uid(1)}", None, None)
    assert again.images[0]["name"] == "CentOS 7.3 64bit" and "leaked" not in again.images[0]["tags"]
    assert target("tag=leaked", None, None).ids == []
    cat = Catalog.from_records(RECORDS)
    cat.by_id[uid(1)].wire["tags"].append("leaked")  # `wire` is a copy of the caller's own
    assert "leaked" not in cat.by_id[uid(1)].wire["tags"]
    with pytest.raises(TypeError):
        cat.by_id[uid(1)].response["name"] = "changed"  # type: ignore[index]


def test_bundled_catalog_is_served_in_wire_form() -> None:
    """The issue's check: `imgfilter query 'sort_key=name' --project P` shows no
    members and only wire-form values, for every image of the bundled catalog."""
    cat = bundled()
    for caller in (Context("a3c1e5f7b9d24681357902468ace1357"), None):
        for image in imgfilter.run("sort_key=name", cat, caller).to_response()["images"]:
            assert_wire_form(image)
    assert imgfilter.run("id=bc6bed6e-ba3a-4447-afcc-449174a3eb52", cat).images == (API_EXAMPLE[0],)


def assert_wire_form(image: dict[str, Any]) -> None:
    """Every field of one response image has its wire type (semantics §8)."""
    assert "members" not in image
    for key, value in image.items():
        spec = P.RESPONSE_FIELDS.get(key)
        if value is None or spec is None:
            if key.startswith(P.SUPPORT_PREFIX) and isinstance(value, bool):
                raise AssertionError(f"{key}: {value!r}")
            assert value is None or spec is None
            continue
        expected: dict[P.Wire, Any] = {
            P.Wire.STRING: lambda v: isinstance(v, str),
            P.Wire.YES_NO: lambda v: v in ("true", "false"),
            P.Wire.BOOLEAN: lambda v: isinstance(v, bool),
            P.Wire.INTEGER: lambda v: isinstance(v, int) and not isinstance(v, bool),
            P.Wire.TIME: lambda v: isinstance(v, str) and UTC_Z.fullmatch(v) is not None,
            P.Wire.STRINGS: lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v),
        }
        assert expected[spec.wire](value), f"{key}: {value!r} is not {spec.wire.value}"


def test_cli_query_prints_the_wire_form(capsys: pytest.CaptureFixture[str]) -> None:
    from imgfilter.io.cli import main

    assert main(["query", "sort_key=name", "--project", "a3c1e5f7b9d24681357902468ace1357"]) == 0
    images = json.loads(capsys.readouterr().out)["images"]
    assert images
    for image in images:
        assert_wire_form(image)


# ---- architecture (semantics §2) ------------------------------------------------------------

ARCH_RECORDS = [
    rec(1, architecture="arm"),
    rec(2, architecture="x86", __support_arm="true"),  # the field wins
    rec(3, __support_arm="true"),
    rec(4, __support_arm=True),
    rec(5, __support_arm="TRUE"),
    rec(6, __support_arm="false"),
    rec(7, __support_arm=False),
    rec(8),  # neither: x86
    rec(9, architecture=None, __support_arm="True"),  # null is missing
]


@pytest.fixture(scope="module")
def arch_targets() -> Iterator[dict[str, Target]]:

    with everywhere(ARCH_RECORDS) as (_, runners):
        yield runners


@pytest.mark.parametrize("placement", placements())
def test_architecture_as_ims_records_it_on_every_target(arch_targets: dict[str, Target], placement: str) -> None:

    run = placed(arch_targets, placement)
    assert set(run("architecture=arm", None, None).ids) == {uid(n) for n in (1, 3, 4, 5, 9)}
    assert set(run("architecture=x86", None, None).ids) == {uid(n) for n in (2, 6, 7, 8)}
    # the derived value is for filtering only: a response shows what the record says
    shown = {img["id"]: img for img in run("", None, None).images}
    assert "architecture" not in shown[uid(3)] and shown[uid(3)]["__support_arm"] == "true"
    assert shown[uid(9)]["architecture"] is None


def test_bundled_catalog_has_arm_images_recorded_as_ims_does() -> None:
    cat = bundled()
    arm = set(imgfilter.run("architecture=arm", cat).ids)
    ims_way = {img.id for img in cat.images if "architecture" not in img.raw
               and str(img.raw.get("__support_arm")).lower() == "true"}
    assert ims_way and ims_way <= arm
    assert arm - ims_way, "and ARM images that carry the field"
    assert any("architecture" not in img.raw and "__support_arm" not in img.raw for img in cat.images)


# ---- real IMS dumps -------------------------------------------------------------------------

# every field of the API page's response table, as IMS sends it
API_PAGE_FIELDS = (
    "file", "owner", "id", "size", "self", "schema", "status", "tags", "visibility", "name", "checksum",
    "deleted", "protected", "container_format", "min_ram", "max_ram", "updated_at", "__os_bit", "__os_version",
    "__description", "disk_format", "__isregistered", "__platform", "__os_type", "min_disk", "virtual_env_type",
    "__image_source_type", "__imagetype", "created_at", "virtual_size", "deleted_at", "__originalimagename",
    "__backup_id", "__productcode", "__image_size", "__data_origin", "__support_kvm", "__support_xen",
    "__support_diskintensive", "__support_highperformance", "__support_xen_gpu_type", "__system_support_market",
    "enterprise_project_id", "__root_origin", "__sequence_num",
)
EXAMPLE_OF = {P.Wire.STRING: "0", P.Wire.YES_NO: "true", P.Wire.BOOLEAN: False, P.Wire.INTEGER: 40,
              P.Wire.TIME: "2018-09-06T14:03:27Z", P.Wire.STRINGS: ["k=v"]}


def test_the_table_holds_every_field_of_the_api_page() -> None:
    assert set(API_PAGE_FIELDS) <= set(P.RESPONSE_FIELDS)


def test_every_filtered_field_is_a_response_field_of_its_type() -> None:
    for f in P.FIELDS_LIST:
        spec = P.RESPONSE_FIELDS[f.name]
        assert P.WIRE_TYPES[spec.wire] is (P.FieldType.TEXT if f.type is P.FieldType.ID else f.type), f.name


def test_a_dump_with_every_response_field_loads_and_round_trips() -> None:
    record = {spec.name: EXAMPLE_OF[spec.wire] for spec in P.RESPONSE_FIELDS_LIST}
    record |= {"id": uid(1), "__platform": "CentOS", "min_disk": 40, "__support_xen_gpu_type": "M60_vGPU",
               "some_future_field": {"x": [1]}, "__support_kvm_fpga_type": "VU9P"}
    img = Catalog.from_records([record]).images[0]
    assert img.wire == record


@pytest.mark.parametrize(("field", "value"), [
    ("deleted", "maybe"), ("__system_support_market", 1), ("virtual_size", "big"), ("virtual_size", 1.5),
    ("deleted_at", "yesterday"), ("__lazyloading", "yes"), ("__support_arm", "arm"), ("max_ram", ["x"]),
    ("__image_size", True), ("tags", [1]),
])
def test_a_response_field_of_the_wrong_type_is_an_error(field: str, value: Any) -> None:
    with pytest.raises(RecordError) as info:
        Catalog.from_records([rec(1, **{field: value})])
    assert (info.value.field, info.value.image_id) == (field, uid(1))


def test_unlisted_fields_pass_through_unchanged() -> None:
    extra = {"__support_kvm_fpga_type": "VU9P", "__support_new_thing": "v2", "hw_disk_bus": "scsi",
             "__quota": 12, "ratio": 0.25, "os_extra": {"a": ["b", None, True]}, "list": [[], {}]}
    img = Catalog.from_records([rec(1, **extra)]).images[0]
    assert {k: img.wire[k] for k in extra} == extra


# ---- records no target can store (issue 8, items 7, 8, 11) ----------------------------------

@pytest.mark.parametrize(("record", "field", "says"), [
    (rec(1, name="a\ud800"), "name", "lone surrogate U+D800"),
    (rec(1, custom="a\udfff"), "custom", "lone surrogate U+DFFF"),
    (rec(1, custom={"k": ["ok", "b\ud83d"]}), "custom", "['k'][1]: the value contains a lone surrogate"),
    (rec(1, custom={"k\udc00": 1}), "custom", "the key contains a lone surrogate"),
    (rec(1, **{"a\ud800": True}), "a\ud800", "the key contains a lone surrogate"),
    (rec(1, tags=["k=\ud800"]), "tags", "[0]: the value contains a lone surrogate"),
    (rec(1, members=[{"member_id": "p\ud800", "status": "accepted"}]), "members", "lone surrogate"),
    (rec(1, **{"a\x00b": True}), "a\x00b", "the key contains a NUL character"),
    (rec(1, custom="a\x00"), "custom", "NUL character"),
    (rec(1, custom={"deep": {"x": "a\x00"}}), "custom", "['deep']['x']: the value contains a NUL"),
    (rec(1, name="a\x00"), "name", "NUL character"),
    (rec(1, custom=float("nan")), "custom", "nan is not a finite number"),
    (rec(1, custom=[float("inf")]), "custom", "[0]: inf is not a finite number"),
    (rec(1, custom={"x": float("-inf")}), "custom", "not a finite number"),
    (rec(1, custom={1, 2}), "custom", "a set is not a JSON value"),
    (rec(1, custom={1: "x"}), "custom", "the key 1 is not a string"),
    (rec(1, custom=10**2000), "custom", "too large"),
])
def test_what_no_target_stores_is_rejected_at_load(record: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(RecordError) as info:
        Catalog.from_records([record])
    e = info.value
    assert (e.position, e.image_id, e.field) == ("record 1", uid(1), field)
    assert says in e.message


@pytest.mark.parametrize("text", [
    '{"id": "%s", "p": NaN}', '{"id": "%s", "p": Infinity}', '{"id": "%s", "p": -Infinity}',
    '{"id": "%s", "p": 1e400}', '{"id": "%s", "p": [1, -1e999]}', '{"id": "%s", "p": "\\ud800"}',
    '{"id": "%s", "p\\u0000": 1}',
])
def test_non_standard_json_in_a_file_is_rejected(text: str) -> None:
    for doc in (text % uid(1), "[" + text % uid(1) + "]", text % uid(2) + "\n" + text % uid(1)):
        with pytest.raises(RecordError) as info:
            load(io.StringIO(doc))
        assert info.value.field == "p" or info.value.field == "p\x00"


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


def test_nesting_is_bounded_at_load() -> None:
    ok = rec(1, custom=nested(MAX_DEPTH - 1))  # the record itself is the first level
    assert Catalog.from_records([ok]).images[0].wire["custom"] == ok["custom"]
    for levels in (MAX_DEPTH, 985, 100_000):
        with pytest.raises(RecordError) as info:
            Catalog.from_records([rec(1, custom=nested(levels))])
        assert info.value.field == "custom" and f"deeper than {MAX_DEPTH} levels" in info.value.message


def test_nesting_is_bounded_in_files_and_loading_a_deep_file_is_an_error() -> None:
    deep = json.dumps(rec(1, custom=nested(MAX_DEPTH)))
    with pytest.raises(RecordError, match="deeper than 64 levels"):
        load(io.StringIO(deep))


def test_a_loaded_record_pages_from_a_deep_stack() -> None:
    """A web handler calls from 60-120 frames deep: an accepted record must
    still page, on SQL too, from close to the recursion limit."""
    import sqlite3
    import sys

    from imgfilter import db

    cat = Catalog.from_records([rec(1, custom=nested(MAX_DEPTH - 1))])
    conn = sqlite3.connect(":memory:")
    db.load_catalog(conn, cat)

    def at_depth(n: int) -> list[str]:
        return at_depth(n - 1) if n else db.run(conn, "").ids

    depth = sys.getrecursionlimit() - 200
    assert at_depth(depth) == [uid(1)]


@pytest.mark.parametrize("item", [("pos", rec(1), "extra"), (1, rec(1)), ("only",), ()])
def test_from_records_takes_records_or_position_pairs(item: tuple[Any, ...]) -> None:
    with pytest.raises(RecordError) as info:
        Catalog.from_records([item])
    assert info.value.position == "record 1"
    assert Catalog.from_records([("line 7", rec(1))]).images[0].id == uid(1)


def test_from_records_with_a_non_string_key_is_a_record_error() -> None:
    with pytest.raises(RecordError) as info:
        Catalog.from_records([{"id": uid(1), 7: "x"}])
    assert info.value.image_id == uid(1)
    assert info.value.message == "the key 7 is not a string"
    with pytest.raises(RecordError):
        Catalog.from_records([{"id": uid(1), ("a", "b"): "x"}])


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85"])
def test_json_lines_split_on_newlines_only(sep: str) -> None:
    """str.splitlines() also splits at these; JSON allows them raw inside strings."""
    first, second = rec(1, name=f"a{sep}b"), rec(2, name="c")
    for newline in ("\n", "\r\n"):
        text = json.dumps(first, ensure_ascii=False) + newline + json.dumps(second, ensure_ascii=False) + newline
        cat = load(io.StringIO(text))
        assert [img.wire["name"] for img in cat.images] == [f"a{sep}b", "c"]

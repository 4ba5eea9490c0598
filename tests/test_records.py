"""Loading image records: formats, normalization once, and clear errors."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

import imgfilter
from imgfilter import Context
from imgfilter.io.catalog import API_EXAMPLE, SIZE, bundled, generate
from imgfilter.io.records import Catalog, RecordError, load, split_tag

from .fixtures import RECORDS, uid
from .helpers import local_time_zone


def test_saved_api_response_array_and_json_lines(tmp_path: Path) -> None:
    doc = tmp_path / "resp.json"
    doc.write_text(json.dumps({"images": RECORDS}))
    arr = tmp_path / "arr.json"
    arr.write_text(json.dumps(RECORDS))
    lines = tmp_path / "recs.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n\n")
    for path in (doc, arr, lines):
        cat = load(path)
        assert [img.raw for img in cat.images] == RECORDS
    assert len(load(io.StringIO(json.dumps(RECORDS[:2])))) == 2
    assert len(load(io.StringIO(""))) == 0


def test_normalized_once_at_load() -> None:
    cat = Catalog.from_records(RECORDS)
    one, two, three = cat.images[:3]
    assert two.values["created_at"] == dt.datetime(2018, 9, 6, 14, 3, 27, tzinfo=dt.UTC)
    assert three.values["updated_at"] == dt.datetime(2019, 1, 1, tzinfo=dt.UTC)  # no offset: UTC
    assert (one.values["protected"], two.values["protected"], three.values["protected"]) == (True, True, False)
    assert three.tags == {("k", "v"), ("legacy", "x.y")}
    assert three.members == {"project2": "pending"}
    assert "__support_s4l" in three.flags
    assert cat.images[3].values["enterprise_project_id"] == "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    assert cat.images[4].values["size"] is None


@pytest.mark.parametrize(("tag", "split"), [
    ("k=v", ("k", "v")), ("k=", ("k", "")), ("k", ("k", "")), ("a.b", ("a", "b")),
    ("a.b=c", ("a.b", "c")), ("a.b.c", ("a", "b.c")), ("k=v=w", ("k", "v=w")),
])
def test_stored_tag_forms(tag: str, split: tuple[str, str]) -> None:
    assert split_tag(tag) == split


@pytest.mark.parametrize(("record", "where", "field"), [
    ({"id": uid(1), "created_at": "yesterday"}, "record 1", "created_at"),
    ({"id": uid(1), "created_at": "2018-02-30T00:00:00Z"}, "record 1", "created_at"),
    ({"id": uid(1), "created_at": "0999-12-31T00:00:00Z"}, "record 1", "created_at"),
    ({"id": uid(1), "updated_at": "9999-12-31T23:00:00-05:00"}, "record 1", "updated_at"),
    ({"id": uid(1), "min_ram": "512"}, "record 1", "min_ram"),
    ({"id": uid(1), "min_ram": 1.5}, "record 1", "min_ram"),
    ({"id": uid(1), "protected": "yes"}, "record 1", "protected"),
    ({"id": uid(1), "name": ["x"]}, "record 1", "name"),
    ({"id": uid(1), "tags": "a=b"}, "record 1", "tags"),
    ({"id": uid(1), "members": [{"member_id": "p", "status": "maybe"}]}, "record 1", "members"),
    ({"name": "no id"}, "record 1", "id"),
    ({"id": "not-a-uuid"}, "record 1", "id"),
])
def test_unusable_records_are_errors(record: dict[str, object], where: str, field: str) -> None:
    with pytest.raises(RecordError) as info:
        Catalog.from_records([record])
    e = info.value
    assert (e.position, e.field) == (where, field)
    if field != "id":
        assert e.image_id == uid(1)
        assert uid(1) in str(e)


def test_duplicate_ids_name_both_places() -> None:
    with pytest.raises(RecordError) as info:
        Catalog.from_records([RECORDS[0], RECORDS[1], {"id": uid(1).upper()}])
    assert info.value.position == "record 3"
    assert "record 1" in str(info.value)


def test_json_lines_errors_say_the_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps(RECORDS[0]) + "\n" + json.dumps({"id": uid(9), "size": "big"}) + "\n")
    with pytest.raises(RecordError) as info:
        load(p)
    assert info.value.position == "line 2"
    p.write_text(json.dumps(RECORDS[0]) + "\n{oops\n")
    with pytest.raises(RecordError, match="line 2"):
        load(p)


def test_not_json_and_wrong_shapes(tmp_path: Path) -> None:
    for text in ("[1, 2", "42", '{"images": 3}', "[3]", "[" * 100_000 + "]" * 100_000, "[" + "9" * 5000 + "]",
                 '{"id": 1}\n' + "[" * 100_000):
        with pytest.raises(RecordError):
            load(io.StringIO(text))
    with pytest.raises(RecordError, match="cannot read"):
        load(tmp_path / "missing.json")
    bom = tmp_path / "bom.json"
    bom.write_text(json.dumps(RECORDS[:1]), encoding="utf-8-sig")
    assert len(load(bom)) == 1


def test_bundled_catalog_is_deterministic_and_rich() -> None:
    records = generate()
    assert records == generate()
    assert len(records) == SIZE
    assert records[:2] == API_EXAMPLE
    cat = bundled()
    values = [img.values for img in cat.images]
    assert {v["__platform"] for v in values} >= {"Windows", "Ubuntu", "RedHat", "Red Hat", "SUSE", "CentOS",
                                                 "Debian", "OpenSUSE", "Oracle Linux", "Fedora", "Other",
                                                 "CoreOS", "EulerOS"}
    assert {v["status"] for v in values} == {"queued", "saving", "deleted", "killed", "active"}
    assert {v["disk_format"] for v in values} == {"vhd", "zvhd", "zvhd2", "raw", "qcow2", "iso"}
    assert {v["__imagetype"] for v in values} == {"gold", "private", "shared", "market"}
    statuses = {s for img in cat.images for s in img.members.values()}
    assert statuses == {"accepted", "rejected", "pending"}
    assert any(v["enterprise_project_id"] is None for v in values)
    assert any(v["enterprise_project_id"] == "0" for v in values)
    raw_tags = [t for img in cat.images for t in img.raw.get("tags", [])]
    assert any("=" in t for t in raw_tags) and any("=" not in t and "." in t for t in raw_tags)
    for flag in ("__support_kvm", "__support_xen", "__support_largememory", "__support_diskintensive",
                 "__support_highperformance", "__support_xen_hana", "__support_kvm_infiniband"):
        assert any(v[flag] for v in values), flag
    assert any("__support_s4l" in img.flags for img in cat.images)
    for key in ("name", "disk_format", "status", "size", "created_at"):
        seen = [v[key] for v in values if v[key] is not None]
        assert len(seen) > len(set(seen)), f"no ties in {key}"
    assert any(v["size"] is None for v in values) and any(v["name"] is None for v in values)
    years = {v["created_at"].year for v in values if v["created_at"]}
    assert len(years) >= 8


# ---- record validation: shapes, limits and the error a user reads ----------------------


def _error(record: object) -> RecordError:
    with pytest.raises(RecordError) as info:
        Catalog.from_records([record])
    return info.value


@pytest.mark.parametrize("members", [5, {}, "project1", {"member_id": "p", "status": "accepted"}])
def test_members_must_be_a_list(members: object) -> None:
    e = _error({"id": uid(1), "members": members})
    assert (e.position, e.image_id, e.field) == ("record 1", uid(1), "members")
    assert e.message == "must be a list of {member_id, status}"


@pytest.mark.parametrize("member", [
    5, {"member_id": 5, "status": "accepted"}, {"status": "accepted"}, {"member_id": "p"},
    {"member_id": "p", "status": "Accepted"},
])
def test_each_member_is_an_id_and_a_status(member: object) -> None:
    e = _error({"id": uid(1), "members": [member]})
    assert e.field == "members"
    assert e.message == f"{member!r} is not {{\"member_id\": ..., \"status\": accepted|rejected|pending}}"


def test_member_ids_are_bounded_and_listed_once() -> None:
    e = _error({"id": uid(1), "members": [{"member_id": "p" * 256, "status": "accepted"}]})
    assert (e.field, e.message) == ("members", "member_id is 256 characters long; at most 255")
    e = _error({"id": uid(1), "members": [{"member_id": "p", "status": "accepted"},
                                          {"member_id": "p", "status": "pending"}]})
    assert (e.field, e.message) == ("members", "member 'p' is listed twice")
    ok = Catalog.from_records([{"id": uid(1), "members": [{"member_id": "p" * 255, "status": "pending"}]}])
    assert ok.images[0].members == {"p" * 255: "pending"}


@pytest.mark.parametrize(("value", "message"), [
    ("a\x00b", "contains a NUL character, which PostgreSQL cannot store"),
    ("a\ud800b", "contains a lone surrogate U+D800, which is not Unicode text and no database stores"),
    (["ok", "a\x00b"], "[1]: the value contains a NUL character, which PostgreSQL cannot store"),
    ({"k": {"j": "\udfff"}}, "['k']['j']: the value contains a lone surrogate U+DFFF, which is not Unicode text "
                             "and no database stores"),
    (float("nan"), "nan is not a finite number, which JSON cannot hold"),
    ({1: "x"}, "[1]: the key 1 is not a string"),
    ({"a\x00": "x"}, "['a\\x00']: the key contains a NUL character, which PostgreSQL cannot store"),
    (2**4096, "an integer of 4097 bits is too large (at most 4096)"),
    ({1, 2}, "a set is not a JSON value"),
    ({"k": {1, 2}}, "['k']: a set is not a JSON value"),  # nested: the one-pass check must not let it through
    ([None, True, b"x"], "[2]: a bytes is not a JSON value"),
])
def test_a_custom_field_that_no_database_stores(value: object, message: str) -> None:
    e = _error({"id": uid(1), "custom": value})
    assert (e.position, e.image_id, e.field) == ("record 1", uid(1), "custom")
    assert e.message.endswith(message)
    assert e.message == ("the value " + message if message.startswith("contains") else message)


def test_a_key_that_no_database_stores_names_no_field_when_it_is_not_text() -> None:
    e = _error({"id": uid(1), 7: "x"})
    assert (e.field, e.message) == (None, "the key 7 is not a string")
    assert str(e) == f"record 1 (id {uid(1)}): the key 7 is not a string"
    e = _error({"id": uid(1), "bad\x00key": "x"})
    assert (e.field, e.message) == ("bad\x00key", "the key contains a NUL character, which PostgreSQL cannot store")


def test_largest_integers_are_kept() -> None:
    big = 2**4096 - 1  # 4096 bits: the largest allowed
    img = Catalog.from_records([{"id": uid(1), "custom": big, "deep": [[{"n": -big}]]}]).images[0]
    assert img.wire["custom"] == big and img.wire["deep"] == [[{"n": -big}]]
    assert img.props["custom"] == str(big)


def test_json_true_and_false_custom_fields_are_text_true_and_false() -> None:
    img = Catalog.from_records([{"id": uid(1), "yes": True, "no": False, "n": 1.5, "i": -3,
                                 "s": "TRUE", "nothing": None, "list": [1], "obj": {"a": 1}}]).images[0]
    assert img.props == {"yes": "true", "no": "false", "n": "1.5", "i": "-3", "s": "TRUE"}
    assert img.flags == {"yes", "s"}
    assert img.wire["yes"] is True and img.wire["no"] is False and img.wire["nothing"] is None
    assert img.wire["list"] == [1] and img.wire["obj"] == {"a": 1}


def test_property_filters_read_json_true_as_true() -> None:
    catalog = Catalog.from_records([{"id": uid(1), "__lazy": True}, {"id": uid(2), "__lazy": False},
                                    {"id": uid(3), "__lazy": "TRUE"}, {"id": uid(4)}])
    opts = imgfilter.Options(unknown="property")
    # JSON true is the text "true"; a custom string is compared as written
    assert imgfilter.run("__lazy=true", catalog, Context(is_admin=True), opts).ids == [uid(1)]
    assert imgfilter.run("__lazy=TRUE", catalog, Context(is_admin=True), opts).ids == [uid(3)]
    assert imgfilter.run("__lazy=false", catalog, Context(is_admin=True), opts).ids == [uid(2)]


def test_property_names_longer_than_255_characters_are_not_properties() -> None:
    at_limit, over = "p" * 255, "q" * 256
    img = Catalog.from_records([{"id": uid(1), at_limit: "x", over: "y"}]).images[0]
    assert img.props == {at_limit: "x"}
    assert img.wire[over] == "y"  # still shown in responses


@pytest.mark.parametrize(("value", "kept"), [
    (-(2**63), True), (2**63 - 1, True), (-(2**63) - 1, False), (2**63, False),
])
def test_integer_fields_hold_64_bits(value: int, kept: bool) -> None:
    record = {"id": uid(1), "min_ram": value}
    if kept:
        assert Catalog.from_records([record]).images[0].values["min_ram"] == value
    else:
        e = _error(record)
        assert (e.field, e.message) == ("min_ram", f"{value} is out of the 64-bit range")


@pytest.mark.parametrize(("value", "message"), [
    (True, "True is not an integer"), ("512", "'512' is not an integer"), (1.0, "1.0 is not an integer"),
])
def test_integer_fields_take_json_integers_only(value: object, message: str) -> None:
    e = _error({"id": uid(1), "min_disk": value})
    assert (e.field, e.message) == ("min_disk", message)


def test_typed_text_fields_hold_255_characters() -> None:
    assert Catalog.from_records([{"id": uid(1), "name": "n" * 255}]).images[0].values["name"] == "n" * 255
    e = _error({"id": uid(1), "name": "n" * 256})
    assert (e.field, e.message) == ("name", "is 256 characters long; at most 255")
    e = _error({"id": uid(1), "tags": ["t" * 256]})
    assert (e.field, e.message) == ("tags", f"tag {'t' * 40!r}: is 256 characters long; at most 255")
    e = _error({"id": uid(1), "tags": ["ok", 5]})
    assert (e.field, e.message) == ("tags", "must be a list of strings")


def test_record_error_text_and_ims_body() -> None:
    e = _error({"id": uid(1).upper(), "protected": "yes"})
    assert (e.position, e.image_id, e.field) == ("record 1", uid(1), "protected")
    assert str(e) == f"record 1 (id {uid(1)}): field 'protected': 'yes' is not a boolean (true/false)"
    assert e.to_ims() == {"error": {"code": "IMG.0001", "message": str(e)}}
    assert isinstance(e, ValueError)
    e = _error({"name": "x"})
    assert str(e) == "record 1: field 'id': missing"
    e = _error({"id": "x-1"})
    assert str(e) == "record 1: field 'id': 'x-1' is not a UUID"
    e = _error(["not", "a", "record"])
    assert (e.image_id, e.field) == (None, None)
    assert str(e) == "record 1: a record must be a JSON object, not list"


def test_errors_say_which_record_in_every_input_form(tmp_path: Path) -> None:
    bad = {"id": uid(2), "size": "big"}
    forms = {
        json.dumps({"images": [RECORDS[0], bad]}): "images[1]",
        json.dumps([RECORDS[0], bad]): "item 1",
        json.dumps(RECORDS[0]) + "\n\n" + json.dumps(bad) + "\n": "line 3",
        json.dumps(bad): "line 1",
    }
    for text, position in forms.items():
        with pytest.raises(RecordError) as info:
            load(io.StringIO(text))
        assert (info.value.position, info.value.field) == (position, "size")
        assert str(info.value).startswith(f"{position} (id {uid(2)}): field 'size': ")
    with pytest.raises(RecordError) as info:
        Catalog.from_records([("from the caller", RECORDS[0]), ("second", {"id": uid(1)})])
    assert str(info.value) == f"second (id {uid(1)}): field 'id': duplicate id: also from the caller"


@pytest.mark.parametrize(("item", "message"), [
    (("a", "b", "c"), "expected a record or a (position, record) pair, not a 3-tuple"),
    ((1, RECORDS[0]), "expected a record or a (position, record) pair, not a 2-tuple whose position is not a string"),
])
def test_position_pairs_are_checked(item: tuple[object, ...], message: str) -> None:
    e = _error(item)
    assert (e.position, e.field, e.message) == ("record 1", None, message)


@pytest.mark.parametrize(("text", "position", "message"), [
    ("[1, 2", "line 1 column 6", "not JSON: Expecting ',' delimiter"),
    ("42", "document", "expected {\"images\": [...]}, a JSON array or JSON Lines"),
    ('{"images": 3}', "document", "must be a list"),
    (json.dumps(RECORDS[0]) + '\n{oops\n', "line 2", "not JSON: Expecting property name enclosed in double quotes"),
])
def test_document_errors_say_where(text: str, position: str, message: str) -> None:
    with pytest.raises(RecordError) as info:
        load(io.StringIO(text))
    assert (info.value.position, info.value.message) == (position, message)


# ---- what a mutation run of records.py found untested ------------------------------------


def test_time_range_bounds_are_inclusive() -> None:
    cat = Catalog.from_records([{"id": uid(1), "created_at": "1000-01-01T00:00:00Z",
                                 "updated_at": "9999-12-31T23:59:59.999999Z"}])
    assert cat.images[0].values["created_at"] == dt.datetime(1000, 1, 1, tzinfo=dt.UTC)
    assert cat.images[0].values["updated_at"] == dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
    e = _error({"id": uid(1), "created_at": "0999-12-31T23:59:59Z"})
    assert e.message == ("'0999-12-31T23:59:59Z' is not an ISO 8601 time (outside the years 1000 to 9999 (UTC) "
                         "that every database stores)")


def test_times_are_read_as_utc_whatever_the_machine_zone() -> None:
    """Without an offset a time is UTC; with one it is converted to UTC (record 1's
    spellings go through dateutil, record 2's the quick path reads itself)."""
    with local_time_zone("CST-8"):  # POSIX form: UTC+8, no zone database needed
        img, fast = Catalog.from_records([
            {"id": uid(1), "created_at": "2019-01-01 00:00:00", "updated_at": "2019-01-01 08:00:00+08:00"},
            {"id": uid(2), "created_at": "2019-01-01T00:00:00"},  # the form the quick path reads itself
        ]).images
    assert fast.values["created_at"] == dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
    assert fast.wire["created_at"] == "2019-01-01T00:00:00Z"
    assert img.values["created_at"] == dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
    assert img.values["created_at"].utcoffset() == dt.timedelta(0)
    assert img.values["updated_at"] == dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
    assert img.values["updated_at"].utcoffset() == dt.timedelta(0)  # a time with an offset: in UTC too
    assert img.wire["created_at"] == img.wire["updated_at"] == "2019-01-01T00:00:00Z"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", ["x"], "['x'] is not a string"),
    ("created_at", 5, "5 is not an ISO 8601 time string"),
    ("protected", "yes", "'yes' is not a boolean (true/false)"),
])
def test_type_errors_say_what_the_value_is(field: str, value: object, message: str) -> None:
    assert _error({"id": uid(1), field: value}).message == message
    assert _error({"id": uid(1), "created_at": "yesterday"}).message.startswith(
        "'yesterday' is not an ISO 8601 time (")


def test_unlisted_support_flags_are_written_true_or_false() -> None:
    img = Catalog.from_records([{"id": uid(1), "__support_foo": False, "__support_bar": "FALSE",
                                 "__support_baz": True, "__support_text": "maybe"}]).images[0]
    assert img.wire["__support_foo"] == img.wire["__support_bar"] == "false"
    assert img.wire["__support_baz"] == "true" and img.wire["__support_text"] == "maybe"
    assert img.flags == {"__support_baz"}


def test_response_only_text_fields_are_not_bounded() -> None:
    long = "d" * 300  # longer than a typed field may be: only response fields, never indexed
    img = Catalog.from_records([{"id": uid(1), "__description": long, "checksum": 7}]).images[0]
    assert img.wire["__description"] == long and img.wire["checksum"] == "7"
    e = _error({"id": uid(1), "virtual_size": "big"})
    assert (e.field, e.message) == ("virtual_size", "'big' is not an integer")


def test_tag_and_member_errors_name_the_image() -> None:
    for record in ({"id": uid(3), "tags": ["t" * 256]},
                   {"id": uid(3), "members": [{"member_id": "p" * 256, "status": "accepted"}]},
                   {"id": uid(3), "members": [{"member_id": "p", "status": "accepted"}] * 2}):
        e = _error(record)
        assert e.image_id == uid(3) and f"(id {uid(3)})" in str(e)


def test_json_lines_may_start_with_blank_lines() -> None:
    text = "\n  \n" + json.dumps(RECORDS[0]) + "\n" + json.dumps(RECORDS[1]) + "\n"
    assert [img.id for img in load(io.StringIO(text)).images] == [RECORDS[0]["id"], RECORDS[1]["id"]]


@pytest.mark.parametrize("junk", ["\x0c", "\u2028", "X", "\x0b"])
def test_a_line_that_is_not_json_is_an_error_not_blank(junk: str) -> None:
    with pytest.raises(RecordError) as info:
        load(io.StringIO(json.dumps(RECORDS[0]) + "\n" + junk + "\n"))
    assert info.value.position == "line 2" and info.value.message.startswith("not JSON: ")


def test_two_arrays_are_not_json_lines() -> None:
    with pytest.raises(RecordError) as info:
        load(io.StringIO("[]\n[]\n"))
    assert (info.value.position, info.value.message) == ("line 2 column 1", "not JSON: Extra data")


def test_unusable_json_says_where() -> None:
    with pytest.raises(RecordError) as info:
        load(io.StringIO("[" + "9" * 5000 + "]"))
    assert info.value.position == "document" and info.value.field is None
    assert info.value.message.startswith("not usable JSON: ")
    with pytest.raises(RecordError) as info:
        load(io.StringIO(json.dumps(RECORDS[0]) + "\n" + "[" * 100_000 + "\n"))
    assert (info.value.position, info.value.image_id, info.value.field) == ("line 2", None, None)
    assert info.value.message.startswith("not usable JSON: ")
    with pytest.raises(RecordError) as info:
        load(io.StringIO('{"images": 3}'))
    assert (info.value.field, str(info.value)) == ("images", "document: field 'images': must be a list")


def test_load_reads_stdin_files_and_a_bom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(RECORDS[:2])))
    assert len(load("-")) == 2
    assert len(load(io.StringIO("\ufeff" + json.dumps(RECORDS[:3])))) == 3
    missing = tmp_path / "missing.json"
    with pytest.raises(RecordError) as info:
        load(missing)
    assert info.value.position == str(missing) and info.value.message.startswith("cannot read: ")
    with pytest.raises(RecordError) as info:
        load(str(missing))
    assert info.value.position == str(missing)


def test_nested_errors_give_the_whole_path() -> None:
    e = _error({"id": uid(1), "custom": ["ok", [1, "a\x00"]]})
    assert e.message == "[1][1]: the value contains a NUL character, which PostgreSQL cannot store"
    e = _error({"id": uid(1), "custom": [{"k": [float("inf")]}]})
    assert e.message == "[0]['k'][0]: inf is not a finite number, which JSON cannot hold"


def test_fields_after_a_list_or_object_are_still_properties() -> None:
    img = Catalog.from_records([{"id": uid(1), "obj": {"a": 1}, "name": "n", "list": [], "later": "x",
                                 "__support_later": "true"}]).images[0]
    assert img.props == {"later": "x", "__support_later": "true"}
    assert img.flags == {"__support_later"}

"""Loading image records: formats, normalization once, and clear errors."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from imgfilter.catalog import API_EXAMPLE, SIZE, bundled, generate
from imgfilter.records import Catalog, RecordError, load, split_tag

from .fixtures import RECORDS, uid


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

"""Record validation as a user meets it (issue 16, item 6), asserted only
through the public API -- ``Catalog.from_records``, ``load``, the text and
``to_ims()`` body of ``RecordError`` and the images a query returns -- so these
tests hold whatever ``records.py`` keeps inside.

``tests/test_records.py`` covers the same cases through the record module's
internals too; this module is the part that must survive a rewrite of it.
"""

from __future__ import annotations

import io
import json

import pytest

import imgfilter
from imgfilter import Catalog, Context, Options, RecordError, load_records

from .fixtures import RECORDS, uid

ADMIN = Context(is_admin=True)
PROPERTY = Options(unknown="property")


def _refused(record: object) -> RecordError:
    with pytest.raises(RecordError) as info:
        Catalog.from_records([record])
    return info.value


def _ids(query: str, records: list[dict[str, object]]) -> list[str]:
    return imgfilter.run(query, Catalog.from_records(records), ADMIN, PROPERTY).ids


@pytest.mark.parametrize("members", [5, {}])
def test_members_that_are_no_list_are_refused_with_the_record_and_field(members: object) -> None:
    e = _refused({"id": uid(1), "members": members})
    assert str(e) == f"record 1 (id {uid(1)}): field 'members': must be a list of {{member_id, status}}"
    assert e.to_ims() == {"error": {"code": "IMG.0001", "message": str(e)}}


def test_an_empty_member_list_shares_with_nobody() -> None:
    def shared_with_p(members: object) -> list[str]:
        records = [{"id": uid(1), "owner": "o", "visibility": "shared", "__isregistered": True,
                    "members": members}]
        return imgfilter.run("visibility=shared&member_status=accepted", Catalog.from_records(records),
                             Context(project_id="p")).ids

    assert shared_with_p([{"member_id": "p", "status": "accepted"}]) == [uid(1)]
    assert shared_with_p([]) == []


@pytest.mark.parametrize(("value", "where"), [("a\x00b", ""), (["ok", "a\x00"], "[1]: "),
                                              ({"k": "\x00"}, "['k']: ")])
def test_a_nul_in_a_custom_string_is_refused(value: object, where: str) -> None:
    e = _refused({"id": uid(1), "custom": value})
    assert str(e) == (f"record 1 (id {uid(1)}): field 'custom': {where}the value contains a NUL character, "
                      "which PostgreSQL cannot store")


def test_json_true_and_false_custom_fields_match_true_and_false() -> None:
    records: list[dict[str, object]] = [{"id": uid(1), "lazy": True}, {"id": uid(2), "lazy": False},
                                        {"id": uid(3), "lazy": "false"}, {"id": uid(4)}]
    assert _ids("lazy=true", records) == [uid(1)]
    assert sorted(_ids("lazy=false", records)) == [uid(2), uid(3)]
    page = imgfilter.run("lazy=true", Catalog.from_records(records), ADMIN, PROPERTY)
    assert page.images[0]["lazy"] is True  # the response keeps the JSON value


def test_a_property_name_of_255_characters_is_queryable_and_one_of_256_is_not() -> None:
    at_limit, over = "p" * 255, "q" * 256
    records: list[dict[str, object]] = [{"id": uid(1), at_limit: "x", over: "y"}]
    assert _ids(f"{at_limit}=x", records) == [uid(1)]
    assert _ids(f"{over}=y", records) == []
    assert imgfilter.run("", Catalog.from_records(records), ADMIN).images[0][over] == "y"  # still shown


@pytest.mark.parametrize("value", [-(2**63), 2**63 - 1])
def test_integer_fields_keep_the_64_bit_bounds(value: int) -> None:
    page = imgfilter.run("", Catalog.from_records([{"id": uid(1), "min_ram": value}]), ADMIN)
    assert page.images[0]["min_ram"] == value


@pytest.mark.parametrize("value", [-(2**63) - 1, 2**63])
def test_integer_fields_refuse_one_past_the_64_bit_bounds(value: int) -> None:
    e = _refused({"id": uid(1), "min_ram": value})
    assert str(e) == f"record 1 (id {uid(1)}): field 'min_ram': {value} is out of the 64-bit range"


@pytest.mark.parametrize(("text", "label"), [
    (json.dumps({"images": [RECORDS[0], {"id": uid(2), "size": "big"}]}), "images[1]"),
    (json.dumps([RECORDS[0], {"id": uid(2), "size": "big"}]), "item 1"),
    (json.dumps(RECORDS[0]) + "\n\n" + json.dumps({"id": uid(2), "size": "big"}) + "\n", "line 3"),
])
def test_a_load_error_names_the_record_by_its_place_in_the_input(text: str, label: str) -> None:
    with pytest.raises(RecordError) as info:
        load_records(io.StringIO(text))
    e = info.value
    assert str(e).startswith(f"{label} (id {uid(2)}): field 'size': ")
    assert e.to_ims() == {"error": {"code": "IMG.0001", "message": str(e)}}
    assert isinstance(e, ValueError)


def test_an_error_without_an_id_or_a_field_says_so() -> None:
    assert str(_refused({"name": "x"})) == "record 1: field 'id': missing"
    assert str(_refused(["not", "a", "record"])) == "record 1: a record must be a JSON object, not list"
    with pytest.raises(RecordError) as info:
        Catalog.from_records([{"id": uid(1)}, {"id": uid(1).upper()}])
    assert str(info.value) == f"record 2 (id {uid(1)}): field 'id': duplicate id: also record 1"

"""Semantics §2–§6 through every target (memory, SQLite, PostgreSQL, MariaDB) on hand-written records."""

from __future__ import annotations

import pytest

import imgfilter
from imgfilter import Context, Flavor, Options, QueryError
from imgfilter.io.records import Catalog
from imgfilter.targets.memory import compile_query

from .fixtures import EP1, EP2, P1, P2, P3, RECORDS, uid
from .targets import Target


def ids(target: Target, query: str, context: Context | None = None, options: Options | None = None) -> set[int]:
    page = target(query + ("&" if query else "") + "sort_key=id&sort_dir=asc", context, options)
    return {int(i.rsplit("-", 1)[1]) for i in page.ids}


def test_plain_equality(target: Target) -> None:
    assert ids(target, "status=active") == {1, 2, 4, 6, 8}
    assert ids(target, "__imagetype=gold") == {1, 2}
    assert ids(target, "name=shared+one") == {4, 5}  # exact: not 'shared one ' nor 'Shared one'
    assert ids(target, "name=shared+one%20") == {7}
    assert ids(target, "owner=project1") == {3, 4}
    assert ids(target, "min_ram=0") == {2}
    assert ids(target, "min_disk=40") == {1, 4}
    assert ids(target, "disk_format=raw&container_format=bare") == set()
    assert ids(target, "__os_bit=64&__os_type=Linux") == {1}
    assert ids(target, "virtual_env_type=FusionCompute") == {1}
    assert ids(target, "architecture=arm") == {2}
    assert ids(target, "__os_version=Ubuntu+22.04") == {7}
    assert ids(target, "__system__cmkid=cmk-1") == {8}
    assert ids(target, "__support_kvm_gpu_type=V100") == {8}


def test_id_any_case(target: Target) -> None:
    assert ids(target, f"id={uid(3).upper()}") == {3}


def test_booleans_in_either_spelling(target: Target) -> None:
    assert ids(target, "protected=true") == {1, 2}
    assert ids(target, "protected=FALSE") == {3}  # missing is neither true nor false
    assert ids(target, "__isregistered=false") == {6}
    assert ids(target, "__whole_image=false") == {7}


def test_support_flags(target: Target) -> None:
    assert ids(target, "__support_kvm=true") == {1}
    assert ids(target, "__support_xen=true") == {2}
    assert ids(target, "__support_s4l=true") == {3}
    assert ids(target, "__support_xen_gpu_type=M60_vGPU") == {2}


def test_redhat_spellings(target: Target) -> None:
    assert ids(target, "__platform=RedHat") == {2, 3}
    assert ids(target, "__platform=Red%20Hat") == {2, 3}
    assert ids(target, "__platform=CentOS") == {1}


def test_tags(target: Target) -> None:
    # records: 1 k=v; 2 k= ; 3 legacy k.v ; 4 key-only k
    assert ids(target, "tag=k=v") == {1, 3}
    assert ids(target, "tag=k=") == {2, 4}
    assert ids(target, "tag=k") == {1, 2, 3, 4}
    assert ids(target, "tag=legacy=x.y") == {3}
    assert ids(target, "tag=k=v&tag=env=prod") == {1}
    assert ids(target, "tag=k&tag=nothing") == set()


def test_times_with_offsets_and_fractions(target: Target) -> None:
    # 1: 14:03:27Z; 2: 22:03:27+08:00 = 14:03:27Z; 3: 14:03:27.000001Z; 4: 14:03:26.999999Z
    assert ids(target, "created_at=eq:2018-09-06T14:03:27Z") == {1, 2, 8}
    assert ids(target, "created_at=gt:2018-09-06T14:03:27Z") == {3, 7}
    assert ids(target, "created_at=gte:2018-09-06+14:03:27") == {1, 2, 3, 7, 8}
    assert ids(target, "created_at=lt:2018-09-06T14:03:27Z") == {4, 6}
    assert ids(target, "created_at=lte:2018-09-06T22:03:26.999999%2B08:00") == {4, 6}
    assert ids(target, "created_at=gt:2018-01-01T00:00:00Z&created_at=lt:2019-01-01T00:00:00Z") == {1, 2, 3, 4, 8}
    assert ids(target, "updated_at=gte:2019-01-01T00:00:00Z") == {3}


def test_missing_values_match_no_comparison(target: Target) -> None:
    # 5 has no created_at: not equal, not unequal, nothing
    assert 5 not in ids(target, "created_at=neq:2018-09-06T14:03:27Z")
    assert ids(target, "created_at=neq:2018-09-06T14:03:27Z") == {3, 4, 6, 7}
    assert ids(target, "updated_at=neq:2000-01-01T00:00:00Z") == {1, 3}
    assert 5 not in ids(target, "min_ram=0")


def test_enterprise_project(target: Target) -> None:
    # 0: field "0" or missing
    assert ids(target, "enterprise_project_id=0") == {1, 2, 5, 6, 7, 8}
    assert ids(target, f"enterprise_project_id={EP1}") == {3}
    assert ids(target, f"enterprise_project_id={EP2}") == {4}  # stored in upper case
    everything = ids(target, "")
    assert ids(target, "enterprise_project_id=all_granted_eps") == everything
    granted = Context(is_admin=True, granted_eps=frozenset({EP1, "0"}))
    assert ids(target, "enterprise_project_id=all_granted_eps", granted) == {1, 2, 3, 5, 6, 7, 8}
    granted = Context(is_admin=True, granted_eps=frozenset({EP2.upper()}))
    assert ids(target, "enterprise_project_id=all_granted_eps", granted) == {4}


def test_unknown_as_property(target: Target) -> None:
    opts = Options(unknown="property")
    assert ids(target, "custom_prop=blue", options=opts) == {4}
    assert ids(target, "custom_prop=7", options=opts) == {5}
    assert ids(target, "size=5", options=opts) == {3, 7, 8}


def test_flavor(target: Target) -> None:
    opts = Options(flavors={"small": Flavor(ram_mb=1024, disk_gb=40), "big": Flavor(4096, 100)})
    # min_ram/min_disk within the flavor; a missing minimum asks for nothing
    assert ids(target, "flavor_id=small", options=opts) == {3, 4, 5, 6, 7, 8}
    assert ids(target, "flavor_id=big", options=opts) == {1, 2, 3, 4, 5, 6, 7, 8}


# ---- the caller (§5) ----------------------------------------------------------------

def test_scope_no_context_and_admin_see_everything(target: Target) -> None:
    assert ids(target, "") == set(range(1, 9))
    assert ids(target, "", Context(P2, is_admin=True)) == set(range(1, 9))


def test_scope_of_an_ordinary_caller(target: Target) -> None:
    # registered, and public, own, or a member with status accepted
    assert ids(target, "", Context(P1)) == {1, 2, 3, 4, 8}
    assert ids(target, "", Context(P2)) == {1, 2, 4, 7, 8}
    assert ids(target, "", Context(P3)) == {1, 2, 5, 8}
    assert ids(target, "", Context(None)) == {1, 2, 8}


def test_scope_cannot_be_widened(target: Target) -> None:
    assert ids(target, f"owner={P1}", Context(P2)) == {4}
    assert ids(target, "visibility=private", Context(P2)) == {7}


def test_ordinary_caller_asking_unregistered_is_403(target: Target) -> None:
    with pytest.raises(QueryError) as info:
        target("__isregistered=false", Context(P1), None)
    assert info.value.code == "IMG.0026"
    assert info.value.status == 403
    assert ids(target, "__isregistered=false", Context(P1, is_admin=True)) == {6}
    assert ids(target, "__isregistered=true", Context(P1)) == {1, 2, 3, 4, 8}


def test_member_status(target: Target) -> None:
    q = "visibility=shared&member_status="
    assert ids(target, q + "accepted", Context(P2)) == {4}
    assert ids(target, q + "rejected", Context(P2)) == {5}
    assert ids(target, q + "pending", Context(P1)) == {5}
    assert ids(target, q + "rejected", Context(P3)) == {4}
    assert ids(target, q + "pending", Context(P2)) == set()  # 3 is private, not shared
    with pytest.raises(QueryError) as info:
        target(q + "accepted", None, None)
    assert "project" in info.value.errors[0].message
    with pytest.raises(QueryError):
        target("member_status=accepted", Context(P2), None)  # without visibility=shared


# ---- order and pages (§6) -------------------------------------------------------------

def order(target: Target, query: str, context: Context | None = None) -> list[int]:
    return [int(i.rsplit("-", 1)[1]) for i in target(query, context, None).ids]


def test_default_order_is_created_at_desc_missing_last(target: Target) -> None:
    # ties (1, 2, 8 at one instant) broken by id in the same direction; 5 has none
    assert order(target, "") == [7, 3, 8, 2, 1, 4, 6, 5]
    assert order(target, "sort_dir=asc") == [5, 6, 4, 1, 2, 8, 3, 7]


def test_sort_by_name_code_point(target: Target) -> None:
    assert order(target, "sort_key=name&sort_dir=asc") == [1, 3, 2, 8, 4, 5, 7, 6]
    assert order(target, "sort_key=size&sort_dir=asc") == [4, 5, 3, 7, 8, 1, 2, 6]


def test_marker_not_visible_is_img_0027(target: Target) -> None:
    with pytest.raises(QueryError) as info:
        target(f"marker={uid(99)}", None, None)
    assert info.value.code == "IMG.0027"
    with pytest.raises(QueryError) as info:
        target(f"marker={uid(7)}", Context(P1), None)  # exists, but P1 may not see it
    assert info.value.code == "IMG.0027"


def test_marker_need_not_match_the_filters(target: Target) -> None:
    assert order(target, f"status=active&sort_key=id&sort_dir=asc&marker={uid(3)}") == [4, 6, 8]


def test_limit_and_next_marker(target: Target) -> None:
    page = target("sort_key=id&sort_dir=asc&limit=3", None, None)
    assert page.next_marker == uid(3)
    page = target(f"sort_key=id&sort_dir=asc&limit=5&marker={uid(3)}", None, None)
    assert page.next_marker is None and len(page.ids) == 5
    assert target("limit=0", None, None).ids == []
    last = target(f"sort_key=id&sort_dir=asc&limit=2&marker={uid(6)}", None, None)
    assert last.next_marker is None  # exactly `limit` left: no next page


def walk(target: Target, query: str, limit: int, context: Context | None = None) -> list[str]:
    seen: list[str] = []
    marker = None
    for _ in range(100):
        q = f"{query}&limit={limit}" + (f"&marker={marker}" if marker else "")
        page = target(q, context, None)
        assert len(page.ids) <= limit
        seen.extend(page.ids)
        marker = page.next_marker
        if marker is None:
            return seen
    raise AssertionError("the page walk did not end")


@pytest.mark.parametrize("key", ["name", "container_format", "disk_format", "status", "id", "size", "created_at"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_page_walks_yield_every_match_once_in_order(target: Target, key: str, direction: str) -> None:
    query = f"sort_key={key}&sort_dir={direction}"
    full = target(query, None, None).ids
    for limit in (1, 2, 7):
        assert walk(target, query, limit) == full
    scoped = target(query, Context(P2), None).ids
    assert walk(target, query, 2, Context(P2)) == scoped


def test_marker_whose_sort_value_is_missing(target: Target) -> None:
    # 5 has no size and no created_at
    for key in ("size", "created_at"):
        for direction in ("asc", "desc"):
            full = target(f"sort_key={key}&sort_dir={direction}", None, None).ids
            at = full.index(uid(5))
            after = target(f"sort_key={key}&sort_dir={direction}&marker={uid(5)}", None, None).ids
            assert after == full[at + 1:]


def test_records_come_back_in_wire_form(target: Target) -> None:
    page = target(f"id={uid(2)}", None, None)
    wire = Catalog.from_records(RECORDS).by_id[uid(2)].wire  # semantics §8: tests/test_wire.py
    assert page.images == (wire,)
    assert page.to_response() == {"images": [wire], "page_info": {"next_marker": None}}


# ---- memory-only -------------------------------------------------------------------------

def test_compiled_plan_is_cached_and_reusable() -> None:
    q = imgfilter.check("status=active")
    assert compile_query(q, Context(P1)) is compile_query(q, Context(P1))
    cat = Catalog.from_records(RECORDS)
    plan = compile_query(q, None)
    assert [img.id for img in cat.images if plan.predicate(img)] == [uid(n) for n in (1, 2, 4, 6, 8)]


def test_query_values_are_never_in_the_generated_source() -> None:
    evil = "x')or(True)#"
    q = imgfilter.check(f"name={evil}")
    plan = compile_query(q, None)
    assert evil not in (plan.predicate.__doc__ or "")
    assert not [img for img in Catalog.from_records(RECORDS).images if plan.predicate(img)]

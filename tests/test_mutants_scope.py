"""What a mutation run of scope.py found unasserted: the IMG.0027 error a
caller reads when its marker names no image it may see (every target)."""

from __future__ import annotations

import pytest

from imgfilter import Context, QueryError

from .fixtures import P1, uid
from .targets import Target


@pytest.mark.parametrize("context", [None, Context(P1)])
def test_marker_not_found_says_which_marker_and_what_to_do(target: Target, context: Context | None) -> None:
    marker = uid(99) if context is None else uid(7)  # no such image; an image P1 may not see
    query = f"limit=2&marker={marker}"
    with pytest.raises(QueryError) as info:
        target(query, context, None)
    [e] = info.value.errors
    assert (e.code, e.param, e.value, e.status) == ("IMG.0027", "marker", marker, 400)
    assert e.message == f"marker: no image {marker} among the images you may see"
    assert e.hint == "pass the next_marker of the previous page, or leave marker out"
    assert query[e.span.start:e.span.end] == f"marker={marker}"


@pytest.mark.parametrize("context", [None, Context(is_admin=True)])
def test_member_status_without_a_caller_project_is_a_clear_error(target: Target, context: Context | None) -> None:
    query = "visibility=shared&member_status=pending"
    with pytest.raises(QueryError) as info:
        target(query, context, None)
    [e] = info.value.errors
    assert (e.code, e.param, e.value, e.status) == ("IMG.0001", "member_status", "pending", 400)
    assert e.message == "member_status: needs the caller's project, and the context names none"
    assert e.hint == "the embedding service passes Context(project_id=...) (CLI: --project)"
    assert query[e.span.start:e.span.end] == "member_status=pending"
    assert info.value.render().splitlines()[2:4] == [f"  | {query}", "  | " + " " * 18 + "^" * 21]


def test_an_ordinary_caller_asking_unregistered_images_gets_403(target: Target) -> None:
    query = "name=x&__isregistered=false"
    with pytest.raises(QueryError) as info:
        target(query, Context(P1), None)
    [e] = info.value.errors
    assert (e.code, e.param, e.value, e.status, info.value.status) == ("IMG.0026", "__isregistered", "false", 403, 403)
    assert e.message == "__isregistered: ordinary users can only query registered images"
    assert e.hint == "omit __isregistered, or ask true"
    assert query[e.span.start:e.span.end] == "__isregistered=false"


def test_both_context_errors_are_reported_together(target: Target) -> None:
    with pytest.raises(QueryError) as info:
        target("visibility=shared&member_status=accepted&__isregistered=false", Context(), None)
    assert [(e.code, e.param) for e in info.value.errors] == [("IMG.0001", "member_status"),
                                                             ("IMG.0026", "__isregistered")]
    assert info.value.status == 403

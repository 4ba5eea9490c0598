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

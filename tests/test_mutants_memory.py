"""What a mutation run of memory.py found unasserted: the generated predicate's
source is kept for debugging, and no query value is ever part of it."""

from __future__ import annotations

import imgfilter
from imgfilter import Context, Options


def test_the_predicate_carries_its_source_and_no_query_value() -> None:
    text = ("name=x') or True or ('&tag=tagkey9%3Dtagvalue9&__support_kvm=true"
            "&created_at=gt:2018-01-01T00:00:00Z&weird=y\"\\")
    q = imgfilter.check(text, Options(unknown="property"))
    plan = imgfilter.compile_query(q, Context(project_id="p' or 1 or '"))
    source = plan.predicate.__doc__
    assert source is not None and source.startswith("def predicate(img):\n")
    for value in ("x')", "tagkey9", "tagvalue9", "2018", "y\"", "p' or 1"):
        assert value not in source
    assert "c0" in source and "img.values" in source

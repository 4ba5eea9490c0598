"""Pinned SQL: every generated statement, for a table of (query, caller, dialect).

Any change to a statement's text or parameters shows in review as a change of
``tests/golden_sql.json``.  After an intended change, regenerate it with
``IMGFILTER_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_sql.py`` and
read the diff.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest

import imgfilter
from imgfilter import Context, Flavor, Options
from imgfilter.targets.sql import Slot, compile_sql

GOLDEN = Path(__file__).with_name("golden_sql.json")
MARKER = "bc6bed6e-ba3a-4447-afcc-449174a3eb52"
EP = "2d6c6c9e-6b8e-4f5a-9c3d-1e2f3a4b5c6d"
OPTIONS = Options(unknown="property", flavors={"s2": Flavor(ram_mb=2048, disk_gb=40)})

# (query, caller): one of each filter node and spelling, every caller kind, markers and limits
CASES: list[tuple[str, str]] = [
    ("", "trusted"),
    ("", "project"),
    ("", "admin"),
    ("status=active&limit=20", "trusted"),
    ("__platform=RedHat", "trusted"),
    ("protected=true&__isregistered=true", "trusted"),
    ("min_ram=1024&min_disk=40", "trusted"),
    ("name=x' OR '1'='1", "trusted"),
    ("created_at=gt:2018-10-28T10:00:00Z&created_at=lte:2019-01-01T00:00:00.000001Z", "trusted"),
    ("updated_at=neq:2018-10-28T10:00:00%2B08:00", "trusted"),
    ("tag=env", "trusted"),
    ("tag=env=prod&tag=team=", "trusted"),
    ("tag=a&tag=b&tag=c&tag=d=1&tag=e", "trusted"),
    ("__support_kvm=true&__support_s4l=true", "trusted"),
    ("__support_a=true&__support_b=true&__support_c=true&__support_d=true&custom=blue", "trusted"),
    ("enterprise_project_id=0", "trusted"),
    (f"enterprise_project_id={EP}", "trusted"),
    ("enterprise_project_id=all_granted_eps", "granted"),
    ("enterprise_project_id=all_granted_eps", "no grants"),
    ("flavor_id=s2", "trusted"),
    ("visibility=shared&member_status=pending", "project"),
    ("sort_key=name&sort_dir=asc&limit=10", "project"),
    (f"sort_key=name&sort_dir=asc&limit=10&marker={MARKER}", "project"),
    (f"sort_key=id&marker={MARKER}&limit=5", "trusted"),
    (f"sort_key=size&sort_dir=desc&marker={MARKER}", "admin"),
    ("limit=0", "trusted"),
]
CALLERS: dict[str, Context | None] = {
    "trusted": None,
    "project": Context(project_id="p1"),
    "admin": Context(project_id="p1", is_admin=True),
    "granted": Context(is_admin=True, granted_eps=frozenset({EP, "0"})),
    "no grants": Context(is_admin=True, granted_eps=frozenset()),
}
DIALECTS = ("sqlite", "postgresql", "mysql")


def _param(p: Any) -> Any:
    if isinstance(p, Slot):
        return {"slot": p.name}
    if isinstance(p, dt.datetime):
        return {"time": p.isoformat()}
    return p


def generated() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for query, caller in CASES:
        for dialect in DIALECTS:
            plan = compile_sql(imgfilter.check(query, OPTIONS), dialect, CALLERS[caller])
            out[f"{dialect} | {caller} | {query}"] = [
                {"statement": label, "sql": stmt.sql, "params": [_param(p) for p in stmt.params]}
                for label, stmt in plan.statements()]
    return out


def test_generated_sql_is_pinned() -> None:
    now = generated()
    if os.environ.get("IMGFILTER_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(now, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    pinned = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(pinned) == sorted(now), "cases added or removed: regenerate (see the module's docstring)"
    for key, statements in now.items():
        assert statements == pinned[key], f"{key}: the generated SQL changed (see the module's docstring)"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_golden_cases_cover_every_filter_node(dialect: str) -> None:
    from imgfilter.front.ast import Filter

    seen = {type(f) for query, _ in CASES for f in imgfilter.check(query, OPTIONS).filters}
    assert seen == set(Filter.__args__)

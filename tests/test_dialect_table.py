"""Engine differences live in the dialect table: no code asks a dialect its name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import imgfilter
from imgfilter import Catalog, db
from imgfilter.io import cli
from imgfilter.targets.sql import compile_sql

from .dbs import ENGINES, isolated
from .fixtures import RECORDS, uid

PACKAGE = Path(imgfilter.__file__).parent
ASKS_NAME = re.compile(r"\b(?:dialect|d)\.name\s*[=!]=|==\s*\"(?:sqlite|postgresql|mysql|mariadb)\"")


def test_no_module_branches_on_a_dialect_name() -> None:
    found = [f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
             for path in sorted(PACKAGE.rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if ASKS_NAME.search(line) and "scheme" not in line and "args.engine" not in line]
    assert found == []


@pytest.mark.parametrize("engine", ENGINES)
def test_explain_shows_each_engines_plan(engine: str) -> None:
    """`imgfilter sql --explain` asks each engine for its plan with the dialect's own prefix."""
    with isolated(engine) as conn:
        db.load_catalog(conn, Catalog.from_records(RECORDS))
        plan = compile_sql(imgfilter.check(f"sort_key=name&limit=2&marker={uid(1)}"), db.dialect_of(conn))
        for _, stmt in plan.statements():
            lines = cli._explain(conn, plan, stmt)
            assert lines and all(line.strip() for line in lines)

"""Every side-table column name comes from the ``Schema`` (issue 10): a catalog
loaded under renamed side columns answers as the memory target does, and no
module spells a side column's default name itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import imgfilter
from imgfilter import Context, Options, db
from imgfilter.db.dialects import DIALECTS
from imgfilter.db.schema import SIDE_COLUMNS, SIDE_FIELDS, Schema, create_statements
from imgfilter.io.records import Catalog
from imgfilter.targets.sql import compile_sql

from .dbs import ENGINES, isolated
from .fixtures import P1, P2, RECORDS

# mixed case and an SQL keyword: names that must be quoted everywhere they are written
RENAMED = Schema(tag_image="TagImage", tag_key="tk", tag_value="tv", member_image="mimg", member_id="proj",
                 member_status="state", property_image="pimg", property_name="pname",
                 property_value="select", property_is_true="Truth")
PROPERTY = Options(unknown="property")
QUERIES: list[tuple[str, Context | None]] = [
    ("tag=k", None),
    ("tag=k=v&tag=env=prod", None),
    ("tag=k&tag=k=v&tag=env=prod&tag=env&sort_key=name", None),  # past the separate EXISTS
    ("member_status=accepted&visibility=shared", Context(P2)),
    ("member_status=accepted&visibility=shared&tag=k", Context(P2)),
    ("", Context(P2)),  # scope: images P2 is a member of
    ("__support_kvm=true", None),
    ("__support_xen=true", None),
    ("__os_type=Linux", None),
    ("virtual_env_type=FusionCompute&__support_kvm=true&tag=k", Context(P1)),
]


def test_every_side_column_is_renamed() -> None:
    renamed = RENAMED.side_columns()
    for kind, defaults in SIDE_COLUMNS.items():
        assert len(renamed[kind]) == len(defaults) == len(SIDE_FIELDS[kind])
        assert not {c.lower() for c in renamed[kind]} & {c for cols in SIDE_COLUMNS.values() for c in cols}
    assert Schema().side_columns() == {k: tuple(v) for k, v in SIDE_COLUMNS.items()}


@pytest.mark.parametrize("engine", ENGINES)
def test_renamed_side_columns_answer_as_memory(engine: str) -> None:
    catalog = Catalog.from_records(RECORDS)
    nonempty = 0
    with isolated(engine) as conn:
        db.load_catalog(conn, catalog, schema=RENAMED)
        for query, context in QUERIES:
            expected = imgfilter.run(query, catalog, context, options=PROPERTY)
            got = db.run(conn, query, context, schema=RENAMED, options=PROPERTY)
            assert got.ids == expected.ids, query
            assert got.next_marker == expected.next_marker, query
            nonempty += bool(expected.ids)
    assert nonempty == len(QUERIES)  # every query selects something


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_renamed_side_columns_reach_every_statement(dialect: str) -> None:
    defaults = "|".join(sorted({c for cols in SIDE_COLUMNS.values() for c in cols}))
    for query, context in QUERIES:
        plan = compile_sql(imgfilter.check(query, PROPERTY), dialect, context, RENAMED)
        for _, stmt in plan.statements():
            assert not re.search(rf"\bx\.({defaults})\b", stmt.sql), stmt.sql
    ddl = "\n".join(create_statements(DIALECTS[dialect], RENAMED)[1:4])
    q = DIALECTS[dialect].ident
    for cols in RENAMED.side_columns().values():
        for col in cols:
            assert q(col) in ddl
    assert not re.search(rf"\b({defaults})\b", ddl)


def test_side_column_names_are_validated() -> None:
    with pytest.raises(ValueError):
        Schema(tag_key="a b")
    with pytest.raises(ValueError):
        Schema(tag_key="k", tag_value="K")  # twice within the tags table
    with pytest.raises(ValueError):
        Schema(record="tv", tag_value="tv")  # the record column may not take a side column's name
    with pytest.raises(ValueError):
        Schema(columns={"name": "tk"}, tag_key="tk")
    Schema(tag_key="k", member_id="k", property_name="k")  # distinct tables may share a name


@pytest.mark.parametrize("module", ["imgfilter/targets/sql.py", "imgfilter/io/load.py"])
def test_no_side_column_literal_is_left(module: str) -> None:
    source = (Path(__file__).parent.parent / module).read_text()
    names = sorted({c for cols in SIDE_COLUMNS.values() for c in cols})
    # a literal spelling a side column (the distinctive ones anywhere in a string; the
    # ones that are also field names, as a side row's column "x.<name>")
    distinctive = [n for n in names if n not in ("name", "status", "value")]
    strings = re.findall(r"\"[^\"\n]*\"|'[^'\n]*'", source)
    # (an attribute such as ``self.s.member_id`` inside an f-string is the Schema's field)
    assert not [s for s in strings if re.search(rf"(?<![.\w])({'|'.join(distinctive)})\b", s)]
    assert not re.search(rf"\bx\.({'|'.join(names)})\b", source)
    assert not re.search(rf"[\"']({'|'.join(names)})[\"'],? *[\],)]", source.replace('__slots__ = ("name",)', ""))

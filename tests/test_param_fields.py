"""The parameter table names the record fields each parameter reads; targets take them from it."""

from __future__ import annotations

import re
from pathlib import Path

import imgfilter
from imgfilter.front import params as P

TARGETS = Path(imgfilter.__file__).parent / "targets"


def test_every_filtering_parameter_names_its_fields() -> None:
    """A parameter that filters a column names it (or, if special, what it reads);
    none is linked to a field only because the names match."""
    for p in P.PARAMS_LIST:
        if p.kind in (P.Kind.MARKER, P.Kind.LIMIT, P.Kind.SORT_KEY, P.Kind.SORT_DIR, P.Kind.TAG, P.Kind.MEMBER):
            assert p.field is None and p.reads == (), p.name
        elif p.kind is P.Kind.FLAVOR:
            assert p.field is None and [f.name for f in p.reads] == ["min_ram", "min_disk"]
        else:
            assert p.field is not None and p.field.name in P.FIELDS, p.name


def test_targets_spell_no_field_a_special_parameter_reads() -> None:
    special = {f.name for p in P.PARAMS_LIST for f in p.reads}
    for path in sorted(TARGETS.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for name in special:
            assert not re.search(rf"['\"]{name}['\"]", text), f"{path.name} spells {name!r}"

"""The wire's error codes are spelled once, in ``imgfilter.front.codes``, and the README lists them all."""

from __future__ import annotations

import re
from pathlib import Path

import imgfilter
from imgfilter.front import codes

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PACKAGE = Path(imgfilter.__file__).resolve().parent
CODE_RE = re.compile(r"\b(?:IMG\.[0-9]{4}|HTTP\.[0-9]{3})\b")
LITERAL_RE = re.compile(r"""["'](?:IMG\.[0-9]{4}|HTTP\.[0-9]{3})["']""")

CONSTANTS = {name: value for name, value in vars(codes).items()
             if name.isupper() and isinstance(value, str) and CODE_RE.fullmatch(value)}


def _sources() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py") if p.name != "codes.py"}


def test_codes_are_distinct() -> None:
    assert len(CONSTANTS) >= 10
    assert len(set(CONSTANTS.values())) == len(CONSTANTS)


def test_every_code_is_documented_in_the_readme_and_no_other() -> None:
    assert set(CONSTANTS.values()) == set(CODE_RE.findall(README))


def test_every_code_has_a_meaning() -> None:
    text = (PACKAGE / "front" / "codes.py").read_text(encoding="utf-8")
    for name in CONSTANTS:
        line = re.search(rf"^{name} = .*$", text, flags=re.M)
        assert line is not None and "  # " in line.group(0), name


def test_no_code_literal_outside_codes_module() -> None:
    found = [f"{p.relative_to(PACKAGE)}:{s.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
             for p, s in _sources().items() for m in LITERAL_RE.finditer(s)]
    assert found == []


def test_every_code_is_used() -> None:
    text = "\n".join(_sources().values())
    http = set(codes.HTTP_BY_STATUS.values())
    unused = [name for name, value in CONSTANTS.items()
              if f"codes.{name}" not in text and not (value in http and "codes.HTTP_BY_STATUS" in text)]
    assert unused == []
    assert all(codes.HTTP_BY_STATUS[int(v[5:])] == v for v in CONSTANTS.values() if v.startswith("HTTP."))

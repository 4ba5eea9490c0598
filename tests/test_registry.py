"""The registry of targets: every registered target answers through the CLI's
``--engine``, and a target that cannot run says why."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import pytest

from imgfilter import targets
from imgfilter.io.cli import main
from imgfilter.targets import REGISTRY, Entry, TargetUnavailable

from .fixtures import P1, RECORDS

Capsys = pytest.CaptureFixture[str]
QUERY = "sort_key=name&sort_dir=asc&limit=3"


def ids(capsys: Capsys, *argv: str) -> list[str]:
    assert main(["query", "-f", "value", "-c", "id", *argv]) == 0, capsys.readouterr().err
    return capsys.readouterr().out.split()


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_registered_target_runs_from_the_command_line(capsys: Capsys, tmp_path: Path, name: str) -> None:
    data = tmp_path / "images.json"
    data.write_text(json.dumps(RECORDS))
    expected = ids(capsys, "--data", str(data), "--project", P1, QUERY)
    assert len(expected) == 3
    assert ids(capsys, "--engine", name, "--data", str(data), "--project", P1, QUERY) == expected
    # the bundled catalog, when no --data is given
    assert ids(capsys, "--engine", name, "limit=2") == ids(capsys, "limit=2")
    if targets.get(name).databases:  # and a database, given by its URL
        url = f"sqlite:///{tmp_path}/images.db"
        assert main(["load", str(data), "--db", url]) == 0
        capsys.readouterr()
        assert ids(capsys, "--engine", name, "--db", url, "--project", P1, QUERY) == expected


def test_a_target_without_a_database_refuses_one(capsys: Capsys) -> None:
    assert main(["query", "--engine", "memory", "--db", "sqlite:///x.db", ""]) == 2
    assert "--engine memory runs on --data" in capsys.readouterr().err


def test_an_unknown_or_uninstalled_target_says_what_to_do(monkeypatch: pytest.MonkeyPatch, capsys: Capsys) -> None:
    with pytest.raises(TargetUnavailable, match="no target 'nope'"):
        targets.get("nope")
    missing = MappingProxyType({**REGISTRY, "ghost": Entry("imgfilter.targets.no_such_module", "ghost")})
    monkeypatch.setattr(targets, "REGISTRY", missing)
    with pytest.raises(TargetUnavailable, match=r"pip install 'imgfilter\[ghost\]'"):
        targets.get("ghost")
    assert "ghost" not in targets.available()

"""The README's quick start is two commands that work on a machine where pip
refuses to install outside a virtual environment (PEP 668); .ci/run runs them."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start() -> list[str]:
    block = README.split("<!-- quickstart:begin -->\n", 1)[1].split("<!-- quickstart:end -->", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("```")]


def test_two_commands_in_a_venv() -> None:
    setup, tests = quick_start()
    first = setup.split(" && ")
    assert first[0] == "python3 -m venv .venv"
    # nothing is installed outside the venv: PEP 668 refuses `pip install` there
    assert all(re.match(r"(python3 -m venv|\.venv/bin/)", step) for step in setup.split(" && ") + tests.split(" && "))
    assert first[1].startswith(".venv/bin/pip install") and first[2].startswith(".venv/bin/imgfilter query ")
    assert tests.startswith(".venv/bin/pip install -q -e '.[test]'") and tests.endswith(".venv/bin/python -m pytest")


def test_ci_runs_exactly_the_quick_start() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "<!-- quickstart:begin -->" in ci and "<!-- quickstart:end -->" in ci
    assert "pip install" not in ci  # no set-up of its own besides the README's
    lines = subprocess.run(
        ["bash", "-c", "sed -n '/<!-- quickstart:begin -->/,/<!-- quickstart:end -->/p' README.md "
         "| grep -v -e '^<!--' -e '^```'"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert lines.splitlines() == quick_start()


def test_the_main_job_runs() -> None:
    setup = quick_start()[0].split(" && ")[-1]
    argv = shlex.split(setup)[1:]
    proc = subprocess.run([sys.executable, "-m", "imgfilter", *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    header, _, *rows = proc.stdout.splitlines()
    assert header.split()[:3] == ["id", "name", "__imagetype"] and len(rows) == 5
    assert all(" gold " in row for row in rows)

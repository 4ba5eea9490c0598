"""The README's examples run, and its parameter reference is the table's."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from imgfilter.front.params import reference_markdown

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 8
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)


def test_parameter_reference_is_generated_from_the_table() -> None:
    section = README.split("<!-- params:begin -->\n", 1)[1].split("\n<!-- params:end -->", 1)[0]
    assert section == reference_markdown()


def test_quick_start_main_job() -> None:
    command = re.search(r"^imgfilter query '([^']*)'$", README, flags=re.M)
    assert command is not None
    proc = subprocess.run([sys.executable, "-m", "imgfilter", "query", command.group(1)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)  # one line: stdout is not a terminal
    assert body["images"][0]["__imagetype"] == "gold" and body["page_info"]["next_marker"]

"""The ``imgfilter`` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from imgfilter.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_prints_the_normalized_query(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "__imagetype=gold&sort_key=name&limit=1")
    assert code == 0
    assert out == "__imagetype=gold&limit=1&sort_dir=desc&sort_key=name\n"
    assert err == ""


@pytest.mark.parametrize("form", ["{}", "?{}", "/v2/cloudimages?{}"])
def test_check_accepts_every_query_form(capsys: pytest.CaptureFixture[str], form: str) -> None:
    code, out, _ = run(capsys, "check", form.format("status=active"))
    assert (code, out) == (0, "sort_dir=desc&sort_key=created_at&status=active\n")


def test_check_warnings_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "visibility=&status=active")
    assert code == 0
    assert "warning[IMG.0001]: visibility: empty value" in err
    assert out.startswith("sort_dir=desc")


def test_check_errors_exit_2_with_carets(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "status=activ&limt=5")
    assert code == 2
    assert out == ""
    assert "did you mean 'active'?" in err and "did you mean 'limit'?" in err
    assert "  |        ^^^^^" in err


def test_check_json_prints_the_ims_body(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "--json", "__imagetype=golden&limt=5")
    assert code == 2
    body = json.loads(out)
    assert body["error"]["code"] == "IMG.0024"
    assert [e["code"] for e in body["errors"]] == ["IMG.0024", "IMG.0001"]


def test_explain_prints_the_checked_query(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "tag=a=b&limit=2")
    assert code == 0
    doc = json.loads(out)
    assert doc["filters"][0]["type"] == "TagFilter"
    assert doc["limit"] == 2


def test_unknown_policy_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--unknown", "property", "foo=bar")
    assert code == 0 and "foo=bar" in out


def test_params_prints_the_reference_from_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "params")
    assert code == 0
    from imgfilter import params as P
    for name in P.PARAMS:
        assert f"| `{name}` |" in out


@pytest.mark.parametrize("query", ["status=activ&limt=5", "name=%ff", "\udcff", "a" * 20000])
def test_process_never_tracebacks(query: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "imgfilter", "check", query],
                          capture_output=True, text=True, errors="backslashreplace", timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "error[IMG." in proc.stderr

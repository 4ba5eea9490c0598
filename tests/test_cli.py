"""The ``imgfilter`` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from imgfilter.io.cli import main


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
    code, out, _ = run(capsys, "check", "--json", "__imagetype=golden&limt=5")
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
    from imgfilter.front import params as P
    for name in P.PARAMS:
        assert f"| `{name}` |" in out


@pytest.mark.parametrize("query", ["status=activ&limt=5", "name=%ff", "\udcff", "a" * 20000])
def test_process_never_tracebacks(query: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "imgfilter", "check", query],
                          capture_output=True, text=True, errors="backslashreplace", timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "error[IMG." in proc.stderr


# ---- query, sql, load ------------------------------------------------------------------

from pathlib import Path  # noqa: E402

from .fixtures import P1, RECORDS, uid  # noqa: E402


def test_query_on_the_bundled_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "query", "__imagetype=gold&sort_key=name&limit=1")
    assert code == 0
    body = json.loads(out)
    assert len(body["images"]) == 1 and body["images"][0]["__imagetype"] == "gold"
    assert body["page_info"]["next_marker"] == body["images"][0]["id"]


def test_query_on_a_file_with_a_caller(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "images.json"
    data.write_text(json.dumps({"images": RECORDS}))
    code, out, _ = run(capsys, "query", "sort_key=id&sort_dir=asc", "--data", str(data), "--project", P1)
    assert code == 0
    assert [i["id"] for i in json.loads(out)["images"]] == [uid(n) for n in (1, 2, 3, 4, 8)]
    code, out, _ = run(capsys, "query", "sort_key=id&sort_dir=asc&limit=2", "--data", str(data),
                       "--engine", "sqlite", "--project", P1)
    assert [i["id"] for i in json.loads(out)["images"]] == [uid(1), uid(2)]
    assert json.loads(out)["page_info"]["next_marker"] == uid(2)


def test_query_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "query", f"marker={uid(99)}")
    assert code == 2 and "IMG.0027" in err
    code, out, err = run(capsys, "query", "--json", "__isregistered=false", "--project", P1)
    assert code == 2 and json.loads(out)["error"]["code"] == "IMG.0026"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": uid(1), "min_ram": "lots"}]))
    code, out, err = run(capsys, "query", "", "--data", str(bad))
    assert code == 2 and "min_ram" in err and uid(1) in err


def test_load_then_query_a_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "images.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in RECORDS))
    url = f"sqlite:///{tmp_path}/images.db"
    code, _, err = run(capsys, "load", str(data), "--db", url)
    assert code == 0 and "loaded 8 images" in err
    code, out, _ = run(capsys, "query", "tag=k&sort_key=name&sort_dir=asc", "--db", url)
    assert [i["name"] for i in json.loads(out)["images"]] == ["CentOS 7.3 64bit", "RHEL 7", "RHEL 8", "shared one"]
    code, _, err = run(capsys, "load", str(data), "--db", url)  # the same ids again: the database's state
    assert code == 1 and "nothing was written" in err


def test_sql_prints_statements_and_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "sql", "name=x'y&limit=5", "--dialect", "postgresql", "--project", P1)
    assert code == 0
    assert "-- images with a sort value: first page" in out
    assert "%s" in out and "x'y" not in out.split("-- params")[0]
    assert "\"x'y\"" in out or "'x\\'y'" in out


def test_bad_database_url(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "query", "", "--db", "oracle://nope")
    assert code == 2 and "unsupported database URL" in err


def test_flavor_catalog_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    flavors = tmp_path / "flavors.json"
    flavors.write_text(json.dumps({"s6.small.1": {"ram_mb": 1024, "disk_gb": 40}}))
    code, out, _ = run(capsys, "check", "--flavors", str(flavors), "flavor_id=s6.small.1")
    assert code == 0 and "flavor_id=s6.small.1" in out
    code, _, err = run(capsys, "check", "flavor_id=s6.small.1")
    assert code == 2 and "IMG.0192" in err and "--flavors" in err
    flavors.write_text("[1]")
    code, _, err = run(capsys, "check", "--flavors", str(flavors), "flavor_id=x")
    assert code == 2 and "--flavors" in err


def test_usage_errors_exit_2_and_a_query_may_start_with_a_dash(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "-:")  # taken for an option
    assert code == 2 and "usage:" in err
    code, _, err = run(capsys, "check", "--", "-:")
    assert code == 2 and "error[IMG.0001]: -:: unknown parameter" in err
    code, _, _ = run(capsys, "nonsense")
    assert code == 2


def test_a_database_without_the_schema_is_an_error_not_a_traceback(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "query", "", "--db", f"sqlite:///{tmp_path}/empty.db")
    assert code == 1 and "no imgfilter catalog" in err and "imgfilter load" in err
    assert not (tmp_path / "empty.db").exists()  # reading never creates the file

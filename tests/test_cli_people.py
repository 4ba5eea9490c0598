"""The command line as a person uses it (issue 15; the CLI part of issue 8 item 12)."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import imgfilter
import imgfilter.io.catalog
from imgfilter.io import cli
from imgfilter.io.catalog import bundled, generate
from imgfilter.io.cli import main
from imgfilter.io.progress import Progress

from .fixtures import P1, RECORDS, uid

Capsys = pytest.CaptureFixture[str]


def run(capsys: Capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def unpaged_ids(query: str) -> list[str]:
    return imgfilter.run(query, bundled()).ids


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


# ---- 1. output formats -----------------------------------------------------------------

def test_json_is_compact_when_piped_and_indented_on_a_terminal(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(capsys, "query", "__imagetype=gold&sort_key=name&limit=2")
    assert code == 0 and out.count("\n") == 1
    assert json.loads(out)["images"][0]["__imagetype"] == "gold"
    tty = Tty()
    monkeypatch.setattr(sys, "stdout", tty)
    assert main(["query", "__imagetype=gold&sort_key=name&limit=2"]) == 0
    assert tty.getvalue().startswith('{\n  "images": [')
    assert json.loads(tty.getvalue()) == json.loads(out)


def test_columns_and_json_lines(capsys: Capsys) -> None:
    code, out, err = run(capsys, "query", "-f", "jsonl", "-c", "id", "-c", "name", "sort_key=name&limit=3")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == unpaged_ids("sort_key=name&limit=3")
    assert all(set(r) == {"id", "name"} for r in rows)
    assert "next_marker=" in err  # the page's next_marker is not lost


def test_csv_and_value(capsys: Capsys) -> None:
    code, out, _ = run(capsys, "query", "-f", "csv", "-c", "id", "-c", "tags", "tag=env&sort_key=id&limit=4")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["id", "tags"]
    page = imgfilter.run("tag=env&sort_key=id&limit=4", bundled())
    assert rows[1:] == [[img["id"], ",".join(img["tags"])] for img in page.images]
    code, out, _ = run(capsys, "query", "-f", "value", "-c", "id", "sort_key=id&limit=4")
    assert out.split() == unpaged_ids("sort_key=id&limit=4")


@pytest.mark.parametrize("width", [60, 80, 200])
def test_the_table_fits_the_terminal(capsys: Capsys, monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, _ = run(capsys, "query", "-f", "table", "__imagetype=gold&sort_key=name&limit=5")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["id", "name"] and set(lines[1]) <= {"-", " "}
    assert all(len(line) <= width for line in lines)
    ids = [line.split()[0] for line in lines[2:]]
    assert ids == unpaged_ids("__imagetype=gold&sort_key=name&limit=5")  # ids are never cut while others can be
    if width == 200:
        assert lines[0].split() == ["id", "name", "__imagetype", "status", "created_at"]


def test_a_table_of_chosen_columns_is_cut_not_dropped(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "50")
    code, out, _ = run(capsys, "query", "-f", "table", "-c", "id", "-c", "name", "-c", "__os_version", "limit=3")
    assert code == 0
    assert out.splitlines()[0].split() == ["id", "name", "__os_version"]
    assert all(len(line) <= 50 for line in out.splitlines()) and "…" in out


def test_a_misspelled_column_is_pointed_out(capsys: Capsys) -> None:
    code, _, err = run(capsys, "query", "-f", "csv", "-c", "nmae", "limit=3")
    assert code == 0 and "column 'nmae' is in no image" in err and "did you mean 'name'?" in err


def test_control_characters_in_a_name_do_not_break_a_table(capsys: Capsys, tmp_path: Path) -> None:
    data = tmp_path / "x.json"
    data.write_text(json.dumps([{"id": uid(1), "name": "a\nb\x1b[31m"}]))
    code, out, _ = run(capsys, "query", "-f", "table", "--data", str(data), "")
    assert code == 0 and len(out.splitlines()) == 3 and "\x1b" not in out


# ---- 2. warnings for every command ---------------------------------------------------------

EMPTY_RANGE = "created_at=gt:2019-01-01T00:00:00Z&created_at=lt:2018-01-01T00:00:00Z"


@pytest.mark.parametrize("command", ["query", "sql", "explain", "check"])
def test_warnings_reach_stderr_for_every_command(capsys: Capsys, command: str) -> None:
    code, out, err = run(capsys, command, EMPTY_RANGE)
    assert code == 0 and out
    assert "warning[IMG.0001]: created_at: no time satisfies" in err


# ---- 3. pasted URLs and several words ------------------------------------------------------

@pytest.mark.parametrize("words", [
    ["https://ims.example.com/v2/cloudimages?__imagetype=gold&limit=2"],
    ["ims.example.com/v2/cloudimages?__imagetype=gold&limit=2"],
    ["GET /v2/cloudimages?__imagetype=gold&limit=2 HTTP/1.1"],
    ["GET", "/v2/cloudimages?__imagetype=gold&limit=2", "HTTP/1.1"],
    ["__imagetype=gold", "limit=2"],
    ["?__imagetype=gold", "limit=2"],
])
def test_a_pasted_url_or_several_words(capsys: Capsys, words: list[str]) -> None:
    code, out, err = run(capsys, "check", *words)
    assert (code, out, err) == (0, "__imagetype=gold&limit=2&sort_dir=desc&sort_key=created_at\n", "")


def test_a_fragment_is_dropped_with_a_note(capsys: Capsys) -> None:
    code, out, err = run(capsys, "check", "https://ims.example.com/v2/cloudimages?limit=1#frag")
    assert (code, out) == (0, "limit=1&sort_dir=desc&sort_key=created_at\n")
    assert "'#frag' is a URL fragment" in err


def test_a_url_in_an_error_is_shown_as_the_query(capsys: Capsys) -> None:
    code, _, err = run(capsys, "check", "https://ims.example.com/v2/cloudimages?__imagetype=golden")
    assert code == 2 and "error[IMG.0024]: __imagetype: 'golden'" in err and "https" not in err


# ---- 4. the time errors through the command -------------------------------------------------

def test_an_unencoded_plus_says_write_2b(capsys: Capsys) -> None:
    code, _, err = run(capsys, "check", "created_at=gt:2019-01-01T00:00:00+08:00")
    assert code == 2 and "%2B" in err and "'+' in a query means a space" in err


# ---- 5. every page ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["jsonl", "json", "value"])
def test_all_walks_every_page(capsys: Capsys, fmt: str) -> None:
    query = "__platform=Ubuntu&sort_key=name&sort_dir=asc&limit=7"
    code, out, err = run(capsys, "query", "--all", "-f", fmt, "-c", "id", query)
    assert code == 0
    want = unpaged_ids("__platform=Ubuntu&sort_key=name&sort_dir=asc")
    assert len(want) > 20
    got = (json.loads(out)["images"] if fmt == "json" else [json.loads(line) for line in out.splitlines()]
           if fmt == "jsonl" else [{"id": line} for line in out.splitlines()])
    assert [i["id"] for i in got] == want
    assert "next_marker" not in err


def test_all_without_a_limit_and_with_a_marker(capsys: Capsys) -> None:
    want = unpaged_ids("sort_key=name")
    code, out, _ = run(capsys, "query", "--all", "-f", "value", "-c", "id", "sort_key=name")
    assert code == 0 and out.split() == want
    code, out, _ = run(capsys, "query", "--all", "-f", "value", "-c", "id", f"sort_key=name&limit=50&marker={want[99]}")
    assert out.split() == want[100:]


def test_max_items_bounds_the_walk_and_says_where_to_resume(capsys: Capsys) -> None:
    want = unpaged_ids("sort_key=id&sort_dir=asc")
    code, out, err = run(capsys, "query", "--all", "--max-items", "12", "-f", "value", "-c", "id",
                         "sort_key=id&sort_dir=asc&limit=5")
    assert code == 0 and out.split() == want[:12]
    assert f"next_marker={want[11]}" in err
    code, out, _ = run(capsys, "query", "--all", "--max-items", "3", "sort_key=id&sort_dir=asc")
    body = json.loads(out)
    assert [i["id"] for i in body["images"]] == want[:3] and body["page_info"]["next_marker"] == want[2]


def test_all_prints_each_page_as_it_comes(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = cli._Source.page

    def page(self: cli._Source, q: imgfilter.CheckedQuery, context: imgfilter.Context | None) -> imgfilter.Page:
        seen.append(len(sys.stdout.getvalue().splitlines()) if isinstance(sys.stdout, io.StringIO) else -1)
        return real(self, q, context)

    out = io.StringIO()
    monkeypatch.setattr(cli._Source, "page", page)
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["query", "--all", "-f", "table", "-c", "id", "sort_key=id&limit=10&__platform=Ubuntu"]) == 0
    assert seen[:3] == [0, 12, 22]  # header, rule and 10 rows were out before the second page was read


def test_all_on_a_database(capsys: Capsys, tmp_path: Path) -> None:
    data = tmp_path / "images.json"
    data.write_text(json.dumps(RECORDS))
    code, out, _ = run(capsys, "query", "--all", "--engine", "sqlite", "--data", str(data), "-f", "value",
                       "-c", "id", "sort_key=name&limit=2")
    assert code == 0 and out.split() == imgfilter.run("sort_key=name", imgfilter.Catalog.from_records(RECORDS)).ids


# ---- 7. exit codes and --json for every error --------------------------------------------------

def test_exit_codes_tell_input_from_environment(capsys: Capsys, tmp_path: Path) -> None:
    assert run(capsys, "check", "limt=1")[0] == 2  # the query
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": 5}]')
    assert run(capsys, "query", "--data", str(bad), "")[0] == 2  # the records
    assert run(capsys, "query", "--format", "yaml", "")[0] == 2  # the command line
    assert run(capsys, "query", "--data", str(tmp_path / "missing.json"), "")[0] == 1  # a file
    assert run(capsys, "query", "--db", "mysql://root:pw@127.0.0.1:1/x", "")[0] == 1  # a connection
    (tmp_path / "empty.db").write_bytes(b"")
    assert run(capsys, "query", "--db", f"sqlite:///{tmp_path}/empty.db", "")[0] == 1  # a database


@pytest.mark.parametrize(("argv", "code", "exit_code"), [
    (["check", "--json", "limt=1"], "IMG.0001", 2),
    (["query", "--json", "--data", "/nonexistent/x.json", ""], "CLI.ENVIRONMENT", 1),
    (["query", "--json", "--db", "mysql://root:pw@127.0.0.1:1/x", ""], "CLI.ENVIRONMENT", 1),
    (["query", "--json", "--db", "oracle://x", ""], "CLI.USAGE", 2),
    (["query", "--json", "--nonsense", ""], "CLI.USAGE", 2),
    (["sql", "--json", "--explain", ""], "CLI.USAGE", 2),
])
def test_json_gives_a_body_for_every_error(capsys: Capsys, monkeypatch: pytest.MonkeyPatch, argv: list[str],
                                           code: str, exit_code: int) -> None:
    monkeypatch.delenv("IMGFILTER_DB", raising=False)
    got, out, _ = run(capsys, *argv)
    assert got == exit_code and json.loads(out)["error"]["code"] == code
    assert json.loads(out)["error"]["message"]


def test_help_documents_exit_codes_and_an_example_per_command(capsys: Capsys) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "exit status:" in out and "``" not in out
    for command in cli.COMMANDS:
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and "example:\n  imgfilter " + command in out
        assert "1    the environment failed" in out and "``" not in out


# ---- 8. sql ------------------------------------------------------------------------------------

def test_sql_json_has_typed_parameters_and_says_how_a_page_is_made(capsys: Capsys) -> None:
    code, out, _ = run(capsys, "sql", "-f", "json", "--dialect", "postgresql",
                       f"created_at=gte:2018-01-01T00:00:00%2B08:00&limit=5&marker={uid(1)}")
    assert code == 0
    doc = json.loads(out)
    assert doc["dialect"] == "postgresql" and any("6 rows" in step for step in doc["how"])
    labels = [s["label"] for s in doc["statements"]]
    assert labels[0] == "marker lookup" and "images with a sort value: after the marker" in labels
    first = next(s for s in doc["statements"] if s["label"] == "images with a sort value: first page")
    assert first["params"] == ["2017-12-31T16:00:00+00:00", {"slot": "row limit"}]
    assert first["types"] == ["timestamp", "slot"]
    after = next(s for s in doc["statements"] if s["label"] == "images with a sort value: after the marker")
    assert {"slot": "marker id"} in after["params"] and {"slot": "marker sort value"} in after["params"]


def test_sql_text_params_are_json(capsys: Capsys) -> None:
    code, out, _ = run(capsys, "sql", "name=x'y&created_at=gt:2019-01-01T00:00:00Z&limit=5")
    assert code == 0 and "how these statements make a page" in out
    params = [json.loads(line.removeprefix("-- params: ")) for line in out.splitlines() if line.startswith("-- params")]
    assert params[0] == ["2019-01-01T00:00:00.000000", "x'y", {"slot": "row limit"}]  # SQLite: UTC text
    assert "datetime" not in out and "<row limit>" not in out


def test_sql_explain_runs_on_the_database(capsys: Capsys, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/images.db"
    data = tmp_path / "images.json"
    data.write_text(json.dumps(RECORDS))
    assert run(capsys, "load", str(data), "--db", url)[0] == 0
    code, out, _ = run(capsys, "sql", "--explain", "--db", url, f"sort_key=name&limit=2&marker={uid(1)}")
    assert code == 0
    plans = [line for line in out.splitlines() if line.startswith("-- plan: ")]
    assert plans and any("INDEX" in p for p in plans)
    code, _, err = run(capsys, "sql", "--explain", "--db", url, "--dialect", "postgresql", "")
    assert code == 2 and "--dialect postgresql but --db is sqlite" in err


def test_dialect_mariadb_is_mysql(capsys: Capsys) -> None:
    _, mariadb, _ = run(capsys, "sql", "--dialect", "mariadb", "name=x")
    _, mysql, _ = run(capsys, "sql", "--dialect", "mysql", "name=x")
    assert mariadb == mysql and "`images`" in mysql


# ---- 10. small things ----------------------------------------------------------------------------

def test_version(capsys: Capsys) -> None:
    code, out, _ = run(capsys, "--version")
    assert (code, out) == (0, f"imgfilter {imgfilter.__version__}\n")


def test_imgfilter_db_is_the_default_db(capsys: Capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/images.db"
    data = tmp_path / "images.json"
    data.write_text(json.dumps(RECORDS))
    monkeypatch.setenv("IMGFILTER_DB", url)
    assert run(capsys, "load", str(data))[0] == 0
    code, out, _ = run(capsys, "query", "-f", "value", "-c", "id", "sort_key=id&sort_dir=asc&limit=2")
    assert code == 0 and out.split() == [uid(1), uid(2)]
    code, out, _ = run(capsys, "query", "--engine", "memory", "-f", "value", "-c", "id", "limit=1")
    assert out.split() == unpaged_ids("limit=1")  # an explicit engine wins over the variable


@pytest.mark.parametrize(("argv", "message"), [
    (["query", "--engine", "memory", "--db", "sqlite:///x.db", ""], "--engine memory runs on --data"),
    (["query", "--granted-eps", "a,b", ""], "--granted-eps needs --project"),
    (["sql", "--granted-eps", "a,b", ""], "--granted-eps needs --project"),
    (["query", "--max-items", "3", ""], "--max-items"),
    (["sql", "--db", "sqlite:///x.db", ""], "--db is the database of --explain"),
])
def test_options_that_would_be_ignored_are_usage_errors(capsys: Capsys, argv: list[str], message: str) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err


def test_granted_eps_with_a_project(capsys: Capsys, tmp_path: Path) -> None:
    code, _, _ = run(capsys, "query", "--project", P1, "--granted-eps", "0", "enterprise_project_id=all_granted_eps")
    assert code == 0


# ---- issue 8 item 12: one clear line, never a traceback; passwords hidden ----------------------------

def one_line(err: str) -> bool:
    return err.count("\n") == 1 and err.startswith("imgfilter: ") and "Traceback" not in err


@pytest.mark.parametrize("content", ['{"s": {"ram_mb": 1e400, "disk_gb": 1}}', '{"s": {"ram_mb": NaN, "disk_gb": 1}}',
                                     '{"s": {"ram_mb": "8", "disk_gb": 1}}', '{"s": {"ram_mb": -1, "disk_gb": 1}}',
                                     '{"s": [1, 2]}', "[1]", "{"])
def test_a_bad_flavor_file_is_one_line(capsys: Capsys, tmp_path: Path, content: str) -> None:
    flavors = tmp_path / "flavors.json"
    flavors.write_text(content)
    code, out, err = run(capsys, "check", "--flavors", str(flavors), "flavor_id=s")
    assert code == 2 and out == "" and one_line(err) and "--flavors" in err


def test_out_of_memory_is_one_line(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> imgfilter.Catalog:
        raise MemoryError

    monkeypatch.setattr(imgfilter.io.catalog, "bundled", boom)
    code, _, err = run(capsys, "query", "")
    assert code == 1 and one_line(err) and "out of memory" in err


def test_ctrl_c_during_load_writes_nothing_and_exits_130(capsys: Capsys, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    data = tmp_path / "images.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in generate(4500)))

    def ctrl_c(self: Progress, stage: str, done: int, total: int | None) -> None:
        raise KeyboardInterrupt  # after the first batch was written

    monkeypatch.setattr(Progress, "loader", ctrl_c)
    db_path = tmp_path / "images.db"
    code, _, err = run(capsys, "load", str(data), "--db", f"sqlite:///{db_path}")
    *stages, last = err.splitlines()  # progress lines, then the error in one line
    assert code == 130 and last == "imgfilter: interrupted: nothing was written (no images were loaded)"
    assert stages == [s for s in stages if s.split(":")[0] in ("reading", "validating", "writing")]
    # not even the tables the load created are left
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


def test_an_unwritable_output_is_one_line(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    class Full(io.StringIO):
        def write(self, s: str) -> int:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sys, "stdout", Full())
    code = main(["check", "limit=1"])
    err = capsys.readouterr().err
    assert code == 1 and one_line(err) and "No space left on device" in err


def test_passwords_are_hidden(capsys: Capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "query", "--db", "mysql://root:s3cretpw@127.0.0.1:1/x", "")
    assert code == 1 and one_line(err) and "s3cretpw" not in err and "root:***@127.0.0.1:1" in err
    code, _, err = run(capsys, "query", "--db", "mysql://root:s3cretpw@127.0.0.1:99999/x", "")
    assert code == 2 and one_line(err) and "s3cretpw" not in err
    data = tmp_path / "images.json"
    data.write_text(json.dumps(RECORDS))
    code, _, err = run(capsys, "load", str(data), "--db", f"sqlite://user:s3cretpw@/{tmp_path}/x.db")
    assert "s3cretpw" not in err


@pytest.mark.parametrize("url", ["sqlite:foo.db", "mysql://root@127.0.0.1:99999/x", "mysql://root@127.0.0.1:abc/x",
                                 "postgresql://[::1", "oracle://x"])
def test_bad_urls_are_usage_errors_in_one_line(url: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "imgfilter", "query", "--db", url, ""], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and one_line(proc.stderr), proc.stderr


def test_loads_last_line_hides_the_password(capsys: Capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli, "_connect", lambda url, create=False: sqlite3.connect(":memory:"))
    data = tmp_path / "images.json"
    data.write_text(json.dumps(RECORDS))
    code, _, err = run(capsys, "load", str(data), "--db", "mysql://root:s3cret%40pw@db.example.com/images")
    assert code == 0 and err.splitlines()[-1].startswith(
        "loaded 8 images into mysql://root:***@db.example.com/images (mode insert: 8 inserted, 0 updated) in ")
    assert "s3cret" not in err


# ---- 6 (the command line's part): a database with no tables says what to do, in one line -------------

def test_a_database_without_tables_says_to_load_it(capsys: Capsys, tmp_path: Path) -> None:
    (tmp_path / "empty.db").write_bytes(b"")
    code, _, err = run(capsys, "query", "--db", f"sqlite:///{tmp_path}/empty.db", "")
    assert code == 1 and one_line(err) and "imgfilter load FILE --db URL" in err


def test_a_postgresql_error_is_one_line(capsys: Capsys) -> None:
    url = os.environ.get("IMGFILTER_TEST_POSTGRESQL_URL")
    if not url:
        pytest.skip("IMGFILTER_TEST_POSTGRESQL_URL is not set")
    # a search path with no schema in it: nothing of anyone's is read
    url += ("&" if "?" in url else "?") + "options=-csearch_path%3Dimgfilter_cli_no_such_schema"
    code, _, err = run(capsys, "query", "--db", url, "limit=1")
    assert code == 1 and one_line(err), err
    assert "no imgfilter catalog" in err and "imgfilter load" in err and "LINE 1" not in err

"""`imgfilter load --mode`, `imgfilter delete`, and the progress a person sees."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from imgfilter.io.cli import main
from imgfilter.io.progress import Progress

from .fixtures import RECORDS, rec, uid

Capsys = pytest.CaptureFixture[str]


def run(capsys: Capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ids(capsys: Capsys, url: str) -> list[str]:
    code, out, _ = run(capsys, "query", "--db", url, "-f", "value", "-c", "id", "sort_key=id&sort_dir=asc&limit=100")
    assert code == 0
    return out.split()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, str]:
    full = tmp_path / "images.jsonl"
    full.write_text("\n".join(json.dumps(r) for r in RECORDS))
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"images": [RECORDS[0], rec(20, name="new")]}))
    return full, small, f"sqlite:///{tmp_path}/images.db"


STAGE = r"{}: [\d,]+ {} in \d+\.\d s(, [\d,]+/s)?"


def test_load_off_a_terminal_prints_each_stage_then_a_summary(capsys: Capsys, files: tuple[Path, Path, str]) -> None:
    full, _, url = files
    code, out, err = run(capsys, "load", str(full), "--db", url)
    lines = err.splitlines()
    assert code == 0 and out == ""
    assert [line.split(":")[0] for line in lines[:-1]] == ["writing", "indexing"]  # read and validated as written
    assert re.fullmatch(STAGE.format("writing", "images"), lines[0])
    assert re.fullmatch(r"indexing: 9 indexes in \d+\.\d s", lines[1])
    assert re.fullmatch(rf"loaded 8 images into {re.escape(url)} \(mode insert: 8 inserted, 0 updated\) "
                        r"in \d+\.\d s, [\d,]+/s \(reading and validating \d+\.\d s, writing \d+\.\d s, "
                        r"indexing \d+\.\d s\)", lines[2])
    assert "\r" not in err and "\x1b" not in err  # no terminal drawing in a log


def test_load_modes_from_the_command_line(capsys: Capsys, files: tuple[Path, Path, str]) -> None:
    full, small, url = files
    assert run(capsys, "load", str(full), "--db", url)[0] == 0
    code, _, err = run(capsys, "load", str(small), "--db", url)  # insert: uid(1) is there
    assert code == 1 and err.splitlines()[-1] == (
        f"imgfilter: image {uid(1)} is already in the database: nothing was written "
        "(mode upsert updates it, mode replace makes the database the file)")
    assert ids(capsys, url) == [uid(n) for n in range(1, 9)]
    code, _, err = run(capsys, "load", "--mode", "upsert", str(small), "--db", url)
    assert code == 0 and "(mode upsert: 1 inserted, 1 updated)" in err.splitlines()[-1]
    assert ids(capsys, url) == [uid(n) for n in (*range(1, 9), 20)]
    code, _, err = run(capsys, "load", str(small), "--mode=replace", "--db", url)
    assert code == 0 and "loaded 2 images" in err and "(mode replace: 2 written, 9 there before removed first)" in err
    assert ids(capsys, url) == [uid(1), uid(20)]
    code, _, err = run(capsys, "load", "--mode", "merge", str(small), "--db", url)
    assert code == 2 and "invalid choice: 'merge'" in err


def test_delete_from_the_command_line(capsys: Capsys, files: tuple[Path, Path, str], tmp_path: Path) -> None:
    full, _, url = files
    assert run(capsys, "load", str(full), "--db", url)[0] == 0
    code, _, err = run(capsys, "delete", "--db", url, uid(1), uid(2), uid(99))
    assert (code, err) == (0, f"deleted 2 images from {url} (1 of the 3 ids were not there)\n")
    listing = tmp_path / "ids.txt"
    listing.write_text(f"{uid(3)}\n\n  {uid(4)}  \n")
    code, _, err = run(capsys, "delete", "--db", url, "--ids-from", str(listing))
    assert (code, err) == (0, f"deleted 2 images from {url}\n")
    assert ids(capsys, url) == [uid(n) for n in range(5, 9)]
    code, _, err = run(capsys, "delete", "--db", url)
    assert code == 2 and "delete needs image ids" in err
    code, _, err = run(capsys, "delete", "--db", f"sqlite:///{tmp_path}/none.db", uid(5))
    assert code == 1 and "no such file" in err


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_off_a_terminal_prints_a_line_every_interval_with_the_rate() -> None:
    out, clock = io.StringIO(), Clock()
    p = Progress(out, interval=5.0, clock=clock, tty=False)
    p.stage("writing")
    for t, done in [(1.0, 50_000), (4.0, 200_000), (6.0, 300_000), (8.0, 400_000), (11.5, 600_000)]:
        clock.now = 100.0 + t
        p.update(done)
    clock.now = 112.0
    p.end(610_000)
    assert out.getvalue().splitlines() == [
        "writing: 300,000 images, 50,000/s", "writing: 600,000 images, 52,174/s",
        "writing: 610,000 images in 12.0 s, 50,833/s"]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_redraws_one_line_with_a_bar() -> None:
    out, clock = Tty(), Clock()
    p = Progress(out, clock=clock)
    p.loader("indexing", 0, 8)
    clock.now += 1
    p.loader("indexing", 4, 8)
    frames = out.getvalue().split("\r\x1b[K")
    assert frames[-1] == "indexing: [############............]  50% 4/8 indexes" and "\n" not in out.getvalue()
    clock.now += 1
    p.abandon()  # an error follows: the line is closed, and nothing more is drawn
    assert out.getvalue().endswith("\n")
    p2 = Progress(out, clock=clock)
    p2.stage("writing")
    clock.now += 2
    p2.update(10_000)
    p2.end()
    assert out.getvalue().split("\r\x1b[K")[-2:] == ["writing: 10,000 images, 5,000/s",
                                                     "writing: 10,000 images in 2.0 s, 5,000/s\n"]

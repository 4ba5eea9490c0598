"""A replace is one transaction: a reader walking pages on another connection
sees each page from the catalog before or after it, never a mix or a half-written one."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import imgfilter
from imgfilter import db
from imgfilter.front.errors import QueryError
from imgfilter.io.records import Catalog

from .dbs import ENGINES, isolated, second_connection
from .fixtures import rec

N = 240
PAGE = 37
VERSIONS = 6


def version(k: int) -> Catalog:
    """Version ``k`` of the catalog: the same ids, each image's name and tag saying ``k``,
    and in odd versions 20 more (so that a replace also deletes)."""
    return Catalog.from_records([rec(i, name=f"v{k} image {i:04d}", visibility="public", owner="o", tags=[f"v={k}"])
                                 for i in range(1, N + 1 + (20 if k % 2 else 0))])


def walk(reader: Any) -> list[tuple[int, bool]]:
    """Every page of ``sort_key=id``, each checked against the version its first image names:
    (that version, whether the page equals the version's own page at that marker)."""
    out: list[tuple[int, bool]] = []
    marker = ""
    while True:
        q = f"sort_key=id&sort_dir=asc&limit={PAGE}{marker}"
        try:
            page = db.run(reader, q)
        except QueryError as e:  # the marker's image is gone: the catalog changed between two pages
            assert "marker" in str(e) and int(marker[-12:]) > N
            return out
        if not page.images:
            return out
        k = int(str(page.images[0]["name"]).split()[0][1:])
        out.append((k, page.images == imgfilter.run(q, version(k)).images))
        if page.next_marker is None:
            return out
        marker = f"&marker={page.next_marker}"


@pytest.mark.parametrize("engine", ENGINES)
def test_pages_come_from_one_catalog_while_a_replace_runs(engine: str, tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    failures: list[BaseException] = []
    writing = threading.Event()

    def slow(stage: str, done: int, total: int | None) -> None:
        writing.set()
        time.sleep(0.02)  # between batches: the transaction stays open, half written

    def replace(open_writer: Any) -> None:
        try:
            writer = open_writer()
            try:
                for k in range(1, VERSIONS + 1):
                    db.load_images(writer, version(k).images, mode="replace", batch_size=40, progress=slow)
            finally:
                if writer is not first:
                    writer.close()
        except BaseException as e:  # reported by the test's thread
            failures.append(e)

    with isolated(engine) as first:
        if engine == "sqlite":  # a file, and a connection per thread
            first = sqlite3.connect(path)
            db.load_images(first, version(0).images)
            reader = db.connect(f"sqlite:///{path}")
            opener: Any = lambda: sqlite3.connect(path, timeout=30)  # noqa: E731
        else:
            db.load_images(first, version(0).images)
            reader = second_connection(engine, first)
            opener = lambda: first  # noqa: E731
        try:
            pages = walk(reader)
            assert {k for k, _ in pages} == {0} and all(ok for _, ok in pages)
            thread = threading.Thread(target=replace, args=(opener,))
            thread.start()
            writing.wait(30)
            during: list[tuple[int, bool]] = []
            while thread.is_alive():
                during.extend(walk(reader))
            thread.join()
            assert not failures, failures
            after = walk(reader)
        finally:
            reader.close()
            if engine == "sqlite":
                first.close()
    assert len(during) >= 5  # pages were read while the writer had a transaction open
    assert all(ok for _, ok in during), [p for p in during if not p[1]]
    assert {k for k, _ in after} == {VERSIONS} and all(ok for _, ok in after)

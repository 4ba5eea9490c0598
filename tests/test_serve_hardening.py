"""Fixes of the HTTP endpoint after review (issue 12): proxy headers spelled to
slip past a proxy, ASGI admission (503 instead of an unbounded queue), driver
errors that are bugs, secrets in the access log, a read-only SQLite pool, the
OpenAPI description of the configured service, a real PostgreSQL connect
timeout, and ``imgfilter serve --workers`` giving up on workers that cannot start."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import imgfilter
from imgfilter import Context, db
from imgfilter.front import params as P
from imgfilter.io.records import Catalog
from imgfilter.serve import DatabaseSource, MemorySource, Service, asgi_app, openapi
from imgfilter.serve import sources as serve_sources
from imgfilter.serve.http import loggable_query

from .test_serve import CATALOG, RECORDS, Reply, call_asgi, call_wsgi, ids
from .test_serve_live import children, start_serve

ME = ("X-Project-Id", "p1")


# ---- 1. trusted headers spelled to slip past the proxy ----------------------------------------------

@pytest.mark.parametrize("smuggled", [("x_roles", "admin"), ("X_Roles", "admin"), ("x_project_id", "p2"),
                                      ("X_Project_Id", "p2")])
def test_asgi_refuses_an_underscore_spelling_of_a_trusted_header(smuggled: tuple[str, str]) -> None:
    """A proxy that strips X-Roles/X-Project-Id may pass X_Roles/X_Project_Id: never trusted, never ignored."""
    service = Service(MemorySource(CATALOG))
    status, _, body = call_asgi(service, "GET", "/v2/cloudimages", b"", [ME, smuggled])
    assert status == 401 and json.loads(body)["error"]["code"] == "HTTP.401"
    assert "is not X-" in json.loads(body)["error"]["message"]


@pytest.mark.parametrize("name", ["X-Roles", "X-Project-Id"])
def test_asgi_refuses_a_repeated_trusted_header(name: str) -> None:
    service = Service(MemorySource(CATALOG))
    headers = [ME, (name, "member"), (name, "admin")] if name == "X-Roles" else [(name, "p1"), (name, "p1")]
    assert call_asgi(service, "GET", "/v2/cloudimages", b"", headers)[0] == 401


def test_wsgi_reads_a_joined_x_roles_as_every_role_in_it() -> None:
    """Under WSGI, X-Roles sent twice (a client's ``admin`` and a proxy's appended
    ``member``) arrives as one joined ``HTTP_X_ROLES``: that is an administrator.
    Hence the README: the proxy must drop what the client sent, not append."""
    service = Service(MemorySource(CATALOG))
    joined = {"X-Project-Id": "p1", "X-Roles": "member,admin"}  # HTTP_X_ROLES as the server joined it
    status, _, body = call_wsgi(service, "GET", "/v2/cloudimages", "", joined)
    assert status == 200 and sorted(ids(body)) == sorted(str(r["id"]) for r in RECORDS)
    status, _, body = call_wsgi(service, "GET", "/v2/cloudimages", "", {"X-Project-Id": "p1", "X-Roles": "member"})
    assert status == 200 and RECORDS[2]["id"] not in ids(body)


# ---- 2. ASGI admission: a full app answers 503 quickly ----------------------------------------------------

class Slow(MemorySource):
    def page(self, query: Any, context: Context) -> Any:
        time.sleep(1.0)
        return super().page(query, context)


def test_an_overloaded_asgi_app_answers_503_quickly_not_after_a_queue() -> None:
    """2 threads, a 0.5 s timeout, a page that takes 1 s, 8 requests at once: 2
    answered, 6 refused with 503 and Retry-After after about 0.5 s; none waits
    for the others' turns (before: all 8 queued, the last answered after 4 s)."""
    app = asgi_app(Service(Slow(CATALOG)), threads=2, timeout=0.5)
    scope = {"type": "http", "method": "GET", "path": "/v2/cloudimages", "root_path": "", "query_string": b"",
             "headers": [(b"x-project-id", b"p1")]}

    async def one() -> tuple[int, dict[str, str], float]:
        sent: list[dict[str, Any]] = []
        start = time.monotonic()

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent[0]["status"], {k.decode(): v.decode() for k, v in sent[0]["headers"]}, time.monotonic() - start

    async def many() -> list[tuple[int, dict[str, str], float]]:
        return await asyncio.gather(*(one() for _ in range(8)))

    replies = asyncio.run(many())
    statuses = sorted(status for status, _, _ in replies)
    assert statuses == [200, 200, *[503] * 6]
    assert all(0.4 < took < 0.9 and headers["retry-after"] == "1" for status, headers, took in replies
               if status == 503)
    assert max(took for _, _, took in replies) < 2.0


# ---- 4. a driver's programming or data error is a bug (500), not an outage (503) ---------------------

def _raising(error: BaseException) -> Service:
    class Failing(MemorySource):
        def page(self, query: Any, context: Context) -> Any:
            raise error

    return Service(Failing(CATALOG))


@pytest.mark.parametrize("error", [sqlite3.ProgrammingError("bad SQL of ours"), sqlite3.IntegrityError("x"),
                                   sqlite3.DataError("x")])
def test_a_driver_programming_or_data_error_is_500_with_the_traceback_logged(
        error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    status, _, body = call_wsgi(_raising(error), "GET", "/v2/cloudimages", "", dict([ME]))
    assert status == 500 and json.loads(body)["error"]["code"] == "HTTP.500"
    assert any(r.name == "imgfilter.serve" and r.exc_text and type(error).__name__ in r.exc_text
               for r in caplog.records)


def test_a_postgresql_programming_error_is_500() -> None:
    psycopg = pytest.importorskip("psycopg")
    assert call_wsgi(_raising(psycopg.errors.UndefinedColumn("no column")), "GET", "/v2/cloudimages", "",
                     dict([ME]))[0] == 500
    assert call_wsgi(_raising(psycopg.errors.AdminShutdown("terminating")), "GET", "/v2/cloudimages", "",
                     dict([ME]))[0] == 503


@pytest.mark.parametrize("error", [sqlite3.OperationalError("database is locked"),
                                   sqlite3.InterfaceError("x"), db.DatabaseError("no catalog")])
def test_a_database_that_cannot_answer_is_still_503(error: BaseException) -> None:
    assert call_wsgi(_raising(error), "GET", "/v2/cloudimages", "", dict([ME]))[0] == 503


# ---- 5. the access log hides every pair it does not know ----------------------------------------------

@pytest.mark.parametrize(("query", "logged"), [
    ("limit=1&eyJhbGciOiJIUzI1NiJ9.e30.sig", "limit=1&***"),  # a bare token: a pair without '='
    ("name=x&token%3Dhunter2", "name=x&***"),  # an encoded '='
    ("token=hunter2&sort_key=name", "***&sort_key=name"),
    ("name+x=1&__support_kvm=true&status=", "***&__support_kvm=true&status="),
])
def test_the_access_log_hides_every_unknown_pair(query: str, logged: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="imgfilter.serve.access")
    call_asgi(Service(MemorySource(CATALOG)), "GET", "/v2/cloudimages", query.encode(), [ME])
    (line,) = [r.getMessage() for r in caplog.records if r.name == "imgfilter.serve.access"]
    assert f'"/v2/cloudimages?{logged}"' in line and "hunter2" not in line and "eyJ" not in line
    assert loggable_query(query) == logged


# ---- 6. one rule each: read-only SQLite through db.connect, the project id, the OpenAPI document ----------

def test_db_connect_readonly_opens_sqlite_read_only_from_any_thread(tmp_path: Path) -> None:
    path = tmp_path / "images.db"
    conn = db.connect(f"sqlite:///{path}", create=True)
    db.load_catalog(conn, Catalog.from_records(RECORDS))
    conn.close()
    ro = db.connect(f"sqlite:///{path}", readonly=True)
    got: list[Any] = []
    thread = threading.Thread(target=lambda: got.append(db.run(ro, "sort_key=name", Context(is_admin=True)).ids))
    thread.start()
    thread.join()
    assert got == [imgfilter.run("sort_key=name", CATALOG, Context(is_admin=True)).ids]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        ro.execute("DELETE FROM images")
    with pytest.raises(db.DatabaseError, match="no such file"):
        db.connect(f"sqlite:///{tmp_path / 'missing.db'}", readonly=True)
    assert not (tmp_path / "missing.db").exists()


def test_the_project_id_rule_is_the_owner_parameters() -> None:
    owner = P.PARAMS["owner"]
    service = Service(MemorySource(CATALOG))
    assert call_wsgi(service, "GET", "/v2/cloudimages", "", {"X-Project-Id": "a" * owner.max_len})[0] == 200
    status, _, body = call_wsgi(service, "GET", "/v2/cloudimages", "", {"X-Project-Id": "a" * (owner.max_len + 1)})
    assert status == 401 and owner.domain in json.loads(body)["error"]["message"]
    (header,) = [p for p in openapi()["paths"]["/v2/cloudimages"]["get"]["parameters"] if p["name"] == "X-Project-Id"]
    assert header["schema"]["pattern"] == f"^(?:{owner.pattern}{{{owner.min_len},{owner.max_len}}})$"


def test_openapi_states_the_services_own_url_limit() -> None:
    service = Service(MemorySource(CATALOG), max_url_length=300)
    _, _, body = call_wsgi(service, "GET", "/openapi.json")
    said = json.loads(body)["paths"]["/v2/cloudimages"]["get"]["responses"]["414"]["description"]
    assert "longer than 300 characters" in said
    assert call_wsgi(service, "GET", "/v2/cloudimages", "name=" + "x" * 300, dict([ME]))[0] == 414


def test_wsgi_status_lines_have_their_reason_phrases() -> None:
    service = Service(MemorySource(CATALOG))
    lines: list[str] = []
    for path, query in [("/v2/cloudimages", "x" * 9000), ("/nope", ""), ("/healthz", "")]:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query}
        b"".join(imgfilter.serve.wsgi_app(service)(environ, lambda status, _: lines.append(status)))
    assert lines[0] in ("414 URI Too Long", "414 Request-URI Too Long")  # Python 3.13 renamed it
    assert lines[1:] == ["404 Not Found", "200 OK"]


# ---- 7. PostgreSQL: a connect that is never answered gives up -------------------------------------------

def test_a_postgresql_connect_never_answered_gives_up_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A listening socket whose backlog is full (nothing accepts): the SYN is
    never answered.  With no connect_timeout in the URL, the service's own (here
    2 s) ends the wait with a 503; without one libpq would wait minutes."""
    pytest.importorskip("psycopg")
    monkeypatch.setattr(serve_sources, "CONNECT_TIMEOUT", 2)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the accept queue: later connects get no SYN-ACK
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    time.sleep(0.2)
    service = Service(DatabaseSource(f"postgresql://u@127.0.0.1:{port}/x", timeout=1))
    got: list[Reply] = []
    start = time.monotonic()
    thread = threading.Thread(target=lambda: got.append(call_wsgi(service, "GET", "/v2/cloudimages", "", dict([ME]))),
                              daemon=True)
    thread.start()
    thread.join(20)
    took = time.monotonic() - start
    try:
        assert got, "the connect did not give up within 20 s"
        assert got[0][0] == 503 and 1.5 < took < 6
    finally:
        for s in fillers:
            s.close()
        listener.close()


# ---- 3. imgfilter serve --workers: a worker that cannot start is not re-forked forever -----------------

def test_workers_that_cannot_start_stop_imgfilter_serve(tmp_path: Path) -> None:
    """The records file goes away after start, then a worker dies: its
    replacements fail to load it.  They are re-forked with back-off, and after
    a few failures imgfilter serve stops with exit status 1 (before: 300
    tracebacks in 6 s, forever)."""
    data = tmp_path / "images.json"
    data.write_text(json.dumps(RECORDS))
    proc, _ = start_serve("--data", str(data), stderr=subprocess.PIPE)
    try:
        data.unlink()
        os.kill(children(proc.pid)[0], signal.SIGKILL)
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate(timeout=30)
    assert code == 1, err[-2000:]
    assert "died within" in err
    assert 3 <= err.count("exited with status") <= 6  # the killed worker, then a few failed starts
    assert not children(proc.pid)

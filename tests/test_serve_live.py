"""The endpoint on a real server (uvicorn on a free loopback port), read by the
official Huawei Cloud IMS SDK (``huaweicloudsdkims``) and tested by
schemathesis against its own OpenAPI description; and ``imgfilter serve``."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkims.v2 import ImsClient, ListImagesRequest
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import imgfilter
from imgfilter import Context, db
from imgfilter.io.catalog import PROJECTS, bundled
from imgfilter.serve import SERVICE_OPTIONS, DatabaseSource, MemorySource, Service, Source, asgi_app, openapi
from imgfilter.serve.main import listen_socket

from .dbs import isolated
from .test_sdk import walk

ADMIN = "admin"


class Server:
    """uvicorn serving the ASGI app on 127.0.0.1 and a free port, in a thread
    (on the socket ``imgfilter serve --workers N`` listens on)."""

    def __init__(self, source: Source, sock: socket.socket | None = None, loop: str = "auto") -> None:
        self.sock = sock or listen_socket("127.0.0.1", 0)
        self.endpoint = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(asgi_app(Service(source)), log_config=None, access_log=False, lifespan="on",
                                loop=loop)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the server did not start"
            time.sleep(0.01)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="module", params=["memory", "sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    cat = bundled()
    if request.param == "memory":
        srv = Server(MemorySource(cat))
        yield srv
        srv.close()
        return
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("serve") / "images.db"
        conn = sqlite3.connect(path)
        db.load_catalog(conn, cat)
        conn.close()
        srv = Server(DatabaseSource(f"sqlite:///{path}", pool_size=4))
        yield srv
        srv.close()
        return
    with isolated("postgresql") as conn:
        db.load_catalog(conn, cat)
        cur = conn.cursor()
        cur.execute("SHOW search_path")
        (search_path,) = cur.fetchone()
        conn.commit()
        url = os.environ["IMGFILTER_TEST_POSTGRESQL_URL"]

        def connect() -> Any:
            c = db.connect(url)
            c.execute(f"SET search_path TO {search_path}")
            c.commit()
            return c

        srv = Server(DatabaseSource(connect, pool_size=4))
        try:
            yield srv
        finally:
            srv.close()


def client(server: Server, project: str) -> Any:
    """The SDK's client; BasicCredentials' project is sent as X-Project-Id.  An
    admin is marked the way the proxy would (X-Roles)."""
    ims = (ImsClient.new_builder()
           .with_credentials(BasicCredentials("ak", "sk", "admin-project" if project == ADMIN else project))
           .with_endpoints([server.endpoint])
           .build())
    if project == ADMIN:
        original = ims._call_api

        def call_api(**kwargs: Any) -> Any:
            kwargs["header_params"] = {**(kwargs.get("header_params") or {}), "X-Roles": "member,admin"}
            return original(**kwargs)

        ims._call_api = call_api
    return ims


def context_of(project: str) -> Context:
    return Context(is_admin=True) if project == ADMIN else Context(project)



@pytest.mark.parametrize("project", [PROJECTS[2], ADMIN])
def test_page_walks_with_the_sdk(server: Server, project: str) -> None:
    cat = bundled()
    ims = client(server, project)
    for filters, query in [({"sort_key": "name"}, "sort_key=name"),
                           ({"imagetype": "gold", "sort_key": "created_at", "sort_dir": "asc"},
                            "__imagetype=gold&sort_key=created_at&sort_dir=asc"),
                           ({"tag": "env", "created_at": "gt:2019-01-01T00:00:00Z"},
                            "tag=env&created_at=gt:2019-01-01T00:00:00Z")]:
        images, pages = walk(ims, 200, **filters)
        want = imgfilter.run(query + "&limit=100000", cat, context_of(project)).ids
        assert [i.id for i in images] == want and pages == max(1, -(-len(want) // 200))
    if project == ADMIN:
        assert len(walk(ims, 500)[0]) == len(cat)


def test_one_image_typed_by_the_sdk(server: Server) -> None:
    resp = client(server, PROJECTS[0]).list_images(ListImagesRequest(imagetype="gold", sort_key="name", limit=1))
    (first,) = resp.images
    assert first.imagetype == "gold" and first.isregistered == "true" and first.protected is True
    assert resp.page_info.next_marker == first.id


@pytest.mark.parametrize(("fields", "project", "code", "status"), [
    ({"status": "activ"}, PROJECTS[0], "IMG.0001", 400),
    ({"imagetype": "golden"}, PROJECTS[0], "IMG.0024", 400),
    ({"os_type": "linux"}, ADMIN, "IMG.0122", 400),
    ({"architecture": "amd64"}, PROJECTS[0], "IMG.0212", 400),
    ({"tag": "a.b"}, PROJECTS[0], "IMG.0115", 400),
    ({"marker": "00000000-0000-4000-8000-000000000000"}, PROJECTS[0], "IMG.0027", 400),
    ({"isregistered": "false"}, PROJECTS[0], "IMG.0026", 403),
])
def test_errors_with_the_sdk(server: Server, fields: dict[str, Any], project: str, code: str, status: int) -> None:
    with pytest.raises(ClientRequestException) as info:
        client(server, project).list_images(ListImagesRequest(**fields))
    e = info.value
    assert (e.status_code, e.error_code) == (status, code) and e.request_id.startswith("req-")


def test_no_project_is_401(server: Server) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.endpoint + "/v2/cloudimages?limit=1", timeout=10)
    assert info.value.code == 401 and json.loads(info.value.read())["error"]["code"] == "HTTP.401"


# ---- schemathesis: generated requests against the description ---------------------------------------

SCHEMA = schemathesis.openapi.from_dict(openapi(SERVICE_OPTIONS))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture(scope="module")
def memory_server() -> Iterator[Server]:
    srv = Server(MemorySource(bundled()))
    yield srv
    srv.close()


@SCHEMA.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis(case: Any, memory_server: Server) -> None:
    """No 5xx, and every response (status, headers, body) as the description says."""
    case.call_and_validate(base_url=memory_server.endpoint, checks=CHECKS, timeout=10)


def test_schemathesis_cli_with_invalid_requests_too(memory_server: Server, tmp_path: Path) -> None:
    """schemathesis's own runner (examples, coverage of each parameter's edges,
    fuzzing; valid and invalid requests): every check but "a valid request is
    accepted", which cannot know the rules across parameters (member_status
    needs visibility=shared, a marker must exist, flavor_id needs a flavor
    catalog)."""
    r = subprocess.run([sys.executable, "-m", "schemathesis.cli", "run", f"{memory_server.endpoint}/openapi.json",
                        "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--max-examples", "40",
                        "-H", "X-Project-Id: p1", "--seed", "1"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0 and "No issues found" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]


# ---- imgfilter serve ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.parametrize("db_source", [False, True])
def test_imgfilter_serve(tmp_path: Path, db_source: bool) -> None:
    """The issue's check: one gold image for project P, from the bundled catalog (in memory, or loaded into SQLite)."""
    port = free_port()
    args = [sys.executable, "-m", "imgfilter", "serve", "--port", str(port), "--workers", "1"]
    if db_source:
        path = tmp_path / "images.db"
        conn = sqlite3.connect(path)
        db.load_catalog(conn, bundled())
        conn.close()
        args += ["--db", f"sqlite:///{path}"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env={**os.environ, "IMGFILTER_DB": ""})
    try:
        url = f"http://127.0.0.1:{port}/v2/cloudimages?__imagetype=gold&sort_key=name&limit=1"
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = get(url, {"X-Project-Id": "P"})
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "imgfilter serve did not start"
                time.sleep(0.1)
        assert status == 200 and len(body["images"]) == 1 and body["images"][0]["__imagetype"] == "gold"
        assert body["images"][0]["id"] == imgfilter.run("__imagetype=gold&sort_key=name&limit=1", bundled(),
                                                        Context("P")).ids[0]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    access = [line for line in err.splitlines() if "imgfilter.serve.access" in line]
    assert len(access) == 1 and '"/v2/cloudimages?__imagetype=gold&sort_key=name&limit=1" 200' in access[0]


def test_imgfilter_serve_says_what_is_wrong(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    r = subprocess.run([sys.executable, "-m", "imgfilter", "serve", "--db", f"sqlite:///{empty}",
                        "--port", str(free_port())], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "imgfilter load" in r.stderr and "Traceback" not in r.stderr
    missing = tmp_path / "missing.db"
    for args, code, says in [(["--db", f"sqlite:///{missing}"], 1, "no such file"),
                             (["--db", "sqlite://"], 2, "must be a file"),
                             (["--db", "postgresql://u:s3cret@127.0.0.1:1/x"], 1, "cannot connect"),
                             (["--workers", "0"], 2, "at least 1")]:
        r = subprocess.run([sys.executable, "-m", "imgfilter", "serve", *args, "--port", str(free_port())],
                           capture_output=True, text=True, timeout=60)
        assert (r.returncode, "Traceback" in r.stderr, "s3cret" in r.stderr) == (code, False, False), r.stderr
        assert says in r.stderr
    assert not missing.exists()


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry))
    return out


def start_serve(*args: str, stderr: Any = subprocess.DEVNULL) -> tuple[subprocess.Popen[str], str]:
    """``imgfilter serve ARGS --workers 2`` on a free port, once both workers are up and it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "imgfilter", "serve", *args, "--port", str(port),
                             "--workers", "2"], stderr=stderr, text=True, env={**os.environ, "IMGFILTER_DB": ""})
    url = f"http://127.0.0.1:{port}/v2/cloudimages?limit=1"
    deadline = time.monotonic() + 30
    while len(children(proc.pid)) < 2 or not _answers(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("imgfilter serve did not start")
        time.sleep(0.1)
    return proc, url


def test_imgfilter_serve_with_workers_replaces_a_dead_one_and_stops_on_sigterm() -> None:
    proc, url = start_serve()
    try:
        deadline = time.monotonic() + 30
        first, *_ = workers = children(proc.pid)
        os.kill(first, signal.SIGKILL)
        while True:  # a new worker takes its place
            now = children(proc.pid)
            if len(now) == 2 and first not in now:
                break
            assert time.monotonic() < deadline, f"the worker was not replaced: {workers} -> {now}"
            time.sleep(0.1)
        assert all(_answers(url) for _ in range(10))
        now = children(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert not any(Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text()
                   for pid in now)


def _answers(url: str) -> bool:
    try:
        return get(url, {"X-Project-Id": "P"})[0] == 200
    except OSError:
        return False


@pytest.mark.parametrize("ours", [True, False])
def test_workers_answer_without_waiting_for_delayed_acks(ours: bool) -> None:
    """The connections a worker accepts have TCP_NODELAY: otherwise a response
    written in two parts (headers, body) waits ~40 ms for the client's delayed
    ACK.  A socket made the way uvicorn's multi-process mode makes it (protocol
    0) does not get it on asyncio's own loop; the one imgfilter serve makes does.
    (uvloop, which the [serve] extra installs, sets it on both.)"""
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    plain.bind(("127.0.0.1", 0))
    plain.listen()
    srv = Server(MemorySource(bundled()), listen_socket("127.0.0.1", 0) if ours else plain, loop="asyncio")
    try:
        with socket.create_connection(("127.0.0.1", int(srv.sock.getsockname()[1]))) as c:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.recv(100).startswith(b"HTTP/1.1 200")
            (conn,) = srv.server.server_state.connections
            accepted = conn.transport.get_extra_info("socket")
            assert bool(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)) is ours
    finally:
        srv.close()

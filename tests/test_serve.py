"""The HTTP endpoint in process (imgfilter.serve): the ASGI and WSGI adapters,
callers, statuses and bodies, the access log, the pool, the OpenAPI description."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

import imgfilter
from imgfilter import Context, db
from imgfilter.front import params as P
from imgfilter.io.catalog import PROJECTS, bundled
from imgfilter.io.cli import main
from imgfilter.io.records import Catalog
from imgfilter.serve import (
    SERVICE_OPTIONS,
    DatabaseSource,
    MemorySource,
    Pool,
    Request,
    Service,
    Unauthenticated,
    Unavailable,
    asgi_app,
    openapi,
    wsgi_app,
)

RECORDS = [
    {"id": "11111111-1111-4111-8111-111111111111", "name": "my image", "visibility": "public",
     "__isregistered": True, "tags": ["env=prod", "os.linux"], "created_at": "2020-01-01T00:00:00Z",
     "members": [{"member_id": "other", "status": "accepted"}]},
    {"id": "22222222-2222-4222-8222-222222222222", "name": "é", "visibility": "private", "owner": "p1",
     "__isregistered": True, "tags": ["env=prod"], "created_at": "2021-01-01T00:00:00Z"},
    {"id": "33333333-3333-4333-8333-333333333333", "name": "a+b", "visibility": "private", "owner": "p2",
     "__isregistered": True, "tags": ["env=test"], "created_at": "2022-01-01T00:00:00Z"},
]
CATALOG = Catalog.from_records(RECORDS)
Reply = tuple[int, dict[str, str], bytes]


def call_wsgi(service: Service, method: str, path: str, query: str = "", headers: dict[str, str] | None = None,
              script_name: str = "") -> Reply:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                               "SCRIPT_NAME": script_name}
    for k, v in (headers or {}).items():
        environ["HTTP_" + k.upper().replace("-", "_")] = v
    got: list[Any] = []
    body = b"".join(wsgi_app(service)(environ, lambda status, hdrs: got.extend([status, hdrs])))
    return int(got[0].split()[0]), {k.lower(): v for k, v in got[1]}, body


def call_asgi(service: Service, method: str, path: str, query: bytes | str = b"",
              headers: list[tuple[str, str]] | dict[str, str] | None = None, root_path: str = "") -> Reply:
    raw = query.encode("latin-1") if isinstance(query, str) else query
    pairs = list(headers.items()) if isinstance(headers, dict) else (headers or [])
    scope = {"type": "http", "method": method, "path": root_path + path, "root_path": root_path,
             "query_string": raw, "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in pairs]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    async def go() -> None:
        await asgi_app(service, threads=2)(scope, receive, send)

    asyncio.run(go())
    start, body = sent
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body["body"]


CALLS = {"wsgi": call_wsgi, "asgi": call_asgi}


@pytest.fixture(params=["wsgi", "asgi"])
def call(request: pytest.FixtureRequest) -> Callable[..., Reply]:
    return CALLS[request.param]


@pytest.fixture
def service() -> Service:
    return Service(MemorySource(CATALOG))


def ids(body: bytes) -> list[str]:
    return [img["id"] for img in json.loads(body)["images"]]


def test_the_raw_query_reaches_imgfilter_untouched(call: Callable[..., Reply], service: Service) -> None:
    """Repeated tags, '+' as a space, an empty value, an escaped '+' keep their meaning."""
    for query, want in [
        ("tag=env%3Dprod&tag=os%3Dlinux", [RECORDS[0]["id"]]),  # repeated: AND
        ("name=my+image&owner=", [RECORDS[0]["id"]]),  # '+' is a space; an empty value is ignored
        ("name=a%2Bb", [RECORDS[2]["id"]]),
        ("name=a+b", []),
    ]:
        status, _, body = call(service, "GET", "/v2/cloudimages", query, {"X-Project-Id": "p9", "X-Roles": "admin"})
        assert status == 200 and ids(body) == want == imgfilter.run(query, CATALOG, Context(is_admin=True)).ids


def test_raw_bytes_beyond_ascii_are_utf8_or_an_error(service: Service) -> None:
    admin = {"X-Project-Id": "p1", "X-Roles": "admin"}
    status, _, body = call_asgi(service, "GET", "/v2/cloudimages", "name=é".encode(), admin)
    assert status == 200 and ids(body) == [RECORDS[1]["id"]]
    status, _, body = call_wsgi(service, "GET", "/v2/cloudimages", "name=é".encode().decode("latin-1"), admin)
    assert status == 200 and ids(body) == [RECORDS[1]["id"]]  # PEP 3333: QUERY_STRING is latin-1 text
    status, _, body = call_asgi(service, "GET", "/v2/cloudimages", b"name=\xff", admin)
    assert status == 400 and json.loads(body)["error"]["code"] == "IMG.0001"


def test_the_caller_comes_from_the_proxy_headers(call: Callable[..., Reply], service: Service) -> None:
    status, headers, body = call(service, "GET", "/v2/cloudimages", "")
    assert status == 401 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"] == {"code": "HTTP.401",
                                         "message": "X-Project-Id is missing: the request was not authenticated"}
    assert call(service, "GET", "/v2/cloudimages", "", {"X-Roles": "admin"})[0] == 401
    assert call(service, "GET", "/v2/cloudimages", "", {"X-Project-Id": "p 1"})[0] == 401
    status, _, body = call(service, "GET", "/v2/cloudimages", "", {"X-Project-Id": "p1"})
    assert status == 200 and sorted(ids(body)) == sorted(imgfilter.run("", CATALOG, Context("p1")).ids)
    assert RECORDS[2]["id"] not in ids(body)  # another project's private image
    status, _, body = call(service, "GET", "/v2/cloudimages", "", {"X-Project-Id": "p1", "X-Roles": "member, Admin"})
    assert status == 200 and len(ids(body)) == 3


def test_a_repeated_project_header_is_refused(service: Service) -> None:
    """Two X-Project-Id headers (a client's and the proxy's) never pick one silently."""
    status, _, body = call_asgi(service, "GET", "/v2/cloudimages", "",
                                [("X-Project-Id", "p2"), ("X-Project-Id", "p1")])
    assert status == 401 and "2 times" in json.loads(body)["error"]["message"]
    status, _, _ = call_wsgi(service, "GET", "/v2/cloudimages", "", {"X-Project-Id": "p2, p1"})  # joined by WSGI
    assert status == 401


def test_members_are_never_served(call: Callable[..., Reply], service: Service) -> None:
    for headers in ({"X-Project-Id": "other"}, {"X-Project-Id": "x", "X-Roles": "admin"}):
        status, _, body = call(service, "GET", "/v2/cloudimages", "", headers)
        assert status == 200 and b"members" not in body


def test_statuses_and_ims_bodies(call: Callable[..., Reply], service: Service) -> None:
    me = {"X-Project-Id": "p1"}
    status, headers, body = call(service, "GET", "/v2/cloudimages", "status=activ&limit=x", me)
    err = json.loads(body)
    assert status == 400 and err["error"]["code"] == "IMG.0001" and len(err["errors"]) == 2
    status, _, body = call(service, "GET", "/v2/cloudimages", "__isregistered=false", me)
    assert status == 403 and json.loads(body)["error"]["code"] == "IMG.0026"
    status, _, body = call(service, "GET", "/v2/cloudimages", "marker=00000000-0000-4000-8000-000000000000", me)
    assert json.loads(body)["error"]["code"] == "IMG.0027"
    status, _, body = call(service, "GET", "/v2/images", "", me)
    assert status == 404 and json.loads(body)["error"]["code"] == "HTTP.404"
    status, headers, body = call(service, "DELETE", "/v2/cloudimages", "", me)
    assert status == 405 and headers["allow"] == "GET" and json.loads(body)["error"]["code"] == "HTTP.405"
    status, headers, body = call(service, "HEAD", "/v2/cloudimages", "", me)
    assert status == 405 and body == b""
    status, _, body = call(service, "GET", "/v2/cloudimages", "name=" + "x" * 9000, me)
    assert status == 414 and json.loads(body)["error"]["code"] == "HTTP.414"
    status, _, body = call(service, "GET", "/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}


def test_every_response_has_its_own_request_id(call: Callable[..., Reply], service: Service) -> None:
    seen = set()
    for path, headers in [("/v2/cloudimages", {"X-Project-Id": "p1"}), ("/v2/cloudimages", {}), ("/nope", {}),
                          ("/healthz", {}), ("/openapi.json", {})]:
        _, hdrs, _ = call(service, "GET", path, "", headers)
        assert hdrs["x-request-id"].startswith("req-")
        seen.add(hdrs["x-request-id"])
    assert len(seen) == 5


def test_the_service_limits_pages(service: Service) -> None:
    """The service preset pages by default (a tenant cannot ask for a whole catalog in one response)."""
    big = Service(MemorySource(bundled()))
    status, _, body = call_wsgi(big, "GET", "/v2/cloudimages", "", {"X-Project-Id": "p", "X-Roles": "admin"})
    assert status == 200 and len(ids(body)) == SERVICE_OPTIONS.default_limit
    status, _, body = call_wsgi(big, "GET", "/v2/cloudimages", "limit=5000", {"X-Project-Id": "p", "X-Roles": "admin"})
    assert status == 200 and len(ids(body)) == SERVICE_OPTIONS.max_limit


def test_mounted_under_a_prefix(service: Service) -> None:
    me = {"X-Project-Id": "p1"}
    assert call_asgi(service, "GET", "/v2/cloudimages", "", me, root_path="/ims")[0] == 200
    assert call_wsgi(service, "GET", "/v2/cloudimages", "", me, script_name="/ims")[0] == 200


# ---- the access log ------------------------------------------------------------------------

def test_one_access_log_line_per_request_with_no_secrets(call: Callable[..., Reply], service: Service,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="imgfilter.serve.access")
    headers = {"X-Project-Id": "p1", "X-Auth-Token": "gAAAAsecret-token"}
    _, hdrs, _ = call(service, "GET", "/v2/cloudimages", "name=x&token=hunter2&password=p%40ss", headers)
    (record,) = [r for r in caplog.records if r.name == "imgfilter.serve.access"]
    line = record.getMessage()
    assert line.startswith('GET "/v2/cloudimages?name=x&***&***" 400 ')
    assert hdrs["x-request-id"] in line and "project=p1" in line
    assert "secret" not in line and "hunter2" not in line and "p%40ss" not in line


def test_a_header_never_forges_a_log_line(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="imgfilter.serve.access")
    evil = "p1\r\nGET \"/v2/cloudimages\" 200 0.1ms req-x project=admin\x1b[31m\x85"
    status, _, _ = call_asgi(service, "GET", "/v2/cloudimages", b"", {"X-Project-Id": evil})
    assert status == 401
    (line,) = [r.getMessage() for r in caplog.records if r.name == "imgfilter.serve.access"]
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\x85" not in line
    assert '\\x0d\\x0aGET \\x22/v2' in line and "\\x85" in line and line.isprintable()


def test_a_query_never_forges_a_log_line(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="imgfilter.serve.access")
    call_asgi(service, "GET", "/v2/cloudimages", b"name=a\nb\x00\"&x=\xff", {"X-Project-Id": "p1"})
    (line,) = [r.getMessage() for r in caplog.records if r.name == "imgfilter.serve.access"]
    assert line.isprintable() and line.isascii() and '"/v2/cloudimages?name=a\\x0ab\\x00\\x22&***"' in line


# ---- failures: 503 for the database, 500 without details for a bug --------------------------------

def test_a_database_without_tables_is_503(tmp_path: Path, call: Callable[..., Reply]) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    service = Service(DatabaseSource(f"sqlite:///{path}"))
    status, headers, body = call(service, "GET", "/v2/cloudimages", "", {"X-Project-Id": "p1"})
    assert status == 503 and json.loads(body)["error"]["code"] == "HTTP.503" and headers["retry-after"] == "1"
    assert b"no such table" not in body and b"Traceback" not in body
    assert call(service, "GET", "/healthz")[0] == 503


def test_a_missing_sqlite_file_is_503_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    service = Service(DatabaseSource(f"sqlite:///{path}"))
    assert call_wsgi(service, "GET", "/v2/cloudimages", "", {"X-Project-Id": "p1"})[0] == 503
    assert not path.exists()


def test_an_unreachable_database_is_503() -> None:
    service = Service(DatabaseSource("postgresql://nobody@127.0.0.1:1/none", timeout=1))
    status, _, body = call_wsgi(service, "GET", "/v2/cloudimages", "", {"X-Project-Id": "p1"})
    assert status == 503 and b"nobody" not in body and b"127.0.0.1" not in body


def test_a_database_password_never_reaches_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    service = Service(DatabaseSource("postgresql://nobody:s3cr%3At@127.0.0.1:1/none", timeout=1))
    assert call_wsgi(service, "GET", "/v2/cloudimages", "", {"X-Project-Id": "p1"})[0] == 503
    assert call_wsgi(service, "GET", "/healthz")[0] == 503
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "database unavailable" in logged and "s3cr" not in logged and "nobody:***@" in logged


def test_with_connect_timeout_adds_libpqs_connect_timeout_unless_the_url_sets_one() -> None:
    """The URL helper only; a real connect that is never answered: test_serve_hardening.py."""
    from imgfilter.serve.sources import with_connect_timeout

    assert with_connect_timeout("postgresql://u@h/db") == "postgresql://u@h/db?connect_timeout=5"
    assert with_connect_timeout("postgresql://u@h/db?sslmode=require") == \
        "postgresql://u@h/db?sslmode=require&connect_timeout=5"
    assert with_connect_timeout("postgresql://u@h/db?connect_timeout=1") == "postgresql://u@h/db?connect_timeout=1"


def test_a_bug_is_500_with_no_details(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(MemorySource):
        def page(self, query: Any, context: Context) -> Any:
            raise KeyError("secret internals")

    status, _, body = call_asgi(Service(Broken(CATALOG)), "GET", "/v2/cloudimages", b"", {"X-Project-Id": "p1"})
    assert status == 500 and json.loads(body) == {"error": {"code": "HTTP.500", "message": "internal error"}}
    assert any("secret internals" in (r.exc_text or "") for r in caplog.records)  # for the operator only


def test_a_service_plugs_in_its_own_resolver() -> None:
    def from_gateway(request: Request) -> Context:
        (tenant,) = request.header("X-Tenant") or [""]
        if tenant not in PROJECTS:
            raise Unauthenticated("unknown tenant")
        return Context(tenant)

    service = Service(MemorySource(bundled()), resolver=from_gateway)
    status, _, body = call_wsgi(service, "GET", "/v2/cloudimages", "limit=1000", {"X-Tenant": PROJECTS[0]})
    assert status == 200 and ids(body) == imgfilter.run("limit=1000", bundled(), Context(PROJECTS[0])).ids
    assert call_wsgi(service, "GET", "/v2/cloudimages", "", {"X-Project-Id": PROJECTS[0]})[0] == 401


# ---- the pool --------------------------------------------------------------------------------------

class FakeConnection:
    """Counts concurrent users; fails on demand."""

    active = 0
    most = 0
    lock = threading.Lock()

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.closed = False

    def use(self) -> None:
        with FakeConnection.lock:
            FakeConnection.active += 1
            FakeConnection.most = max(FakeConnection.most, FakeConnection.active)
        time.sleep(0.002)
        with FakeConnection.lock:
            FakeConnection.active -= 1
        if self.fail:
            raise sqlite3.OperationalError("connection lost")

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_the_pool_never_shares_a_connection_and_stays_bounded() -> None:
    made: list[FakeConnection] = []

    def connect() -> FakeConnection:
        made.append(FakeConnection())
        return made[-1]

    pool = Pool(connect, size=3)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                with pool.connection() as conn:
                    conn.use()
        except BaseException as e:
            errors.append(e)

    FakeConnection.most = 0
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(made) <= 3 and FakeConnection.most <= 3 and pool.open_connections == len(made)


def test_the_pool_discards_a_failed_connection() -> None:
    made: list[FakeConnection] = []

    def connect() -> FakeConnection:
        made.append(FakeConnection(fail=not made))  # the first one breaks
        return made[-1]

    pool = Pool(connect, size=1)
    with pytest.raises(sqlite3.OperationalError), pool.connection() as conn:
        conn.use()
    assert made[0].closed and pool.open_connections == 0
    with pool.connection() as conn:
        conn.use()
    assert conn is made[1] and not made[1].closed and pool.open_connections == 1


def test_a_busy_pool_is_unavailable_not_a_hang() -> None:
    pool = Pool(FakeConnection, size=1, timeout=0.05)
    with pool.connection(), pytest.raises(Unavailable), pool.connection():
        pass


def test_threads_share_a_database_source_safely(tmp_path: Path) -> None:
    path = tmp_path / "images.db"
    conn = sqlite3.connect(path)
    cat = bundled()
    db.load_catalog(conn, cat)
    conn.close()
    service = Service(DatabaseSource(f"sqlite:///{path}", pool_size=3))
    queries = ["sort_key=name&limit=7", "__imagetype=gold&limit=50", "tag=env&sort_key=id&sort_dir=asc&limit=9"]
    want = {q: imgfilter.run(q, cat, Context(PROJECTS[1])).ids for q in queries}
    bad: list[Any] = []

    def work(i: int) -> None:
        for j in range(15):
            q = queries[(i + j) % 3]
            status, _, body = call_wsgi(service, "GET", "/v2/cloudimages", q, {"X-Project-Id": PROJECTS[1]})
            if status != 200 or ids(body) != want[q]:
                bad.append((q, status))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad
    assert isinstance(service.source, DatabaseSource) and service.source.pool.open_connections <= 3
    service.close()


# ---- OpenAPI -------------------------------------------------------------------------------------

def test_openapi_is_generated_from_the_parameter_table() -> None:
    doc = openapi(SERVICE_OPTIONS)
    op = doc["paths"]["/v2/cloudimages"]["get"]
    query = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
    assert list(query) == [p.name for p in P.PARAMS_LIST]
    assert query["__imagetype"]["schema"]["enum"] == list(P.IMAGE_TYPES)
    assert "Red Hat" in query["__platform"]["schema"]["enum"]
    assert query["tag"]["schema"]["type"] == "array" and query["created_at"]["schema"]["type"] == "array"
    assert query["limit"]["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    assert query["owner"]["schema"]["pattern"] == "^(?:[0-9A-Za-z_-]*)$"
    assert all(p["allowEmptyValue"] for p in query.values())  # `name=` is ignored, not rejected
    assert "no flavor catalog" in query["flavor_id"]["description"]
    assert {"400", "401", "403", "405", "414", "503"} <= set(op["responses"])
    headers = [p for p in op["parameters"] if p["in"] == "header"]
    assert headers[0]["name"] == "X-Project-Id" and headers[0]["required"]
    image = doc["components"]["schemas"]["Image"]["properties"]
    assert image["__isregistered"]["enum"] == ["true", "false"] and image["protected"]["type"] == "boolean"
    assert "members" not in image


def test_openapi_served_and_printed_are_the_same(service: Service) -> None:
    status, _, body = call_wsgi(service, "GET", "/openapi.json")
    assert status == 200 and json.loads(body) == openapi(SERVICE_OPTIONS)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["params", "--openapi"]) == 0
    assert json.loads(out.getvalue()) == openapi(SERVICE_OPTIONS)


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "c.db"
    conn = sqlite3.connect(path)
    db.load_catalog(conn, CATALOG)
    conn.close()
    yield f"sqlite:///{path}"


def test_memory_and_database_sources_answer_alike(sqlite_file: str) -> None:
    mem, sql = Service(MemorySource(CATALOG)), Service(DatabaseSource(sqlite_file))
    for project in ("p1", "p2", "other"):
        for query in ("", "sort_key=name&sort_dir=asc", "tag=env%3Dprod&limit=1"):
            a = call_asgi(mem, "GET", "/v2/cloudimages", query, {"X-Project-Id": project})
            b = call_asgi(sql, "GET", "/v2/cloudimages", query, {"X-Project-Id": project})
            assert (a[0], a[2]) == (b[0], b[2])
    sql.close()

"""The framework-neutral HTTP layer: a request in, a response out.

``Service.handle`` is the whole behaviour of the endpoint; the ASGI and WSGI
adapters (``asgi.py``, ``wsgi.py``) only translate their servers' calling
conventions into a ``Request`` and back.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import unquote_plus

from imgfilter.front import codes
from imgfilter.front import params as P
from imgfilter.front.check import Options, check
from imgfilter.front.errors import QueryError
from imgfilter.lowered.context import Context
from imgfilter.result import Page

IMAGES_PATH = "/v2/cloudimages"
HEALTH_PATH = "/healthz"
OPENAPI_PATH = "/openapi.json"
ALLOWED = "GET"
# the longest request target (path and query) answered; longer is 414 (nginx's and Apache's default is ~8 KB)
MAX_URL_LENGTH = 8192
# seconds a request waits for a database connection (the pool) or a thread (the ASGI app) before a 503
WAIT_TIMEOUT = 5.0
# the service preset: pages of 25 unless asked, at most 1,000 (Glance's defaults), bounded query length and caches
SERVICE_OPTIONS = Options.for_service()
JSON = "application/json"

access_log = logging.getLogger("imgfilter.serve.access")
error_log = logging.getLogger("imgfilter.serve")


# ---- requests and responses ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request as the server saw it: the raw query string, never a parsed dict.

    ``headers`` are (lowercase name, value) pairs in order, repeated names kept."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, name: str) -> list[str]:
        """Every value of the header ``name`` (any case), in order."""
        name = name.lower()
        return [v for k, v in self.headers if k == name]


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def query_of(raw: bytes) -> str:
    """The query string as text, byte for byte: bytes beyond ASCII (a client that
    sent raw UTF-8) are percent-encoded, so imgfilter decodes them as UTF-8 and
    rejects what is not."""
    if raw.isascii():
        return raw.decode("ascii")
    return "".join(chr(b) if b < 0x80 else f"%{b:02X}" for b in raw)


# ---- who is asking ------------------------------------------------------------------------------

class Unauthenticated(Exception):
    """The request carries no usable caller identity (HTTP 401)."""


Resolver = Callable[[Request], Context]
_OWNER = P.PARAMS["owner"]
# a project id is what the `owner` parameter accepts: one rule, here and in the OpenAPI description
PROJECT_ID_PATTERN = f"{_OWNER.pattern}{{{_OWNER.min_len},{_OWNER.max_len}}}"
_PROJECT_ID = re.compile(PROJECT_ID_PATTERN)
TRUSTED_HEADERS = ("X-Project-Id", "X-Roles")


def _one(request: Request, name: str) -> str | None:
    values = request.header(name)
    if len(values) > 1:
        raise Unauthenticated(f"{name} is given {len(values)} times; the proxy must set it once")
    return values[0].strip() if values else None


def _no_smuggled_spellings(request: Request) -> None:
    """Refuse ``X_Roles``/``x_project_id``: a proxy that strips ``X-Roles`` may let
    them through, and a WSGI server reads them as ``X-Roles`` (``HTTP_X_ROLES``).
    Only visible where the server keeps raw names (ASGI); WSGI cannot tell."""
    for name, _ in request.headers:
        for trusted in TRUSTED_HEADERS:
            if name != trusted.lower() and name.replace("_", "-") == trusted.lower():
                raise Unauthenticated(f"a header {_escape(name, 64)} is not {trusted}: refused, "
                                      "as a proxy may not have removed it")


def openstack_caller(request: Request) -> Context:
    """The caller as an authenticating proxy (keystonemiddleware's ``auth_token``,
    an API gateway) states it: ``X-Project-Id``, and ``X-Roles`` (comma-separated;
    ``admin`` makes an administrator).  Only safe behind such a proxy, which sets
    these headers after validating the token and drops any the client sent."""
    _no_smuggled_spellings(request)
    project = _one(request, "X-Project-Id")
    if not project:
        raise Unauthenticated("X-Project-Id is missing: the request was not authenticated")
    if not _PROJECT_ID.fullmatch(project):
        raise Unauthenticated(f"X-Project-Id is not a project id ({_OWNER.domain})")
    roles = _one(request, "X-Roles") or ""
    admin = "admin" in {r.strip().lower() for r in roles.split(",")}
    return Context(project_id=project, is_admin=admin)


# ---- where pages come from -------------------------------------------------------------------------

class Source(Protocol):
    """What the endpoint serves: a catalog in memory, or a database through a pool."""

    def page(self, query: Any, context: Context) -> Page: ...

    def health(self) -> None:
        """Raise if the source cannot answer now."""

    def close(self) -> None: ...


class Unavailable(Exception):
    """The source cannot answer now (HTTP 503): a database that is down, a pool that stays busy."""


_DRIVERS = ("sqlite3", "_sqlite3", "psycopg", "pymysql")
_UNREACHABLE = ("OperationalError", "InterfaceError")  # DB-API's classes for a database that cannot answer


def is_driver_error(e: BaseException) -> bool:
    """A database that cannot answer now (a 503): a connection-level failure of a
    driver (sqlite3, psycopg, PyMySQL: ``OperationalError``, ``InterfaceError``
    and their subclasses), imgfilter.db.connect's ``DatabaseError`` or the pool's
    ``Unavailable``.  A driver's programming or data error is a bug (a 500)."""
    from imgfilter.db.connect import DatabaseError

    return isinstance(e, DatabaseError | Unavailable) or any(
        c.__name__ in _UNREACHABLE and c.__module__.split(".")[0] in _DRIVERS for c in type(e).__mro__)


# ---- the service -------------------------------------------------------------------------------------

def error_body(code: str, message: str) -> dict[str, Any]:
    """An IMS error body."""
    return {"error": {"code": code, "message": message}}


def http_code(status: int) -> str:
    """The code of an error of the HTTP layer itself (``HTTP.503``); the query's errors carry IMS codes (IMG.xxxx)."""
    return codes.HTTP_BY_STATUS[status]


def reason(status: int) -> str:
    """The status line's reason phrase (``Service Unavailable``)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


@dataclass(frozen=True)
class Service:
    """The ``GET /v2/cloudimages`` endpoint over a source.

    ``resolver`` turns a request into the caller's ``Context`` or raises
    ``Unauthenticated``; the default trusts ``X-Project-Id``/``X-Roles`` as set
    by an authenticating proxy (``openstack_caller``)."""

    source: Source
    options: Options = SERVICE_OPTIONS
    resolver: Resolver = openstack_caller
    max_url_length: int = MAX_URL_LENGTH
    _openapi: bytes = field(default=b"", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from imgfilter.serve.openapi import openapi

        document = openapi(self.options, max_url_length=self.max_url_length)
        object.__setattr__(self, "_openapi", json.dumps(document, separators=(",", ":")).encode())

    def handle(self, request: Request) -> Response:
        """Answer one request, and write its access-log line.  Never raises."""
        start = time.perf_counter()
        request_id = "req-" + str(uuid.uuid4())
        caller: Context | None = None
        try:
            status, body, extra, caller = self._answer(request)
        except Exception:
            error_log.exception("request %s failed", request_id)
            status, body, extra = 500, error_body(http_code(500), "internal error"), ()
        return self._respond(request, start, request_id, status, body, extra, caller)

    def busy(self, request: Request, waited: float) -> Response:
        """The 503 of a request that waited ``waited`` seconds for a thread (the ASGI app's admission)."""
        body = error_body(http_code(503), f"the service is busy: no worker free within {waited:g} s; retry later")
        return self._respond(request, time.perf_counter() - waited, "req-" + str(uuid.uuid4()), 503, body,
                             (("retry-after", "1"),), None)

    def _respond(self, request: Request, start: float, request_id: str, status: int, body: Any,
                 extra: tuple[tuple[str, str], ...], caller: Context | None) -> Response:
        if isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = (("content-type", JSON), ("content-length", str(len(data))), ("x-request-id", request_id),
                   *extra)
        _log(request, status, time.perf_counter() - start, request_id, caller)
        return Response(status, data, headers)

    def _answer(self, request: Request) -> tuple[int, Any, tuple[tuple[str, str], ...], Context | None]:
        if len(request.path) + 1 + len(request.query) > self.max_url_length:
            return 414, error_body(http_code(414), f"the URL is longer than {self.max_url_length} characters"), \
                (), None
        route = {IMAGES_PATH: self._images, HEALTH_PATH: self._health, OPENAPI_PATH: self._spec}.get(request.path)
        if route is None:
            return 404, error_body(http_code(404), "no such resource: the endpoint is GET " + IMAGES_PATH), (), None
        if request.method != "GET":
            return 405, error_body(http_code(405), f"method {_escape(request.method, 16)} is not allowed: use GET"), \
                (("allow", ALLOWED),), None
        return route(request)

    def _images(self, request: Request) -> tuple[int, Any, tuple[tuple[str, str], ...], Context | None]:
        try:
            caller = self.resolver(request)
        except Unauthenticated as e:
            return 401, error_body(http_code(401), str(e)), (), None
        try:
            page = self.source.page(check(request.query, self.options), caller)
        except QueryError as e:
            return e.status, e.to_ims(), (), caller
        except Exception as e:
            if not is_driver_error(e):
                raise
            error_log.warning("database unavailable: %s", _escape(str(e).splitlines()[0] if str(e) else
                                                                 type(e).__name__, 300))
            return 503, error_body(http_code(503), "the image database is unavailable; retry later"), \
                (("retry-after", "1"),), caller
        return 200, page.to_response(), (), caller

    def _health(self, request: Request) -> tuple[int, Any, tuple[tuple[str, str], ...], Context | None]:
        try:
            self.source.health()
        except Exception as e:
            if not is_driver_error(e):
                raise
            return 503, {"status": "unavailable"}, (("retry-after", "1"),), None
        return 200, {"status": "ok"}, (), None

    def _spec(self, request: Request) -> tuple[int, Any, tuple[tuple[str, str], ...], Context | None]:
        return 200, self._openapi, (), None

    def close(self) -> None:
        self.source.close()


# ---- the access log ---------------------------------------------------------------------------------

_LOG_QUERY = 1024  # characters of the query kept in a log line


def _escape(text: str, limit: int) -> str:
    """Printable ASCII only: anything else (control characters, CR/LF, non-ASCII),
    the quote and the backslash as a backslash escape, so a header or a query can
    never forge or break a log line."""
    out = "".join(c if " " <= c <= "~" and c not in '"\\' else _esc(c) for c in text[:limit])
    return out + ("..." if len(text) > limit else "")


def _esc(c: str) -> str:
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


def loggable_query(query: str) -> str:
    """The query with every pair whose (decoded) name is not a parameter imgfilter
    knows shown as ``***``, value and name: a client may put a secret where a
    parameter should be (``token=...``, a bare ``eyJhbGciOi...``, ``token%3D...``)."""
    parts = []
    for pair in query.split("&"):
        name = pair.partition("=")[0]
        try:
            known = P.lookup(unquote_plus(name)) is not None
        except Exception:
            known = False
        parts.append(pair if known or not pair else "***")
    return "&".join(parts)


def _log(request: Request, status: int, seconds: float, request_id: str, caller: Context | None) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    target = request.path + ("?" + loggable_query(request.query) if request.query else "")
    project = "-" if caller is None else _escape(caller.project_id or "-", 64)
    claimed = request.header("x-project-id") if caller is None else []
    if claimed:  # rejected: shown escaped, for the operator to see what was sent
        project = '-(sent "' + _escape(",".join(claimed), 64) + '")'
    access_log.info('%s "%s" %d %.1fms %s project=%s%s', _escape(request.method, 16), _escape(target, _LOG_QUERY),
                    status, seconds * 1000, request_id, project, " admin" if caller is not None and caller.is_admin
                    else "")


def headers_of(pairs: Iterable[tuple[bytes, bytes]] | Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Header pairs with lowercase names, as text (latin-1, as HTTP carries them)."""
    if isinstance(pairs, Mapping):
        return tuple((k.lower(), v) for k, v in pairs.items())
    return tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in pairs)

"""The endpoint as a WSGI application (PEP 3333): Flask, Django, gunicorn, mod_wsgi, ..."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from imgfilter.serve.http import Request, Service, query_of, reason

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def request_of(environ: dict[str, Any]) -> Request:
    """The request of a WSGI environ.  ``QUERY_STRING`` is the raw query (PEP 3333
    carries it as latin-1 text: turned back into its bytes first).

    The server has already folded each header name into ``HTTP_*``: ``X-Roles``
    and ``X_Roles`` are one ``HTTP_X_ROLES``, repeated headers one value joined
    by ``,``; that cannot be undone here (the proxy must drop both spellings)."""
    headers = tuple((k[5:].replace("_", "-").lower(), str(v)) for k, v in environ.items() if k.startswith("HTTP_"))
    raw = str(environ.get("QUERY_STRING", "")).encode("latin-1", "replace")
    return Request(str(environ.get("REQUEST_METHOD", "GET")), str(environ.get("PATH_INFO", "") or "/"),
                   query_of(raw), headers)


def wsgi_app(service: Service) -> WSGIApp:
    """A WSGI application answering with ``service``.  Mounted under a prefix
    (``SCRIPT_NAME``), the paths are relative to it.  Safe from many threads."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = request_of(environ)
        response = service.handle(request)
        start_response(f"{response.status} {reason(response.status)}".rstrip(),
                       [(k.title(), v) for k, v in response.headers])
        return [b"" if request.method == "HEAD" else response.body]  # HEAD: the headers only

    return app

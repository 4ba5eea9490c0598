"""The endpoint as an ASGI application: uvicorn, Starlette/FastAPI (``Mount``), ..."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from imgfilter.serve.http import WAIT_TIMEOUT, Request, Response, Service, headers_of, query_of

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def request_of(scope: Scope) -> Request:
    """The request of an ASGI HTTP scope: ``query_string`` is the raw bytes of the
    query.  Mounted under a prefix (``root_path``), paths are relative to it."""
    path = str(scope.get("path", "/"))
    root = str(scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root):] or "/"
    return Request(str(scope.get("method", "GET")), path, query_of(bytes(scope.get("query_string", b""))),
                   headers_of(scope.get("headers", ())))


def asgi_app(service: Service, *, threads: int = 8, timeout: float = WAIT_TIMEOUT) -> ASGIApp:
    """An ASGI application answering with ``service``.  Each page is computed in
    a pool of ``threads`` threads (a database call blocks; the event loop never
    does); at most ``threads`` requests are admitted at once, and one that waits
    ``timeout`` seconds for its turn gets 503 with ``Retry-After`` (no queue
    grows without bound).  The lifespan protocol's shutdown closes the service's
    source."""
    if threads < 1:
        raise ValueError("an ASGI app needs at least one thread")
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="imgfilter-serve")
    admission = asyncio.Semaphore(threads)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    executor.shutdown(wait=True)
                    service.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            raise ValueError(f"imgfilter.serve answers HTTP, not {scope['type']!r}")
        request = request_of(scope)
        response: Response
        try:
            async with asyncio.timeout(timeout):
                await admission.acquire()
        except TimeoutError:
            response = service.busy(request, timeout)
        else:
            try:
                response = await asyncio.get_running_loop().run_in_executor(executor, service.handle, request)
            finally:
                admission.release()
        await send({"type": "http.response.start", "status": response.status,
                    "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]})
        body = b"" if request.method == "HEAD" else response.body  # HEAD: the headers only
        await send({"type": "http.response.body", "body": body})

    return app

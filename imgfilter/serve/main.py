"""``imgfilter serve``: the ASGI app on uvicorn (the ``[serve]`` extra).

Each worker process builds its service from the environment
(``IMGFILTER_SERVE_DATA``, ``IMGFILTER_SERVE_DB``, ``IMGFILTER_SERVE_POOL``),
which ``imgfilter serve`` sets from its options before starting uvicorn."""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
from typing import Any

from .asgi import ASGIApp, asgi_app
from .http import Service, Source
from .sources import DatabaseSource, MemorySource

DATA_ENV = "IMGFILTER_SERVE_DATA"
DB_ENV = "IMGFILTER_SERVE_DB"
POOL_ENV = "IMGFILTER_SERVE_POOL"
DEFAULT_POOL = 8


def source(data: str | None, db_url: str | None, pool_size: int = DEFAULT_POOL) -> Source:
    """The source of ``--data FILE`` (in memory), ``--db URL``, or the bundled catalog."""
    if db_url:
        return DatabaseSource(db_url, pool_size=pool_size)
    if data:
        from ..records import load

        return MemorySource(load(data))
    from ..catalog import bundled

    return MemorySource(bundled())


def app_from_env() -> ASGIApp:
    """The ASGI app of a uvicorn worker (``uvicorn --factory imgfilter.serve.main:app_from_env``)."""
    pool = int(os.environ.get(POOL_ENV) or DEFAULT_POOL)
    service = Service(source(os.environ.get(DATA_ENV), os.environ.get(DB_ENV), pool))
    return asgi_app(service, threads=pool)


def log_config() -> dict[str, Any]:
    """uvicorn's own messages and imgfilter's access log, one line each on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain",
                                "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "imgfilter.serve": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }


def serve(host: str, port: int, workers: int, *, data: str | None = None, db_url: str | None = None,
          pool_size: int = DEFAULT_POOL) -> None:
    """Run the endpoint until interrupted (uvicorn; its own access log is off: ours is the one line).

    With several workers the listening socket is made here and the workers are
    forked from this process: uvicorn's own multi-process mode hands them a
    socket on which asyncio does not set ``TCP_NODELAY``, which made every
    response wait ~40 ms for the client's delayed ACK (measured with
    ``bench_serve.py``)."""
    import uvicorn

    os.environ[DATA_ENV] = os.path.abspath(data) if data else ""
    os.environ[DB_ENV] = db_url or ""
    os.environ[POOL_ENV] = str(pool_size)
    config = uvicorn.Config("imgfilter.serve.main:app_from_env", factory=True, host=host, port=port,
                            access_log=False, log_config=log_config(), server_header=False, lifespan="on")
    if workers == 1:
        uvicorn.Server(config).run()
        return
    sock = listen_socket(host, port)
    logging.getLogger("uvicorn.error").info("imgfilter serve on http://%s:%d with %d workers (pid %d)",
                                            host, sock.getsockname()[1], workers, os.getpid())
    _supervise(config, sock, workers)


def listen_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket whose protocol is IPPROTO_TCP (not 0), so that
    asyncio sets TCP_NODELAY on every connection it accepts."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         proto=socket.IPPROTO_TCP)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(2048)
    return sock


def _worker(config: Any, sock: socket.socket) -> None:
    import uvicorn

    uvicorn.Server(config).run(sockets=[sock])


def _supervise(config: Any, sock: socket.socket, workers: int) -> None:
    """Keep ``workers`` forked workers serving ``sock``; a worker that dies is replaced.
    SIGTERM or SIGINT stops them all (each finishes its requests)."""
    ctx = multiprocessing.get_context("fork")
    procs: list[Any] = []
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping:
            procs = [p for p in procs if p.is_alive()]
            while len(procs) < workers:
                p = ctx.Process(target=_worker, args=(config, sock), daemon=False)
                p.start()
                procs.append(p)
            multiprocessing.connection.wait([p.sentinel for p in procs], timeout=0.5)
    finally:
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)
        for p in procs:
            p.join(30)
        for s, handler in previous.items():
            signal.signal(s, handler)
        sock.close()

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
import sys
import time
from collections import deque
from typing import Any

from imgfilter.serve.asgi import ASGIApp, asgi_app
from imgfilter.serve.http import WAIT_TIMEOUT, Service, Source
from imgfilter.serve.sources import DatabaseSource, MemorySource

DATA_ENV = "IMGFILTER_SERVE_DATA"
DB_ENV = "IMGFILTER_SERVE_DB"
POOL_ENV = "IMGFILTER_SERVE_POOL"
DEFAULT_POOL = 8
# a worker that dies is re-forked after a back-off that doubles per failure of its slot (0.1 s .. 5 s);
# FAILURES deaths within FAILURE_WINDOW seconds stop imgfilter serve with exit status 1
BACKOFF = (0.1, 5.0)
FAILURES = 5
FAILURE_WINDOW = 60.0


def source(data: str | None, db_url: str | None, pool_size: int = DEFAULT_POOL) -> Source:
    """The source of ``--data FILE`` (in memory), ``--db URL``, or the bundled catalog."""
    if db_url:
        return DatabaseSource(db_url, pool_size=pool_size)
    if data:
        from imgfilter.io.records import load

        return MemorySource(load(data))
    from imgfilter.io.catalog import bundled

    return MemorySource(bundled())


def app_from_env() -> ASGIApp:
    """The ASGI app of a uvicorn worker (``uvicorn --factory imgfilter.serve.main:app_from_env``)."""
    pool = int(os.environ.get(POOL_ENV) or DEFAULT_POOL)
    service = Service(source(os.environ.get(DATA_ENV), os.environ.get(DB_ENV), pool))
    return asgi_app(service, threads=pool, timeout=WAIT_TIMEOUT)  # the pool's timeout: threads == connections


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
    if not _supervise(config, sock, workers):
        sys.exit(1)


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


def _supervise(config: Any, sock: socket.socket, workers: int) -> bool:
    """Keep ``workers`` forked workers serving ``sock``; a worker that dies is
    replaced after a back-off that doubles with each failure of its slot (reset
    once a worker has served for a while).  SIGTERM or SIGINT stops them all:
    True.  ``FAILURES`` deaths within ``FAILURE_WINDOW`` seconds (a worker that
    cannot start) stop them all too: False."""
    ctx = multiprocessing.get_context("fork")
    slots: list[Any] = [None] * workers  # the process of each slot, None while it waits to be re-forked
    strikes = [0] * workers  # consecutive failures of each slot
    due = [0.0] * workers  # when each empty slot may fork again
    started = [0.0] * workers
    deaths: deque[float] = deque()
    log = logging.getLogger("uvicorn.error")
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping:
            now = time.monotonic()
            for i, p in enumerate(slots):
                if p is not None and not p.is_alive():
                    p.join()
                    slots[i] = None
                    deaths.append(now)
                    strikes[i] = 1 if now - started[i] > BACKOFF[1] * 2 else strikes[i] + 1
                    due[i] = now + min(BACKOFF[0] * 2 ** (strikes[i] - 1), BACKOFF[1])
                    log.error("worker %d (pid %d) exited with status %s; replaced in %.1f s", i, p.pid,
                              p.exitcode, due[i] - now)
            while deaths and now - deaths[0] > FAILURE_WINDOW:
                deaths.popleft()
            if len(deaths) >= FAILURES:
                log.error("imgfilter serve: %d workers died within %g s; stopping", len(deaths), FAILURE_WINDOW)
                return False
            for i, p in enumerate(slots):
                if p is None and now >= due[i]:
                    p = slots[i] = ctx.Process(target=_worker, args=(config, sock), daemon=False)
                    p.start()
                    started[i] = now
            waits = [d - now for i, d in enumerate(due) if slots[i] is None]
            timeout = min([0.5, *waits]) if waits else 0.5
            multiprocessing.connection.wait([p.sentinel for p in slots if p is not None], timeout=max(timeout, 0.01))
        return True
    finally:
        alive = [p for p in slots if p is not None]
        for p in alive:
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)
        for p in alive:
            p.join(30)
        for s, handler in previous.items():
            signal.signal(s, handler)
        sock.close()

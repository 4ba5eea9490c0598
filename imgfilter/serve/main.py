"""``imgfilter serve``: the ASGI app on uvicorn (the ``[serve]`` extra).

Each worker process builds its service from the environment
(``IMGFILTER_SERVE_DATA``, ``IMGFILTER_SERVE_DB``, ``IMGFILTER_SERVE_POOL``),
which ``imgfilter serve`` sets from its options before starting uvicorn."""

from __future__ import annotations

import os
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
    """Run the endpoint until interrupted (uvicorn; its own access log is off: ours is the one line)."""
    import uvicorn

    os.environ[DATA_ENV] = os.path.abspath(data) if data else ""
    os.environ[DB_ENV] = db_url or ""
    os.environ[POOL_ENV] = str(pool_size)
    uvicorn.run("imgfilter.serve.main:app_from_env", factory=True, host=host, port=port, workers=workers,
                access_log=False, log_config=log_config(), server_header=False, lifespan="on")

"""An IMS-compatible ``GET /v2/cloudimages`` endpoint: ASGI and WSGI apps over a
catalog in memory or a database through a connection pool.

The caller's identity comes from ``X-Project-Id``/``X-Roles`` as an
authenticating proxy sets them (``openstack_caller``), or from the service's
own ``resolver``.  No web framework is needed; ``imgfilter serve`` runs the
ASGI app with uvicorn (the ``[serve]`` extra).
"""

from .asgi import asgi_app
from .http import (
    SERVICE_OPTIONS,
    Request,
    Resolver,
    Response,
    Service,
    Source,
    Unauthenticated,
    Unavailable,
    openstack_caller,
)
from .openapi import openapi
from .sources import DatabaseSource, MemorySource, Pool
from .wsgi import wsgi_app

__all__ = [
    "SERVICE_OPTIONS",
    "DatabaseSource",
    "MemorySource",
    "Pool",
    "Request",
    "Resolver",
    "Response",
    "Service",
    "Source",
    "Unauthenticated",
    "Unavailable",
    "asgi_app",
    "openapi",
    "openstack_caller",
    "wsgi_app",
]

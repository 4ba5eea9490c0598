"""An IMS-compatible ``GET /v2/cloudimages`` endpoint: ASGI and WSGI apps over a
catalog in memory or a database through a connection pool.

The caller's identity comes from ``X-Project-Id``/``X-Roles`` as an
authenticating proxy sets them (``openstack_caller``), or from the service's
own ``resolver``.  No web framework is needed; ``imgfilter serve`` runs the
ASGI app with uvicorn (the ``[serve]`` extra).
"""

from imgfilter.serve.asgi import asgi_app
from imgfilter.serve.http import (
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
from imgfilter.serve.openapi import openapi
from imgfilter.serve.sources import DatabaseSource, MemorySource, Pool
from imgfilter.serve.wsgi import wsgi_app

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

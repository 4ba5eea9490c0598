"""The error codes of the wire (``error.code``), each spelled once.

IMS codes (``IMG.xxxx``) are the query's errors (semantics §7); ``HTTP.<status>``
codes are errors of the HTTP layer itself.  The README's HTTP table and
parameter reference list them all (a test checks that).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# ---- IMS codes -------------------------------------------------------------------------------------
BAD_VALUE = "IMG.0001"  # a wrong value, name or query text (the default of every parameter)
BAD_IMAGE_TYPE = "IMG.0024"  # __imagetype is not one of the image types
FORBIDDEN = "IMG.0026"  # not allowed for this caller (403): an ordinary user asks __isregistered=false
MARKER_NOT_FOUND = "IMG.0027"  # the marker names no image the caller may see
BAD_TAG = "IMG.0115"  # tag is not key=value, key= or key
BAD_OS_TYPE = "IMG.0122"  # __os_type is not one of the operating system types
BAD_ENTERPRISE_PROJECT = "IMG.0155"  # enterprise_project_id is not 0, a UUID or all_granted_eps
BAD_FLAVOR = "IMG.0192"  # flavor_id is not a flavor id
BAD_ARCHITECTURE = "IMG.0212"  # architecture is not x86 or arm

# ---- codes of the HTTP layer -----------------------------------------------------------------------
HTTP_UNAUTHORIZED = "HTTP.401"  # no usable caller identity
HTTP_NOT_FOUND = "HTTP.404"  # another path
HTTP_METHOD_NOT_ALLOWED = "HTTP.405"  # another method than GET
HTTP_URI_TOO_LONG = "HTTP.414"  # the URL is longer than max_url_length
HTTP_INTERNAL = "HTTP.500"  # a bug; no details in the body
HTTP_UNAVAILABLE = "HTTP.503"  # the database is unavailable, or no worker is free

HTTP_BY_STATUS: Mapping[int, str] = MappingProxyType({
    int(code.removeprefix("HTTP.")): code
    for code in (HTTP_UNAUTHORIZED, HTTP_NOT_FOUND, HTTP_METHOD_NOT_ALLOWED, HTTP_URI_TOO_LONG,
                 HTTP_INTERNAL, HTTP_UNAVAILABLE)
})

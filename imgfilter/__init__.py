"""imgfilter: parse, type-check and compile Huawei Cloud IMS ``GET /v2/cloudimages`` queries."""

from .ast import CheckedQuery, Span
from .check import Flavor, Options, check
from .errors import Diagnostic, QueryError, Severity

__all__ = [
    "CheckedQuery",
    "Diagnostic",
    "Flavor",
    "Options",
    "QueryError",
    "Severity",
    "Span",
    "check",
]
__version__ = "0.1.0"

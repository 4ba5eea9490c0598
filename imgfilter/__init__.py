"""imgfilter: parse, type-check and compile Huawei Cloud IMS ``GET /v2/cloudimages`` queries."""

from .ast import CheckedQuery, Span
from .check import Flavor, Options, check
from .context import Context
from .errors import Diagnostic, QueryError, Severity
from .memory import compile_query, run
from .records import Catalog, Image, RecordError
from .records import load as load_records
from .result import Page

__all__ = [
    "Catalog",
    "CheckedQuery",
    "Context",
    "Diagnostic",
    "Flavor",
    "Image",
    "Options",
    "Page",
    "QueryError",
    "RecordError",
    "Severity",
    "Span",
    "check",
    "compile_query",
    "load_records",
    "run",
]
__version__ = "0.1.0"

"""imgfilter: parse, type-check and compile Huawei Cloud IMS ``GET /v2/cloudimages`` queries."""

from imgfilter.front.ast import CheckedQuery, Span
from imgfilter.front.check import Flavor, Options, check
from imgfilter.front.errors import Diagnostic, QueryError, Severity
from imgfilter.io.records import Catalog, Image, RecordError
from imgfilter.io.records import load as load_records
from imgfilter.lowered.context import Context
from imgfilter.result import Page
from imgfilter.targets.memory import compile_query, run

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

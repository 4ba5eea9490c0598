"""Databases: connecting (``connect``), the dialect table (``dialects``), the
reference schema (``schema``) and verifying a catalog's columns (``verify``).

This package is also the one place a service imports the database jobs from,
wherever they live: ``db.connect``, ``db.load_images``, ``db.load_catalog``, ``db.delete_images``
(``imgfilter.io.load``),
``db.run`` (the DB-API target, ``imgfilter.targets.sql``) and
``db.bundled_sqlite_path`` (``imgfilter.io.catalog``).  Those are imported on
first use, so importing ``imgfilter.db.dialects`` from a target costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from imgfilter.db.connect import (
    Connection,
    DatabaseError,
    DatabaseURLError,
    connect,
    dialect_of,
    redact_url,
)
from imgfilter.db.verify import verify_catalog

if TYPE_CHECKING:
    from imgfilter.io.catalog import bundled_sqlite_path
    from imgfilter.io.load import (
        ImageExists,
        LoadResult,
        create_indexes,
        create_schema,
        create_tables,
        delete_images,
        load_catalog,
        load_images,
    )
    from imgfilter.targets.sql import run

_LAZY = {
    "bundled_sqlite_path": "imgfilter.io.catalog",
    "ImageExists": "imgfilter.io.load",
    "LoadResult": "imgfilter.io.load",
    "create_indexes": "imgfilter.io.load",
    "create_schema": "imgfilter.io.load",
    "create_tables": "imgfilter.io.load",
    "delete_images": "imgfilter.io.load",
    "load_catalog": "imgfilter.io.load",
    "load_images": "imgfilter.io.load",
    "run": "imgfilter.targets.sql",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "Connection",
    "DatabaseError",
    "DatabaseURLError",
    "ImageExists",
    "LoadResult",
    "bundled_sqlite_path",
    "connect",
    "create_indexes",
    "create_schema",
    "create_tables",
    "delete_images",
    "dialect_of",
    "load_catalog",
    "load_images",
    "redact_url",
    "run",
    "verify_catalog",
]

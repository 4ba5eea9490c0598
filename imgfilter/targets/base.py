"""The one interface every target implements.

A target compiles the lowered form (``imgfilter.lowered.core``) into a plan of
its own and runs pages on its own kind of *source*: the in-memory target on a
``Catalog``, the SQL target on a DB-API connection, and so on.  Every target
returns the same ``Page`` and raises the same ``QueryError``s for the same
query, caller and catalog; the test suite proves it for every registered
target (``imgfilter.targets.REGISTRY``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from imgfilter.front.ast import CheckedQuery
from imgfilter.io.records import Catalog
from imgfilter.lowered.context import Context
from imgfilter.result import Page

S = TypeVar("S")  # the target's source


class Target(ABC, Generic[S]):
    """A target: where pages of a checked query come from.

    ``databases`` names the engines (dialect names) whose DB-API connection
    the target can ``attach`` to; empty for a target with a store of its own
    (memory, DuckDB), whose sources are made by ``load``.
    """

    name: ClassVar[str]
    databases: ClassVar[tuple[str, ...]] = ()
    file_formats: ClassVar[tuple[str, ...]] = ("json",)  # what ``open_file`` reads (JSON means JSON Lines too)

    @abstractmethod
    def load(self, catalog: Catalog) -> S:
        """A new source holding exactly ``catalog`` (for a database target, a
        private in-memory SQLite database)."""

    @abstractmethod
    def page(self, source: S, query: CheckedQuery, context: Context | None = None) -> Page:
        """One page of ``query`` for the caller ``context``."""

    def attach(self, conn: Any) -> S:
        """A source reading the catalog in an open DB-API connection (``databases``)."""
        raise TypeError(f"the {self.name} target does not run on a database connection")

    def connect(self, url: str) -> S:
        """A source on the database at ``url`` (the CLI's ``--db``)."""
        from imgfilter.db.connect import connect

        return self.attach(connect(url))

    def open_file(self, path: str | Path) -> S:
        """A source holding the records of the file at ``path`` (``file_formats``)."""
        from imgfilter.io.records import load

        return self.load(load(path))

    def bundled(self) -> S:
        """A source holding the bundled sample catalog."""
        from imgfilter.io.catalog import bundled

        return self.load(bundled())

    def close(self, source: S) -> None:
        """Release what ``load``, ``connect`` or ``bundled`` opened; a connection given
        to ``attach`` stays open (its owner closes it)."""

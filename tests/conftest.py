"""Shared test set-up: hypothesis profiles (CI and thorough) and helpers."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=20_000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(  # after a change to a target: 10x CI, minutes rather than an hour
    "long", max_examples=2_000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("IMGFILTER_HYPOTHESIS_PROFILE", "ci"))


from collections.abc import Iterator  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from imgfilter import db  # noqa: E402
from imgfilter.io.records import Catalog  # noqa: E402

from .dbs import ENGINES, isolated  # noqa: E402
from .fixtures import RECORDS  # noqa: E402
from .targets import Target, memory_target, sql_target  # noqa: E402


class LoadedDatabases:
    """One private database per engine, loaded with the hand-written records on
    first use and dropped at the end of the run."""

    def __init__(self, stack: ExitStack) -> None:
        self.stack = stack
        self.conns: dict[str, Any] = {}

    def get(self, engine: str) -> Any:
        if engine not in self.conns:
            conn = self.stack.enter_context(isolated(engine))
            db.load_catalog(conn, Catalog.from_records(RECORDS))
            self.conns[engine] = conn
        return self.conns[engine]


@pytest.fixture(scope="session")
def databases() -> Iterator[LoadedDatabases]:
    with ExitStack() as stack:
        yield LoadedDatabases(stack)


@pytest.fixture(params=["memory", *ENGINES])
def target(request: pytest.FixtureRequest, databases: LoadedDatabases) -> Target:
    """The same queries through every target: memory, SQLite, PostgreSQL, MariaDB."""
    if request.param == "memory":
        return memory_target()
    return sql_target(databases.get(request.param))

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

from imgfilter.io.records import Catalog  # noqa: E402

from .dbs import Databases  # noqa: E402
from .fixtures import RECORDS  # noqa: E402
from .targets import Target, placements, runner, target_of  # noqa: E402


class LoadedDatabases:
    """The hand-written records in one private database per engine, loaded on first use."""

    def __init__(self, databases: Databases) -> None:
        self.databases = databases
        self.loaded: set[str] = set()

    def get(self, engine: str) -> Any:
        if engine not in self.loaded:
            self.databases.load(engine, Catalog.from_records(RECORDS))
            self.loaded.add(engine)
        return self.databases.get(engine)


@pytest.fixture(scope="session")
def databases() -> Iterator[LoadedDatabases]:
    with ExitStack() as stack:
        yield LoadedDatabases(Databases(stack))


@pytest.fixture(scope="session")
def sources() -> Iterator[dict[str, Any]]:
    """Each placement's source of the hand-written records, made once."""
    made: dict[str, Any] = {}
    yield made
    for placement, source in made.items():
        impl, engine = target_of(placement)
        if engine is None:  # an attached source's connection belongs to `databases`
            impl.close(source)


@pytest.fixture(params=placements())
def target(request: pytest.FixtureRequest, databases: LoadedDatabases, sources: dict[str, Any]) -> Target:
    """The same queries through every registered target on every engine it runs on."""
    impl, engine = target_of(request.param)
    if request.param not in sources:
        sources[request.param] = (impl.load(Catalog.from_records(RECORDS)) if engine is None
                                  else impl.attach(databases.get(engine)))
    return runner(impl, sources[request.param])

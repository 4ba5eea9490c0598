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
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("IMGFILTER_HYPOTHESIS_PROFILE", "ci"))


import pytest  # noqa: E402

from .targets import Target, memory_target  # noqa: E402


@pytest.fixture(params=["memory"])
def target(request: pytest.FixtureRequest) -> Target:
    return memory_target()

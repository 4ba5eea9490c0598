"""A pytest plugin for mutation runs only (``-p tests.mutation_plugin``, set in
pyproject's ``[tool.mutmut]``).

mutmut runs the clean suite once and then forks a child per mutant from that
process, so each child would inherit caches filled by the unmutated code: a
plan compiled before the fork hides a mutant of the compiler.  Each session
starts with every library cache empty, so each mutant's tests compute afresh.
"""

from __future__ import annotations

import pytest

from imgfilter.caches import cache_sizes, configure_caches
from imgfilter.io import catalog


def pytest_sessionstart(session: pytest.Session) -> None:
    configure_caches(**{name: size for name, (_, size) in cache_sizes().items()})
    catalog.bundled.cache_clear()

"""Every registered target, on every engine it runs on, as one callable:
(query, context, options) -> Page.

A *placement* is a target on a source: ``memory``, ``sql/sqlite``,
``sql/postgresql``, ``sql/mysql``, ... -- read from ``imgfilter.targets.REGISTRY``,
so a newly registered target is run by the semantic suite (the ``target``
fixture) and the agreement properties (``Placements``) with no edit here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from imgfilter import Context, Options, check
from imgfilter.io.records import Catalog
from imgfilter.result import Page
from imgfilter.targets import REGISTRY, TargetUnavailable, get
from imgfilter.targets.base import Target as TargetImpl

from .dbs import OPT_IN, OPT_IN_LIKE, Databases

Target = Callable[[str, Context | None, Options | None], Page]

REFERENCE = "memory"  # the placement every other one is compared with


def placements() -> list[str]:
    """Every placement of every registered target (a target whose extra is not
    installed counts as one placement, which then skips, or fails under CI);
    an opt-in engine whose URL is set (``citus``) wherever its base engine is."""
    out: list[str] = []
    for name in REGISTRY:
        try:
            target = get(name)
        except TargetUnavailable:
            out.append(name)
            continue
        engines = [*target.databases, *(e for e in OPT_IN if OPT_IN_LIKE[e] in target.databases)]
        out.extend([f"{name}/{engine}" for engine in engines] or [name])
    return out


def target_of(placement: str) -> tuple[TargetImpl[Any], str | None]:
    """The target of a placement and its engine (None: the target's own store)."""
    name, _, engine = placement.partition("/")
    try:
        return get(name), engine or None
    except TargetUnavailable as e:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(e), pytrace=False)
        pytest.skip(str(e))


def runner(target: TargetImpl[Any], source: Any) -> Target:
    def run(query: str, context: Context | None = None, options: Options | None = None) -> Page:
        return target.page(source, check(query, options), context)

    return run


class Placements:
    """Every placement whose engine is there (all of them under CI), each
    holding the catalog given to ``load``: databases are reloaded, a target's
    own store is rebuilt."""

    def __init__(self, databases: Databases) -> None:
        self.databases = databases
        self.engines = databases.available()
        self.own: dict[str, TargetImpl[Any]] = {}
        self.attached: dict[str, tuple[TargetImpl[Any], Any]] = {}
        for placement in placements():
            target, engine = target_of(placement)
            if engine is None:
                self.own[placement] = target
            elif engine in self.engines:
                self.attached[placement] = (target, target.attach(self.engines[engine]))
        self.sources: list[tuple[TargetImpl[Any], Any]] = []

    def load(self, catalog: Catalog) -> dict[str, Target]:
        """A runner per placement, the reference first."""
        self.close()
        for engine in self.engines:
            self.databases.load(engine, catalog)
        runners: dict[str, Target] = {}
        for placement, target in self.own.items():
            source = target.load(catalog)
            self.sources.append((target, source))
            runners[placement] = runner(target, source)
        for placement, (target, source) in self.attached.items():
            runners[placement] = runner(target, source)
        assert next(iter(runners)) == REFERENCE
        return runners

    def close(self) -> None:
        for target, source in self.sources:
            target.close(source)
        self.sources.clear()


@contextmanager
def everywhere(records: list[dict[str, Any]]) -> Iterator[tuple[Placements, dict[str, Target]]]:
    """``records`` in every placement there is (private databases, dropped after)."""
    with ExitStack() as stack:
        placed = Placements(Databases(stack))
        stack.callback(placed.close)
        yield placed, placed.load(Catalog.from_records(records))


def placed(runners: dict[str, Target], placement: str) -> Target:
    """The runner of ``placement``; skips (fails under CI) when its engine or extra is missing."""
    if placement not in runners:
        target_of(placement)  # a missing extra skips or fails here
        message = f"{placement}: its database server is not set up (see tests/dbs.py)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return runners[placement]

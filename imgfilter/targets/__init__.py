"""Targets: each compiles the lowered form and runs pages on its own kind of source.

``REGISTRY`` names every target and the module that defines it (as ``TARGET``,
an instance of ``imgfilter.targets.base.Target``), with the optional extra it
needs.  The CLI's ``--engine``, the semantic suite and the agreement properties
read it: a registered target is run on everything.  Adding a target is one
module and one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from imgfilter.targets.base import Target


@dataclass(frozen=True, slots=True)
class Entry:
    module: str  # defines TARGET
    extra: str | None = None  # `pip install imgfilter[extra]` when its dependencies are missing


REGISTRY: Mapping[str, Entry] = MappingProxyType({
    "memory": Entry("imgfilter.targets.memory"),
    "sql": Entry("imgfilter.targets.sql"),
})


class TargetUnavailable(LookupError):
    """An unknown target, or one whose optional dependencies are not installed."""


def get(name: str) -> Target[Any]:
    """The registered target ``name``; ``TargetUnavailable`` if there is none
    or its extra is not installed."""
    entry = REGISTRY.get(name)
    if entry is None:
        raise TargetUnavailable(f"no target {name!r}; the targets are {', '.join(REGISTRY)}")
    try:
        module = importlib.import_module(entry.module)
    except ImportError as e:
        if entry.extra is None:
            raise
        raise TargetUnavailable(f"the {name} target needs its extra: pip install 'imgfilter[{entry.extra}]' "
                                f"({e})") from None
    target: Target[Any] = module.TARGET
    assert target.name == name, (target.name, name)
    return target


def available() -> dict[str, Target[Any]]:
    """Every registered target whose dependencies are installed."""
    out: dict[str, Target[Any]] = {}
    for name in REGISTRY:
        try:
            out[name] = get(name)
        except TargetUnavailable:
            continue
    return out


__all__ = ["REGISTRY", "Entry", "Target", "TargetUnavailable", "available", "get"]

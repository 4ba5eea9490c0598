"""The caller context (semantics §5): set by the embedding service, never by the query."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Context:
    """Who is asking.

    ``project_id``: the caller's project.  ``is_admin``: an administrator sees
    every image.  ``granted_eps``: the enterprise projects the caller is granted
    (used by ``enterprise_project_id=all_granted_eps``); None when unknown.
    """

    project_id: str | None = None
    is_admin: bool = False
    granted_eps: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.granted_eps is not None:
            object.__setattr__(self, "granted_eps", frozenset(g.lower() for g in self.granted_eps))

    @classmethod
    def of(cls, project_id: str | None = None, *, admin: bool = False,
           granted_eps: Iterable[str] | None = None) -> Context:
        return cls(project_id, admin, None if granted_eps is None else frozenset(granted_eps))

    @property
    def scoped(self) -> bool:
        """True when the scope of §5 applies (an ordinary caller)."""
        return not self.is_admin

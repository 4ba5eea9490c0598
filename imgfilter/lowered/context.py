"""The caller context: set by the embedding service, never by the query."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and value != ""


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
        # an empty id would match images whose owner is "" (or missing and stored so)
        if self.project_id is not None and not _nonempty_str(self.project_id):
            raise ValueError(f"Context: project_id must be a non-empty string or None, not {self.project_id!r}")
        if self.granted_eps is not None:
            if isinstance(self.granted_eps, str):
                raise ValueError("Context: granted_eps must be a collection of ids, not one string")
            bad = [g for g in self.granted_eps if not _nonempty_str(g)]
            if bad:
                raise ValueError(f"Context: granted_eps entries must be non-empty strings, not {bad[0]!r}")
            object.__setattr__(self, "granted_eps", frozenset(g.lower() for g in self.granted_eps))

    @classmethod
    def of(cls, project_id: str | None = None, *, admin: bool = False,
           granted_eps: Iterable[str] | None = None) -> Context:
        if isinstance(granted_eps, str):
            raise ValueError("Context: granted_eps must be a collection of ids, not one string")
        return cls(project_id, admin, None if granted_eps is None else frozenset(granted_eps))

    @property
    def scoped(self) -> bool:
        """True when an ordinary caller's scope applies."""
        return not self.is_admin

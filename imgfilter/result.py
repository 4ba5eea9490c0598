"""The page every target returns: the same object from memory and from SQL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Page:
    """The images of one page in IMS's wire form (``Image.wire``:
    never ``members``) and ``next_marker``: the id of the last image when more
    matches follow, else None."""

    images: tuple[Mapping[str, Any], ...]
    next_marker: str | None

    @property
    def ids(self) -> list[str]:
        return [str(img["id"]).lower() for img in self.images]

    def to_response(self) -> dict[str, Any]:
        """The HTTP response body, as IMS sends it:
        ``{"images": [...], "page_info": {"next_marker": ...}}``.  The images are
        this page's own (every target builds them anew for each page), so
        changing a body never changes a catalog or another caller's page."""
        return {"images": list(self.images), "page_info": {"next_marker": self.next_marker}}

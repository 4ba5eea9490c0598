"""What the caller context does to a query, shared by every target.

``resolve`` turns (checked query, context) into the few facts a target needs,
or raises the context's errors: IMG.0026 (403) for an ordinary caller asking
``__isregistered=false``, and ``member_status`` without a caller project.
"""

from __future__ import annotations

from dataclasses import dataclass

from imgfilter.front import codes
from imgfilter.front.ast import CheckedQuery, FieldIn, MemberFilter, Span
from imgfilter.front.errors import Diagnostic, QueryError
from imgfilter.lowered.context import Context


@dataclass(frozen=True, slots=True)
class Scope:
    """The images an ordinary caller may see: registered, and public, owned by
    ``project_id``, or shared with it with a status in ``member_statuses``."""

    project_id: str | None
    member_statuses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Resolved:
    scope: Scope | None  # None: the caller sees everything
    member_project: str | None  # whose membership member_status asks about
    granted_eps: frozenset[str] | None  # for enterprise_project_id=all_granted_eps


def resolve(query: CheckedQuery, context: Context | None) -> Resolved:
    errors: list[Diagnostic] = []
    member = next((f for f in query.filters if isinstance(f, MemberFilter)), None)
    project = context.project_id if context is not None else None
    if member is not None and project is None:
        errors.append(Diagnostic(
            codes.BAD_VALUE, "member_status: needs the caller's project, and the context names none",
            member.span, param="member_status", value=member.status,
            hint="the embedding service passes Context(project_id=...) (CLI: --project)",
        ))
    scope = None
    if context is not None and context.scoped:
        for f in query.filters:
            if isinstance(f, FieldIn) and f.param == "__isregistered" and f.values == (False,):
                errors.append(Diagnostic(
                    codes.FORBIDDEN, "__isregistered: ordinary users can only query registered images",
                    f.span, param="__isregistered", value="false", status=403,
                    hint="omit __isregistered, or ask true",
                ))
        statuses = ["accepted"]
        if member is not None and member.status not in statuses:
            statuses.append(member.status)
        scope = Scope(project, tuple(statuses))
    if errors:
        raise QueryError(errors, query.source)
    granted = context.granted_eps if context is not None else None
    return Resolved(scope, project if member is not None else None, granted)


def marker_not_found(query: CheckedQuery) -> QueryError:
    """IMG.0027: the marker names no image the caller may see."""
    return QueryError([Diagnostic(
        codes.MARKER_NOT_FOUND, f"marker: no image {query.marker} among the images you may see",
        query.marker_span or Span(0, 0), param="marker", value=query.marker, status=400,
        hint="pass the next_marker of the previous page, or leave marker out",
    )], query.source)


DEFAULT_EPS = "0"  # the default enterprise project; a missing one counts as it

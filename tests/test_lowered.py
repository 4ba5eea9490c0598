"""The lowered form: each decision of the spec, taken once in ``lower()``,
checked without a database; and the rule that targets only spell it."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

import imgfilter
from imgfilter import Context, Flavor, Options, QueryError
from imgfilter.front import codes
from imgfilter.lowered.core import (
    ALWAYS,
    AllOf,
    AnyOf,
    Compare,
    HasFlag,
    HasMember,
    HasProperty,
    HasTag,
    In,
    IsNull,
    Lowered,
    Never,
    Op,
    Order,
    Pred,
    all_of,
    any_of,
    lower,
)

from .fixtures import P1

EPS = "enterprise_project_id"
REGISTERED = Compare("__isregistered", Op.EQ, True)
PUBLIC = Compare("visibility", Op.EQ, "public")


def where(query: str, context: Context | None = None, options: Options | None = None) -> Pred:
    return lower(imgfilter.check(query, options), context).where


def parts(pred: Pred) -> tuple[Pred, ...]:
    assert isinstance(pred, AllOf)
    return pred.parts


def test_plain_filters_become_comparisons() -> None:
    assert where("status=active") == Compare("status", Op.EQ, "active")
    assert where("__platform=RedHat") == In("__platform", ("RedHat", "Red Hat"))
    assert where("protected=TRUE") == Compare("protected", Op.EQ, True)
    at = dt.datetime(2018, 10, 28, 10, tzinfo=dt.UTC)
    assert where("created_at=gte:2018-10-28T10:00:00Z") == Compare("created_at", Op.GTE, at)


def test_default_enterprise_project_also_matches_a_missing_one() -> None:
    assert where(f"{EPS}=0") == AnyOf((IsNull(EPS), Compare(EPS, Op.EQ, "0")))


def test_all_granted_eps_follows_the_grant_list() -> None:
    q = f"{EPS}=all_granted_eps"
    assert where(q, Context.of(P1, admin=True)) == ALWAYS  # grants unknown: no restriction of its own
    assert where(q, Context.of(admin=True, granted_eps=[])) == Never()
    assert where(q, Context.of(admin=True, granted_eps=["b", "a"])) == In(EPS, ("a", "b"))
    assert where(q, Context.of(admin=True, granted_eps=["a"])) == Compare(EPS, Op.EQ, "a")
    # the default project is granted: an image with none counts as in it
    assert where(q, Context.of(admin=True, granted_eps=["0", "a"])) == AnyOf((IsNull(EPS), In(EPS, ("0", "a"))))


def test_a_flavor_fits_when_a_minimum_is_missing_or_within_it() -> None:
    flavors = {"s2.large": Flavor(ram_mb=8192, disk_gb=40)}
    got = where("flavor_id=s2.large", None, Options(flavors=flavors))
    assert got == AllOf((AnyOf((IsNull("min_ram"), Compare("min_ram", Op.LTE, 8192))),
                         AnyOf((IsNull("min_disk"), Compare("min_disk", Op.LTE, 40)))))


def test_tags_flags_and_properties() -> None:
    assert where("tag=k") == HasTag("k", None)
    assert where("tag=k=") == HasTag("k", "")  # the empty value, as the checker reads it
    assert where("tag=k=v") == HasTag("k", "v")
    assert where("__support_foo=true") == HasFlag("__support_foo")  # an open-family flag
    assert where("x=1", None, Options(unknown="property")) == HasProperty("x", "1")


def test_member_status_asks_about_the_callers_own_membership() -> None:
    got = where("visibility=shared&member_status=pending", Context(P1, is_admin=True))
    assert set(parts(got)) == {Compare("visibility", Op.EQ, "shared"), HasMember(P1, ("pending",))}


def test_the_scope_of_an_ordinary_caller() -> None:
    own = AnyOf((PUBLIC, Compare("owner", Op.EQ, P1), HasMember(P1, ("accepted",))))
    assert where("", Context(P1)) == AllOf((REGISTERED, own))
    # filtering on another status also lets the images shared with that status in
    pending = AnyOf((PUBLIC, Compare("owner", Op.EQ, P1), HasMember(P1, ("accepted", "pending"))))
    shared = Compare("visibility", Op.EQ, "shared")
    got = where("visibility=shared&member_status=pending", Context(P1))
    assert set(parts(got)) == {shared, HasMember(P1, ("pending",)), REGISTERED, pending}
    assert where("", Context()) == AllOf((REGISTERED, PUBLIC))  # no project: public images only
    assert where("", Context(P1, is_admin=True)) == ALWAYS
    assert where("") == ALWAYS  # a trusted caller (no context)


def test_the_marker_must_be_visible_and_the_order_is_lowered() -> None:
    lowered = lower(imgfilter.check("status=active&sort_key=name&sort_dir=desc"), Context(P1))
    assert lowered.visible == where("", Context(P1))
    assert lowered.order == Order("name", True)
    assert lower(imgfilter.check("")).order == Order("created_at", True)


def test_the_context_rules_are_errors_of_lowering() -> None:
    with pytest.raises(QueryError) as e:
        lower(imgfilter.check("__isregistered=false"), Context(P1))
    assert e.value.code == codes.FORBIDDEN
    with pytest.raises(QueryError):
        lower(imgfilter.check("visibility=shared&member_status=accepted"), None)


def test_conjunctions_and_disjunctions_simplify() -> None:
    a, b = IsNull("name"), IsNull("owner")
    assert all_of() == ALWAYS and all_of(a) == a
    assert all_of(a, AllOf((b,)), ALWAYS) == AllOf((a, b))
    assert all_of(a, Never(), b) == Never()
    assert any_of() == Never() and any_of(Never(), a) == a
    assert any_of(a, AnyOf((b,))) == AnyOf((a, b))
    assert any_of(a, ALWAYS) == ALWAYS


def test_lowering_is_cached_and_holds_no_text_of_a_request() -> None:
    first = lower(imgfilter.check("name=x&limit=3"), Context(P1))
    again = lower(imgfilter.check("name=x&marker=00000000-0000-4000-8000-000000000001"), Context(P1))
    assert first is again and isinstance(first, Lowered)


TARGETS = Path(imgfilter.__file__).parent / "targets"
# what only the front end and lower() may read: the checked filters and the caller's raw facts
FORBIDDEN = {"EnterpriseProject", "FieldIn", "FlavorFit", "MemberFilter", "PropertyEq", "SupportFlag",
             "TagFilter", "TimeFilter", "DEFAULT_EPS", "ALL_GRANTED_EPS", "resolve", "Resolved", "Scope"}


@pytest.mark.parametrize("module", sorted(p.name for p in TARGETS.glob("*.py")))
def test_targets_only_spell_the_lowered_form(module: str) -> None:
    """No target reads the checked filters or the caller directly: every rule
    of the spec reaches a target through ``lower()``."""
    tree = ast.parse((TARGETS / module).read_text(encoding="utf-8"))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for a in node.names}
    assert not names & FORBIDDEN, f"{module} reads {sorted(names & FORBIDDEN)}: lower it in lowered/core.py"

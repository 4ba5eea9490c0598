"""Hypothesis strategies for the agreement tests: catalogs built to break
engines, queries that hit them, and callers.

Values come from small pools on purpose: catalogs are full of ties, of strings
that differ only in case, trailing spaces, Unicode normalization or plane, of
one instant written several ways; and queries pick from the same pools so
that they match something.  Parameter names, kinds and domains come from the
parameter table.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from imgfilter import Context, Options
from imgfilter.front import params as P
from imgfilter.front.check import Unknown

from .strategies import encode_go_sdk, encode_python_sdk, encode_shuffled, value_of

UTC = dt.UTC
PROJECTS = ["p-owner", "p-member", "p-other", "P-OWNER"]
EPS = ["2d6c6c9e-6b8e-4f5a-9c3d-1e2f3a4b5c6d", "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"]
# strings that sort differently by locale than by code point, differ only in case,
# in trailing spaces, in normalization (precomposed vs combining) or are outside the BMP
NAMES = ["a", "A", "a ", "B", "b", "é", "e\u0301", "𝔘nicode", "Ω", "_x", "-x", "10", "9", "z", "zz",
         "x' OR '1'='1", "a;--", "back\\slash", "50%_off", "tab\tname"]
TAG_KEYS = ["k", "K", "env", "环境", "a-b"]
TAG_VALUES = ["", "v", "V", "prod", "v.1", "生产"]
BASE = dt.datetime(2018, 9, 6, 14, 3, 27, tzinfo=UTC)
INSTANTS = [BASE, BASE + dt.timedelta(microseconds=1), BASE - dt.timedelta(microseconds=1),
            BASE + dt.timedelta(days=400), dt.datetime(2000, 1, 1, tzinfo=UTC), BASE.replace(microsecond=999999)]
CUSTOM = ["blue", "Blue", "7", "true"]


def _spell(t: dt.datetime, form: int) -> str:
    """One instant, written in several ways: Z, an offset, a fraction, no offset."""
    if form == 0:
        return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond:06d}" if t.microsecond else "") + "Z"
    if form == 1:
        return t.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()
    if form == 2:
        return t.astimezone(dt.timezone(dt.timedelta(hours=-3, minutes=-30))).isoformat(timespec="microseconds")
    return t.replace(tzinfo=None).isoformat(sep=" ")


def _maybe(s: st.SearchStrategy[Any], missing: float = 0.2) -> st.SearchStrategy[Any]:
    """A value, None (null), or absent (the sentinel ...)."""
    return st.one_of(s, s, s, st.just(None), st.just(...))


times = st.tuples(st.sampled_from(INSTANTS), st.integers(0, 3)).map(lambda tf: _spell(*tf))
booleans = st.sampled_from([True, False, "true", "false", "True", "FALSE"])
stored_tags = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(TAG_KEYS), st.sampled_from(TAG_VALUES)).map(lambda kv: f"{kv[0]}={kv[1]}"),
        st.tuples(st.sampled_from(TAG_KEYS), st.sampled_from(["v", "prod"])).map(lambda kv: f"{kv[0]}.{kv[1]}"),
        st.sampled_from(TAG_KEYS),
    ),
    max_size=4,
)  # duplicates allowed: ["k=v", "k=v"] and ["k=v", "k.v"] are one tag


# Per-field pools where the field's domain alone would not provoke the engines;
# every other field takes its values from the parameter table (enum choices) or
# from a pool for its type.
FIELD_POOLS: dict[str, list[Any]] = {
    "name": NAMES,
    "owner": PROJECTS,
    "__os_version": NAMES[:6],
    "enterprise_project_id": ["0", EPS[0], EPS[1].upper()],
    "__platform": ["RedHat", "Red Hat", "CentOS", "redhat"],
    "container_format": ["bare", "ovf"],
    "__os_bit": ["32", "64", 64],
    "__support_xen_gpu_type": ["M60_vGPU", "m60_vgpu"],
    "__isregistered": [True, "true", "True", True, False, "false"],
    "architecture": ["x86", "arm", "arm", "ARM"],
}
TYPE_POOLS: dict[P.FieldType, st.SearchStrategy[Any]] = {
    P.FieldType.BOOL: booleans,
    P.FieldType.INT: st.sampled_from([0, 1, 5, 5, 40, 1024, 2048, 2**40]),
    P.FieldType.TIME: times,
    P.FieldType.TEXT: st.sampled_from(NAMES[:8]),
    P.FieldType.ID: st.sampled_from(["0", EPS[0]]),
}


def field_values(f: P.Field) -> st.SearchStrategy[Any]:
    if f.name in FIELD_POOLS:
        return st.sampled_from(FIELD_POOLS[f.name])
    param = P.PARAMS.get(f.name)
    if param is not None and param.kind is P.Kind.ENUM:
        return st.sampled_from(param.choices + tuple(param.aliases))
    return TYPE_POOLS[f.type]


# strategies are built once: building them per draw costs more than drawing
FIELD_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    f.name: _maybe(field_values(f)) for f in P.FIELDS_LIST[1:]}
OTHER_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    # the rest of a record: the open __support_* family, an unknown property, tags, members
    "__support_s4l": _maybe(st.sampled_from([True, "true", "TRUE", "false", "yes"])),
    # IMS records an ARM image so, with no `architecture` (semantics §2); in every spelling
    "__support_arm": _maybe(st.sampled_from([True, "true", "TRUE", "True", False, "false", "FALSE"])),
    # response fields no parameter filters, in every spelling their wire form comes from (semantics §8)
    "__lazyloading": _maybe(booleans),
    "deleted": _maybe(booleans),
    "deleted_at": _maybe(times),
    "virtual_size": _maybe(st.sampled_from([0, 2**40])),
    "max_ram": _maybe(st.sampled_from(["2048", 4096])),
    "__description": _maybe(st.sampled_from(["line\u2028sep", "para\u2029sep", "nel\x85", "𝔘nicode"])),
    "service_prop": _maybe(st.sampled_from([1.5, -0.0, {"a": [1, {"b": None}]}, [], "x\u2028y"])),
    "custom_prop": _maybe(st.sampled_from([*CUSTOM, 7, True])),
    "tags": _maybe(stored_tags),
    "members": _maybe(st.lists(
        st.tuples(st.sampled_from(PROJECTS), st.sampled_from(P.MEMBER_STATUSES)),
        max_size=3, unique_by=lambda m: m[0]).map(lambda ms: [{"member_id": m, "status": s} for m, s in ms])),
}


@st.composite
def records(draw: st.DrawFn, image_id: str) -> dict[str, Any]:
    """One record: every field of the table present, null or absent."""
    fields: dict[str, Any] = {"id": image_id if draw(st.booleans()) else image_id.upper()}
    for name, strategy in (*FIELD_STRATEGIES.items(), *OTHER_STRATEGIES.items()):
        fields[name] = draw(strategy)
    return {k: v for k, v in fields.items() if v is not ...}


@st.composite
def catalogs(draw: st.DrawFn, max_size: int = 14) -> list[dict[str, Any]]:
    n = draw(st.integers(0, max_size) if draw(st.integers(0, 9)) == 0 else st.integers(3, max_size))
    ids = draw(st.lists(st.uuids(version=4).map(str), min_size=n, max_size=n, unique=True))
    return [draw(records(i)) for i in ids]


# ---- queries that hit the catalog ------------------------------------------------------

def _time_value(draw: st.DrawFn) -> str:
    t = draw(st.sampled_from(INSTANTS))
    t = t + draw(st.sampled_from([dt.timedelta(0), dt.timedelta(0), dt.timedelta(microseconds=1),
                                  dt.timedelta(microseconds=-1)]))
    spelled = _spell(t, draw(st.integers(0, 2))) if draw(st.booleans()) else t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{draw(st.sampled_from(P.TIME_OPS))}:{spelled}"


POOLS: dict[str, list[str]] = {
    "name": NAMES, "owner": ["p-owner", "p-member", "P-OWNER"], "__os_version": NAMES[:6],
    "__support_xen_gpu_type": ["M60_vGPU", "m60_vgpu"], "__system__cmkid": ["cmk"],
    "__support_kvm_gpu_type": ["V100"],
}


@st.composite
def query_pairs(draw: st.DrawFn, ids: list[str]) -> list[tuple[str, str]]:
    """A valid query as (name, value) pairs: parameters from the table, values
    from the catalog's pools or the parameter's own strategy."""
    usable = [p for p in P.PARAMS_LIST if p.kind not in (P.Kind.FLAVOR, P.Kind.MARKER, P.Kind.LIMIT,
                                                         P.Kind.MEMBER, P.Kind.SORT_KEY, P.Kind.SORT_DIR)]
    chosen = draw(st.lists(st.sampled_from(usable), unique_by=lambda p: p.name, max_size=2))
    pairs: list[tuple[str, str]] = []
    for p in chosen:
        for _ in range(draw(st.integers(1, 2)) if p.repeatable else 1):
            if p.kind is P.Kind.TIME:
                value = _time_value(draw)
            elif p.kind is P.Kind.TAG:
                key = draw(st.sampled_from(TAG_KEYS))
                form = draw(st.integers(0, 2))
                value = key if form == 0 else f"{key}={draw(st.sampled_from(TAG_VALUES))}"
            elif p.kind is P.Kind.EPS:
                value = draw(st.sampled_from(["0", P.ALL_GRANTED_EPS, EPS[0].upper(), EPS[1]]))
            elif p.kind is P.Kind.UUID and ids and draw(st.booleans()):
                value = draw(st.sampled_from(ids))
            elif p.name in POOLS and draw(st.integers(0, 3)):
                value = draw(st.sampled_from(POOLS[p.name]))
            else:
                value = draw(value_of(p))[0]
            pairs.append((p.name, value))
    if draw(st.integers(0, 7)) == 0:
        pairs = [pv for pv in pairs if pv[0] != "visibility"]
        pairs += [("visibility", "shared"), ("member_status", draw(st.sampled_from(P.MEMBER_STATUSES)))]
    if draw(st.integers(0, 6)) == 0:
        pairs.append(("__support_s4l", "true"))
    if draw(st.integers(0, 4)) == 0 and all(k != "architecture" for k, _ in pairs):
        pairs.append(("architecture", draw(st.sampled_from(["arm", "x86"]))))
    elif draw(st.integers(0, 9)) == 0:
        pairs.append(("__support_arm", "true"))
    return pairs


@dataclass(frozen=True)
class Case:
    query: str
    context: Context | None
    options: Options


@st.composite
def cases(draw: st.DrawFn, ids: list[str], paged: bool = False) -> Case:
    pairs = draw(query_pairs(ids))
    if draw(st.booleans()):
        pairs.append(("sort_key", draw(st.sampled_from(P.SORT_KEYS))))
    if draw(st.booleans()):
        pairs.append(("sort_dir", draw(st.sampled_from(["asc", "desc"]))))
    if paged:
        pairs.append(("limit", str(draw(st.integers(1, 3)))))
    else:
        limit = draw(st.one_of(st.none(), st.just(0), st.integers(1, 4), st.just(2**31 - 1)))
        if limit is not None:
            pairs.append(("limit", str(limit)))
        marker = draw(st.one_of(st.none(), st.none(), st.none(), st.sampled_from(ids) if ids else st.none(),
                                st.sampled_from(ids) if ids else st.none(), st.uuids().map(str)))
        if marker is not None:
            pairs.append(("marker", marker if draw(st.booleans()) else marker.upper()))
    policy: Unknown = draw(st.sampled_from(["reject", "ignore", "property"]))
    if policy != "reject" and draw(st.booleans()):
        pairs.append(("custom_prop", draw(st.sampled_from(CUSTOM))))
    encoding = draw(st.integers(0, 2))
    if encoding == 0:
        query = encode_python_sdk(pairs)
    elif encoding == 1:
        query = encode_go_sdk(pairs, [])
    else:
        query = encode_shuffled(pairs, draw(st.integers(0, 1000)))
    context = draw(contexts())
    if any(k == "member_status" for k, _ in pairs) and draw(st.integers(0, 3)):
        context = Context(draw(st.sampled_from(PROJECTS)), draw(st.booleans()))
    return Case(query, context, Options(unknown=policy))


def contexts() -> st.SearchStrategy[Context | None]:
    granted = st.one_of(st.none(), st.lists(st.sampled_from(["0", *EPS]), unique=True).map(frozenset))
    return st.one_of(
        st.none(),
        st.none(),
        st.builds(Context, st.none(), st.just(True), granted),
        st.builds(Context, st.sampled_from([*PROJECTS, None]), st.just(False), granted),
        st.builds(Context, st.sampled_from(PROJECTS), st.just(True), granted),
    )


def fresh_uuid() -> str:
    return str(uuid.uuid4())

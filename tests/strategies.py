"""Hypothesis strategies derived from the parameter table (``imgfilter.front.params``).

A strategy per ``Kind`` draws a value as a client would send it (``wire``)
together with the canonical form the checker must arrive at (``canon``).  A new
parameter of an existing kind needs no edit here.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Callable
from urllib.parse import quote, quote_plus

from hypothesis import strategies as st

from imgfilter.front import params as P
from imgfilter.front.ast import format_time

Drawn = tuple[str, str]  # (wire value, canonical value)

UTC = dt.UTC
TAG_CHARS = string.ascii_letters + string.digits + "_-" + "环境生产测试"
TEXT_CHARS = st.characters(codec="utf-8", blacklist_characters="\x00")  # no surrogates, no NUL


def _case_variants(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.upper(), word.capitalize()])


def _class_chars(pattern: str) -> str:
    inner = pattern[1:-1]
    out: list[str] = []
    for a, b in (("0", "9"), ("A", "Z"), ("a", "z")):
        if f"{a}-{b}" in inner:
            out.extend(chr(c) for c in range(ord(a), ord(b) + 1))
            inner = inner.replace(f"{a}-{b}", "")
    return "".join(out) + inner.replace("\\", "")


def _text(param: P.Param) -> st.SearchStrategy[str]:
    hi = min(param.max_len, 40)
    if param.pattern:
        return st.text(alphabet=_class_chars(param.pattern), min_size=param.min_len, max_size=hi)
    return st.text(alphabet=TEXT_CHARS, min_size=param.min_len, max_size=hi)


instants = st.datetimes(
    min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2037, 12, 31), timezones=st.just(UTC),
)


@st.composite
def time_value(draw: st.DrawFn) -> Drawn:
    op = draw(st.sampled_from(P.TIME_OPS))
    at = draw(instants)
    form = draw(st.sampled_from(["Z", "space", "offset"]))
    if form == "offset":
        minutes = draw(st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15))
        tz = dt.timezone(dt.timedelta(minutes=minutes))
        local = at.astimezone(tz)
        text = local.isoformat(timespec="microseconds" if at.microsecond else "seconds")
    else:
        at = at.replace(microsecond=0)
        text = at.strftime("%Y-%m-%dT%H:%M:%SZ" if form == "Z" else "%Y-%m-%d %H:%M:%S")
    return f"{op}:{text}", f"{op}:{format_time(at)}"


@st.composite
def tag_value(draw: st.DrawFn) -> Drawn:
    tag = P.PARAMS["tag"]
    key = draw(st.text(alphabet=TAG_CHARS, min_size=1, max_size=tag.max_len))
    form = draw(st.sampled_from(["kv", "k=", "k"]))
    if form == "k":
        return key, key
    value = "" if form == "k=" else draw(st.text(alphabet=TAG_CHARS + ".", min_size=1,
                                                                max_size=tag.value_max_len))
    return f"{key}={value}", f"{key}={value}"


def _uuid() -> st.SearchStrategy[Drawn]:
    return st.uuids().flatmap(lambda u: st.sampled_from([str(u), str(u).upper()]).map(
        lambda w: (w, str(u))))


def _same(s: st.SearchStrategy[str]) -> st.SearchStrategy[Drawn]:
    return s.map(lambda v: (v, v))


def _bool(_: P.Param) -> st.SearchStrategy[Drawn]:
    return st.sampled_from(["true", "false"]).flatmap(lambda b: _case_variants(b).map(lambda w: (w, b)))


KIND_STRATEGIES: dict[P.Kind, Callable[[P.Param], st.SearchStrategy[Drawn]]] = {
    P.Kind.ENUM: lambda p: _same(st.sampled_from(p.choices + tuple(p.aliases))).map(
        lambda d: (d[0], p.aliases.get(d[0], (d[0],))[0])),
    P.Kind.BOOL: _bool,
    P.Kind.TRUE_ONLY: lambda p: _case_variants("true").map(lambda w: (w, "true")),
    P.Kind.INT: lambda p: _same(st.integers(p.minimum, p.maximum).map(str)),
    P.Kind.LIMIT: lambda p: _same(st.integers(p.minimum, p.maximum).map(str)),
    P.Kind.TEXT: lambda p: _same(_text(p)),
    P.Kind.UUID: lambda p: _uuid(),
    P.Kind.MARKER: lambda p: _uuid(),
    P.Kind.EPS: lambda p: st.one_of(_same(st.sampled_from(["0", P.ALL_GRANTED_EPS])), _uuid()),
    P.Kind.TAG: lambda p: tag_value(),
    P.Kind.TIME: lambda p: time_value(),
    P.Kind.MEMBER: lambda p: _same(st.sampled_from(p.choices)),
    P.Kind.SORT_KEY: lambda p: _same(st.sampled_from(p.choices)),
    P.Kind.SORT_DIR: lambda p: _same(st.sampled_from(p.choices)),
}
# flavor_id needs a flavor catalog; the round trip runs without one
SKIPPED = {P.Kind.FLAVOR}


_VALUE_STRATEGIES: dict[str, st.SearchStrategy[Drawn]] = {}


def value_of(param: P.Param) -> st.SearchStrategy[Drawn]:
    """The strategy for a parameter's values (built once per parameter)."""
    if param.name not in _VALUE_STRATEGIES:
        _VALUE_STRATEGIES[param.name] = KIND_STRATEGIES[param.kind](param)
    return _VALUE_STRATEGIES[param.name]


support_family_names = st.from_regex(r"__support_[a-z0-9_]{1,12}", fullmatch=True).filter(
    lambda n: n not in P.PARAMS)


@st.composite
def param_sets(draw: st.DrawFn) -> list[tuple[str, str, str]]:
    """A valid set of parameters: [(name, wire value, canonical value)]."""
    names = draw(st.lists(st.sampled_from([p.name for p in P.PARAMS_LIST if p.kind not in SKIPPED]),
                          unique=True, max_size=12))
    out: list[tuple[str, str, str]] = []
    for name in names:
        param = P.PARAMS[name]
        count = draw(st.integers(1, 3)) if param.repeatable else 1
        for _ in range(count):
            wire, canon = draw(value_of(param))
            out.append((name, wire, canon))
    if "member_status" in names:
        out = [t for t in out if t[0] != "visibility"] + [("visibility", "shared", "shared")]
    for name in draw(st.lists(support_family_names, unique=True, max_size=2)):
        out.append((name, "true", "true"))
    return out


def expected_pairs(items: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """What ``CheckedQuery.pairs()`` must return for these parameters."""
    pairs = [(name, canon) for name, _, canon in items]
    names = {n for n, _ in pairs}
    if "sort_key" not in names:
        pairs.append(("sort_key", P.DEFAULT_SORT_KEY))
    if "sort_dir" not in names:
        pairs.append(("sort_dir", P.DEFAULT_SORT_DIR))
    return sorted(pairs)


# ---- how real clients encode ------------------------------------------------------

def encode_python_sdk(items: list[tuple[str, str]]) -> str:
    """huaweicloudsdkcore: keys sorted, quote(value, safe='~'), uppercase hex, %20."""
    return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(items))


def _lower_hex(s: str) -> str:
    return "".join(s[i] if s[i - 1:i] != "%" and s[i - 2:i - 1] != "%" else s[i].lower()
                   for i in range(len(s)))


def encode_go_sdk(items: list[tuple[str, str]], unset: list[str]) -> str:
    """Go SDK: url.Values style (keys sorted, '+' for space), bare keys for unset
    fields, and lowercase hex as some proxies rewrite it."""
    parts = [(k, f"{quote_plus(k, safe='~')}={quote_plus(v, safe='~')}") for k, v in items]
    parts += [(k, quote_plus(k)) for k in unset]
    return "&".join(_lower_hex(p) for _, p in sorted(parts))


def encode_shuffled(items: list[tuple[str, str]], seed: int) -> str:
    """A hand-written client: any order, only the necessary characters encoded."""
    rnd = random.Random(seed)
    shuffled = items[:]
    rnd.shuffle(shuffled)
    return "?" + "&".join(f"{k}={quote(v, safe='~:=/ ,@!$*()')}".replace(" ", "%20") for k, v in shuffled)

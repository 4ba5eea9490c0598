"""Stage 2: type-check decoded pairs against the parameter table.

Every rule that can be decided from the query alone lives here; rules that
need the caller (scope, ``member_status`` without a project) are the targets'.
All errors of a query are collected and raised together as one ``QueryError``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from imgfilter.caches import LRU, cached, lru
from imgfilter.front import codes
from imgfilter.front import params as P
from imgfilter.front.ast import (
    CheckedQuery,
    EnterpriseProject,
    FieldIn,
    Filter,
    FlavorFit,
    MemberFilter,
    Pair,
    PropertyEq,
    Span,
    SupportFlag,
    TagFilter,
    TimeFilter,
)
from imgfilter.front.errors import Diagnostic, QueryError, Severity
from imgfilter.front.parse import SubParseError, check_text, decode_pairs, parse, parse_value

Unknown = Literal["reject", "ignore", "property"]
_INT_RE = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class Flavor:
    """A flavor of the embedding service's catalog: memory in MB, disk in GB."""

    ram_mb: int
    disk_gb: int


@dataclass(frozen=True, slots=True)
class Options:
    """What the embedding service decides; part of the cache key.

    ``max_length`` / ``max_pairs``: over-size queries are refused before they
    are parsed.  ``default_limit`` / ``max_limit``: the page size when none is
    asked, and the largest served (a larger one is clamped, with a warning).
    ``max_side_filters``: tag, ``__support_<name>`` and property filters
    together (each reads a side table).  ``max_cached_length``: longer queries
    are checked but not cached (None: every accepted length).
    ``Options.for_service()`` is a preset for services.
    """

    unknown: Unknown = "reject"
    max_length: int = 16384
    max_pairs: int = 100
    default_limit: int | None = None
    max_limit: int | None = None
    flavors: Mapping[str, Flavor] | None = field(default=None, hash=False)
    max_side_filters: int = 64
    max_cached_length: int | None = None

    def __post_init__(self) -> None:
        if self.unknown not in ("reject", "ignore", "property"):
            raise ValueError(f"unknown must be reject, ignore or property, not {self.unknown!r}")
        for name in ("max_length", "max_pairs", "max_side_filters", "default_limit", "max_limit",
                     "max_cached_length"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise ValueError(f"Options.{name} must be an integer >= 0, not {v!r}")
        if self.flavors is not None:
            object.__setattr__(self, "flavors", MappingProxyType(dict(self.flavors)))

    @classmethod
    def for_service(cls, *, default_limit: int = 25, max_limit: int = 1000, max_length: int = 8192,
                    max_cached_length: int = 2048, **others: Any) -> Options:
        """A preset for a service taking queries from untrusted callers: pages of
        ``default_limit`` images unless asked (Glance's default, 25), at most
        ``max_limit`` (Glance's 1000), queries of at most ``max_length``
        characters, and only queries up to ``max_cached_length`` characters
        cached.  Other fields as ``Options``; cache sizes: ``configure_caches``."""
        return cls(default_limit=default_limit, max_limit=max_limit, max_length=max_length,
                   max_cached_length=max_cached_length, **others)


DEFAULT_OPTIONS = Options()


_NAMES = tuple(P.PARAMS)
_PARAMS = P.PARAMS
_WIRE = operator.methodcaller("wire")  # the canonical order of filters: by their wire form
_REPEATABLE = ", ".join(p.name for p in P.PARAMS_LIST if p.repeatable)


def suggest(word: str, choices: tuple[str, ...]) -> str | None:
    """The closest choice to ``word``: same letters in another case, or a near miss."""
    lower = word.lower()
    for c in choices:
        if c.lower() == lower or c.replace(" ", "").lower() == lower:
            return c
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def _did_you_mean(word: str, choices: tuple[str, ...]) -> str | None:
    s = suggest(word, choices)
    return f"did you mean {s!r}?" if s is not None else None


def _unknown_hint(pair: Pair) -> str | None:
    """What an unknown name most likely meant: spaces around a name, an operator
    in the name (``created_at>=...``), or a near miss."""
    key = pair.key
    name = key.strip()
    if name != key and P.lookup(name) is not None:
        where = " and ".join(w for w, gap in (("leading", key[:1].isspace()), ("trailing", key[-1:].isspace()))
                             if gap)
        return (f"the name has a {where} space ('+' and %20 are spaces in a query): write {name!r}")
    sym = re.fullmatch(r"(created_at|updated_at)\s*([<>])(.*)", key, re.S)
    if sym is not None:  # created_at>=T is the pair `created_at>` = `T`; created_at<T has no '='
        symbol = sym.group(2) + ("=" if pair.value is not None else "")
        time = pair.value if pair.value is not None else sym.group(3)
        return f"operators go in the value: write {sym.group(1)}={_SYMBOL_OPS[symbol]}:{time or 'TIME'}"
    return _did_you_mean(name or key, _NAMES)


# ---- why a time filter was rejected: the first rule that fits gives the message ----------

# each operator's Python and SQL spelling, and two reversed ones, said as the operator's word
_SYMBOL_OPS = {**{s: op.word for op in P.TimeOp for s in (op.py, op.sql)}, "=>": "gte", "=<": "lte"}
_SYMBOL_RE = re.compile("(" + "|".join(re.escape(s) for s in sorted(_SYMBOL_OPS, key=len, reverse=True))
                        + ")(?=[0-9])")
_OP_RE = re.compile(r"([A-Za-z_]+):")
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_CLOCK = r"[0-9]{2}:[0-9]{2}:[0-9]{2}"
_Fix = Callable[[str], str]


def _from_epoch(ts: str) -> str:
    try:
        seconds = float(ts) / (1000 if len(ts.partition(".")[0]) > 11 else 1)  # milliseconds
        return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return "2018-10-28T10:00:00Z"


# (pattern of the time text, message, hint, the time corrected); the first rule that fits speaks
_TIME_RULES: tuple[tuple[re.Pattern[str], str, str, _Fix], ...] = (
    (re.compile(f"{_DATE}T{_CLOCK}(\\.[0-9]+)? [0-9]{{2}}:?[0-9]{{2}}"),
     "a space where the offset's '+' should be: an unencoded '+' in a query means a space",
     "write '+' as %2B: {fix}", lambda ts: ts.replace(" ", "%2B")),
    (re.compile(f"{_DATE}T{_CLOCK}(\\.[0-9]+)?[+-][0-9]{{4}}"),
     "the offset needs a colon", "write it as ±HH:MM: {fix}",
     lambda ts: ts[:-2].replace("+", "%2B") + ":" + ts[-2:]),
    (re.compile(f"{_DATE}[Tt]{_CLOCK}(\\.[0-9]{{1,6}})?([Zz]|[+-][0-9]{{2}}:[0-9]{{2}})"),
     "'T' and 'Z' are upper case in a time", "write {fix}", lambda ts: ts.upper().replace("+", "%2B")),
    (re.compile(f"{_DATE}([T ]{_CLOCK})?\\.[0-9]{{7,}}.*"),
     "more than 6 fractional digits: times are compared to the microsecond",
     "write at most 6 digits after the point: {fix}",
     lambda ts: re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", ts).replace("+", "%2B")),
    (re.compile(_DATE), "a date without a time of day", "write {fix} (midnight UTC)",
     lambda ts: ts + "T00:00:00Z"),
    (re.compile(f"{_DATE}T{_CLOCK}(\\.[0-9]{{1,6}})?"), "the time has no zone",
     "append Z for UTC ({fix}) or an offset such as %2B08:00", lambda ts: ts + "Z"),
    (re.compile(r"[0-9]{9,13}(\.[0-9]+)?"), "an epoch number (seconds since 1970)", "write {fix}", _from_epoch),
)


def _time_problem(name: str, value: str, pair: Pair) -> tuple[str, str, Span]:
    """Message, hint and span for a time filter the grammar rejected."""
    op, ts = "", value
    sym = _SYMBOL_RE.match(value)
    if sym is not None:
        word = _SYMBOL_OPS[sym.group(1)]
        return (f"{sym.group(1)!r} is not an operator: operators are words ({', '.join(P.TIME_OPS)})",
                f"write {name}={word}:{value[sym.end():]}", pair.raw_span(0, sym.end()))
    m = _OP_RE.match(value)
    if m is not None and not value[:1].isdigit():
        op, ts = m.group(1), value[m.end():]
        if op not in P.TIME_OPS:
            return (f"{op!r} is not an operator: expected one of {', '.join(P.TIME_OPS)}",
                    _did_you_mean(op, P.TIME_OPS) or f"e.g. {name}=gt:2018-10-28T10:00:00Z",
                    pair.raw_span(0, len(op)))
        if not ts:
            return (f"the time is missing after '{op}:'", f"e.g. {name}={op}:2018-10-28T10:00:00Z",
                    pair.raw_span(0, len(value)))
    at = len(value) - len(ts)
    span = pair.raw_span(at, len(value))
    for pattern, message, hint, fix_time in _TIME_RULES:
        if pattern.fullmatch(ts):
            fix = f"{name}={op or 'eq'}:{fix_time(ts)}"
            return f"{ts!r} is not a time: {message}", hint.format(fix=fix), span
    return (f"{value!r} is not op:time (e.g. {name}=gt:2018-10-28T10:00:00Z)",
            "times are YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DD HH:MM:SS (UTC) or RFC 3339 with an offset "
            "(its '+' written %2B)", span)


class _Checker:
    """One check of one query.  Not shared: built and thrown away per call."""

    def __init__(self, source: str, options: Options) -> None:
        self.source = source
        self.options = options
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.filters: list[Filter] = []
        self.seen: dict[str, Pair] = {}
        self.sort_key = P.DEFAULT_SORT_KEY
        self.sort_dir = P.DEFAULT_SORT_DIR
        self.marker: str | None = None
        self.marker_span = Span(0, 0)
        self.limit: int | None = None
        self.limit_pair: Pair | None = None

    # -- reporting ---------------------------------------------------------------
    def error(self, pair: Pair, param: P.Param | None, message: str, hint: str | None = None,
              span: Span | None = None, code: str | None = None) -> None:
        name = pair.key  # as sent: a __support_* flag by its own name, not the family's
        self.errors.append(Diagnostic(
            code or (param.code if param is not None else codes.BAD_VALUE),
            f"{name}: {message}", span or pair.value_span, param=pair.key,
            value=pair.value, hint=hint,
        ))

    def warn(self, pair: Pair, message: str, hint: str | None = None, span: Span | None = None) -> None:
        self.warnings.append(Diagnostic(
            codes.BAD_VALUE, f"{pair.key}: {message}", span or pair.span, param=pair.key,
            value=pair.value, hint=hint, severity=Severity.WARNING,
        ))

    def bad_value(self, pair: Pair, param: P.Param, hint: str | None = None) -> None:
        self.error(pair, param, f"{pair.value!r} is not {param.domain}", hint)

    # -- the pairs ---------------------------------------------------------------
    def run(self, pairs: tuple[Pair, ...]) -> CheckedQuery:
        for pair in pairs:
            self.pair(pair)
        self.cross_rules()
        self.side_filters()
        self.apply_limits()
        if self.errors:
            raise QueryError(self.errors, self.source)
        # filters are ANDed: a canonical order makes equal meanings compare equal
        filters = tuple(sorted(self.filters, key=_WIRE))
        return CheckedQuery(
            self.source, filters, self.sort_key, self.sort_dir, self.marker,
            self.limit, tuple(self.warnings), self.marker_span,
        )

    def side_filters(self) -> None:
        """Bound the filters that each read a side table (tags, flags, properties)."""
        limit = self.options.max_side_filters
        if len(self.filters) <= limit:
            return
        side = [f for f in self.filters if isinstance(f, TagFilter | SupportFlag | PropertyEq)]
        if len(side) > limit:
            first = side[limit].span
            self.errors.append(Diagnostic(
                codes.BAD_VALUE, f"the query has {len(side)} tag, __support_* and property filters; "
                f"at most {limit} are allowed (Options.max_side_filters)",
                Span(first.start, max(f.span.end for f in side[limit:])),
                hint="send fewer tag, __support_* or unknown-parameter filters",
            ))

    def pair(self, pair: Pair) -> None:
        key, value = pair.key, pair.value
        param = _PARAMS.get(key) or P.lookup(key)
        if param is None:
            if key == "":
                self.errors.append(Diagnostic(
                    codes.BAD_VALUE, "a parameter has a value but no name", pair.span, value=value,
                    hint="write name=value",
                ))
            else:
                self.unknown(pair)
            return
        if not value:
            self.warn(pair, "empty value: the parameter is ignored",
                      "omit the parameter, or give it a value")
            return
        first = self.seen.setdefault(key, pair)
        if first is not pair and not param.repeatable:
            self.error(pair, param, "given more than once", span=pair.span,
                       hint=f"only {_REPEATABLE} may repeat; first given at offset {first.key_span.start}")
            return
        if "\x00" in value:
            self.error(pair, param, "the value contains a NUL character",
                       span=pair.raw_span(value.index("\x00"), value.index("\x00") + 1))
            return
        _HANDLERS[param.name](self, pair, param, value)

    def unknown(self, pair: Pair) -> None:
        policy = self.options.unknown
        if policy == "reject":
            self.error(pair, None, "unknown parameter", span=pair.key_span,
                       hint=_unknown_hint(pair) or "see `imgfilter params` for the parameters this API takes")
        elif policy == "ignore":
            self.warn(pair, "unknown parameter ignored", _unknown_hint(pair), span=pair.key_span)
        elif not pair.value:
            self.warn(pair, "empty value: the parameter is ignored")
        elif "\x00" in pair.value or "\x00" in pair.key:
            self.error(pair, None, "the name or value contains a NUL character")
        elif pair.key in P.FIELDS:
            # a typed field no parameter filters (`size`): compare as its type
            fld = P.FIELDS[pair.key]
            # every engine compares a signed 64-bit integer (19 digits, leading zeros
            # aside, keep int() cheap)
            if (fld.type is P.FieldType.INT and _INT_RE.fullmatch(pair.value)
                    and len(pair.value.lstrip("0")) <= 19 and int(pair.value) < 2**63):
                self.filters.append(FieldIn(pair.key, fld.name, (int(pair.value),), pair.span))
            else:
                self.error(pair, None, f"{pair.value!r} is not an integer from 0 to {2**63 - 1}")
        else:
            self.filters.append(PropertyEq(pair.key, pair.value, pair.span))

    # -- per kind ----------------------------------------------------------------
    def k_enum(self, pair: Pair, param: P.Param, value: str) -> None:
        if value not in param.choices and value not in param.aliases:
            self.bad_value(pair, param, _did_you_mean(value, param.choices))
            return
        assert param.field is not None
        values = param.aliases.get(value, (value,))
        self.filters.append(FieldIn(param.name, param.field.name, values, pair.span))

    def k_bool(self, pair: Pair, param: P.Param, value: str) -> None:
        low = value.lower()
        if low not in ("true", "false"):
            self.bad_value(pair, param, _did_you_mean(value, ("true", "false")))
            return
        assert param.field is not None
        self.filters.append(FieldIn(param.name, param.field.name, (low == "true",), pair.span))

    def k_true_only(self, pair: Pair, param: P.Param, value: str) -> None:
        low = value.lower()
        if low != "true":
            hint = ("omit the parameter to not filter on it: images without the capability "
                    "carry no such attribute" if low == "false" else None)
            self.bad_value(pair, param, hint)
            return
        if param.field is None:
            self.filters.append(SupportFlag(pair.key, pair.span))
        else:
            self.filters.append(FieldIn(param.name, param.field.name, (True,), pair.span))

    def parse_int(self, pair: Pair, param: P.Param, value: str) -> int | None:
        if not _INT_RE.fullmatch(value):
            self.bad_value(pair, param, "write a decimal integer without sign or spaces")
            return None
        digits = value.lstrip("0")  # leading zeros do not count against the digit cap
        n = int(digits or "0") if len(digits) <= 12 else param.maximum + 1
        if not param.minimum <= n <= param.maximum:
            self.bad_value(pair, param)
            return None
        return n

    def k_int(self, pair: Pair, param: P.Param, value: str) -> None:
        n = self.parse_int(pair, param, value)
        if n is not None:
            assert param.field is not None
            self.filters.append(FieldIn(param.name, param.field.name, (n,), pair.span))

    def k_text(self, pair: Pair, param: P.Param, value: str) -> None:
        if not self.text_ok(pair, param, value):
            return
        assert param.field is not None
        self.filters.append(FieldIn(param.name, param.field.name, (value,), pair.span))

    def text_ok(self, pair: Pair, param: P.Param, value: str) -> bool:
        if not param.min_len <= len(value) <= param.max_len:
            self.error(pair, param, f"{len(value)} characters is not {param.domain}")
            return False
        if param.pattern is not None:
            bad = re.search(f"[^{param.pattern[1:-1]}]", value)
            if bad is not None:
                self.error(pair, param, f"{bad.group()!r} is not allowed: {param.domain}",
                           span=pair.raw_span(bad.start(), bad.end()))
                return False
        return True

    def k_uuid(self, pair: Pair, param: P.Param, value: str) -> None:
        if not P.UUID_RE.fullmatch(value):
            self.bad_value(pair, param, "a UUID looks like bc6bed6e-ba3a-4447-afcc-449174a3eb52")
            return
        assert param.field is not None
        self.filters.append(FieldIn(param.name, param.field.name, (value.lower(),), pair.span))

    def k_eps(self, pair: Pair, param: P.Param, value: str) -> None:
        if value in ("0", P.ALL_GRANTED_EPS):
            self.filters.append(EnterpriseProject(value, pair.span))
        elif P.UUID_RE.fullmatch(value):
            self.filters.append(EnterpriseProject(value.lower(), pair.span))
        else:
            self.bad_value(pair, param, _did_you_mean(value, (P.ALL_GRANTED_EPS,)))

    def k_flavor(self, pair: Pair, param: P.Param, value: str) -> None:
        if not self.text_ok(pair, param, value):
            return
        flavors = self.options.flavors
        if flavors is None:
            self.error(pair, param, "filtering by flavor needs a flavor catalog, and none is configured",
                       hint="pass Options(flavors={...}) (CLI: --flavors FILE)")
            return
        flavor = flavors.get(value)
        if flavor is None:
            self.error(pair, param, f"no flavor {value!r} in the flavor catalog",
                       hint=_did_you_mean(value, tuple(flavors)))
            return
        self.filters.append(FlavorFit(value, flavor.ram_mb, flavor.disk_gb, pair.span))

    def k_tag(self, pair: Pair, param: P.Param, value: str) -> None:
        try:
            key_tok, eq, val_tok = parse_value(value, "tag_filter")
        except SubParseError as e:
            bad = value[e.pos:e.pos + 1]
            hint = None
            k, _, v = value.partition(".")
            if bad == "." and _is_tag(k, v, param):  # a '.' after '=' is no error
                hint = (f"tags written {value!r} before the tag upgrade are queried as "
                        f"tag={k}={v}")
            elif bad:
                hint = ("a tag key is letters, digits, '_', '-' or CJK ideographs; "
                        "a value may also hold '.'")
            self.error(pair, param, f"{bad!r} is not allowed here: expected key=value, key= or key"
                       if bad else "a tag needs a key", hint,
                       span=pair.raw_span(e.pos, e.pos + 1))
            return
        key = str(key_tok)
        tag_value = None if eq is None else (val_tok or "")
        if len(key) > param.max_len:
            self.error(pair, param, f"the key is {len(key)} characters; at most {param.max_len}",
                       span=pair.raw_span(0, len(key)))
            return
        if tag_value is not None and len(tag_value) > param.value_max_len:
            self.error(pair, param, f"the value is {len(tag_value)} characters; at most {param.value_max_len}",
                       span=pair.raw_span(len(key) + 1, len(value)))
            return
        self.filters.append(TagFilter(key, tag_value, pair.span))

    def k_time(self, pair: Pair, param: P.Param, value: str) -> None:
        try:
            op_tok, ts_tok = parse_value(value, "time_filter")
        except SubParseError:
            self.error(pair, param, *_time_problem(param.name, value, pair))
            return
        ts = str(ts_tok)
        start = len(value) - len(ts)
        try:
            at = dt.datetime.fromisoformat(ts)
        except ValueError as e:
            self.error(pair, param, f"{ts!r} is not a valid time: {e}", span=pair.raw_span(start, len(value)))
            return
        try:  # 9999-12-31T23:00:00-05:00 is in the year 10000 in UTC: OverflowError
            at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
            in_range = P.TIME_MIN <= at <= P.TIME_MAX
        except OverflowError:
            in_range = False
        if not in_range:
            self.error(pair, param, f"{ts!r} is outside the years 1000 to 9999 (UTC)",
                       "every database compares times in that range", span=pair.raw_span(start, len(value)))
            return
        if op_tok is None:
            self.warn(pair, "no operator: taken as eq", f"write {param.name}=eq:{ts}")
        op = op_tok or "eq"
        assert param.field is not None
        self.filters.append(TimeFilter(param.name, param.field.name, op, at, pair.span))

    def k_member(self, pair: Pair, param: P.Param, value: str) -> None:
        if value not in param.choices:
            self.bad_value(pair, param, _did_you_mean(value, param.choices))
            return
        self.filters.append(MemberFilter(value, pair.span))

    def k_marker(self, pair: Pair, param: P.Param, value: str) -> None:
        if not P.UUID_RE.fullmatch(value):
            self.bad_value(pair, param, "the marker is the id of the last image of the previous page")
            return
        self.marker = value.lower()
        self.marker_span = pair.span

    def k_limit(self, pair: Pair, param: P.Param, value: str) -> None:
        n = self.parse_int(pair, param, value)
        if n is not None:
            self.limit = n
            self.limit_pair = pair

    def k_sort_key(self, pair: Pair, param: P.Param, value: str) -> None:
        if value not in param.choices:
            self.bad_value(pair, param, _did_you_mean(value, param.choices))
        else:
            self.sort_key = value

    def k_sort_dir(self, pair: Pair, param: P.Param, value: str) -> None:
        if value not in param.choices:
            self.bad_value(pair, param, _did_you_mean(value, param.choices))
        else:
            self.sort_dir = value

    # -- rules across parameters ---------------------------------------------------
    def cross_rules(self) -> None:
        member = self.seen.get("member_status")
        if member is not None:
            vis = self.seen.get("visibility")
            if vis is None or vis.value != "shared":
                self.error(member, P.PARAMS["member_status"], "needs visibility=shared in the same query",
                           hint="add visibility=shared", span=member.span)
        gpu = self.seen.get("__support_xen_gpu_type")
        if gpu is not None:
            for other in ("__support_xen", "__support_kvm"):
                if other in self.seen:
                    self.warn(gpu, f"cannot be combined with {other}: the attributes do not "
                                   "co-exist, so nothing matches", f"drop {other}")
        for name in ("created_at", "updated_at"):
            if name not in self.seen:
                continue
            times = [f for f in self.filters if isinstance(f, TimeFilter) and f.param == name]
            if times and _empty_range(times):
                self.warnings.append(Diagnostic(
                    codes.BAD_VALUE, f"{name}: no time satisfies all of "
                    + " and ".join(f"{t.op}:{t.wire()[1].split(':', 1)[1]}" for t in times),
                    times[-1].span, param=name, severity=Severity.WARNING,
                    hint="check the operators: gt means strictly after",
                ))

    def apply_limits(self) -> None:
        opts = self.options
        if self.limit is None:
            self.limit = opts.default_limit
        elif opts.max_limit is not None and self.limit > opts.max_limit:
            assert self.limit_pair is not None
            self.warn(self.limit_pair, f"{self.limit} is above the maximum; clamped to {opts.max_limit}")
            self.limit = opts.max_limit


def _empty_range(times: list[TimeFilter]) -> bool:
    """True when no instant that every engine stores meets every comparison.

    Exact at the precision compared (microseconds): the instants left are an
    interval less the ``neq`` points, so counting decides it.
    """
    lo, hi = _micros(P.TIME_MIN), _micros(P.TIME_MAX)
    excluded: set[int] = set()
    for t in times:
        at, op = _micros(t.at), P.TimeOp.of(t.op)
        if op in (P.TimeOp.GT, P.TimeOp.GTE, P.TimeOp.EQ):
            lo = max(lo, at + (op is P.TimeOp.GT))
        if op in (P.TimeOp.LT, P.TimeOp.LTE, P.TimeOp.EQ):
            hi = min(hi, at - (op is P.TimeOp.LT))
        if op is P.TimeOp.NEQ:
            excluded.add(at)
    return hi - lo + 1 <= sum(1 for at in excluded if lo <= at <= hi)


def _micros(t: dt.datetime) -> int:
    return (t - P.TIME_MIN) // dt.timedelta(microseconds=1)


def _is_tag(key: str, value: str, param: P.Param) -> bool:
    """``tag=key=value`` is a valid tag filter (the tag-upgrade hint offers only those)."""
    try:
        parse_value(f"{key}={value}", "tag_filter")
    except SubParseError:
        return False
    return len(key) <= param.max_len and len(value) <= param.value_max_len


_Handler = Callable[[_Checker, Pair, P.Param, str], None]
_KINDS: Mapping[P.Kind, _Handler] = {
    P.Kind.ENUM: _Checker.k_enum,
    P.Kind.BOOL: _Checker.k_bool,
    P.Kind.TRUE_ONLY: _Checker.k_true_only,
    P.Kind.INT: _Checker.k_int,
    P.Kind.TEXT: _Checker.k_text,
    P.Kind.UUID: _Checker.k_uuid,
    P.Kind.EPS: _Checker.k_eps,
    P.Kind.FLAVOR: _Checker.k_flavor,
    P.Kind.TAG: _Checker.k_tag,
    P.Kind.TIME: _Checker.k_time,
    P.Kind.MEMBER: _Checker.k_member,
    P.Kind.MARKER: _Checker.k_marker,
    P.Kind.LIMIT: _Checker.k_limit,
    P.Kind.SORT_KEY: _Checker.k_sort_key,
    P.Kind.SORT_DIR: _Checker.k_sort_dir,
}
# by parameter name: a str hashes faster than an Enum member, once per pair
_HANDLERS: Mapping[str, _Handler] = {p.name: _KINDS[p.kind] for p in (*P.PARAMS_LIST, P.SUPPORT_FAMILY)}


def check_uncached(query: str, options: Options = DEFAULT_OPTIONS) -> CheckedQuery:
    """Parse and check without the cache (the benchmark's uncached figure)."""
    parsed = parse(query, max_length=options.max_length, max_pairs=options.max_pairs)
    return _Checker(query, options).run(parsed.pairs)


# ---- page requests: the same query with another marker or limit ------------------------
#
# A listing walk sends the same filters with a new `marker` on every page.  The
# check of every other pair is kept in a template, keyed by the query's text with
# the marker/limit values cut out and the offsets of the cuts: two queries with the
# same key are the same text but for those values (which hold no '&'), so they
# split into the same pairs at the same offsets, and the template's filters,
# warnings and spans are exactly what the caller's own text gives.  The marker and
# limit values are checked anew on every call, against the caller's own text.

_PAGE_KEYS = ("marker", "limit")


def _cuts(query: str) -> list[tuple[int, int]]:
    """Where non-empty values of ``marker=`` / ``limit=`` seem to be (at the start,
    or after '&' or '?').  Only a guess: a template is stored under the places a
    real parse confirmed, so a wrong guess can only miss."""
    cuts = []
    for name in ("marker=", "limit="):
        i = query.find(name)
        while i >= 0:
            if i == 0 or query[i - 1] in "&?":
                start = i + len(name)
                stop = query.find("&", start)
                stop = len(query) if stop < 0 else stop
                if stop > start:
                    cuts.append((start, stop))
            i = query.find(name, i + 1)
    cuts.sort()
    return cuts


@dataclass(frozen=True, slots=True)
class _Template:
    filters: tuple[Filter, ...]
    sort_key: str
    sort_dir: str
    warnings: tuple[Diagnostic, ...]
    keys: tuple[tuple[int, int], ...]  # (key start, key end) of each marker/limit pair


_TEMPLATES: LRU[tuple[str, tuple[int, ...], Options], _Template] = lru("page_templates", 1024)


def _template_key(query: str, cuts: list[tuple[int, int]], options: Options) -> tuple[str, tuple[int, ...], Options]:
    text: list[str] = []
    offsets: list[int] = []
    at = 0
    for start, end in cuts:
        text.append(query[at:start])
        offsets += (start, end)
        at = end
    text.append(query[at:])
    return "".join(text), tuple(offsets), options


def _check_page(query: str, options: Options) -> CheckedQuery:
    """Check ``query``, reusing the template of a query that differs from it only
    in its marker/limit values; the result equals ``check_uncached``'s."""
    cuts = _cuts(query)  # check() has refused an over-long query before it is cut
    if cuts and check_text(query) is None:
        key = _template_key(query, cuts, options)
        t = _TEMPLATES.get(key)
        if t is not None:
            pairs = decode_pairs(query, [(ks, ke, end) for (ks, ke), (_, end) in zip(t.keys, cuts, strict=True)])
            return _finish(query, options, t, pairs)
    parsed = parse(query, max_length=options.max_length, max_pairs=options.max_pairs)
    page = [p for p in parsed.pairs if p.key in _PAGE_KEYS]
    # only a query whose marker/limit pairs are each given once, unencoded and
    # non-empty, at the places the cut finder saw, has a template
    if (not page or len({p.key for p in page}) != len(page)
            or [(p.value_span.start, p.value_span.end) for p in page] != cuts
            or any(query[p.key_span.start:p.key_span.end] != p.key for p in page)):
        return _Checker(query, options).run(parsed.pairs)
    rest = _Checker(query, options)
    for pair in parsed.pairs:
        if pair.key not in _PAGE_KEYS:
            rest.pair(pair)
    rest.cross_rules()
    rest.side_filters()
    if rest.errors:  # every error, in the order of a whole check
        return _Checker(query, options).run(parsed.pairs)
    t = _Template(tuple(sorted(rest.filters, key=_WIRE)), rest.sort_key, rest.sort_dir,
                  tuple(rest.warnings), tuple((p.key_span.start, p.key_span.end) for p in page))
    _TEMPLATES.put(_template_key(query, cuts, options), t)
    return _finish(query, options, t, tuple(page))


def _finish(query: str, options: Options, t: _Template, page: tuple[Pair, ...]) -> CheckedQuery:
    """The template completed with this call's own marker/limit pairs."""
    c = _Checker(query, options)
    for pair in page:
        c.pair(pair)
    c.apply_limits()
    if c.errors:
        raise QueryError(c.errors, query)
    return CheckedQuery(query, t.filters, t.sort_key, t.sort_dir, c.marker, c.limit,
                        t.warnings + tuple(c.warnings), c.marker_span)


@cached("check", 2048)
def _cached(query: str, options: Options) -> CheckedQuery:
    return _check_page(query, options)


def check(query: str, options: Options | None = None) -> CheckedQuery:
    """Parse and type-check ``query``; raise ``QueryError`` listing every error.

    The result is immutable; the same string with the same options again is
    served from a bounded LRU cache (2,048 entries unless ``configure_caches``
    says otherwise; queries over ``Options.max_cached_length`` are not kept), and
    a query that differs from a checked one only in its marker or limit value
    reuses the check of everything else.
    """
    if not isinstance(query, str):
        raise TypeError(f"query must be str, not {type(query).__name__}")
    opts = options or DEFAULT_OPTIONS
    if len(query) > opts.max_length or (opts.max_cached_length is not None and len(query) > opts.max_cached_length):
        return check_uncached(query, opts)  # over-size input is refused before it is hashed or read
    return _cached(query, opts)

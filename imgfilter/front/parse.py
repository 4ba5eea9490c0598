"""Stage 1: the raw query string to decoded pairs with spans.

The grammar (``grammar/query.lark``, shipped as ``imgfilter.grammar``) is the
definition of the language.  Its `query` rule is regular, so a scanner built
from its own terminals splits the raw string into pairs without the LALR
parser's per-token cost; the parser reads whatever the scanner cannot (and a
property test checks the two give the same pairs and spans on every input).
Keys and values are then decoded as ``application/x-www-form-urlencoded``
UTF-8; raw offsets of decoded characters are worked out only when an error
needs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedInput

from imgfilter.front import codes
from imgfilter.front.ast import Pair as PairNode
from imgfilter.front.ast import ParsedQuery, Span
from imgfilter.front.errors import Diagnostic, QueryError


@dataclass(frozen=True, slots=True)
class RawPair:
    key: Token | None
    assign: Token | None  # '=' and the raw value


@v_args(inline=True)
class _Build(Transformer[Token, Any]):
    """Runs inside the parser: builds the pairs and values as the rules are reduced.

    The grammar writes optionals as ``[...]`` and the parser keeps placeholders,
    so each rule has a fixed arity (None for an absent optional) and its children
    arrive as arguments.  The value rules give plain strings: exactly what the
    fast path's regex groups give."""

    def pair(self, key: Token, assign: Token | None) -> RawPair:
        return RawPair(key, assign)

    def keyless_pair(self, assign: Token) -> RawPair:
        return RawPair(None, assign)

    def query(self, *pairs: RawPair) -> list[RawPair]:
        return list(pairs)

    def time_filter(self, op: Token | None, ts: Token) -> tuple[str | None, str]:
        return _text(op), str(ts)

    def tag_filter(self, key: Token, eq: Token | None, value: Token | None) -> tuple[str, str | None, str | None]:
        return str(key), _text(eq), _text(value)


def _text(tok: Token | None) -> str | None:
    return None if tok is None else str(tok)


def _grammar_text() -> str:
    return (files("imgfilter.grammar") / "query.lark").read_text(encoding="utf-8")


GRAMMAR = Lark(
    _grammar_text(),
    parser="lalr",
    lexer="contextual",
    start=["query", "time_filter", "tag_filter"],
    maybe_placeholders=True,  # `[x]` gives None when x is absent: fixed arity per rule
    transformer=_Build(),
)


class SubParseError(Exception):
    """A decoded value did not fit its sub-grammar; ``pos`` is in the decoded text."""

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.pos = pos


def _terminal(name: str) -> str:
    return str(GRAMMAR.get_terminal(name).pattern.to_regexp())


# The two value rules are regular; these regexes are built from the grammar's own
# terminals and serve the common, valid case without the parser's per-token cost.
# Anything they reject goes to the grammar, which says where it fails (and wins
# should the two ever disagree; tests/test_properties.py checks they don't).
_FAST: dict[str, tuple[re.Pattern[str], tuple[str, ...]]] = {
    "time_filter": (
        re.compile(f"(?:(?P<op>{_terminal('OP')}):)?(?P<ts>{_terminal('TIMESTAMP')})"), ("op", "ts")),
    "tag_filter": (
        re.compile(f"(?P<k>{_terminal('TAG_KEY')})(?:(?P<eq>{_terminal('TAG_EQ')})(?P<v>{_terminal('TAG_VALUE')})?)?"),
        ("k", "eq", "v")),
}


def parse_value(text: str, start: str) -> tuple[str | None, ...]:
    """Parse a decoded value with the ``time_filter`` (op, time) or
    ``tag_filter`` (key, '=' or None, value) rule; raise ``SubParseError``."""
    pattern, groups = _FAST[start]
    m = pattern.fullmatch(text)
    if m is not None:
        return m.group(*groups)
    return grammar_value(text, start)


def grammar_value(text: str, start: str) -> tuple[str | None, ...]:
    """The value rule run by the Lark parser itself: the same tuple the fast path gives."""
    try:
        value: tuple[str | None, ...] = GRAMMAR.parse(text, start=start)  # type: ignore[assignment]
        return value
    except UnexpectedInput as e:
        pos = getattr(e, "pos_in_stream", None)
        tok = getattr(e, "token", None)
        if tok is not None and getattr(tok, "start_pos", None) is not None and tok.type != "$END":
            pos = tok.start_pos
        raise SubParseError(len(text) if pos is None else pos) from None


# ---- decoding ------------------------------------------------------------------

_PIECES = re.compile(r"(?:%[0-9A-Fa-f]{2})+|%|\+|[^%+]+")


class DecodeError(Exception):
    def __init__(self, span: Span, message: str, hint: str) -> None:
        super().__init__(message)
        self.span = span
        self.message = message
        self.hint = hint


def decode(raw: str, base: int) -> tuple[str, tuple[int, ...] | None]:
    """Decode a raw key or value starting at offset ``base`` of the query.

    Returns the text and, unless it needed no decoding, the raw offset of each
    decoded character followed by the offset one past the end.
    """
    if "%" not in raw and "+" not in raw:
        return raw, None
    out: list[str] = []
    offsets: list[int] = []
    for m in _PIECES.finditer(raw):
        piece = m.group()
        at = base + m.start()
        if piece == "+":
            out.append(" ")
            offsets.append(at)
        elif piece == "%":
            raise DecodeError(
                Span(at, min(at + 3, base + len(raw))),
                "'%' is not followed by two hex digits",
                "write a literal '%' as %25",
            )
        elif piece[0] == "%":
            data = bytes.fromhex(piece.replace("%", ""))
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as e:
                bad = at + 3 * e.start
                raise DecodeError(
                    Span(bad, at + 3 * max(e.end, e.start + 1)),
                    "percent-encoded bytes are not valid UTF-8",
                    "encode text as UTF-8 before percent-encoding it",
                ) from None
            # each character maps to the offset of its first byte
            pos = at
            for ch in text:
                out.append(ch)
                offsets.append(pos)
                pos += 3 * len(ch.encode("utf-8"))
        else:
            out.append(piece)
            offsets.extend(range(at, at + len(piece)))
    offsets.append(base + len(raw))
    return "".join(out), tuple(offsets)


def check_text(source: str) -> Diagnostic | None:
    """The raw string itself must be text that UTF-8 can carry (no lone surrogates)."""
    if source.isascii():
        return None
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as e:
        return Diagnostic(codes.BAD_VALUE, "the query is not valid UTF-8 text", Span(e.start, e.end),
                          hint="send the query as UTF-8")
    return None


# ---- splitting the raw query ------------------------------------------------------

# A raw pair as offsets: (key start, key end, pair end).  The pair has an ASSIGN
# ('=' and the raw value) when key end < pair end; an empty key when the pair
# starts with '='.
RawSpan = tuple[int, int, int]

# The `query` rule is regular: this scanner reads it with the grammar's own
# terminals (prefix, KEY, ASSIGN, '&'), one regex match per pair instead of the
# LALR parser's per-token cost.  Should it ever fail to account for the whole
# string, the grammar decides (tests/test_properties.py checks the two agree on
# every input, spans included).
_PREFIX_RE = re.compile(_terminal("_PREFIX"))
_PAIR_RE = re.compile(f"(?P<key>{_terminal('KEY')})?(?P<assign>{_terminal('ASSIGN')})?")
_AMP = str(GRAMMAR.get_terminal("_AMP").pattern.value)  # a literal terminal: "&"


class _TooMany(Exception):
    def __init__(self, at: int) -> None:
        super().__init__(at)
        self.at = at


def scan(source: str, max_pairs: int) -> list[RawSpan] | None:
    """The pairs of the `query` rule, or None when the scanner cannot read the
    string; raises ``_TooMany`` at the first pair over ``max_pairs`` (so a flood
    costs no more than ``max_pairs`` pairs)."""
    m = _PREFIX_RE.match(source)
    pos = m.end() if m is not None else 0
    end = len(source)
    out: list[RawSpan] = []
    pair, amp, step = _PAIR_RE.match, _AMP, len(_AMP)
    while True:
        p = pair(source, pos)
        assert p is not None  # both groups are optional
        stop = p.end()
        if stop > pos:
            if len(out) == max_pairs:
                raise _TooMany(pos)
            assign = p.start(2)
            out.append((pos, stop if assign < 0 else assign, stop))
        if stop == end:
            return out
        if not source.startswith(amp, stop):
            return None
        pos = stop + step


def grammar_pairs(source: str) -> list[RawSpan]:
    """The pairs of the `query` rule as read by the Lark parser itself."""
    out: list[RawSpan] = []
    for rp in GRAMMAR.parse(source, start="query"):  # type: ignore[attr-defined]
        key, assign = rp.key, rp.assign
        first = key if key is not None else assign
        start = first.start_pos
        kend = start + len(key) if key is not None else start
        out.append((start, kend, kend + (len(assign) if assign is not None else 0)))
    return out


# ---- parse ---------------------------------------------------------------------------

_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _utf8(m: re.Match[str]) -> str:
    return bytes.fromhex(m.group().replace("%", "")).decode("utf-8")


def _fast_decode(raw: str) -> str | None:
    """``decode`` for the common, valid case (None: let ``decode`` say what is wrong)."""
    raw = raw.replace("+", " ")
    if "%" not in raw:
        return raw
    if _BAD_PERCENT.search(raw) is not None:
        return None
    try:
        return _ESCAPES.sub(_utf8, raw)
    except UnicodeDecodeError:
        return None


def parse(source: str, *, max_length: int = 16384, max_pairs: int = 100) -> ParsedQuery:
    """Split and decode a raw query.  Raises ``QueryError`` (IMG.0001) on text
    that is not a well-formed query: too long, too many pairs, bad escapes.
    Over-size input is refused before anything else is read."""
    if len(source) > max_length:
        raise QueryError([Diagnostic(
            codes.BAD_VALUE, f"the query is {len(source)} characters long; at most {max_length} are allowed",
            Span(max_length, len(source)), hint="split the request or send fewer parameters",
        )], source)
    bad = check_text(source)
    if bad is not None:
        raise QueryError([bad], source)
    try:
        raw_pairs = scan(source, max_pairs)
    except _TooMany as e:
        raise QueryError([Diagnostic(
            codes.BAD_VALUE, f"the query has more than {max_pairs} parameters; at most {max_pairs} are allowed",
            Span(e.at, len(source)), hint="send fewer parameters",
        )], source) from None
    if raw_pairs is None:  # the grammar is the definition: it reads what the scanner cannot
        raw_pairs = grammar_pairs(source)
        if len(raw_pairs) > max_pairs:
            raise QueryError([Diagnostic(
                codes.BAD_VALUE, f"the query has more than {max_pairs} parameters; at most {max_pairs} are allowed",
                Span(raw_pairs[max_pairs][0], len(source)), hint="send fewer parameters",
            )], source)
    return ParsedQuery(source, decode_pairs(source, raw_pairs))


def decode_pairs(source: str, raw_pairs: list[RawSpan]) -> tuple[PairNode, ...]:
    """Decode raw pairs into ``Pair`` nodes; raises ``QueryError`` listing every bad escape."""
    pairs: list[PairNode] = []
    errors: list[Diagnostic] = []
    for kstart, kend, end in raw_pairs:
        raw_key = source[kstart:kend]
        key = raw_key if "%" not in raw_key and "+" not in raw_key else _fast_decode(raw_key)
        raw_value = source[kend + 1:end] if end > kend else None
        value = raw_value
        if raw_value is not None and ("%" in raw_value or "+" in raw_value):
            value = _fast_decode(raw_value)
        if key is None or (value is None and raw_value is not None):
            try:  # the decoder is the definition, and says where and why
                key = decode(raw_key, kstart)[0]
                value = None if raw_value is None else decode(raw_value, kend + 1)[0]
            except DecodeError as e:
                errors.append(Diagnostic(codes.BAD_VALUE, e.message, e.span, hint=e.hint,
                                         value=source[e.span.start:e.span.end]))
                continue
        pairs.append(PairNode(key, value, kstart, kend, end, raw_value if value != raw_value else None))
    if errors:
        raise QueryError(errors, source)
    return tuple(pairs)

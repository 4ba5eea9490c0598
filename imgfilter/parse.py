"""Stage 1: the raw query string to decoded pairs with spans (semantics §1).

The grammar (``grammar/query.lark``, shipped as ``imgfilter.grammar``) splits
the raw string into pairs; a transformer run inside the LALR parser builds
``Pair`` nodes directly, so no parse tree is ever built.  Keys and values are
then decoded as ``application/x-www-form-urlencoded`` UTF-8, keeping a map from
every decoded character back to its raw offset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput

from .ast import Pair as PairNode
from .ast import ParsedQuery, Span
from .errors import Diagnostic, QueryError

BAD_INPUT = "IMG.0001"


@dataclass(frozen=True, slots=True)
class RawPair:
    key: Token | None
    assign: Token | None  # '=' and the raw value


class _Build(Transformer[Token, Any]):
    """Runs inside the parser: builds the pairs as the rules are reduced."""

    def pair(self, children: list[Token]) -> RawPair:
        if len(children) == 2:
            return RawPair(children[0], children[1])
        tok = children[0]
        return RawPair(tok, None) if tok.type == "KEY" else RawPair(None, tok)

    def query(self, children: list[RawPair]) -> list[RawPair]:
        return children

    def time_filter(self, children: list[Token]) -> tuple[Token | None, Token]:
        return (children[0], children[1]) if len(children) == 2 else (None, children[0])

    def tag_filter(self, children: list[Token]) -> tuple[Token, str | None, Token | None]:
        key = children[0]
        if len(children) == 1:
            return key, None, None
        return key, "=", children[1] if len(children) > 1 else None


def _grammar_text() -> str:
    return (files("imgfilter.grammar") / "query.lark").read_text(encoding="utf-8")


GRAMMAR = Lark(
    _grammar_text(),
    parser="lalr",
    lexer="contextual",
    start=["query", "time_filter", "tag_filter"],
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
        re.compile(f"(?P<k>{_terminal('TAG_KEY')})(?:(?P<eq>=)(?P<v>{_terminal('TAG_VALUE')})?)?"),
        ("k", "eq", "v")),
}


def parse_value(text: str, start: str) -> tuple[str | None, ...]:
    """Parse a decoded value with the ``time_filter`` (op, time) or
    ``tag_filter`` (key, '=' or None, value) rule; raise ``SubParseError``."""
    pattern, groups = _FAST[start]
    m = pattern.fullmatch(text)
    if m is not None:
        return m.group(*groups)
    return tuple(None if t is None else str(t) for t in grammar_value(text, start))


def grammar_value(text: str, start: str) -> Any:
    """The value rule run by the Lark parser itself."""
    try:
        return GRAMMAR.parse(text, start=start)
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


def _check_text(source: str) -> Diagnostic | None:
    """The raw string itself must be text that UTF-8 can carry (no lone surrogates)."""
    if source.isascii():
        return None
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as e:
        return Diagnostic(BAD_INPUT, "the query is not valid UTF-8 text", Span(e.start, e.end),
                          hint="send the query as UTF-8")
    return None


def parse(source: str, *, max_length: int = 16384, max_pairs: int = 100) -> ParsedQuery:
    """Split and decode a raw query.  Raises ``QueryError`` (IMG.0001) on text
    that is not a well-formed query: too long, too many pairs, bad escapes."""
    if len(source) > max_length:
        raise QueryError([Diagnostic(
            BAD_INPUT, f"the query is {len(source)} characters long; at most {max_length} are allowed",
            Span(max_length, len(source)), hint="split the request or send fewer parameters",
        )], source)
    bad = _check_text(source)
    if bad is not None:
        raise QueryError([bad], source)
    # total: every string is a query of this grammar; the transformer gives the pairs
    raw_pairs: list[RawPair] = GRAMMAR.parse(source, start="query")  # type: ignore[assignment]
    if len(raw_pairs) > max_pairs:
        extra = raw_pairs[max_pairs]
        first = extra.key or extra.assign
        assert first is not None and first.start_pos is not None
        raise QueryError([Diagnostic(
            BAD_INPUT, f"the query has {len(raw_pairs)} parameters; at most {max_pairs} are allowed",
            Span(first.start_pos, len(source)), hint="send fewer parameters",
        )], source)
    pairs: list[PairNode] = []
    errors: list[Diagnostic] = []
    for rp in raw_pairs:
        key_tok, assign = rp.key, rp.assign
        if key_tok is not None:
            kstart = key_tok.start_pos or 0
            kspan = Span(kstart, kstart + len(key_tok))
        else:
            assert assign is not None
            kspan = Span(assign.start_pos or 0, assign.start_pos or 0)
        vstart = kspan.end + 1 if assign is not None else kspan.end
        raw_value = str(assign)[1:] if assign is not None else ""
        vspan = Span(vstart, vstart + len(raw_value))
        try:
            key, _ = decode(str(key_tok or ""), kspan.start)
            if assign is None:
                value: str | None = None
                offsets = None
            else:
                value, offsets = decode(raw_value, vstart)
        except DecodeError as e:
            errors.append(Diagnostic(BAD_INPUT, e.message, e.span, hint=e.hint,
                                     value=source[e.span.start:e.span.end]))
            continue
        pairs.append(PairNode(key, value, kspan, vspan, offsets))
    if errors:
        raise QueryError(errors, source)
    return ParsedQuery(source, tuple(pairs))

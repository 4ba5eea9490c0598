"""Diagnostics: every rejection or warning carries an IMS code, the parameter,
the offending value, its span in the raw query, a message and a hint."""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from imgfilter.front.ast import Span

# Characters that move the cursor, end a line, reorder text or hide in it when a
# message reaches a log or a terminal: C0, DEL, C1 (Cc), format characters such as
# the bidi controls U+200E/F, U+202A-202E, U+2066-2069 and U+061C (Cf), U+2028
# and U+2029 (Zl, Zp), and lone surrogates (Cs).
_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(c: str) -> str:
    if unicodedata.category(c) not in _UNSAFE:
        return c
    if c in _SHORT:
        return _SHORT[c]
    n = ord(c)
    return f"\\x{n:02x}" if n <= 0xFF else f"\\u{n:04x}" if n <= 0xFFFF else f"\\U{n:08x}"


def escape_text(text: str) -> str:
    """``text`` safe to print: every control, bidi or line-breaking character is
    written as a Python-style escape (newline as ``\\n``, ESC as ``\\x1b``).
    Used for every diagnostic's message, hint and caret diagram."""
    if text.isprintable():
        return text
    return "".join(_escape_char(c) for c in text)


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a query (an error) or worth saying (a warning)."""

    code: str
    message: str
    span: Span
    param: str | None = None
    value: str | None = None
    hint: str | None = None
    severity: Severity = Severity.ERROR
    status: int = 400  # the HTTP status IMS answers with

    def __post_init__(self) -> None:
        # message and hint hold user text (parameter names, values): escaped once
        # here, so no rendering of them (str, render, to_ims, logs) can forge lines
        object.__setattr__(self, "message", escape_text(self.message))
        if self.hint is not None:
            object.__setattr__(self, "hint", escape_text(self.hint))

    def render(self, source: str) -> str:
        """The message with the offending text underlined by carets."""
        head = f"{self.severity.value}[{self.code}]: {self.message}"
        lines = [head, *_caret(source, self.span)]
        if self.hint:
            lines.append(f"  = hint: {self.hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "value": self.value,
            "span": [self.span.start, self.span.end],
            "hint": self.hint,
        }


_WINDOW = 60  # characters of context shown on each side of a long span


def _caret(source: str, span: Span) -> list[str]:
    start = max(0, min(span.start, len(source)))
    end = max(start, min(span.end, len(source)))
    lo = max(0, start - _WINDOW)
    shown_end = min(end, start + 2 * _WINDOW)
    hi = min(len(source), max(shown_end, start + 1) + _WINDOW)
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(source) else ""
    before = escape_text(source[lo:start])
    marked = escape_text(source[start:shown_end])
    text = before + marked + escape_text(source[shown_end:hi])
    pad = " " * (len(prefix) + len(before))
    carets = "^" * max(1, len(marked))
    return ["  |", f"  | {prefix}{text}{suffix}", f"  | {pad}{carets}"]


class QueryError(ValueError):
    """A query was rejected.  ``errors`` holds every problem found, in order."""

    def __init__(self, errors: Iterable[Diagnostic], source: str = "") -> None:
        self.errors: tuple[Diagnostic, ...] = tuple(errors)
        if not self.errors:
            raise ValueError("QueryError needs at least one diagnostic")
        self.source = source
        super().__init__(self.errors[0].message)

    @property
    def code(self) -> str:
        """The IMS code of the first error."""
        return self.errors[0].code

    @property
    def status(self) -> int:
        """The HTTP status of the response: 403 if any error is a permission error."""
        return max(e.status for e in self.errors)

    def render(self) -> str:
        """Every error with a caret diagram, separated by blank lines."""
        return "\n\n".join(e.render(self.source) for e in self.errors)

    def to_ims(self) -> dict[str, Any]:
        """The IMS response body: the first error as ``error``, all as ``errors``."""
        first = self.errors[0]
        return {
            "error": {"code": first.code, "message": first.message},
            "errors": [e.to_dict() for e in self.errors],
        }

    def __str__(self) -> str:
        return self.render()

"""The time comparison operators are spelled once: ``params.TimeOp``."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from imgfilter.front import params as P
from imgfilter.front.parse import GRAMMAR


def _grammar_op_words() -> set[str]:
    """The words the grammar's ``OP`` terminal (of ``time_filter``) is an alternation of."""
    (op,) = [t for t in GRAMMAR.terminals if t.name == "OP"]
    regex = op.pattern.to_regexp()
    body = regex[3:-1] if regex.startswith("(?:") and regex.endswith(")") else regex
    words = body.split("|")
    assert all(re.fullmatch(r"[a-z]+", w) for w in words), f"OP is no longer a list of words: {regex}"
    for w in words:
        assert re.fullmatch(regex, w)
    return set(words)


def test_grammar_op_terminal_accepts_exactly_the_enum() -> None:
    assert _grammar_op_words() == {op.word for op in P.TimeOp}
    assert len(P.TIME_OPS) == len(set(P.TIME_OPS)) == len(P.TimeOp)


@pytest.mark.parametrize("op", list(P.TimeOp), ids=lambda op: op.word)
def test_grammar_parses_each_operator(op: P.TimeOp) -> None:
    tree = GRAMMAR.parse(f"{op.word}:2018-10-28T10:00:00Z", start="time_filter")
    assert op.word in str(tree)


@pytest.mark.parametrize("op", list(P.TimeOp), ids=lambda op: op.word)
def test_symbols_mean_the_operator_function(op: P.TimeOp) -> None:
    assert P.TimeOp.of(op.word) is op
    a, b = dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    for x, y in ((a, b), (b, a), (a, a)):
        assert eval(f"x {op.py} y", {}, {"x": x, "y": y}) is op.fn(x, y)


def test_sql_symbols_mean_the_operator_function() -> None:
    import sqlite3

    con = sqlite3.connect(":memory:")
    for op in P.TimeOp:
        for x, y in ((1, 2), (2, 1), (1, 1)):
            (got,) = con.execute(f"SELECT ? {op.sql} ?", (x, y)).fetchone()
            assert bool(got) is op.fn(x, y), (op, x, y)

"""How the command line prints images: JSON, JSON Lines, a table, CSV or bare values.

A writer takes pages one at a time, so that ``query --all`` can print rows as
they come; ``close`` ends the output (the JSON body is written there).  The
table's column widths are fixed from the first page and fitted to the width
given, cells cut with "…"; this is why it is written here rather than with a
table library, which measures every row before printing the first.
"""

from __future__ import annotations

import csv
import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

from imgfilter.front import params as P

Format = Literal["json", "jsonl", "table", "csv", "value"]
FORMATS: tuple[Format, ...] = ("json", "jsonl", "table", "csv", "value")
TABLE_COLUMNS = ("id", "name", "__imagetype", "status", "created_at")
_MIN_WIDTH = 6  # a cut column keeps at least this many characters
_FLOOR = 12  # ... and, while another can be cut instead, this many
_WHOLE = frozenset({"id", "created_at", "updated_at"})  # cut only when nothing else can be
_GAP = "  "

Image = Mapping[str, Any]


def dump_json(obj: Any, out: TextIO, pretty: bool) -> None:
    """JSON as a person reads it (indented) or as a program does (one line)."""
    if pretty:
        json.dump(obj, out, ensure_ascii=False, indent=2)
    else:
        json.dump(obj, out, ensure_ascii=False, separators=(",", ":"))
    out.write("\n")


def cell(value: Any) -> str:
    """One value as text: lists joined by commas, booleans as JSON writes them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _one_line(str(value))


def _one_line(text: str) -> str:
    # a name holding a newline or an escape sequence must not break rows or the terminal
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 1, 0)] + "…"


def fit(columns: Sequence[str], widths: Sequence[int], limit: int | None,
        droppable: bool) -> tuple[list[str], list[int]]:
    """Columns and widths whose table is at most ``limit`` characters wide.
    Columns other than ids and times are cut first (widest first, down to
    their header or _FLOOR characters); then, when ``droppable`` (the default
    set), trailing columns are dropped; only then is any column cut."""
    cols, ws = list(columns), list(widths)
    if limit is None:
        return cols, ws
    floors = [w if c in _WHOLE else min(w, max(len(c), _FLOOR)) for c, w in zip(cols, ws, strict=True)]

    def total(sizes: Sequence[int]) -> int:
        return sum(sizes) + len(_GAP) * (len(sizes) - 1)

    while droppable and len(cols) > 2 and total(floors) > limit:
        for lst in (cols, ws, floors):
            lst.pop()
    while total(ws) > limit:
        cut = [i for i in range(len(ws)) if ws[i] > floors[i]]
        cut = cut or [i for i in range(len(ws)) if ws[i] > _MIN_WIDTH]
        if not cut:
            break
        ws[max(cut, key=lambda i: ws[i])] -= 1
    return cols, ws


@dataclass
class Writer:
    """Prints pages of images in one format, to ``out``; ``width`` is the
    terminal's (None: no limit); ``pretty`` indents JSON."""

    out: TextIO
    fmt: Format
    columns: tuple[str, ...] = ()
    width: int | None = None
    pretty: bool = False
    notes: list[str] = field(default_factory=list)  # said on stderr by the caller
    _images: list[Image] = field(default_factory=list)
    _widths: list[int] | None = None
    _cols: list[str] = field(default_factory=list)
    _csv: Any = None

    def project(self, image: Image) -> dict[str, Any]:
        if not self.columns:
            return dict(image)
        return {c: image.get(c) for c in self.columns}

    def page(self, images: Sequence[Image]) -> None:
        """Print (or, for JSON, keep) one page."""
        if self._widths is None:
            self._start(images)
        if self.fmt == "json":
            self._images.extend(self.project(i) for i in images)
        elif self.fmt == "jsonl":
            for img in images:
                dump_json(self.project(img), self.out, pretty=False)
        elif self.fmt == "csv":
            for img in images:
                self._csv.writerow([cell(img.get(c)) for c in self._cols])
        elif self.fmt == "value":
            for img in images:
                self.out.write(" ".join(cell(img.get(c)) for c in self._cols) + "\n")
        else:
            assert self._widths is not None
            for img in images:
                self._row([cell(img.get(c)) for c in self._cols])
        self.out.flush()

    def _start(self, images: Sequence[Image]) -> None:
        default = TABLE_COLUMNS if self.fmt == "table" else tuple(P.FIELDS)
        self._cols = list(self.columns or default)
        for c in self.columns:
            if c not in P.FIELDS and images and not any(c in img for img in images):
                close = difflib.get_close_matches(c, [*P.FIELDS, *{k for img in images for k in img}], n=1)
                hint = f": did you mean {close[0]!r}?" if close else ""
                self.notes.append(f"column {c!r} is in no image of the first page{hint}")
        if self.fmt == "table":
            widths = [max([len(c), *(len(cell(img.get(c))) for img in images)]) for c in self._cols]
            self._cols, self._widths = fit(self._cols, widths, self.width, droppable=not self.columns)
            if len(self._cols) < len(self.columns or default):
                shown = set(self._cols)
                dropped = [c for c in (self.columns or default) if c not in shown]
                one = len(dropped) == 1
                self.notes.append(f"{'column' if one else 'columns'} {', '.join(dropped)} {'does' if one else 'do'} "
                                  "not fit the terminal: widen it or choose with -c")
            self._row(self._cols)
            self._row(["-" * w for w in self._widths])
        else:
            self._widths = []
        if self.fmt == "csv":
            self._csv = csv.writer(self.out, lineterminator="\n")
            self._csv.writerow(self._cols)

    def _row(self, cells: Sequence[str]) -> None:
        assert self._widths is not None
        parts = [_cut(c, w).ljust(w) for c, w in zip(cells, self._widths, strict=True)]
        self.out.write(_GAP.join(parts).rstrip() + "\n")

    def close(self, next_marker: str | None) -> None:
        """End the output; the JSON body carries ``next_marker``, the others
        leave it to the caller's note."""
        if self._widths is None:
            self._start([])
        if self.fmt == "json":
            dump_json({"images": self._images, "page_info": {"next_marker": next_marker}}, self.out, self.pretty)
        self.out.flush()

"""Progress of a long command for the person running it, on stderr.

A run goes through stages (reading, validating, writing, indexing).  On a
terminal the current stage is one line redrawn in place, with a bar when its
total is known; otherwise (a log, a pipe) a plain line is printed every
``interval`` seconds while a stage runs, and one when it ends, each with the
rate: ``writing: 300,000 images, 52,000/s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

BAR = 24  # characters of the bar


def _count(n: float) -> str:
    return f"{n:,.0f}"


class Progress:
    """Stages and counts, drawn on ``out`` (a bar when ``out`` is a terminal)."""

    def __init__(self, out: TextIO, *, interval: float = 5.0, redraw: float = 0.1,
                 clock: Callable[[], float] = time.monotonic, tty: bool | None = None) -> None:
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self.interval = interval if not self.tty else redraw
        self.clock = clock
        self.started = clock()
        self.name: str | None = None
        self.unit = ""
        self.total: int | None = None
        self.done = 0
        self.stage_started = self.started
        self.shown = self.started  # when the stage was last drawn
        self.drawn = False  # a terminal line is open (no newline yet)

    # ---- the stages ----------------------------------------------------------------------

    def stage(self, name: str, total: int | None = None, unit: str = "images") -> None:
        """Start stage ``name`` (ending the one before); ``total`` when known."""
        if self.name is not None:
            self.end()
        self.name, self.total, self.unit, self.done = name, total, unit, 0
        self.stage_started = self.shown = self.clock()
        if self.tty:
            self._draw()

    def update(self, done: int, total: int | None = None) -> None:
        """``done`` so far in the current stage."""
        self.done = done
        if total is not None:
            self.total = total
        now = self.clock()
        if now - self.shown >= self.interval:
            self.shown = now
            self._draw()

    def end(self, done: int | None = None) -> None:
        """End the current stage (``done`` in all, if given): its last line, with its
        count, time and rate."""
        if self.name is None:
            return
        if done is not None:
            self.done = done
        seconds = self.clock() - self.stage_started
        line = f"{self.name}: {_count(self.done)} {self.unit} in {seconds:.1f} s"
        if self.unit == "images" and seconds > 0 and self.done:
            line += f", {_count(self.done / seconds)}/s"
        self._line(line, final=True)
        self.name = None

    def abandon(self) -> None:
        """Stop drawing (an error or Ctrl-C follows): close an open terminal line."""
        if self.drawn:
            self.out.write("\n")
            self.out.flush()
            self.drawn = False
        self.name = None

    def elapsed(self) -> float:
        return self.clock() - self.started

    def loader(self, stage: str, done: int, total: int | None) -> None:
        """``load_images``'s progress callback: (stage, done, total or None)."""
        if stage != self.name:
            self.stage(stage, total, "indexes" if stage == "indexing" else "images")
        self.update(done, total)

    # ---- drawing ---------------------------------------------------------------------------

    def _rate(self) -> str:
        seconds = self.clock() - self.stage_started
        if self.unit != "images" or seconds <= 0 or not self.done:
            return ""
        return f", {_count(self.done / seconds)}/s"

    def _draw(self) -> None:
        assert self.name is not None
        if self.tty and self.total:
            filled = min(BAR, BAR * self.done // self.total)
            line = (f"{self.name}: [{'#' * filled}{'.' * (BAR - filled)}] {100 * self.done // self.total:3d}% "
                    f"{_count(self.done)}/{_count(self.total)} {self.unit}{self._rate()}")
        else:
            line = f"{self.name}: {_count(self.done)} {self.unit}{self._rate()}"
        self._line(line, final=False)

    def _line(self, line: str, final: bool) -> None:
        if self.tty:
            self.out.write(f"\r\x1b[K{line}" + ("\n" if final else ""))
            self.drawn = not final
        else:
            self.out.write(line + "\n")
        self.out.flush()

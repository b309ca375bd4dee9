"""The terminal picture of an access timeline: a bar over the window's own range on a time axis
with dates, one character per kind of answer, so it reads the same without colour.

Presentation only: it draws a `TimelineResult` and never decides; colour, when the terminal has
it, only repeats what the characters say.
"""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.text import Text

from ledger.timeaxis import from_us, parse_iso, to_us
from projections.results import Interval, TimelineResult

__all__ = ["CHARS", "print_timeline", "timeline_lines"]

# One character per answer: allowed, allowed only under a condition, implicitly and explicitly denied.
CHARS = {"allowed": "#", "conditional": "~", "implicitDeny": ".", "explicitDeny": "X"}
_STYLES = {"#": "green", "~": "yellow", ".": "dim", "X": "red"}
_LEGEND = "# allowed  ~ conditional (needs context)  . implicit deny  X explicit deny"
_TWO_DAYS_US = 2 * 86_400 * 1_000_000


def _kind(iv: Interval) -> str:
    if iv.eval_decision == "explicitDeny":
        return "explicitDeny"
    if iv.conditional:
        return "conditional"
    return "allowed" if iv.allowed else "implicitDeny"


def _us(text: str | None) -> int | None:
    return to_us(parse_iso(text)) if text else None


def _window(result: TimelineResult) -> tuple[int, int]:
    """The window's own range: the result's start and end (the intervals' span when absent)."""
    ivs = result.intervals
    lo = _us(result.start) or (ivs[0].start_us if ivs else 0)
    hi = _us(result.end) or max([lo + 1] + [iv.end_us or iv.start_us for iv in ivs])
    return lo, max(hi, lo + 1)


def _bar(result: TimelineResult, lo: int, hi: int, width: int) -> str:
    """Each column shows the answer in force at its middle; an interval too short to hold any
    column's middle still marks the column it starts in, so no change disappears."""
    cells = [" "] * width
    span = hi - lo
    shown: list[tuple[int, str]] = []
    for iv in result.intervals:
        start, end = max(iv.start_us, lo), min(iv.end_us if iv.end_us is not None else hi, hi)
        if end <= start:
            continue
        char = CHARS[_kind(iv)]
        first = -(-((start - lo) * width * 2 - span) // (2 * span))  # first column whose middle is >= start
        last = -(-((end - lo) * width * 2 - span) // (2 * span))  # first column whose middle is >= end
        cols = range(max(first, 0), min(last, width))
        for col in cols:
            cells[col] = char
        if not cols:
            shown.append((min(width - 1, (start - lo) * width // span), char))
    for col, char in shown:
        cells[col] = char
    return "".join(cells)


def _label(us: int, span: int) -> str:
    moment = from_us(us) or datetime.max
    return moment.strftime("%m-%d %H:%M" if span < _TWO_DAYS_US else "%Y-%m-%d")


def _axis(lo: int, hi: int, width: int) -> tuple[str, str]:
    """A tick line and the dates under its ticks, as many as fit, the last at the window's end."""
    label_width = len(_label(lo, hi - lo))
    ticks = max(2, min(width // (label_width + 3), 8))
    cols = sorted({round(i * (width - 1) / (ticks - 1)) for i in range(ticks)})
    line = ["-"] * width
    placed: list[tuple[int, str]] = []
    for col in cols:
        line[col] = "|"
        text = _label(lo + (hi - lo) * col // max(width - 1, 1), hi - lo)
        at = max(0, width - len(text)) if col == cols[-1] else col
        while placed and placed[-1][0] + len(placed[-1][1]) + 1 > at:
            placed.pop()  # the window's end keeps its date; an earlier label that would touch it goes
        placed.append((at, text))
    labels = [" "] * width
    for at, text in placed:
        labels[at:at + len(text)] = list(text)
    return "".join(line), "".join(labels).rstrip()


def timeline_lines(result: TimelineResult, width: int = 72) -> list[str]:
    """The bar, its axis, the dates and the legend, as plain lines."""
    width = max(20, width)
    lo, hi = _window(result)
    line, labels = _axis(lo, hi, width)
    return [_bar(result, lo, hi, width), line, labels, _LEGEND]


def print_timeline(console: Console, result: TimelineResult) -> None:
    """Print `timeline_lines` (the bar coloured too, when the terminal has colour)."""
    lines = timeline_lines(result, max(20, min(console.width - 2, 100)))
    bar = Text()
    for ch in lines[0]:
        bar.append(ch, style=_STYLES.get(ch, ""))
    console.print(bar, no_wrap=True, overflow="crop")
    for line in lines[1:]:
        console.print(line, no_wrap=True, overflow="crop", highlight=False, markup=False)

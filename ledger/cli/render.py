"""How the CLI shows things: consoles that never read user text as markup, and table cells that
wrap long identifiers only between their parts, marking every broken line.

Never let Rich interpret a user's text (a `[/]` in an S3 key is legal) and never cut an ARN
with an ellipsis or fold it mid-token: a cut ARN can read as another, real one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

__all__ = ["CONTINUED", "SHORT", "Folded", "cell", "console", "err_console", "heading", "styled", "table"]

# No markup, no emoji codes, no highlighting: what the user typed is printed as typed.
console = Console(markup=False, emoji=False, highlight=False)
err_console = Console(stderr=True, markup=False, emoji=False, highlight=False)

# Ends every line of a cell whose word continues on the next line.
CONTINUED = "↩"
# A long word (an ARN, a path, key=value) breaks only after one of these.
_PARTS = re.compile(r"[^:/=]*[:/=]|[^:/=]+")
# IAM ARNs of one account; a table names the most frequent account once and shortens the rest.
_IAM_PREFIX = re.compile(r"arn:aws:iam::(\d{12}):")
SHORT = "…/"


def _pieces(word: str, width: int) -> Iterator[str]:
    """`word` cut after its separators, and hard-cut only where one part is wider than `width`."""
    for part in _PARTS.findall(word):
        rest = part
        while len(rest) > width:
            yield rest[:width]
            rest = rest[width:]
        if rest:
            yield rest


def fold_lines(text: str, width: int) -> list[str]:
    """`text` wrapped to `width` columns: at spaces first; a word too long for a line breaks
    after a ':', '/' or '=', and every line that breaks a word ends with `CONTINUED`."""
    width = max(width, 2)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            gap = " " if line else ""
            if len(line) + len(gap) + len(word) <= width:
                line += gap + word
                continue
            if line and len(word) <= width:
                lines.append(line)
                line = word
                continue
            # The word does not fit on this line: fill it, breaking between the word's parts.
            if line:
                line += gap
            for piece in _pieces(word, width - 1):
                if len(line) + len(piece) > width - 1 and line.strip():
                    lines.append(line + CONTINUED if line[-1:] != " " else line.rstrip())
                    line = ""
                line += piece
        lines.append(line)
    return lines


class Folded:
    """A table cell (or any renderable text) wrapped by `fold_lines` at the width Rich gives it."""

    def __init__(self, text: str, style: str = "") -> None:
        self.text = text
        self.style = style

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        words = [w for line in self.text.split("\n") for w in line.split(" ")]
        longest_part = max((len(p) for w in words for p in _PARTS.findall(w)), default=1)
        widest_line = max((len(line) for line in self.text.split("\n")), default=1)
        return Measurement(min(longest_part + 1, widest_line), widest_line).clamp(max_width=options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in fold_lines(self.text, options.max_width):
            yield Text(line, style=self.style, no_wrap=True, overflow="crop", end="\n")


def cell(value: Any, style: str = "") -> Folded | Text:
    """A table cell of any value: text is folded (never cut), a `Text` passes through."""
    if isinstance(value, Text):
        return value
    return Folded("" if value is None else str(value), style)


def heading(text: str) -> None:
    """A section heading: a rule, then the text in bold, wrapped but never cut."""
    from rich.rule import Rule

    console.print(Rule(style="dim"))
    console.print(Text(text, style="bold"), soft_wrap=True)


def styled(text: str, style: str) -> Text:
    """Plain text in a style (never parsed as markup)."""
    return Text(text, style=style)


def _home_account(texts: list[str]) -> str | None:
    counts = Counter(account for text in texts for account in set(_IAM_PREFIX.findall(text)))
    if not counts:
        return None
    account, seen = counts.most_common(1)[0]
    return account if seen >= 2 else None


def table(*columns: str, title: str | None = None, rows: Iterable[Iterable[Any]] = ()) -> Table:
    """A table whose cells never lose text. When two or more cells name IAM ARNs of one account,
    that account's ARNs are shortened visibly (`…/policy/SubmitJobs`) and the caption says
    which account `…/` stands for; other accounts' ARNs are shown in full."""
    values = [["" if v is None else v if isinstance(v, Text) else str(v) for v in row] for row in rows]
    home = _home_account([v for row in values for v in row if isinstance(v, str)])
    caption = None
    if home is not None:
        prefix = f"arn:aws:iam::{home}:"
        values = [[v.replace(prefix, SHORT) if isinstance(v, str) else v for v in row] for row in values]
        caption = f"{SHORT} stands for {prefix}"
    out = Table(*columns, title=title, caption=caption, header_style="bold", title_justify="left",
                caption_justify="left")
    for row in values:
        out.add_row(*(cell(v) for v in row))
    return out

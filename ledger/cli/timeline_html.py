"""The self-contained HTML page of an access timeline (inline SVG, no external assets).

Every piece of user text is HTML-escaped; writing the page turns file-system errors into one
typed error naming the path.
"""

from __future__ import annotations

import html
from pathlib import Path

from ledger.errors import ValidationError
from ledger.timeaxis import parse_iso, to_us
from projections.results import FactChange, TimelineResult

__all__ = ["timeline_html", "write_timeline_html"]


def _cause(c: FactChange) -> str:
    return f"@{c.position} {c.event_type}"


def _svg(result: TimelineResult, width: int = 900) -> str:
    ivs = result.intervals
    if not ivs:
        return "<p>no intervals</p>"
    lo = ivs[0].start_us
    hi = max(ivs[-1].end_us or ivs[-1].start_us, ivs[-1].start_us) or lo
    end_us = _to_us(result.end) or hi
    hi = max(hi, end_us, lo + 1)
    scale = (width - 20) / (hi - lo)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{60 + 18 * len(ivs)}">']
    for iv in ivs:
        x0 = 10 + (iv.start_us - lo) * scale
        x1 = 10 + ((iv.end_us or hi) - lo) * scale
        colour = "#2e7d32" if iv.allowed else "#c62828"
        tip = html.escape(f"{iv.eval_decision} {iv.start} → {iv.end or 'now'}")
        parts.append(f'<rect x="{x0:.1f}" y="10" width="{max(x1 - x0, 1):.1f}" height="24" fill="{colour}">'
                     f"<title>{tip}</title></rect>")
    for i, iv in enumerate(ivs):
        causes = ", ".join(_cause(c) for c in iv.started_by)
        text = html.escape(f"{iv.start}  {iv.eval_decision}  {causes}")
        parts.append(f'<text x="10" y="{54 + 18 * i}" font-family="monospace" font-size="12">{text}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _to_us(text: str | None) -> int | None:
    return to_us(parse_iso(text)) if text else None


def timeline_html(result: TimelineResult) -> str:
    """A self-contained page (inline SVG, no external assets)."""
    title = html.escape(f"{result.principal} {result.action} {result.resource}")
    rows = "".join(
        f"<tr><td>{html.escape(str(iv.start))}</td><td>{html.escape(str(iv.end or 'now'))}</td>"
        f"<td>{iv.eval_decision}</td><td>{html.escape(', '.join(_cause(c) for c in iv.started_by))}</td></tr>"
        for iv in result.intervals)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
            "<style>body{font-family:sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ddd}</style>"
            f"</head><body><h1>Access timeline</h1><p>{title}</p>{_svg(result)}"
            f"<table><tr><th>from</th><th>to</th><th>decision</th><th>caused by</th></tr>{rows}</table>"
            "</body></html>")


def write_timeline_html(path: str, result: TimelineResult) -> None:
    """Write the page to `path`; a missing directory or a directory as the file is one typed error."""
    target = Path(path)
    try:
        target.write_text(timeline_html(result), encoding="utf-8")
    except IsADirectoryError:
        raise ValidationError(f"--html {path}: is a directory; give a file name") from None
    except FileNotFoundError:
        raise ValidationError(f"--html {path}: the directory {target.parent} does not exist") from None
    except OSError as error:
        raise ValidationError(f"--html {path}: cannot write: {error.strerror}") from None

"""Audit commands: can, who-can, what-can, timeline, diff, owner, lineage, rebuild, project, bench.

Each prints a rich table (or `--json`); failures become one line and exit code 2.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.table import Table

from ledger.application.facade import Ledger
from ledger.application.importing import provenance
from ledger.cli.app import app, console, emit_json, fail, open_ledger, wants_json
from ledger.errors import LedgerError, ValidationError
from ledger.timeaxis import parse_iso, to_us
from projections.results import FactChange, LineageResult, TimelineResult

bench_app = typer.Typer(help="Synthetic histories and benchmarks.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

AT = typer.Option(None, "--at", help="Valid time: ISO-8601, or @POSITION (that event's occurred_at).")
KNOWN = typer.Option(None, "--known-at", help="@POSITION: only what the ledger had recorded by then.")
JSON = typer.Option(False, "--json", help="Machine-readable JSON output.")


def _exit(code: int) -> None:
    # SystemExit rather than typer.Exit: `main()` runs click with standalone_mode=False, which
    # turns typer.Exit into a return value and would lose the exit code.
    raise SystemExit(code)


def _fail(error: LedgerError) -> None:
    try:
        fail(f"{error.code}: {error.message}")
    except typer.Exit as done:
        _exit(done.exit_code)


@contextmanager
def _ledger() -> Iterator[Ledger]:
    try:
        ledger = open_ledger()
    except LedgerError as error:
        _fail(error)
        raise
    try:
        yield ledger
    except LedgerError as error:
        _fail(error)
    finally:
        ledger.close()


def _context(pairs: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValidationError(f"--context {pair!r}: use KEY=VALUE")
        if key in out:
            existing = out[key] if isinstance(out[key], list) else [out[key]]
            out[key] = [*existing, value]
        else:
            out[key] = value
    return out


def _origin(o: Any) -> str:
    if not isinstance(o, dict):
        return ""
    return f"@{o.get('position')} {o.get('event_type')} {o.get('occurred_at') or ''}".strip()


def _cause(c: FactChange) -> str:
    return f"@{c.position} {c.event_type}"


@app.command("can")
def can_cmd(
    principal: str, action: str, resource: str, at: str = AT, known_at: str = KNOWN,
    context: list[str] = typer.Option(None, "--context", help="KEY=VALUE (repeatable)."),
    json_output: bool = JSON,
) -> None:
    """Could PRINCIPAL perform ACTION on RESOURCE (at a time)? Exit 0 allowed, 1 denied, 2 error."""
    with _ledger() as ledger:
        decision = ledger.can(principal, action, resource, _context(context), at, known_at)
        data = provenance.annotate(ledger, decision.to_dict())
        if wants_json(json_output):
            emit_json(data)
        else:
            colour = "green" if decision.allowed else "red"
            console.print(f"[bold {colour}]{decision.eval_decision}[/] {principal} {action} {resource}"
                          f"  (as of {decision.as_of.get('valid_time')})", highlight=False)
            table = Table("policy", "type", "stmt", "effect", "put in place by", "source")
            for m, shown in zip(decision.decision.matched_statements, data["MatchedStatements"], strict=True):
                table.add_row(m.source_policy_id, m.source_policy_type, str(m.sid or m.statement_index),
                              m.effect, _origin(m.origin), provenance.summary(shown.get("Origin")))
            if decision.decision.matched_statements:
                console.print(table)
            for key in decision.decision.missing_context_values:
                console.print(f"missing context: {key}", highlight=False)
            for err in decision.decision.errors:
                console.print(f"[yellow]note:[/] {err}", highlight=False)
            for note in decision.notes:
                console.print(f"[yellow]note:[/] {note}", highlight=False)
            for unknown in decision.unknown_policies:
                console.print(f"[yellow]unknown policy:[/] {unknown.get('policy_arn')}", highlight=False)
    _exit(0 if decision.allowed else 1)


@app.command("who-can")
def who_can_cmd(
    action: str, resource: str, at: str = AT, known_at: str = KNOWN,
    paths: bool = typer.Option(False, "--paths", help="Include role chains and PassRole paths."),
    max_depth: int = typer.Option(3, "--max-depth"), json_output: bool = JSON,
) -> None:
    """Every principal allowed ACTION on RESOURCE (conditional ones with the missing keys)."""
    with _ledger() as ledger:
        result = ledger.who_can(action, resource, at, paths, max_depth, known_at=known_at)
        data = provenance.annotate(ledger, result.to_dict())
        if wants_json(json_output):
            emit_json(data)
            return
        table = Table("principal", "decision", "path", "missing context", "sources",
                      title=f"who can {action} on {resource} (as of {result.as_of.get('valid_time')})")
        for p, shown in zip(result.principals, data["principals"], strict=True):
            path = " → ".join(f"{s.action} {s.resource}" for s in p.path)
            if p.delegated:
                path = f"delegated: {p.reason}"
            sources = dict.fromkeys(provenance.summary(m.get("Origin")) for step in shown["path"]
                                    for m in step["via"])
            table.add_row(p.principal, p.eval_decision + (" (conditional)" if p.conditional else ""),
                          path, ", ".join(p.missing_context), "; ".join(s for s in sources if s))
        console.print(table)


@app.command("what-can")
def what_can_cmd(principal: str, at: str = AT, known_at: str = KNOWN, json_output: bool = JSON) -> None:
    """Actions and resource patterns PRINCIPAL is effectively allowed."""
    with _ledger() as ledger:
        result = ledger.what_can(principal, at, known_at)
        if wants_json(json_output):
            emit_json(result.to_dict())
            return
        table = Table("action", "resource", "effective", "policy", "put in place by",
                      title=f"what {principal} can do (as of {result.as_of.get('valid_time')})")
        for grant in result.allows:
            for eff in grant.effective or ():
                label = eff.eval_decision + (" (conditional)" if eff.conditional else "")
                table.add_row(eff.action, eff.resource, label, grant.policy, _origin(grant.origin))
        console.print(table)
        for deny in result.denies:
            console.print(f"deny: {list(deny.actions)} on {list(deny.resources)} ({deny.policy})", highlight=False)


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


@app.command("timeline")
def timeline_cmd(
    principal: str, action: str, resource: str,
    start: str = typer.Option(None, "--start"), end: str = typer.Option(None, "--end"),
    known_at: str = KNOWN, html_file: str = typer.Option(None, "--html", help="Write an HTML chart."),
    json_output: bool = JSON,
) -> None:
    """Intervals when PRINCIPAL could do ACTION on RESOURCE, each change tied to its event."""
    with _ledger() as ledger:
        result = ledger.timeline(principal, action, resource, start, end, known_at=known_at)
        if html_file:
            with open(html_file, "w", encoding="utf-8") as fh:
                fh.write(timeline_html(result))
        if wants_json(json_output):
            emit_json(result.to_dict())
            return
        ivs = result.intervals
        width = max(20, min(console.width - 4, 100))
        if ivs:
            lo = ivs[0].start_us
            hi = max(_to_us(result.end) or lo, ivs[-1].start_us) + 1
            bar = ""
            for iv in ivs:
                span = ((iv.end_us or hi) - iv.start_us) / (hi - lo)
                cells = max(1, round(span * width))
                bar += f"[{'green' if iv.allowed else 'red'}]{'█' * cells}[/]"
            console.print(bar)
        table = Table("from", "to", "decision", "caused by", title=f"{principal} {action} {resource}")
        for iv in ivs:
            table.add_row(str(iv.start), str(iv.end or "now"), iv.eval_decision,
                          ", ".join(_cause(c) for c in iv.started_by))
        console.print(table)


@app.command("diff")
def diff_cmd(t1: str, t2: str, known_at: str = KNOWN, json_output: bool = JSON) -> None:
    """Effective access gained and lost between T1 and T2, with the causing events."""
    with _ledger() as ledger:
        result = ledger.diff(t1, t2, known_at=known_at)
        if wants_json(json_output):
            emit_json(result.to_dict())
            return
        table = Table("", "principal", "action", "resource", "caused by", title=f"access {t1} → {t2}")
        for sign, items in (("+", result.gained), ("-", result.lost)):
            for item in items:
                table.add_row(sign, item.principal, item.action, item.resource,
                              ", ".join(_cause(c) for c in item.caused_by))
        console.print(table)


@app.command("owner")
def owner_cmd(resource: str, at: str = AT, known_at: str = KNOWN, json_output: bool = JSON) -> None:
    """Which account owned RESOURCE (at a time), and why."""
    with _ledger() as ledger:
        result = ledger.owner_of(resource, at, known_at)
        if wants_json(json_output):
            emit_json(result.to_dict())
            return
        console.print(f"[bold]{result.owner_account}[/] owns {resource}: {result.reason}", highlight=False)
        if result.lineage is not None:
            _print_lineage(result.lineage)


def _print_lineage(lin: LineageResult) -> None:
    table = Table("step", "detail", "event")
    if lin.job is not None:
        job = lin.job
        table.add_row("job", f"{job.arn} (account {job.account})", _origin(job.created))
        table.add_row("creator", job.creator, "")
        table.add_row("passed role", job.passed_role, "")
    if lin.session is not None:
        table.add_row("session", lin.session.arn, _origin(lin.session.issued))
    table.add_row("written", f"{lin.object_arn} by {lin.writer} (acl {lin.acl})", _origin(lin.written))
    console.print(table)


@app.command("lineage")
def lineage_cmd(object_arn: str, at: str = AT, json_output: bool = JSON) -> None:
    """Job → creator → passed role → session → output object → owner account."""
    with _ledger() as ledger:
        result = ledger.lineage(object_arn, at)
        if wants_json(json_output):
            emit_json(result.to_dict())
            return
        _print_lineage(result)
        if result.owner is not None:
            console.print(f"owner: [bold]{result.owner.owner_account}[/] ({result.owner.reason})", highlight=False)


def _progress_bar(label: str) -> tuple[Any, Callable[[int, int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console)
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


@app.command("rebuild")
def rebuild_cmd(json_output: bool = JSON) -> None:
    """Drop every projection and rebuild it from the whole log."""
    with _ledger() as ledger:
        started = time.perf_counter()
        if wants_json(json_output):
            count = ledger.rebuild()
        else:
            bar, update = _progress_bar("rebuilding")
            with bar:
                count = ledger.rebuild(update)
        seconds = time.perf_counter() - started
        if wants_json(json_output):
            emit_json({"events": count, "seconds": round(seconds, 3)})
        else:
            console.print(f"rebuilt from {count} events in {seconds:.2f}s", highlight=False)


@app.command("project")
def project_cmd(
    follow: bool = typer.Option(False, "--follow", help="Keep projecting new events (worker)."),
    poll: float = typer.Option(1.0, "--poll", help="Seconds between polls when idle."),
    json_output: bool = JSON,
) -> None:
    """Catch the projections up with the log; with --follow, run as a worker process."""
    with _ledger() as ledger:
        if not follow:
            count = ledger.project()
            if wants_json(json_output):
                emit_json({"events": count, "position": ledger.read_side().position()})
            else:
                console.print(f"projected {count} events", highlight=False)
            return
        from projections.follow import follow as run_follow

        run_follow(ledger.store, ledger.read_side(), poll=poll)


@bench_app.command("generate")
def bench_generate_cmd(
    events: int = typer.Option(10_000, "--events"), seed: int = typer.Option(1, "--seed"),
    json_output: bool = JSON,
) -> None:
    """Append a synthetic history of about N events (accounts, principals, churn, jobs)."""
    from ledger.application.generate import generate

    with _ledger() as ledger:
        started = time.perf_counter()
        count = generate(ledger, events, seed)
        seconds = time.perf_counter() - started
        if wants_json(json_output):
            emit_json({"events": count, "seconds": round(seconds, 3)})
        else:
            console.print(f"generated {count} events in {seconds:.1f}s", highlight=False)

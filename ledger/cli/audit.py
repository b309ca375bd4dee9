"""Audit commands: can, who-can, what-can, timeline, diff, owner, lineage, rebuild, project, bench.

Each prints tables a person can read (or `--json`); failures become one line and exit code 2.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from ledger.application.facade import Ledger
from ledger.cli.app import app, command, console, emit_json, fail_with, json_option, open_ledger, wants_json
from ledger.cli.render import styled, table
from ledger.cli.timeline_html import timeline_html, write_timeline_html
from ledger.errors import LedgerError, ValidationError
from ledger.timeaxis import parse_iso, to_us
from projections.results import FactChange, LineageResult

bench_app = typer.Typer(help="Synthetic histories and benchmarks.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

AT = typer.Option(None, "--at", help="Valid time: ISO-8601, or @POSITION (that event's occurred_at).")
KNOWN = typer.Option(None, "--known-at", help="@POSITION: only what the ledger had recorded by then.")
JSON = json_option()
PROVE = typer.Option(False, "--prove", help="Attach an inclusion proof of every event the answer cites.")
CHECKPOINT = typer.Option(None, "--checkpoint", help="Prove against this checkpoint file "
                          "(default: the newest kept in the store).")
EXIT_TAMPERED = 1

__all__ = ["timeline_html"]


def _exit(code: int) -> None:
    # SystemExit rather than typer.Exit: `main()` runs click with standalone_mode=False, which
    # turns typer.Exit into a return value and would lose the exit code.
    raise SystemExit(code)


@contextmanager
def _ledger() -> Iterator[Ledger]:
    try:
        ledger = open_ledger()
    except LedgerError as error:
        fail_with(error)
        raise
    try:
        yield ledger
    except LedgerError as error:
        fail_with(error)
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


def _proofs(ledger: Ledger, answer: Any, checkpoint_file: Path | None) -> dict[str, Any]:
    from ledger.cli.integrity import read_checkpoint

    checkpoint = read_checkpoint(checkpoint_file) if checkpoint_file is not None else None
    return ledger.prove_decision(answer, checkpoint)


def _print_proofs(proofs: dict[str, Any]) -> None:
    cp = proofs["checkpoint"]
    if cp:
        kept = "kept in the store" if cp["source"] == "store" else "given"
        against = f"checkpoint of {cp['tree_size']} events ({kept}, {cp['created_at']}), root {cp['root_hash']}"
    else:
        against = f"the current log, root {proofs['root_hash']}"
    console.print(f"inclusion proofs against {against}:", soft_wrap=True)
    for proof in proofs["proofs"]:
        state = "verifies" if proof["verified"] else f"DOES NOT VERIFY ({proof.get('reason', 'tampered')})"
        hashes = len(proof.get("path", []))
        console.print(f"  event #{proof['position']}: {hashes} hashes, {state}", soft_wrap=True)
    if proofs["note"]:
        console.print(styled(f"note: {proofs['note']}", "yellow"), soft_wrap=True)


def _prove_and_show(ledger: Ledger, answer: Any, payload: dict[str, Any] | None, checkpoint: Path | None) -> bool:
    """Attach proofs to the JSON `payload` (key "Proofs") or print them; whether all verify."""
    proofs = _proofs(ledger, answer, checkpoint)
    if payload is not None:
        payload["Proofs"] = proofs
    else:
        _print_proofs(proofs)
    return bool(proofs["verified"])


@command("can", read_only=True)
def can_cmd(
    principal: str = typer.Argument(..., help="The caller's ARN (user, role, assumed-role session, root)."),
    action: str = typer.Argument(..., help="service:Action, e.g. s3:PutObject."),
    resource: str = typer.Argument(..., help="The resource ARN, or * for actions without resource types."),
    at: str = AT, known_at: str = KNOWN,
    context: list[str] = typer.Option(None, "--context", help="KEY=VALUE (repeatable)."),
    prove: bool = PROVE, checkpoint: Path = CHECKPOINT,
    json_output: bool = JSON,
) -> None:
    """Could PRINCIPAL perform ACTION on RESOURCE (at a time)? Exit 0 allowed, 1 denied, 2 error."""
    proven = True
    with _ledger() as ledger:
        decision = ledger.can(principal, action, resource, _context(context), at, known_at)
        if wants_json(json_output):
            payload = decision.to_dict()
            if prove:
                proven = _prove_and_show(ledger, decision, payload, checkpoint)
            emit_json(payload)
        else:
            _print_decision(decision, principal, action, resource)
            if prove:
                proven = _prove_and_show(ledger, decision, None, checkpoint)
    _exit(0 if decision.allowed and proven else 1)


def _print_decision(decision: Any, principal: str, action: str, resource: str) -> None:
    head = Text(decision.eval_decision, style="bold green" if decision.allowed else "bold red")
    head.append(f" {principal} {action} {resource}  (as of {decision.as_of.get('valid_time')})")
    console.print(head, soft_wrap=True)
    matched = decision.decision.matched_statements
    if matched:
        console.print(table("policy", "type", "stmt", "effect", "put in place by", rows=[
            (m.source_policy_id, m.source_policy_type, m.sid or m.statement_index, m.effect, _origin(m.origin))
            for m in matched]))
    for key in decision.decision.missing_context_values:
        console.print(f"missing context: {key}", soft_wrap=True)
    for note in [*decision.decision.errors, *decision.notes]:
        console.print(styled(f"note: {note}", "yellow"), soft_wrap=True)
    for unknown in decision.unknown_policies:
        console.print(styled(f"unknown policy: {unknown.get('policy_arn')}", "yellow"), soft_wrap=True)


@command("who-can", read_only=True)
def who_can_cmd(
    action: str = typer.Argument(..., help="service:Action, e.g. s3:PutObject."),
    resource: str = typer.Argument(..., help="The resource ARN, or * for actions without resource types."),
    at: str = AT, known_at: str = KNOWN,
    paths: bool = typer.Option(False, "--paths", help="Include role chains and PassRole paths."),
    max_depth: int = typer.Option(3, "--max-depth", help="Longest role-assumption chain to follow (--paths)."),
    prove: bool = PROVE, checkpoint: Path = CHECKPOINT,
    json_output: bool = JSON,
) -> None:
    """Every principal allowed ACTION on RESOURCE (conditional ones with the missing keys)."""
    proven = True
    with _ledger() as ledger:
        result = ledger.who_can(action, resource, at, paths, max_depth, known_at=known_at)
        if wants_json(json_output):
            payload = result.to_dict()
            if prove:
                proven = _prove_and_show(ledger, result, payload, checkpoint)
            emit_json(payload)
        else:
            rows = []
            for p in result.principals:
                path = " → ".join(f"{s.action} {s.resource}" for s in p.path)
                if p.delegated:
                    path = f"delegated: {p.reason}"
                rows.append((p.principal, p.eval_decision + (" (conditional)" if p.conditional else ""),
                             path, ", ".join(p.missing_context)))
            console.print(table("principal", "decision", "path", "missing context", rows=rows,
                                title=f"who can {action} on {resource} (as of {result.as_of.get('valid_time')})"))
            if prove:
                proven = _prove_and_show(ledger, result, None, checkpoint)
    if not proven:
        _exit(EXIT_TAMPERED)


@command("what-can", read_only=True)
def what_can_cmd(
    principal: str = typer.Argument(..., help="The principal's ARN (user or role)."),
    at: str = AT, known_at: str = KNOWN, json_output: bool = JSON,
) -> None:
    """What PRINCIPAL is effectively allowed (or allowed if conditions hold); what is denied, apart."""
    with _ledger() as ledger:
        result = ledger.what_can(principal, at, known_at)
        if wants_json(json_output):
            emit_json(result.to_dict())
            return
        allowed, denied = [], []
        for grant in result.allows:
            for eff in grant.effective or ():
                if eff.eval_decision == "allowed":
                    label = "allowed" + (f" if {', '.join(eff.missing_context)} holds" if eff.conditional else "")
                    allowed.append((eff.action, eff.resource, label, grant.policy, _origin(grant.origin)))
                else:
                    why = ", ".join(f"{m.source_policy_id} [{m.sid or m.statement_index}]" for m in eff.cut_by)
                    denied.append((eff.action, eff.resource, eff.eval_decision, grant.policy, why))
        when = result.as_of.get("valid_time")
        console.print(table("action", "resource", "effective", "policy", "put in place by", rows=allowed,
                            title=f"what {principal} can do (as of {when})"))
        if denied:
            console.print(table("action", "resource", "decision", "allowed by", "denied by", rows=denied,
                                title="named by an Allow, but denied in the end"))
        if result.denies:
            console.print(table("actions", "resources", "policy", "put in place by", title="Deny statements",
                                rows=[(", ".join(d.actions), ", ".join(d.resources), d.policy, _origin(d.origin))
                                      for d in result.denies]))


def _to_us(text: str | None) -> int | None:
    return to_us(parse_iso(text)) if text else None


@command("timeline", read_only=True)
def timeline_cmd(
    principal: str = typer.Argument(..., help="The caller's ARN."),
    action: str = typer.Argument(..., help="service:Action."),
    resource: str = typer.Argument(..., help="The resource ARN, or *."),
    start: str = typer.Option(None, "--start", help="From this valid time (ISO-8601 or @POSITION; "
                              "default: the first change)."),
    end: str = typer.Option(None, "--end", help="Up to this valid time (ISO-8601 or @POSITION; default: now)."),
    known_at: str = KNOWN, html_file: str = typer.Option(None, "--html", help="Write an HTML chart to this file."),
    json_output: bool = JSON,
) -> None:
    """Intervals when PRINCIPAL could do ACTION on RESOURCE, each change tied to its event."""
    with _ledger() as ledger:
        result = ledger.timeline(principal, action, resource, start, end, known_at=known_at)
        if html_file:
            write_timeline_html(html_file, result)
        if wants_json(json_output):
            emit_json(result.to_dict())
            return
        ivs = result.intervals
        width = max(20, min(console.width - 4, 100))
        if ivs:
            lo = ivs[0].start_us
            hi = max(_to_us(result.end) or lo, ivs[-1].start_us) + 1
            bar = Text()
            for iv in ivs:
                span = ((iv.end_us or hi) - iv.start_us) / (hi - lo)
                bar.append("█" * max(1, round(span * width)), style="green" if iv.allowed else "red")
            console.print(bar)
        console.print(table("from", "to", "decision", "caused by", title=f"{principal} {action} {resource}",
                            rows=[(iv.start, iv.end or "now", iv.eval_decision,
                                   ", ".join(_cause(c) for c in iv.started_by)) for iv in ivs]))


@command("diff", read_only=True)
def diff_cmd(
    t1: str = typer.Argument(..., help="From (ISO-8601 or @POSITION)."),
    t2: str = typer.Argument(..., help="To (ISO-8601 or @POSITION)."),
    known_at: str = KNOWN, json_output: bool = JSON,
) -> None:
    """Effective access gained and lost between T1 and T2, with the causing events."""
    with _ledger() as ledger:
        result = ledger.diff(t1, t2, known_at=known_at)
        if wants_json(json_output):
            emit_json(result.to_dict())
            return
        rows = [(sign, item.principal, item.action, item.resource, ", ".join(_cause(c) for c in item.caused_by))
                for sign, items in (("+", result.gained), ("-", result.lost)) for item in items]
        console.print(table("", "principal", "action", "resource", "caused by", rows=rows, title=f"access {t1} → {t2}"))


@command("owner", read_only=True)
def owner_cmd(
    resource: str = typer.Argument(..., help="An S3 object or bucket ARN, or a job ARN."),
    at: str = AT, known_at: str = KNOWN, json_output: bool = JSON,
) -> None:
    """Which account owned RESOURCE (at a time), and why."""
    with _ledger() as ledger:
        result = ledger.owner_of(resource, at, known_at)
        if wants_json(json_output):
            emit_json(result.to_dict())
            return
        line = Text(str(result.owner_account), style="bold")
        line.append(f" owns {resource}: {result.reason}")
        console.print(line, soft_wrap=True)
        if result.lineage is not None:
            _print_lineage(result.lineage)


def _print_lineage(lin: LineageResult) -> None:
    rows: list[tuple[str, str, str]] = []
    if lin.job is not None:
        job = lin.job
        rows += [("job", f"{job.arn} (account {job.account})", _origin(job.created)),
                 ("creator", job.creator, ""), ("passed role", job.passed_role, "")]
    if lin.session is not None:
        rows.append(("session", lin.session.arn, _origin(lin.session.issued)))
    rows.append(("written", f"{lin.object_arn} by {lin.writer} (acl {lin.acl})", _origin(lin.written)))
    console.print(table("step", "detail", "event", rows=rows))


@command("lineage", read_only=True)
def lineage_cmd(
    object_arn: str = typer.Argument(..., help="The S3 object ARN an output was written to."),
    at: str = AT, json_output: bool = JSON,
) -> None:
    """Job → creator → passed role → session → output object → owner account."""
    with _ledger() as ledger:
        result = ledger.lineage(object_arn, at)
        if wants_json(json_output):
            emit_json(result.to_dict())
            return
        _print_lineage(result)
        if result.owner is not None:
            console.print(f"owner: {result.owner.owner_account} ({result.owner.reason})", soft_wrap=True)


def _progress_bar(label: str) -> tuple[Any, Callable[[int, int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console)
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


@command("rebuild", read_only=False)
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
            console.print(f"rebuilt from {count} events in {seconds:.2f}s")


@command("project", read_only=False)
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
                console.print(f"projected {count} events")
            return
        from projections.follow import follow as run_follow

        run_follow(ledger.store, ledger.read_side(), poll=poll)


@command("generate", read_only=False, group=bench_app, path="bench generate")
def bench_generate_cmd(
    events: int = typer.Option(10_000, "--events", help="About how many events to append."),
    seed: int = typer.Option(1, "--seed", help="Random seed (the same seed gives the same history)."),
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
            console.print(f"generated {count} events in {seconds:.1f}s")


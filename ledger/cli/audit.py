"""Audit commands: can, who-can, what-can, timeline, diff, owner, lineage, rebuild, project, bench.

Each prints tables a person can read (or `--json`); failures become one line and exit code 2.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from ledger.cli.app import command, console, emit_json, fail_with, json_option, open_ledger, wants_json
from ledger.cli.render import styled, table
from ledger.errors import LedgerError, ValidationError
from ledger.timeaxis import parse_iso, to_us

if TYPE_CHECKING:  # start-up: the application and the read side load when a command runs
    from ledger.application.facade import Ledger
    from projections.assemble import AuditDecision
    from projections.results import FactChange, JobAnswer, LineageResult

AT = typer.Option(None, "--at", help="Valid time: ISO-8601, or @POSITION (that event's occurred_at).")
KNOWN = typer.Option(None, "--known-at", help="@POSITION: only what the ledger had recorded by then.")
JSON = json_option()
PROVE = typer.Option(False, "--prove", help="Attach an inclusion proof of every event the answer cites.")
CHECKPOINT = typer.Option(None, "--checkpoint", help="Prove against this checkpoint file "
                          "(default: the newest kept in the store).")
OWNER = typer.Option(None, "--resource-owner", help="ACCOUNT (or arn:aws:iam::ACCOUNT:root) owning a bucket the "
                     "ledger never recorded (AWS's ResourceOwner); default: the caller's account.")
EXIT_ALLOWED, EXIT_DENIED, EXIT_UNKNOWN_POLICY = 0, 1, 3
EXIT_TAMPERED = 1


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


def _warn(action: str, resource: str) -> list[str]:
    """The catalogue's notes on the request (a typo, a malformed ARN), one `warning:` line each on
    stderr, as plain text; returned so `can` does not print them twice."""
    from ledger.catalog import diagnose_request

    notes = diagnose_request(action, resource)
    for note in notes:
        sys.stderr.write(f"warning: {note}\n")
    return notes


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
    resources: list[str] = typer.Argument(..., metavar="RESOURCE...", help="One or more resource ARNs "
                                          "(AWS's ResourceArns), or * for actions without resource types."),
    at: str = AT, known_at: str = KNOWN,
    context: list[str] = typer.Option(None, "--context", help="KEY=VALUE (repeatable)."),
    resource_owner: str = OWNER, prove: bool = PROVE, checkpoint: Path = CHECKPOINT,
    json_output: bool = JSON,
) -> None:
    """Could PRINCIPAL perform ACTION on RESOURCE... (every one of them) at a time?

    Exit 0 allowed, 1 denied (or a proof failed), 2 error, 3 the answer rests on a policy the
    ledger never saw ("allowed, unless it denies" or "denied, unless it allows")."""
    from ledger.application.importing import provenance

    proven = True
    with _ledger() as ledger:
        target: str | list[str] = resources[0] if len(resources) == 1 else resources
        decision = ledger.can(principal, action, target, _context(context), at, known_at,
                              resource_owner=resource_owner)
        payload = provenance.annotate(ledger, decision.to_dict())
        if wants_json(json_output):
            if prove:
                proven = _prove_and_show(ledger, decision, payload, checkpoint)
            emit_json(payload)
        else:
            warned = [note for one in resources for note in _warn(action, one)]
            _print_decision(decision, principal, action, resources, warned, payload)
            if prove:
                proven = _prove_and_show(ledger, decision, None, checkpoint)
    _exit(_can_exit(decision) if proven else EXIT_TAMPERED)


def _can_exit(decision: AuditDecision) -> int:
    if decision.unless is not None:
        return EXIT_UNKNOWN_POLICY
    return EXIT_ALLOWED if decision.allowed else EXIT_DENIED


def _print_decision(decision: AuditDecision, principal: str, action: str, resources: list[str],
                    warned: Iterable[str] = (), shown: dict[str, Any] | None = None) -> None:
    """The verdict, each resource's, the matched statements with the events (and their sources)
    that put them in place, then the explanation."""
    from ledger.application.importing import provenance
    colour = "bold green" if decision.allowed else ("bold yellow" if decision.unless else "bold red")
    head = Text(decision.qualification or decision.eval_decision, style=colour)
    head.append(f" {principal} {action} {' '.join(resources)}  (as of {decision.as_of.get('valid_time')})")
    console.print(head, soft_wrap=True)
    if decision.resource_results:
        console.print(table("resource", "decision", "qualification", rows=[
            (one.decision.eval_resource_name, one.eval_decision, one.qualification or "")
            for one in decision.resource_results]))
    matched = decision.decision.matched_statements
    origins = [m.get("Origin") for m in (shown or {}).get("MatchedStatements", [])] or [None] * len(matched)
    if matched:
        console.print(table("policy", "type", "stmt", "effect", "put in place by", "source", rows=[
            (m.source_policy_id, m.source_policy_type, m.sid or m.statement_index, m.effect, _origin(m.origin),
             provenance.summary(o)) for m, o in zip(matched, origins, strict=True)]))
    _explain(decision, warned)


def _explain(decision: AuditDecision, warned: Iterable[str] = ()) -> None:
    """Missing keys, the cross-account detail, errors, notes and the unknown policies of a decision
    (notes already printed as warnings are not repeated)."""
    for key in decision.decision.missing_context_values:
        console.print(f"missing context: {key}", soft_wrap=True)
    for side, verdict in (decision.to_dict().get("EvalDecisionDetails") or {}).items():
        console.print(f"detail: {side} {verdict}", soft_wrap=True)
    shown = set(warned)
    for note in [*decision.decision.errors, *(n for n in decision.all_notes if n not in shown)]:
        console.print(styled(f"note: {note}", "yellow"), soft_wrap=True)
    for unknown in decision.unknown_policies:
        console.print(styled(f"unknown policy: {unknown.get('policy_arn')}", "yellow"), soft_wrap=True)


def _print_notes(notes: Iterable[str]) -> None:
    for note in notes:
        console.print(styled(f"note: {note}", "yellow"), soft_wrap=True)


@command("who-can", read_only=True)
def who_can_cmd(
    action: str = typer.Argument(..., help="service:Action, e.g. s3:PutObject."),
    resource: str = typer.Argument(..., help="The resource ARN, or * for actions without resource types."),
    at: str = AT, known_at: str = KNOWN,
    paths: bool = typer.Option(False, "--paths", help="Include role chains and PassRole paths."),
    max_depth: int = typer.Option(3, "--max-depth", help="Longest role-assumption chain to follow (--paths)."),
    resource_owner: str = OWNER, prove: bool = PROVE, checkpoint: Path = CHECKPOINT,
    json_output: bool = JSON,
) -> None:
    """Every principal allowed ACTION on RESOURCE (conditional ones with the missing keys)."""
    from ledger.application.importing import provenance

    proven = True
    with _ledger() as ledger:
        result = ledger.who_can(action, resource, at, paths, max_depth, known_at=known_at,
                                resource_owner=resource_owner)
        payload = provenance.annotate(ledger, result.to_dict())
        if wants_json(json_output):
            if prove:
                proven = _prove_and_show(ledger, result, payload, checkpoint)
            emit_json(payload)
        else:
            _warn(action, resource)
            rows = []
            for p, shown in zip(result.principals, payload["principals"], strict=True):
                path = " → ".join(f"{s.action} {s.resource}" for s in p.path)
                if p.delegated:
                    path = f"delegated: {p.reason}"
                elif p.unknown_policies:
                    path += f" (rests on {', '.join(p.unknown_policies)})"
                sources = dict.fromkeys(provenance.summary(m.get("Origin")) for step in shown["path"]
                                        for m in step["via"])
                rows.append((p.principal, p.eval_decision + (" (conditional)" if p.conditional else ""),
                             path, ", ".join(p.missing_context), "; ".join(s for s in sources if s)))
            console.print(table("principal", "decision", "path", "missing context", "sources", rows=rows,
                                title=f"who can {action} on {resource} (as of {result.as_of.get('valid_time')})"))
            _print_notes(result.notes)
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
        notes: list[str] = list(result.errors)
        for grant in result.allows:
            for eff in grant.effective or ():
                notes += [f"{eff.action} {eff.resource}: {n}" for n in eff.notes]
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
        _print_notes(notes + [f"unknown policy: {u.get('policy_arn')}" for u in result.unknown_policies])


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
            from ledger.cli.timeline_html import write_timeline_html

            write_timeline_html(html_file, result)
        if wants_json(json_output):
            emit_json(result.to_dict())
            return
        ivs = result.intervals
        from ledger.cli.timeline_view import print_timeline

        print_timeline(console, result)
        console.print(table("from", "to", "decision", "caused by", title=f"{principal} {action} {resource}",
                            rows=[(iv.start, iv.end or "now", iv.eval_decision,
                                   ", ".join(_cause(c) for c in iv.started_by)) for iv in ivs]))
        _print_notes(result.notes)


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
        rows = [(sign, item.principal, item.action,
                 item.resource + (f" ({item.count} objects)" if item.count > 1 else ""),
                 f"{item.before_state} → {item.after_state}" + (" (via a path)" if item.path else ""),
                 ", ".join(_cause(c) for c in item.caused_by))
                for sign, items in (("+", result.gained), ("-", result.lost)) for item in items]
        console.print(table("", "principal", "action", "resource", "change", "caused by", rows=rows,
                            title=f"access {t1} → {t2}"))


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


def _print_job(answer: JobAnswer) -> None:
    job = answer.job
    rows = [("job", f"{job.arn} (account {job.account})", _origin(job.created)), ("creator", job.creator, ""),
            ("passed role", job.passed_role, ""), ("queue", job.queue, "")]
    if answer.session is not None:
        rows.append(("session", answer.session.arn, _origin(answer.session.issued)))
    rows += [("output", f"{o.object_arn} (acl {o.acl})", _origin(o.written)) for o in answer.outputs]
    console.print(table("step", "detail", "event", rows=rows))
    console.print(f"owner: {answer.owner.owner_account} ({answer.owner.reason})", soft_wrap=True)


@command("lineage", read_only=True)
def lineage_cmd(
    object_arn: str = typer.Argument(..., help="The S3 object ARN an output was written to, or a MediaConvert "
                                     "job ARN."),
    at: str = AT, json_output: bool = JSON,
) -> None:
    """Job → creator → passed role → session → output object → owner account."""
    from projections.results import JobAnswer

    with _ledger() as ledger:
        result = ledger.lineage(object_arn, at)
        if wants_json(json_output):
            emit_json(result.to_dict())
            return
        if isinstance(result, JobAnswer):
            _print_job(result)
            return
        _print_lineage(result)
        if result.owner is not None:
            console.print(f"owner: {result.owner.owner_account} ({result.owner.reason})", soft_wrap=True)

"""Core commands: `demo`, `simulate`, `history`, `log`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.rule import Rule
from rich.table import Table

from ledger.cli.app import app, console, emit_json, open_ledger, wants_json
from ledger.errors import ValidationError

if TYPE_CHECKING:
    from ledger.domain import events as ev


def event_summary(event: ev.LedgerEvent) -> str:
    """One human line of an event's payload (ids and documents elided)."""
    payload = event.payload()
    payload.pop("account_id", None)
    parts = []
    for key, value in payload.items():
        if isinstance(value, dict) or (key.endswith("_id") and key not in ("access_key_id", "job_id", "scp_id")):
            continue
        if value in (None, (), [], ""):
            continue
        parts.append(f"{key}={value}")
    return " ".join(parts)[:160]


def event_row(event: ev.LedgerEvent) -> dict[str, Any]:
    return {
        "position": event.position,
        "event": event.event_type,
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "account_id": event.account_id,
        "actor": event.actor,
        "source": event.source,
        "source_id": event.source_id,
        "payload": event.payload(),
    }


def events_table(title: str, events: list[ev.LedgerEvent]) -> Table:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in ("pos", "occurred at (UTC)", "event", "account", "actor", "details"):
        table.add_column(column, overflow="fold")
    for event in events:
        actor = (event.actor or "").replace("arn:aws:iam::", "").replace("arn:aws:sts::", "")
        table.add_row(
            str(event.position),
            event.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            event.event_type,
            event.account_id,
            actor,
            event_summary(event),
        )
    return table


@app.command("simulate")
def simulate(
    input_file: Path = typer.Option(None, "--input", "-i", help="JSON Lines scenarios (default: stdin)."),
) -> None:
    """Evaluate policy scenarios (JSON Lines in, one JSON line out per scenario, in order)."""
    from ledger.catalog import CatalogAdvisor
    from ledger.policy.simulate import run_simulate

    if input_file is None:
        run_simulate(sys.stdin, sys.stdout, CatalogAdvisor())
        return
    try:
        stream = input_file.open(encoding="utf-8", errors="replace")
    except OSError as error:
        raise ValidationError(f"cannot read {input_file}: {error.strerror}") from None
    with stream:
        run_simulate(stream, sys.stdout, CatalogAdvisor())


@app.command("history")
def history(
    entity: str = typer.Argument(..., help="ARN, unique id, access key id or account id."),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Every event that touched an entity, in log order."""
    with open_ledger() as ledger:
        found = ledger.history(entity)
    if wants_json(json_output):
        emit_json({"entity": entity, "events": [event_row(e) for e in found]})
        return
    if not found:
        console.print(f"no recorded events touched {entity}")
        return
    console.print(events_table(f"History of {entity}", found))


@app.command("log")
def log_command(
    after: int = typer.Option(0, "--after", help="Show events after this position."),
    limit: int = typer.Option(100, "--limit", help="At most this many events."),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """The event log in position order."""
    if limit < 1 or after < 0:
        raise ValidationError("--limit must be positive and --after non-negative")
    with open_ledger() as ledger:
        page = ledger.store.read_log(after=after, limit=limit)
    if wants_json(json_output):
        emit_json({"events": [event_row(e) for e in page]})
        return
    console.print(events_table(f"Events after position {after}", page))


@app.command("demo")
def demo(
    db_file: Path = typer.Option(Path("ledger-demo.db"), "--db-file", help="Fresh SQLite file for the demo."),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Record the AWS guide's MediaConvert story in a fresh SQLite file; answer the five audit questions."""
    from ledger.application.demo import audit_answers, record_story
    from ledger.application.facade import Ledger

    for suffix in ("", "-wal", "-shm"):
        Path(str(db_file) + suffix).unlink(missing_ok=True)
    with Ledger.open(f"sqlite:///{db_file}") as ledger:
        facts = record_story(ledger)
        recorded = list(ledger.events())
        answers = audit_answers(ledger, facts)
    if wants_json(json_output):
        emit_json({"db": str(db_file), "events": [event_row(e) for e in recorded], "answers": answers})
        return
    console.print(events_table(f"The MediaConvert story, recorded in {db_file}", recorded))
    print_demo_answers(facts, answers)
    console.print(
        f"\n{len(recorded)} events recorded. Explore: ledger --db sqlite:///{db_file} who-can "
        f"s3:PutObject {facts.first_output} --at {facts.while_granted} --paths"
    )


def _origin(statement: dict[str, Any]) -> str:
    origin = statement.get("Origin") or {}
    where = (
        f"#{origin['position']} {origin['event_type']} {origin['occurred_at'][:16]}" if origin.get("position") else ""
    )
    return (
        f"{statement.get('SourcePolicyId')} [{statement.get('Sid') or statement.get('StatementIndex')}] {where}".strip()
    )


def _step(step: dict[str, Any]) -> str:
    principal = str(step.get("principal", "")).rsplit(":", 1)[-1]
    return f"{principal} {step.get('action')}"


def print_demo_answers(facts: Any, answers: dict[str, Any]) -> None:
    """The five questions of the design brief, answered as tables a person can read."""
    _print_who_could(facts, answers["q1_who_could_write_the_output"])
    _print_changes(answers["q2_what_changed"])
    _print_lineage_and_owners(answers["q3_lineage_and_owner"])
    _print_could_vs_did(answers["q4_could_vs_did"])
    _print_decision_and_proof(facts, answers["q5_past_decision_and_proof"])


def _print_who_could(facts: Any, who: dict[str, Any]) -> None:
    console.print(Rule(f"1. Who could s3:PutObject {facts.first_output} at {facts.while_granted}, and how?"))
    table = Table(header_style="bold")
    for column in ("principal", "decision", "path", "granted by (event)"):
        table.add_column(column, overflow="fold")
    for entry in who["principals"]:
        decision = entry["EvalDecision"] + (
            " if " + ", ".join(entry["missing_context"]) + " holds" if entry.get("conditional") else ""
        )
        path = " → ".join(_step(step) for step in entry["path"]) or "direct"
        grants = [_origin(s) for step in entry["path"] for s in step.get("via", [])][:3]
        table.add_row(entry["principal"], decision, path, "\n".join(grants))
    console.print(table)


def _print_changes(changes: dict[str, Any]) -> None:
    console.print(Rule(f"2. Effective access gained and lost between {changes['t1']} and {changes['t2']}"))
    table = Table(header_style="bold")
    for column in ("change", "principal", "action", "resource", "caused by"):
        table.add_column(column, overflow="fold")
    for kind in ("gained", "lost"):
        for item in changes[kind]:
            causes = ", ".join(f"#{c['position']} {c['event_type']}" for c in item["caused_by"])
            table.add_row(kind, item["principal"], item["action"], item["resource"], causes)
    console.print(table)


def _print_lineage_and_owners(answer: dict[str, Any]) -> None:
    lineage = answer["lineage"]
    job = lineage.get("job") or {}
    console.print(Rule("3. Who produced the output, who owns it, and why"))
    console.print(
        f"{lineage['object']}\n  written by {lineage['writer']} (account {lineage['writer_account']}), "
        f"ACL {lineage.get('acl')}, bucket setting then {lineage.get('object_ownership_at_write')}\n"
        f"  job {job.get('arn')} created by {job.get('creator')} passing {job.get('passed_role')}"
    )
    table = Table(header_style="bold")
    for column in ("object", "when", "owner account", "why"):
        table.add_column(column, overflow="fold")
    for key, by_time in answer["owners"].items():
        for when, owner in by_time.items():
            table.add_row(key.replace("_", " "), when, owner["owner_account"], owner["reason"])
    console.print(table)


def _print_could_vs_did(calls: list[dict[str, Any]]) -> None:
    console.print(Rule("4. Could vs did: which grant authorised each observed call"))
    table = Table(header_style="bold")
    for column in ("call (CloudTrail)", "AWS said", "ledger says", "authorised by"):
        table.add_column(column, overflow="fold")
    for item in calls:
        call = item["call"]
        table.add_row(
            f"{call['at'][:16]} {call['principal'].rsplit(':', 1)[-1]} {call['action']}",
            str(call["aws_said"]),
            item["ledger_says"],
            "\n".join(_origin(s) for s in item["authorised_by"]) or "no grant in force",
        )
    console.print(table)


def _print_decision_and_proof(facts: Any, proof: dict[str, Any]) -> None:
    console.print(Rule(f"5. The state bob's CreateJob decision used at {facts.while_granted}, and proof"))
    console.print(f"decision: {proof['decision']['EvalDecision']}")
    for statement in proof["decision"]["MatchedStatements"]:
        console.print(f"  {_origin(statement)}")
    checkpoint = proof["checkpoint"]
    console.print(f"checkpoint: {checkpoint['tree_size']} events, root {checkpoint['root_hash']}")
    for item in proof["inclusion_proofs"]:
        console.print(
            f"  event #{item['position']}: inclusion proof of {item['audit_path_length']} hashes "
            f"{'verifies' if item['verifies'] else 'FAILS'}"
        )
    console.print(f"whole log verified against the checkpoint: {proof['log_verified']} ({proof['verify_reason']})")

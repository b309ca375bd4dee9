"""Core commands: `demo`, `simulate`, `history`, `log`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ledger import events as ev
from ledger.cli.app import app, console, emit_json, open_ledger, state, wants_json
from ledger.errors import ValidationError


def event_summary(event: ev.LedgerEvent) -> str:
    """One human line of an event's payload (ids and documents elided)."""
    payload = event.payload()
    payload.pop("account_id", None)
    parts = []
    for key, value in payload.items():
        if isinstance(value, dict) or key.endswith("_id") and key not in ("access_key_id", "job_id", "scp_id"):
            continue
        if value in (None, (), [], ""):
            continue
        parts.append(f"{key}={value}")
    return " ".join(parts)[:160]


def event_row(event: ev.LedgerEvent) -> dict[str, Any]:
    return {
        "position": event.position, "event": event.event_type,
        "occurred_at": event.occurred_at.isoformat(), "recorded_at": event.recorded_at.isoformat(),
        "account_id": event.account_id, "actor": event.actor, "source": event.source,
        "source_id": event.source_id, "payload": event.payload(),
    }


def events_table(title: str, events: list[ev.LedgerEvent]) -> Table:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in ("pos", "occurred at (UTC)", "event", "account", "actor", "details"):
        table.add_column(column, overflow="fold")
    for event in events:
        actor = (event.actor or "").replace("arn:aws:iam::", "").replace("arn:aws:sts::", "")
        table.add_row(
            str(event.position), event.occurred_at.strftime("%Y-%m-%d %H:%M:%S"), event.event_type,
            event.account_id, actor, event_summary(event),
        )
    return table


@app.command("simulate")
def simulate(
    input_file: Path = typer.Option(None, "--input", "-i", help="JSON Lines scenarios (default: stdin)."),
) -> None:
    """Evaluate policy scenarios (JSON Lines in, one JSON line out per scenario, in order)."""
    from ledger.policy.simulate import run_simulate

    if input_file is None:
        run_simulate(sys.stdin, sys.stdout)
        return
    try:
        stream = input_file.open(encoding="utf-8", errors="replace")
    except OSError as error:
        raise ValidationError(f"cannot read {input_file}: {error.strerror}") from None
    with stream:
        run_simulate(stream, sys.stdout)


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
    """Record the MediaConvert story of the AWS guide in a fresh SQLite file and show it."""
    from ledger.demo import record_story
    from ledger.facade import Ledger

    for suffix in ("", "-wal", "-shm"):
        Path(str(db_file) + suffix).unlink(missing_ok=True)
    with Ledger.open(f"sqlite:///{db_file}") as ledger:
        facts = record_story(ledger)
        recorded = list(ledger.events())
        explain = getattr(ledger, "demo_answers", None)
        answers = explain(facts) if callable(explain) else None
    if wants_json(json_output):
        emit_json({"db": str(db_file), "events": [event_row(e) for e in recorded], "answers": answers})
        return
    console.print(events_table(f"The MediaConvert story, recorded in {db_file}", recorded))
    if answers is not None:
        from ledger.cli.audit import print_demo_answers  # type: ignore[attr-defined]

        print_demo_answers(answers)
    console.print(f"\n{len(recorded)} events recorded. Try: ledger --db sqlite:///{db_file} history {facts.alice_arn}")
    state.db = f"sqlite:///{db_file}"

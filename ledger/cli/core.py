"""Core commands: `demo`, `simulate`, `history`, `log`.

`demo` records into a private file and moves it into place whole, so runs started together
never see each other's half-written story.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from ledger.cli.app import command, console, emit_json, json_option, open_ledger, wants_json
from ledger.cli.render import table
from ledger.errors import StoreError, ValidationError
from ledger.timeaxis import MAX_POSITION

_ARN = "arn:aws:"


def _short(value: Any) -> str:
    """An ARN by its resource part ("user/alice"); other values as they are."""
    text = str(value)
    if text.startswith(_ARN) and text.count(":") >= 5:
        return text.split(":", 5)[5] or text
    return text

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


def event_brief(event: ev.LedgerEvent) -> str:
    """A few words on what an event touched (ARNs by their resource part), for one-line listings."""
    payload = event.payload()
    parts = [_short(value) for key, value in payload.items()
             if isinstance(value, str) and value and (key.endswith(("_arn", "name")) or key in ("bucket", "key"))]
    return ", ".join(list(dict.fromkeys(parts))[:3])


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
    return table("pos", "occurred at (UTC)", "event", "account", "actor", "details", title=title, rows=[
        (event.position, event.occurred_at.strftime("%Y-%m-%d %H:%M:%S"), event.event_type, event.account_id,
         _short(event.actor or ""), event_summary(event))
        for event in events])


def print_event_lines(events: list[ev.LedgerEvent]) -> None:
    """One line per event: position, time, type and what it touched."""
    for event in events:
        console.print(f"#{event.position:<3} {event.occurred_at:%Y-%m-%d %H:%M} {event.event_type} "
                      f"{event_brief(event)}".rstrip(), soft_wrap=True)


@command("simulate", read_only=False)
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


@command("history", read_only=True)
def history(
    entity: str = typer.Argument(..., help="ARN, unique id, access key id or account id."),
    json_output: bool = json_option(),
) -> None:
    """Every event that touched an entity, in log order."""
    with open_ledger() as ledger:
        found = ledger.history(entity)
    if wants_json(json_output):
        emit_json({"entity": entity, "events": [event_row(e) for e in found]})
        return
    if not found:
        console.print(f"no recorded events touched {entity}", soft_wrap=True)
        return
    console.print(events_table(f"History of {entity}", found))


def _bounded(name: str, value: int, low: int) -> int:
    if not low <= value <= MAX_POSITION:
        raise ValidationError(f"{name} must be between {low} and {MAX_POSITION}, not {value}")
    return value


@command("log", read_only=True)
def log_command(
    after: int = typer.Option(0, "--after", help="Show events after this log position."),
    offset: int = typer.Option(0, "--offset", help="Skip this many events (after --after)."),
    limit: int = typer.Option(100, "--limit", help="At most this many events."),
    json_output: bool = json_option(),
) -> None:
    """The event log in position order, a page at a time."""
    from ledger.adapters.store_snapshot import open_snapshot

    _bounded("--after", after, 0)
    _bounded("--offset", offset, 0)
    _bounded("--limit", limit, 1)
    with open_ledger() as ledger:
        with open_snapshot(ledger.store) as snapshot:
            total = snapshot.count_after(after)
            start = snapshot.position_before_offset(after, offset)
        page = [] if start is None else ledger.store.read_log(after=start, limit=limit)
    if wants_json(json_output):
        emit_json({"events": [event_row(e) for e in page], "total": total, "offset": offset, "limit": limit})
        return
    where = f" after position {after}" if after else ""
    console.print(events_table(f"Events{where}", page))
    shown = f"showing {offset + 1}–{offset + len(page)} of {total}" if page else f"nothing to show of {total}"
    more = f"; next page: --offset {offset + limit} --limit {limit}" if offset + len(page) < total else ""
    console.print(f"{shown}{where}{more} (pages: --offset/--limit)", soft_wrap=True)


DEMO_EVENTS_HELP = "Also list every recorded event in full (default: one line per event)."


@command("demo", read_only=False)
def demo(
    db_file: Path = typer.Option(Path("ledger-demo.db"), "--db-file", help="Fresh SQLite file for the demo."),
    events: bool = typer.Option(False, "--events", help=DEMO_EVENTS_HELP),
    report_file: Path = typer.Option(Path("ledger-demo-report.html"), "--report-file",
                                     help="Where to write the output bucket's HTML access report."),
    json_output: bool = json_option(),
) -> None:
    """Record the AWS guide's MediaConvert story in a fresh SQLite file; answer the five audit questions."""
    from ledger.application.demo import CAST, audit_answers, demo_report, record_story
    from ledger.application.facade import Ledger
    from ledger.cli.report_html import write_report_html

    with _PrivateFile(db_file) as scratch, Ledger.open(f"sqlite:///{scratch}") as ledger:
        facts = record_story(ledger)
        recorded = list(ledger.events())
        answers = audit_answers(ledger, facts)
        report_size = write_report_html(str(report_file), demo_report(ledger))
    if wants_json(json_output):
        emit_json({"db": str(db_file), "events": [event_row(e) for e in recorded], "answers": answers,
                   "cast": CAST, "report": str(report_file)})
        return
    from ledger.cli.demo_view import print_cast, print_demo_answers

    print_cast()
    print_demo_answers(facts, answers)
    if events:
        console.print(events_table(f"The story's {len(recorded)} events, recorded in {db_file}", recorded))
    else:
        console.print(f"\nThe story's {len(recorded)} events (all their fields: ledger demo --events):")
        print_event_lines(recorded)
    console.print(
        f"\nRecorded in {db_file}. Explore: ledger --db sqlite:///{db_file} who-can s3:PutObject "
        f"{facts.first_output} --at {facts.while_granted} --paths", soft_wrap=True,
    )
    console.print(f"\nThe output bucket's access report (who could write, read or delete it over the quarter, "
                  f"how, and what changed it): {report_file.resolve()} ({report_size // 1024} KiB, one file, "
                  "works offline; open it in any browser).", soft_wrap=True)


class _PrivateFile:
    """A fresh SQLite file next to `target`, moved over it whole on success (WAL folded in
    first), removed on failure: concurrent demos never share or truncate each other's file."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __enter__(self) -> Path:
        folder = self.target.resolve().parent
        try:
            fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=folder)
        except OSError as error:
            raise StoreError(f"cannot create the demo file in {folder}: {error.strerror}") from None
        os.close(fd)
        self.scratch = Path(name)
        return self.scratch

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            if kind is None:
                import sqlite3  # start-up: only `demo` needs it

                conn = sqlite3.connect(self.scratch)
                try:
                    conn.execute("PRAGMA journal_mode=DELETE")  # folds and removes the WAL
                finally:
                    conn.close()
                for suffix in ("-wal", "-shm"):
                    Path(f"{self.target}{suffix}").unlink(missing_ok=True)
                os.replace(self.scratch, self.target)
        finally:
            for leftover in (self.scratch, Path(f"{self.scratch}-wal"), Path(f"{self.scratch}-shm")):
                leftover.unlink(missing_ok=True)

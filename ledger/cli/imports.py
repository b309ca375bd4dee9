"""Import commands: `ledger import cloudtrail`, `ledger import snapshot`, and `ledger drift`.

Thin: parse options, show progress and summaries; all the work is in `ledger.application.importing`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from ledger.cli.app import app, console, emit_json, fail, open_ledger, wants_json

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ledger.application.importing.runner import ImportProgress, ImportSummary

import_app = typer.Typer(no_args_is_help=True, help="Import real AWS history (CloudTrail, IAM snapshots).")
app.add_typer(import_app, name="import")


def _summary_table(summary: ImportSummary) -> Table:
    data = summary.to_dict()
    table = Table(title=f"{summary.kind} import", show_header=False)
    for label, key in (("files", "files"), ("records", "records"), ("imported", "imported"),
                       ("duplicates", "duplicates"), ("denied calls", "denied"), ("events written", "events"),
                       ("skipped", "skipped_total"), ("file errors", "errors"), ("seconds", "seconds"),
                       ("records/s", "records_per_second")):
        value = data[key]
        table.add_row(label, str(len(value) if isinstance(value, list) else value))
    for kind, count in data["skipped"].items():
        table.add_row(f"  skipped {kind}", str(count))
    return table


def _report(summary: ImportSummary, json_flag: bool) -> None:
    if wants_json(json_flag):
        emit_json(summary.to_dict())
    else:
        console.print(_summary_table(summary))
        for error in summary.errors:
            console.print(f"[red]error[/] {error['path']}: {error['reason']}", highlight=False)
        for warning in summary.warnings:
            console.print(f"[yellow]warning[/] {warning}", highlight=False)
    if summary.errors:
        raise typer.Exit(1)


@import_app.command("cloudtrail")
def cloudtrail_command(
    paths: list[str] = typer.Argument(..., help="CloudTrail files or directories (.json, .json.gz, JSON Lines)."),
    json_flag: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Import CloudTrail records; re-importing is harmless (records are keyed by event id)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ledger.application.importing.runner import import_cloudtrail

    with open_ledger() as ledger:
        if wants_json(json_flag) or not console.is_terminal:
            summary = import_cloudtrail(ledger, paths)
        else:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console) as bar:
                task = bar.add_task("scanning", total=None, rate="")
                summary = import_cloudtrail(ledger, paths, progress=_bar_progress(bar, task))
                bar.update(task, total=summary.files)
    _report(summary, json_flag)


def _bar_progress(bar: Progress, task: TaskID) -> ImportProgress:
    """The importer's progress callback, drawn on `bar` (files done, records/s of the phase)."""
    started: dict[str, float] = {}

    def progress(phase: str, files: int, records: int) -> None:
        now = time.perf_counter()
        started.setdefault(phase, now)
        elapsed = max(now - started[phase], 1e-6)
        bar.update(task, description="scanning files" if phase == "scan" else "importing",
                   completed=files, rate=f"{records / elapsed:,.0f} records/s" if records else "")

    return progress


@import_app.command("snapshot")
def snapshot_command(
    files: list[str] = typer.Argument(..., help="get-account-authorization-details output (one or more pages)."),
    at: str = typer.Option(..., "--at", help="When the snapshot was taken (ISO-8601)."),
    account: str = typer.Option(None, "--account", help="The account (default: inferred from the ARNs)."),
    json_flag: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Record an IAM snapshot as the account's state at --at (only the differences, if known)."""
    from ledger.application.importing.runner import import_snapshot

    with open_ledger() as ledger:
        summary = import_snapshot(ledger, files, at=at, account=account)
    _report(summary, json_flag)


@app.command("drift")
def drift_command(
    since: str = typer.Option(None, "--since", help="Only calls at or after this time (ISO-8601)."),
    json_flag: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Could vs did: observed calls where AWS and the ledger's state disagree."""
    from ledger.application.importing.drift import drift

    with open_ledger() as ledger:
        report = drift(ledger, since)
    data = report.to_dict()
    if wants_json(json_flag):
        emit_json(data)
        return
    table = Table(title=f"drift: {data['evaluated']} calls evaluated, {data['agreed']} agree")
    for column in ("time", "principal", "call", "AWS", "ledger", "explanation"):
        table.add_column(column, overflow="fold")
    for finding in report.findings:
        table.add_row(finding.at, finding.principal, f"{finding.action} {finding.resource}", finding.aws,
                      finding.ledger, finding.explanation)
    console.print(table)
    if data["not_applicable"]:
        skipped = ", ".join(f"{k}={v}" for k, v in data["not_applicable"].items())
        console.print(f"not IAM-authorised (skipped): {skipped}")
    if not report.findings:
        console.print("no drift")


__all__ = ["cloudtrail_command", "drift_command", "fail", "snapshot_command"]

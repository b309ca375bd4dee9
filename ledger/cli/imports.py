"""Import commands: `ledger import cloudtrail`, `ledger import snapshot`, and `ledger drift`.

Thin: parse options, show progress and summaries; all the work is in `ledger.application.importing`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from ledger.cli.app import app, command, console, emit_json, fail, json_option, open_ledger, print_error, wants_json
from ledger.cli.render import styled, table

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ledger.application.importing.runner import ImportProgress, ImportSummary

import_app = typer.Typer(no_args_is_help=True, help="Import real AWS history (CloudTrail, IAM snapshots).")
app.add_typer(import_app, name="import")


def _summary_table(summary: ImportSummary) -> Table:
    data = summary.to_dict()
    out = Table(title=f"{summary.kind} import", show_header=False)
    for label, key in (("files", "files"), ("records", "records"), ("imported", "imported"),
                       ("duplicates", "duplicates"), ("denied calls", "denied"), ("events written", "events"),
                       ("skipped", "skipped_total"), ("file errors", "errors"), ("seconds", "seconds"),
                       ("records/s", "records_per_second")):
        value = data[key]
        out.add_row(label, str(len(value) if isinstance(value, list) else value))
    for kind, count in data["skipped"].items():
        out.add_row(f"  skipped {kind}", str(count))
    return out


def _report(summary: ImportSummary, json_flag: bool, nothing: str | None = None) -> None:
    """The summary; exit 1 when a file failed, or (`nothing` says what) when nothing was found."""
    if wants_json(json_flag):
        emit_json(summary.to_dict())
    else:
        console.print(_summary_table(summary))
        for error in summary.errors:
            line = styled("error ", "red")
            line.append(f"{error['path']}: {error['reason']}")
            console.print(line, soft_wrap=True)
        for warning in summary.warnings:
            line = styled("warning ", "yellow")
            line.append(str(warning))
            console.print(line, soft_wrap=True)
    if nothing is not None and summary.records == 0:
        print_error(nothing, "NothingFound")
        raise typer.Exit(1)
    if summary.errors:
        raise typer.Exit(1)


@command("cloudtrail", read_only=False, group=import_app, path="import cloudtrail")
def cloudtrail_command(
    paths: list[str] = typer.Argument(..., help="CloudTrail files or directories (.json, .json.gz, JSON Lines)."),
    json_flag: bool = json_option(),
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
    _report(summary, json_flag, nothing=f"no CloudTrail records found in {', '.join(paths)}")


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


@command("snapshot", read_only=False, group=import_app, path="import snapshot")
def snapshot_command(
    files: list[str] = typer.Argument(..., help="get-account-authorization-details output (one or more pages)."),
    at: str = typer.Option(..., "--at", help="When the snapshot was taken (ISO-8601)."),
    account: str = typer.Option(None, "--account", help="The account (default: inferred from the ARNs)."),
    json_flag: bool = json_option(),
) -> None:
    """Record an IAM snapshot as the account's state at --at (only the differences, if known)."""
    from ledger.application.importing.runner import import_snapshot

    with open_ledger() as ledger:
        summary = import_snapshot(ledger, files, at=at, account=account)
    _report(summary, json_flag)


@command("drift", read_only=True)
def drift_command(
    since: str = typer.Option(None, "--since", help="Only calls at or after this time (ISO-8601)."),
    json_flag: bool = json_option(),
) -> None:
    """Could vs did: observed calls where AWS and the ledger's state disagree."""
    from ledger.application.importing.drift import drift

    with open_ledger() as ledger:
        report = drift(ledger, since)
    data = report.to_dict()
    if wants_json(json_flag):
        emit_json(data)
        return
    console.print(table("time", "principal", "call", "AWS", "ledger", "explanation",
                        title=f"drift: {data['evaluated']} calls evaluated, {data['agreed']} agree",
                        rows=[(f.at, f.principal, f"{f.action} {f.resource}", f.aws, f.ledger, f.explanation)
                              for f in report.findings]))
    if data["not_applicable"]:
        skipped = ", ".join(f"{k}={v}" for k, v in data["not_applicable"].items())
        console.print(f"not IAM-authorised (skipped): {skipped}", soft_wrap=True)
    if not report.findings:
        console.print("no drift")


__all__ = ["cloudtrail_command", "drift_command", "fail", "snapshot_command"]

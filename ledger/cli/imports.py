"""Import commands: `ledger import cloudtrail|snapshot|config|organization|buckets`, and `ledger drift`.

Thin: parse options, show progress and summaries; all the work is in `ledger.application.importing`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from ledger.cli.app import app, command, console, emit_json, fail, json_option, open_ledger, print_error, wants_json
from ledger.cli.render import styled, table

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ledger.application.importing.runner import ImportProgress, ImportSummary

import_app = typer.Typer(no_args_is_help=True,
                         help="Import real AWS history (CloudTrail, IAM snapshots, AWS Config, Organizations, S3).")
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
    if "conflicts" in data:
        out.add_row("source conflicts", str(len(data["conflicts"])))
    return out


def _conflict_line(conflict: dict[str, Any]) -> str:
    this, other = conflict["this"], conflict["other"]
    return (f"{conflict['fact']} at {conflict['at']}: {this['source']} {this['source_id']} says {this['says']}; "
            f"{other['source']} {other['source_id']} at {other['at']} says {other['says']}")


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
        for conflict in getattr(summary, "conflicts", ()):
            line = styled("sources disagree ", "magenta")
            line.append(_conflict_line(conflict))
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


PhaseProgress = Callable[[str, int, int], None]
_PHASES = {"scan": "reading files", "diff": "comparing with the ledger", "write": "recording"}


def _with_bar(run: Callable[[PhaseProgress | None], ImportSummary], json_flag: bool) -> ImportSummary:
    """Run an observation import with a progress bar per phase (none for JSON or a pipe)."""
    if wants_json(json_flag) or not console.is_terminal:
        return run(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("reading files", total=None)

        def progress(phase: str, done: int, total: int) -> None:
            bar.update(task, description=_PHASES.get(phase, phase), completed=done, total=total)

        return run(progress)


@command("config", read_only=False, group=import_app, path="import config")
def config_command(
    paths: list[str] = typer.Argument(..., help="AWS Config files or directories (ConfigHistory, ConfigSnapshot, "
                                                "get-resource-config-history output; .json or .json.gz)."),
    json_flag: bool = json_option(),
) -> None:
    """Import AWS Config configuration items; re-importing is harmless (keyed by configurationStateId)."""
    from ledger.application.importing.config import import_config

    with open_ledger() as ledger:
        summary = _with_bar(lambda progress: import_config(ledger, paths, progress=progress), json_flag)
    _report(summary, json_flag, nothing=f"no configuration items found in {', '.join(paths)}")


@command("organization", read_only=False, group=import_app, path="import organization")
def organization_command(
    source: Path = typer.Argument(..., help="A directory of `aws organizations` outputs named <command>[.<id>].json, "
                                            "or one JSON file bundling them by those names."),
    at: str = typer.Option(..., "--at", help="When the outputs were taken (ISO-8601)."),
    json_flag: bool = json_option(),
) -> None:
    """Record the organisation (OU tree, accounts, SCPs, RCPs, attachments) as it was at --at.

    Expected files: describe-organization.json, list-roots.json,
    list-organizational-units-for-parent.<PARENT>.json and list-accounts-for-parent.<PARENT>.json
    for the root and each OU, list-policies*.json (SERVICE_CONTROL_POLICY, RESOURCE_CONTROL_POLICY),
    describe-policy.<POLICY>.json and list-targets-for-policy.<POLICY>.json for each policy.
    """
    from ledger.application.importing.organization import import_organization

    with open_ledger() as ledger:
        summary = _with_bar(lambda progress: import_organization(ledger, source, at=at, progress=progress), json_flag)
    _report(summary, json_flag)


@command("buckets", read_only=False, group=import_app, path="import buckets")
def buckets_command(
    file: Path = typer.Argument(..., help='One JSON object: {"Account", "list-buckets": <output>, "buckets": '
                                          '{NAME: {"get-bucket-policy": ..., "get-bucket-ownership-controls": ..., '
                                          '"get-bucket-acl": ..., "get-bucket-location": ...}}}.'),
    at: str = typer.Option(..., "--at", help="When the outputs were taken (ISO-8601)."),
    account: str = typer.Option(None, "--account", help="The owning account (default: the file's \"Account\")."),
    json_flag: bool = json_option(),
) -> None:
    """Record S3 buckets, their policies and Object Ownership as they were at --at."""
    from ledger.application.importing.buckets import import_buckets

    with open_ledger() as ledger:
        summary = import_buckets(ledger, file, at=at, account=account)
    _report(summary, json_flag)


def _sources_report(since: str | None, json_flag: bool) -> None:
    from ledger.application.importing.drift import source_conflicts

    with open_ledger() as ledger:
        data = source_conflicts(ledger, since)
    if wants_json(json_flag):
        emit_json(data)
        return
    rows = [(c["fact"], c["at"], f"{c['this']['source']} {c['this']['source_id']}", c["this"]["says"],
             f"{c['other']['source']} {c['other']['source_id']} ({c['other']['at']})", c["other"]["says"])
            for c in data["conflicts"]]
    console.print(table("fact", "time", "source", "says", "earlier source", "says", rows=rows,
                        title=f"sources that disagree: {len(data['conflicts'])}"))
    if not data["conflicts"]:
        console.print("no disagreement between sources")


@command("drift", read_only=True)
def drift_command(
    since: str = typer.Option(None, "--since", help="Only calls at or after this time (ISO-8601)."),
    sources: bool = typer.Option(False, "--sources", help="Show where sources (CloudTrail, snapshots, Config, "
                                                          "the API) disagree about a fact, instead of could vs did."),
    json_flag: bool = json_option(),
) -> None:
    """Could vs did: observed calls where AWS and the ledger's state disagree (--sources: sources that disagree)."""
    from ledger.application.importing.drift import drift

    if sources:
        _sources_report(since, json_flag)
        return
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


__all__ = ["buckets_command", "cloudtrail_command", "config_command", "drift_command", "fail", "organization_command",
           "snapshot_command"]

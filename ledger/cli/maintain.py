"""Maintenance commands: rebuild and catch up the projections, run the follower, generate
synthetic histories. They write projections or events; they never answer an audit question.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import typer

from ledger.cli.app import app, command, console, emit_json, wants_json
from ledger.cli.audit import JSON, _ledger

bench_app = typer.Typer(help="Synthetic histories and benchmarks.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


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
    events: int | None = typer.Option(None, "--events", help="About how many events to append "
                                      "(default 10,000; the org profile's default is its tier, 10,000,000)."),
    seed: int = typer.Option(1, "--seed", help="Random seed (the same seed gives the same history)."),
    profile: str = typer.Option("default", "--profile", help="default: a few accounts; org: an AWS Organization "
                                "(OU tree, SCPs, landing-zone roles, cross-account chains, jobs and buckets)."),
    accounts: int = typer.Option(200, "--accounts", help="org profile: member accounts, management included."),
    principals: int = typer.Option(50_000, "--principals", help="org profile: users and roles at the start."),
    json_output: bool = JSON,
) -> None:
    """Append a synthetic history of about N events (accounts, principals, churn, jobs)."""
    from ledger.errors import ValidationError

    if profile not in ("default", "org"):
        raise ValidationError(f"unknown profile {profile[:40]!r}: use default or org")
    if min(events if events is not None else 1, accounts, principals) < 1:
        raise ValidationError("--events, --accounts and --principals must be positive")
    with _ledger() as ledger:
        started = time.perf_counter()
        if profile == "org":
            from ledger.application.generate_org import OrgShape, generate_org

            shape = OrgShape(accounts=accounts, principals=principals, events=events or 10_000_000)
            count = generate_org(ledger, shape, seed)
        else:
            from ledger.application.generate import generate

            count = generate(ledger, events or 10_000, seed)
        seconds = time.perf_counter() - started
        if wants_json(json_output):
            emit_json({"events": count, "seconds": round(seconds, 3), "profile": profile})
        else:
            console.print(f"generated {count} events in {seconds:.1f}s ({profile} profile)")

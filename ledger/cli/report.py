"""`ledger report`: one offline HTML page (and `--json` data) of who could act on a resource over a
window, how, what changed it, the objects written into it and who owns them.

Presentation and option handling only: the report comes from `Ledger.report`.
"""

from __future__ import annotations

from typing import Any

import typer

from ledger.cli.app import command, console, emit_json, json_option, open_ledger, wants_json
from ledger.cli.render import table


@command("report", read_only=True)
def report_cmd(
    resource: str = typer.Argument(..., help="The resource ARN (bucket, object, role, MediaConvert queue or job)."),
    action: list[str] = typer.Option(None, "--action", help="An action to report on (repeatable; default: "
                                     "those that matter for the resource's kind)."),
    start: str = typer.Option(None, "--from", help="Window start (ISO-8601 or @POSITION; default: the first "
                              "recorded event)."),
    end: str = typer.Option(None, "--to", help="Window end, exclusive (ISO-8601 or @POSITION; default: now)."),
    html_file: str = typer.Option(None, "--html", help="Write the self-contained HTML page to this file."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Run verify for the provenance footer."),
    json_output: bool = json_option(),
) -> None:
    """Who could act on RESOURCE over a window, how, and what changed it: an offline HTML page."""
    with open_ledger() as ledger:
        data = ledger.report(resource, action or (), start, end, verify=verify)
    size = None
    if html_file:
        from ledger.cli.report_html import write_report_html

        size = write_report_html(html_file, data)
    if wants_json(json_output):
        emit_json(data)
        return
    _print_summary(data)
    if html_file:
        console.print(f"HTML report written to {html_file} ({size} bytes); open it in any browser (works offline).",
                      soft_wrap=True)


def _print_summary(data: dict[str, Any]) -> None:
    window = data["window"]
    console.print(f"Who could act on {data['resource']} from {window['from']} to {window['to']}", soft_wrap=True)
    rows = [(i["principal"], i["action"], i["start"], i["end"] + (" (end)" if i["open_at_end"] else ""),
             i["status"], i["how"]) for i in data["intervals"]]
    console.print(table("principal", "action", "from", "to", "access", "how", rows=rows))
    changes = [(c["at"], ", ".join(f"#{e['position']} {e['event_type']}" for e in c["events"]),
                len(c["gained"]), len(c["lost"]), len(c["changed"])) for c in data["changes"]]
    console.print(table("when", "events", "gained", "lost", "changed", rows=changes, title="What changed"))
    verify = data["provenance"]["verify"]
    result = "not run" if not verify["run"] else ("passed" if verify["ok"] else "FAILED")
    console.print(f"verify at report time: {result}", soft_wrap=True)

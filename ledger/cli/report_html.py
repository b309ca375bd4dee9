"""The one-file HTML page of `ledger report`: a Jinja2 template with plotly.js and the page's script
inlined, and the report's data embedded as JSON (no fetch at view time).

Presentation only: it renders the data `Ledger.report` returns and never computes an answer;
autoescaping is on, so no recorded text can become markup.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ledger.errors import ValidationError

__all__ = ["PLOTLY_VERSION", "report_html", "write_report_html"]

PLOTLY_VERSION = "4.1.1 (basic bundle)"
_ASSETS = "report_assets"
_DEFAULT_ACTIONS = ("s3:PutObject", "sts:AssumeRole", "mediaconvert:CreateJob")


@cache
def _asset(name: str) -> str:
    return resources.files("ledger.cli").joinpath(_ASSETS, name).read_text(encoding="utf-8")


def _json_for_script(data: Any) -> str:
    """JSON that cannot end the <script> element it sits in nor open a comment in it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page_data(data: dict[str, Any]) -> dict[str, Any]:
    """The report as the page embeds it: intervals as rows of indices into tables of principals,
    actions, kinds of access, paths and events (each event once), which the page's script turns
    back into the records `--json` prints. Everything else as it is."""
    events: dict[int, list[Any]] = {}
    tables: dict[str, dict[str, int]] = {"principals": {}, "actions": {}, "how": {}, "paths": {}}

    def index(table: str, value: str) -> int:
        return tables[table].setdefault(value, len(tables[table]))

    def cite(items: list[dict[str, Any]]) -> list[int]:
        for e in items:
            events.setdefault(int(e["position"]), [e.get("event_type"), e.get("occurred_at"), e.get("actor")])
        return [int(e["position"]) for e in items]

    rows = [[index("principals", i["principal"]), index("actions", i["action"]),
             1 if i["status"] == "conditional" else 0, index("how", i["how"]), i["start"], i["end"],
             cite(i["opened_by"]), cite(i["closed_by"]), index("paths", i["path"]), i["missing_context"],
             1 if i["open_at_end"] else 0] for i in data["intervals"]]
    page = {k: v for k, v in data.items() if k not in ("intervals", "outputs", "changes")}
    page["compact"] = {"rows": rows, "events": {str(k): v for k, v in events.items()},
                       **{name: list(values) for name, values in tables.items()}}
    return page


def _final_edges(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The path edges in force at the last change point of the window."""
    on: set[int] = set()
    for sample in data["graph"]["samples"]:
        on |= set(sample["add"])
        on -= set(sample["del"])
    return [data["graph"]["edges"][i] for i in sorted(on)]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("permission-ledger")
    except PackageNotFoundError:
        return "(source tree)"


def report_html(data: dict[str, Any]) -> str:
    """The page for a report's data."""
    from jinja2 import Environment
    from markupsafe import Markup

    env = Environment(autoescape=True, trim_blocks=False, lstrip_blocks=False)
    template = env.from_string(_asset("report.html"))
    actions = [a["action"] for a in data["actions"]]
    default = next((a for a in _DEFAULT_ACTIONS if a in actions), actions[0] if actions else "")
    return template.render(
        r=data, p=data["provenance"], default_action=default, final_edges=_final_edges(data),
        version=_version(), plotly_version=PLOTLY_VERSION,
        data_json=Markup(_json_for_script(_page_data(data))),  # noqa: S704 - escaped above for a script element
        plotly_js=Markup(_asset("plotly-basic.min.js")),  # noqa: S704 - the vendored library, checked for </script
        page_js=Markup(_asset("report.js")),  # noqa: S704 - our own script, no recorded text in it
    )


def write_report_html(path: str, data: dict[str, Any]) -> int:
    """Write the page to `path`; returns its size in bytes. File-system errors are one typed error."""
    target = Path(path)
    page = report_html(data).encode("utf-8")
    try:
        target.write_bytes(page)
    except IsADirectoryError:
        raise ValidationError(f"--html {path}: is a directory; give a file name") from None
    except FileNotFoundError:
        raise ValidationError(f"--html {path}: the directory {target.parent} does not exist") from None
    except OSError as error:
        raise ValidationError(f"--html {path}: cannot write: {error.strerror}") from None
    return len(page)

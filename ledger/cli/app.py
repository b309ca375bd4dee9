"""The `ledger` command-line application object, global options and error translation.

Every failure reaches the user as one readable line and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.application.facade import Ledger

app = typer.Typer(
    name="ledger",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Event-sourced permission ledger: who could do what, when, and through which path.",
)
console = Console()
err_console = Console(stderr=True)

EXIT_ERROR = 2
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    db: str | None = None
    json: bool = False
    log_level: str = "warning"


state = CliState()


@app.callback()
def _global_options(
    db: str = typer.Option(None, "--db", envvar="LEDGER_DB", help="Store URL (default sqlite:///ledger.db)."),
    log_level: str = typer.Option("warning", "--log-level", help="debug, info, warning or error."),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable JSON output."),
) -> None:
    state.db = db
    state.json = json_output
    state.log_level = log_level
    from ledger.adapters.logging import configure_logging  # start-up: structlog only once a command runs

    configure_logging(log_level)


def open_ledger() -> Ledger:
    from ledger.application.facade import Ledger  # start-up: the application loads only when used

    return Ledger.open(state.db)


def wants_json(flag: bool) -> bool:
    return flag or state.json


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, default=str, ensure_ascii=False) + "\n")


def fail(message: str, code: int = EXIT_ERROR) -> None:
    _print_error(message)
    raise typer.Exit(code)


def main() -> None:
    """Console-script entry point: runs the app and translates every error at the boundary."""
    from ledger.cli import registry  # noqa: F401  (registers the commands)

    try:
        # Without standalone mode click *returns* the code of a `typer.Exit` raised inside a
        # command instead of raising it; dropping it made every such exit look like success.
        code = app(standalone_mode=False)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except LedgerError as error:
        _print_error(f"{error.code}: {error.message}")
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        _print_error("interrupted")
        sys.exit(130)
    except typer.Abort:
        _print_error("aborted")
        sys.exit(1)
    except Exception as error:  # noqa: BLE001 - the CLI boundary: a traceback is a bug for the user
        show = getattr(error, "show", None)
        if isinstance(error, typer.TyperException) and callable(show):
            show()  # usage errors: typer prints the usage line and the reason
            sys.exit(EXIT_ERROR)
        _print_error(
            f"internal error ({type(error).__name__}): {str(error).splitlines()[0][:300] if str(error) else ''}"
        )
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else 0)


def _print_error(message: str) -> None:
    # User text may contain "[...]": print it as plain text, never as rich markup.
    line = Text("error: ", style="bold red")
    line.append(message.replace("\n", " "))
    err_console.print(line, highlight=False, soft_wrap=True)

"""The `ledger` command-line application object, global options, command registration and error
translation.

Every failure reaches the user as one readable line (JSON with `--json`) and a non-zero exit
code, never a traceback. A command declared read-only never creates a store.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.text import Text

from ledger.cli.render import console, err_console
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.adapters.store import EventStore
    from ledger.application.facade import Ledger

app = typer.Typer(
    name="ledger",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Event-sourced permission ledger: who could do what, when, and through which path.",
)

EXIT_ERROR = 2
LOG_LEVELS = ("debug", "info", "warning", "error")
F = TypeVar("F", bound=Callable[..., Any])
# The names commands give their own `--json` flag.
_JSON_PARAMS = ("json_output", "json_flag")

JSON_HELP = "Print JSON instead of tables (errors too, on stderr); same as `ledger --json ...`."


def json_option() -> Any:
    """The `--json` flag every command takes (shown as a flag, with its help)."""
    return typer.Option(False, "--json", help=JSON_HELP, metavar="")


@dataclass
class CliState:
    db: str | None = None
    json: bool = False
    log_level: str = "warning"
    read_only: bool = False


state = CliState()
# Every registered command path ("can", "import cloudtrail") and whether it is read-only.
COMMANDS: dict[str, bool] = {}


@app.callback()
def _global_options(
    db: str = typer.Option(None, "--db", envvar="LEDGER_DB", help="Store URL (default sqlite:///ledger.db)."),
    log_level: str = typer.Option("warning", "--log-level", help="debug, info, warning or error."),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable JSON output (errors too).", metavar=""),
) -> None:
    state.db = db
    state.json = json_output
    state.read_only = False
    if log_level.lower() not in LOG_LEVELS:
        raise typer.BadParameter(f"{log_level!r} is not one of {', '.join(LOG_LEVELS)}", param_hint="--log-level")
    state.log_level = log_level.lower()
    from ledger.adapters.logging import configure_logging  # start-up: structlog only once a command runs

    configure_logging(state.log_level)


def command(
    name: str, *, read_only: bool, group: typer.Typer | None = None, path: str | None = None
) -> Callable[[F], F]:
    """Register a command. A read-only one refuses a store that does not exist (one error line
    naming it, exit 2) instead of silently creating an empty ledger and answering from it; a
    writing one creates the store. The command's own `--json` also makes its errors JSON."""

    def register(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            state.read_only = read_only
            if any(kwargs.get(flag) is True for flag in _JSON_PARAMS):
                state.json = True
            return fn(*args, **kwargs)

        (group or app).command(name)(run)
        COMMANDS[path or name] = read_only
        return fn

    return register


def open_store() -> EventStore:
    """The store of `--db`; a read-only command never creates it."""
    from ledger.adapters.store import EventStore  # start-up: the store loads only when used

    return EventStore(state.db, create=not state.read_only)


def open_ledger() -> Ledger:
    from ledger.application.facade import Ledger  # start-up: the application loads only when used

    return Ledger(open_store())


def wants_json(flag: bool) -> bool:
    return flag or state.json


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, default=str, ensure_ascii=False) + "\n")


def fail(message: str, code: int = EXIT_ERROR, *, error_code: str = "Error") -> None:
    """Report one error (a line, or JSON on stderr) and exit with `code`."""
    print_error(message, error_code)
    raise typer.Exit(code)


def fail_with(error: LedgerError) -> None:
    """Report a `LedgerError` and exit 2, as `main` would (for paths that bypass it)."""
    print_error(error.message, error.code)
    raise SystemExit(EXIT_ERROR)


def main() -> None:
    """Console-script entry point: runs the app and translates every error at the boundary."""
    from ledger.cli import registry  # noqa: F401  (registers the commands)

    undecodable = next((n for n, word in enumerate(sys.argv[1:], 1) if not _is_text(word)), None)
    if undecodable is not None:
        # The shell passed bytes that are not UTF-8 (Python keeps them as lone surrogates): no ARN,
        # name or time can hold them, and nothing downstream could store or print them.
        print_error(f"argument {undecodable} is not valid UTF-8 text", "InvalidArgument")
        sys.exit(EXIT_ERROR)
    try:
        # Without standalone mode click *returns* the code of a `typer.Exit` raised inside a
        # command instead of raising it; dropping it made every such exit look like success.
        code = app(standalone_mode=False)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except LedgerError as error:
        print_error(error.message, error.code)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        print_error("interrupted", "Interrupted")
        sys.exit(130)
    except typer.Abort:
        print_error("aborted", "Aborted")
        sys.exit(1)
    except Exception as error:  # noqa: BLE001 - the CLI boundary: a traceback is a bug for the user
        _unexpected(error)
    sys.exit(code if isinstance(code, int) else 0)


def _is_text(word: str) -> bool:
    try:
        word.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unexpected(error: Exception) -> None:
    show = getattr(error, "show", None)
    if isinstance(error, typer.TyperException) and callable(show):
        if _json_requested():
            print_error(str(getattr(error, "message", error)), "UsageError")
        else:
            show()  # usage errors: typer prints the usage line and the reason
        sys.exit(EXIT_ERROR)
    text = str(error).splitlines()[0][:300] if str(error) else ""
    print_error(f"internal error ({type(error).__name__}): {text}", "InternalError")
    sys.exit(EXIT_ERROR)


def _json_requested() -> bool:
    """JSON errors: asked for by a parsed flag, or (for a command line that did not parse) by a
    `--json` among its words."""
    return state.json or "--json" in sys.argv[1:]


def print_error(message: str, code: str = "Error") -> None:
    """One error on stderr: `error: CODE: message` (plain text, never markup), or with `--json`
    the object `{"error": {"code": ..., "message": ...}}`."""
    message = message.replace("\n", " ")
    if _json_requested():
        sys.stderr.write(json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False) + "\n")
        return
    line = Text("error: ", style="bold red")
    line.append(f"{code}: {message}" if code not in ("Error", "Interrupted", "Aborted") else message)
    err_console.print(line, soft_wrap=True)


__all__ = [
    "COMMANDS", "EXIT_ERROR", "JSON_HELP", "app", "command", "console", "emit_json", "fail", "fail_with",
    "json_option", "main", "open_ledger", "open_store", "print_error", "state", "wants_json",
]

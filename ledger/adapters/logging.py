"""Structured logging set-up: key-value events, a console renderer on a terminal, JSON otherwise.

Never pass secrets (passwords, secret access keys, session tokens) to a logger.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
# configure_logging's arguments while structlog is not loaded yet: applied on the first log call,
# so a CLI command that never logs never imports structlog (a tenth of `ledger can`'s start-up).
_pending: dict[str, tuple[str, bool | None, Any]] = {}


def configure_logging(level: str = "warning", *, json_output: bool | None = None, stream: Any = None) -> None:
    _pending.clear()
    if "structlog" not in sys.modules:
        _pending["args"] = (level, json_output, stream)
        return
    _configure(level, json_output, stream)


def _configure(level: str, json_output: bool | None, stream: Any) -> None:
    import structlog

    out = stream or sys.stderr
    if json_output is None:
        json_output = not out.isatty()
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level.lower(), logging.WARNING)),
        logger_factory=(lambda *_: _StreamLogger(stream)) if stream is not None else (lambda *_: _StreamLogger(None)),
        cache_logger_on_first_use=False,
    )


class _StreamLogger:
    """Writes each rendered line to `stream`, or to whatever `sys.stderr` is at that moment (so
    a test harness that swaps stderr never leaves the logger holding a closed file)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def msg(self, message: str) -> None:
        out = self._stream or sys.stderr
        # A closed or broken stream must never turn logging into a failure.
        with contextlib.suppress(ValueError, OSError):
            print(message, file=out, flush=True)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _structlog() -> Any:
    """structlog, configured: as configure_logging last asked, or quiet (warnings and up)
    unless the host application configured structlog itself."""
    import structlog

    pending = _pending.pop("args", ("warning", None, None))
    if not structlog.is_configured():
        _configure(*pending)
    return structlog


class _LazyLogger:
    """A named logger that loads structlog on its first call."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, method: str) -> Any:
        return getattr(_structlog().get_logger(self._name), method)


def get_logger(name: str) -> Any:
    """A structlog logger (loaded on first use); quiet (warnings and up) unless the host
    application configured structlog itself, so embedding the library never floods stdout."""
    return _LazyLogger(name)

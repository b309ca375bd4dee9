"""The projection worker loop for `ledger project --follow`: poll, woken early by NOTIFY.

It only drives `ReadSide.catch_up`; a kill at any point loses nothing (the unit is atomic).
"""

from __future__ import annotations

import time
from typing import Any

from ledger.adapters.logging import get_logger

log = get_logger("projections.follow")


def follow(store: Any, read_side: Any, *, poll: float = 1.0, gap_grace: float = 0.5,
           stop_after: float | None = None) -> None:
    """Run until interrupted (or for `stop_after` seconds). On PostgreSQL, LISTENs on
    eventsourcing's channel so new events are projected within milliseconds; gaps in
    positions are passed only after `gap_grace` seconds (late commits are never skipped)."""
    read_side.projector.gap_grace = gap_grace
    listener = store.listen()
    deadline = None if stop_after is None else time.monotonic() + stop_after
    try:
        while deadline is None or time.monotonic() < deadline:
            count = read_side.catch_up()
            if count:
                log.info("projected", events=count, position=read_side.position())
                continue
            wait = poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic()))
            if listener is not None:
                try:
                    listener.wait(wait)
                except Exception:  # noqa: BLE001 - a lost listener degrades to polling
                    listener = None
            else:
                time.sleep(wait)
    except KeyboardInterrupt:
        return
    finally:
        if listener is not None:
            listener.close()


"""Resolving a query's `at=` (now, an instant, or @POSITION) and `known_at=` to a `Snapshot`.

Parsing is `ledger.timeaxis`'s; this module picks and caches snapshots, and never decides access.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ledger.errors import NotFoundError
from ledger.timeaxis import iso, parse_iso, parse_position, to_us
from projections.memory import MemoryFacts
from projections.results import AsOf
from projections.view import FactSource, Snapshot

_SNAPSHOTS = 64  # past snapshots kept, by (valid time, projection position)
_KNOWN = 4  # log replays kept for known_at positions


def event_at(store: Any, position: int) -> Any:
    """The event recorded at `position`."""
    page = store.read_log(position - 1, 1)
    if not page or page[0].position != position:
        raise NotFoundError(f"no event at position {position}", entity=f"@{position}")
    return page[0]


def resolve_time(at: datetime | str | None, event_at: Callable[[int], Any]) -> tuple[int, AsOf]:
    """`at` → (valid time in µs, as_of description).

    None = now; a datetime or ISO-8601 string = that instant (naive means UTC); "@P" = the
    valid time (occurred_at) of the event at position P: every fact in force at that
    instant counts, including facts recorded after P whose valid time is not later.
    """
    if at is None:
        now = datetime.now(UTC)
        return to_us(now), {"valid_time": iso(to_us(now)), "at": "now"}
    if isinstance(at, str) and at.strip().startswith("@"):
        event = event_at(parse_position(at))
        us = to_us(event.occurred_at)
        return us, {"valid_time": iso(us), "at": at.strip(), "event_type": event.event_type}
    if isinstance(at, datetime):
        us = to_us(at)
    else:
        us = to_us(parse_iso(str(at)))
    return us, {"valid_time": iso(us), "at": iso(us)}


def known_position(known_at: str | int) -> int:
    """The log position of a `known_at=` value ("@P", "P" or P)."""
    return parse_position(str(known_at))


class Snapshots:
    """The snapshots queries read: the current state (constant until the next fact boundary, so
    kept until then or until the projection advances), past states by (valid time, projection
    position), and states as recorded by a log position (replayed into memory)."""

    def __init__(self, facts: FactSource, next_change: Callable[[int], int],
                 replay: Callable[[int], MemoryFacts]) -> None:
        self.facts = facts
        self.next_change = next_change
        self.replay = replay
        self._past: OrderedDict[tuple[int, int], Snapshot] = OrderedDict()
        self._now: tuple[int, int, int, Snapshot] | None = None  # (position, from, until, snapshot)
        self._known: OrderedDict[int, MemoryFacts] = OrderedDict()

    def forget_projection(self) -> None:
        """Drop the snapshots of the projection (its rows are being replaced); replays stay."""
        self._past.clear()
        self._now = None

    def current(self, us: int, position: int) -> Snapshot:
        now = self._now
        if now and now[0] == position and now[1] <= us < now[2]:
            return now[3]
        snap = Snapshot(self.facts, us, position)
        self._now = (position, us, self.next_change(us), snap)
        return snap

    def past(self, us: int, position: int) -> Snapshot:
        key = (us, position)
        cached = self._past.get(key)
        if cached is None:
            cached = self._past[key] = Snapshot(self.facts, us, position)
            if len(self._past) > _SNAPSHOTS:
                self._past.popitem(last=False)
        return cached

    def known(self, us: int, position: int) -> Snapshot:
        memory = self._known.get(position)
        if memory is None:
            memory = self._known[position] = self.replay(position)
            if len(self._known) > _KNOWN:
                self._known.popitem(last=False)
        return Snapshot(memory, us)

"""The projector: feeds log events through the fold into a fact store, exactly once.

It knows neither SQL nor the CLI; each batch's rows and its position commit in one unit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from ledger import events as ev
from ledger.logging import get_logger
from projections.facts import Change, changes_of

log = get_logger("projections")

PROJECTION = "temporal"
Progress = Callable[[int, int], None]


class _Unit(Protocol):
    def lock_position(self) -> int: ...
    def set_position(self, position: int) -> None: ...
    def apply(self, changes: list[Change]) -> None: ...


class _Log(Protocol):
    def read_log(self, after: int = 0, limit: int = 1000, upto: int | None = None) -> list[ev.LedgerEvent]: ...
    def max_position(self) -> int: ...


class Projector:
    """Catch a fact store up with the log, batch by batch.

    Positions may have gaps (PostgreSQL sequences skip values of rolled-back inserts). A gap is
    passed over only once it has been seen for `gap_grace` seconds: with eventsourcing's table
    lock no commit can land behind a visible one, so the default 0 is safe for its recorders; a
    follower sets a grace to stay safe even if a writer committed out of order.
    """

    def __init__(self, log: _Log, facts: Any, *, name: str = PROJECTION, batch: int = 2000,
                 gap_grace: float = 0.0, fold: Callable[[ev.LedgerEvent], list[Change]] = changes_of,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.facts = facts
        self.name = name
        self.batch = batch
        self.gap_grace = gap_grace
        self.fold = fold
        self.clock = clock
        self._gaps: dict[int, float] = {}

    def position(self) -> int:
        return int(self.facts.position(self.name))

    def catch_up(self, progress: Progress | None = None, upto: int | None = None) -> int:
        """Project every recorded event not yet projected; returns how many were folded."""
        done = 0
        total = None
        while True:
            with self.facts.unit(self.name) as unit:
                position = unit.lock_position()
                page = self.log.read_log(position, self.batch, upto)
                if not page:
                    return done
                page = self._until_young_gap(position, page)
                if not page:
                    return done
                changes: list[Change] = []
                for event in page:
                    changes.extend(self.fold(event))
                unit.apply(changes)
                last = page[-1].position
                assert last is not None
                unit.set_position(last)
            done += len(page)
            if progress is not None:
                if total is None:
                    total = max(self.log.max_position() - position, done)
                progress(done, total)
            log.debug("projected", projection=self.name, events=len(page), position=last)

    def _until_young_gap(self, position: int, page: list[ev.LedgerEvent]) -> list[ev.LedgerEvent]:
        if self.gap_grace <= 0:
            return page
        now = self.clock()
        expected = position + 1
        for index, event in enumerate(page):
            pos = event.position or 0
            if pos > expected:
                first_seen = self._gaps.setdefault(expected, now)
                if now - first_seen < self.gap_grace:
                    return page[:index]
                log.info("position_gap_passed", projection=self.name, missing=[expected, pos - 1])
                self._gaps.pop(expected, None)
            expected = pos + 1
        return page

    def rebuild(self, progress: Progress | None = None) -> int:
        """Drop the projection's rows and fold the whole log again."""
        self.facts.reset(self.name)
        fast = getattr(self.facts, "rebuilding", None)
        if fast is not None:
            fast(True)
        try:
            return self.catch_up(progress)
        finally:
            if fast is not None:
                fast(False)

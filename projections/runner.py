"""The projector: feeds log events through the fold into a fact store, exactly once.

It knows neither SQL nor the CLI; each batch's rows and its position commit in one unit.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ledger.adapters.logging import get_logger
from ledger.domain import events as ev
from ledger.gc_pause import collector_paused
from projections.facts import Change
from projections.fold import changes_of
from projections.fold_pool import PARALLEL_MIN_EVENTS, Dropped, as_stored, default_processes, folded_pages
from projections.stored import changes_of_stored

log = get_logger("projections")

PROJECTION = "temporal"
# Called with (events folded so far, events to fold in all).
ProjectionProgress = Callable[[int, int], None]
# A stored event as the recorder returns it: (position, topic, JSON state).
Stored = tuple[int, str, bytes]
# Events read per page by a rebuild (one query each; the fold holds one page at a time).
REBUILD_PAGE = 10_000


class _Unit(Protocol):
    def lock_position(self) -> int: ...
    def set_position(self, position: int) -> None: ...
    def apply(self, changes: list[Change]) -> None: ...


class _Log(Protocol):
    def read_log(self, after: int = 0, limit: int = 1000, upto: int | None = None) -> list[ev.LedgerEvent]: ...
    def max_position(self) -> int: ...


def _stored_reader(log: Any) -> Callable[[int, int, int | None], list[Stored]] | None:
    """Raw pages of the log (`EventStore.stored_page`), when the log has them; None otherwise."""
    return getattr(log, "stored_page", None)


def storable(changes: list[Change], unstorable: Counter[str], projection: str = PROJECTION) -> list[Change]:
    """The changes a fact store can hold. A change whose key, subject or ref holds NUL (which
    PostgreSQL text cannot store, e.g. from an S3 object key) is left out on every store alike,
    counted in `unstorable` by fact kind and logged: reported, never fatal, so no stored event can
    wedge the projection. Payloads are stored as escaped JSON and never need this."""
    if not any("\x00" in c.key or "\x00" in c.subject or "\x00" in c.ref for c in changes):
        return changes
    kept = []
    for change in changes:
        if "\x00" in change.key or "\x00" in change.subject or "\x00" in change.ref:
            _not_stored(unstorable, projection, (change.kind, change.position, change.cause, change.key))
        else:
            kept.append(change)
    return kept


def _not_stored(unstorable: Counter[str], projection: str, dropped: Dropped) -> None:
    kind, position, cause, key = dropped
    unstorable[kind] += 1
    log.warning("fact_not_stored", projection=projection, position=position, kind=kind,
                cause=cause, key=repr(key)[:200], reason="NUL in a text column")


class Projector:
    """Catch a fact store up with the log, batch by batch.

    Positions may have gaps (PostgreSQL sequences skip values of rolled-back inserts). A gap is
    passed over only once it has been seen for `gap_grace` seconds: with eventsourcing's table
    lock no commit can land behind a visible one, so the default 0 is safe for its recorders; a
    follower sets a grace to stay safe even if a writer committed out of order.

    With the default fold and an `EventStore` log, stored events are folded from their JSON
    (`changes_of_stored`) rather than decoded into validated models first.
    """

    def __init__(self, log: _Log, facts: Any, *, name: str = PROJECTION, batch: int = 2000,
                 gap_grace: float = 0.0, fold: Callable[[ev.LedgerEvent], list[Change]] = changes_of,
                 clock: Callable[[], float] = time.monotonic, fold_processes: int | None = None) -> None:
        self.log = log
        self.facts = facts
        self.name = name
        self.batch = batch
        self.gap_grace = gap_grace
        self.fold = fold
        self.clock = clock
        # Worker processes that fold a long rebuild beside the inserts (0: fold in this process).
        self.fold_processes = default_processes() if fold_processes is None else fold_processes
        self._gaps: dict[int, float] = {}
        # Facts left out by `storable`, by kind: since the last rebuild, or since this projector began.
        self.unstorable: Counter[str] = Counter()
        self._stored = _stored_reader(log) if fold is changes_of else None

    def position(self) -> int:
        return int(self.facts.position(self.name))

    def _page(self, position: int, limit: int, upto: int | None) -> tuple[int, int, list[Change]] | None:
        """(last position, events, changes) of the next page after `position`, up to the first
        young gap; None when there is nothing (yet) to fold."""
        if self._stored is not None:
            stored = self._stored(position, limit, upto)
            kept = self._until_young_gap(position, [s[0] for s in stored])
            if not kept:
                return None
            changes = [c for p, topic, state in stored[:kept] for c in changes_of_stored(p, topic, state)]
            return stored[kept - 1][0], kept, storable(changes, self.unstorable, self.name)
        page = self.log.read_log(position, limit, upto)
        kept = self._until_young_gap(position, [e.position or 0 for e in page])
        if not kept:
            return None
        changes = [c for event in page[:kept] for c in self.fold(event)]
        last = page[kept - 1].position
        assert last is not None
        return last, kept, storable(changes, self.unstorable, self.name)

    def catch_up(self, progress: ProjectionProgress | None = None, upto: int | None = None) -> int:
        """Project every recorded event not yet projected; returns how many were folded."""
        done = 0
        total = None
        while True:
            with self.facts.unit(self.name) as unit:
                position = unit.lock_position()
                page = self._page(position, self.batch, upto)
                if page is None:
                    return done
                last, count, changes = page
                unit.apply(changes)
                unit.set_position(last)
            done += count
            if progress is not None:
                if total is None:
                    total = max(self.log.max_position() - position, done)
                progress(done, total)
            log.debug("projected", projection=self.name, events=count, position=last)

    def _until_young_gap(self, position: int, positions: list[int]) -> int:
        """How many of `positions` (ascending, after `position`) may be folded now."""
        if self.gap_grace <= 0:
            return len(positions)
        now = self.clock()
        expected = position + 1
        for index, pos in enumerate(positions):
            if pos > expected:
                first_seen = self._gaps.setdefault(expected, now)
                if now - first_seen < self.gap_grace:
                    return index
                log.info("position_gap_passed", projection=self.name, missing=[expected, pos - 1])
                self._gaps.pop(expected, None)
            expected = pos + 1
        return len(positions)

    def rebuild(self, progress: ProjectionProgress | None = None, upto: int | None = None) -> int:
        """Fold the whole log (or its prefix up to position `upto`) again from nothing.

        A store with `rebuild_from` (SQL) replaces its rows in one transaction with the
        position (readers see the old projection until the commit; a crash leaves it intact);
        otherwise the rows are dropped and caught up batch by batch."""
        self.unstorable.clear()  # from here on it counts what the rebuilt projection left out
        bulk = getattr(self.facts, "rebuild_from", None)
        if bulk is None or self._stored is None:
            self.facts.reset(self.name)
            return self.catch_up(progress, upto)
        total = self.log.max_position() if upto is None else upto

        def pages() -> Iterator[tuple[int, int, list[Change]]]:
            done = 0
            for position, count, changes in self._rebuild_pages(upto, total):
                yield position, count, changes
                done += count
                if progress is not None:
                    progress(done, max(total, done))
                log.debug("rebuilt", projection=self.name, events=count, position=position)

        with collector_paused():
            return int(bulk(self.name, pages()))

    def _rebuild_pages(self, upto: int | None, total: int) -> Iterator[tuple[int, int, list[Change]]]:
        """The rebuild's pages with payloads as stored JSON text: folded by worker processes when
        the log is long (and no young gap can stop the fold), otherwise here."""
        stored = self._stored
        if stored is not None and self.fold_processes > 0 and self.gap_grace <= 0 and total >= PARALLEL_MIN_EVENTS:
            for position, count, changes, dropped in folded_pages(
                    lambda after: stored(after, REBUILD_PAGE, upto), self.fold_processes):
                for item in dropped:
                    _not_stored(self.unstorable, self.name, item)
                yield position, count, changes
            return
        position = 0
        while True:
            page = self._page(position, REBUILD_PAGE, upto)
            if page is None:
                return
            position, count, changes = page
            yield position, count, [as_stored(c) for c in changes]

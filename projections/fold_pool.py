"""Folding a long log on other cores: raw pages of stored events go to worker processes, which
run the pure stored fold and send back change rows (payload as its stored JSON text), in order.

Pure work only in the workers (no storage, no logging, no clock); the caller reads the log and
writes the rows. It never changes what a page folds to: an error in a worker is reproduced in the
caller by folding that page again itself.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from typing import Any

from projections.facts import Change, payload_text
from projections.stored import changes_of_stored

__all__ = ["PARALLEL_MIN_EVENTS", "as_stored", "default_processes", "fold_page", "folded_pages"]

# A stored event as the recorder returns it: (position, topic, JSON state).
Stored = tuple[int, str, bytes]
# A change row: the `Change` fields with the payload as its stored JSON text.
Row = tuple[Any, ...]
# Below this many events a rebuild folds in its own process: starting a worker (importing the
# event models) costs about half a second of CPU.
PARALLEL_MIN_EVENTS = 100_000
# A change whose text columns hold NUL, which no store keeps: (kind, position, cause, key).
Dropped = tuple[str, int, str, str]

# fork where there is one: a worker then needs no imports (spawn costs half a second of CPU each)
# and never re-runs the caller's `__main__` (spawn re-imports it, which runs an unguarded script
# again). The worker only folds bytes it is sent: it touches no lock, connection or thread it
# inherits, and leaves with `os._exit` (no inherited exit handlers run).
_START = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"

_as_change: Callable[[Row], Change] = partial(tuple.__new__, Change)


def as_stored(change: Change) -> Change:
    """The change with its payload as the stored JSON text (what a rebuild's loader takes)."""
    return _as_change((*change[:9], payload_text(change[9])))


def default_processes() -> int:
    """Fold workers for a long rebuild: one per core beyond the one that inserts (at most 2);
    none in a daemonic process, which may not have children."""
    if multiprocessing.current_process().daemon:
        return 0
    return max(0, min(2, (os.cpu_count() or 1) - 1))


def _has_nul(change: Change) -> bool:
    return "\x00" in change[0] or "\x00" in change[2] or "\x00" in change[3]


def fold_page(page: list[Stored]) -> tuple[list[Row], list[Dropped]] | None:
    """The change rows of a page (plain tuples, cheap to send), the changes no store can hold
    left out and listed; None when any event fails to fold (the caller then folds the page
    itself, so that it raises exactly as the fold does)."""
    rows: list[Row] = []
    dropped: list[Dropped] = []
    try:
        for position, topic, state in page:
            for c in changes_of_stored(position, topic, state):
                if _has_nul(c):
                    dropped.append((c[1], c[6], c[8], c[0]))
                else:
                    rows.append((*c[:9], payload_text(c[9])))
    except Exception:  # noqa: BLE001 - re-raised by the caller's own fold of the page
        return None
    return rows, dropped


def _refold(page: list[Stored]) -> tuple[list[Row], list[Dropped]]:
    folded = fold_page(page)
    if folded is None:  # raises the fold's own error here, in the caller
        for position, topic, state in page:
            changes_of_stored(position, topic, state)
        raise AssertionError("a page failed to fold in a worker but folds here")
    return folded


def folded_pages(read: Callable[[int], list[Stored]], processes: int, ahead: int = 2
                 ) -> Iterator[tuple[int, int, list[Change], list[Dropped]]]:
    """(last position, events, changes, dropped) of each page `read(after)` returns, in log
    order, folded by `processes` workers with up to `processes + ahead` pages in flight."""
    context = multiprocessing.get_context(_START)
    pool = ProcessPoolExecutor(max_workers=processes, mp_context=context)
    flight: deque[tuple[list[Stored], Future[tuple[list[Row], list[Dropped]] | None]]] = deque()
    position, exhausted = 0, False
    try:
        while True:
            while not exhausted and len(flight) < processes + ahead:
                page = read(position)
                if not page:
                    exhausted = True
                    break
                position = page[-1][0]
                flight.append((page, pool.submit(fold_page, page)))
            if not flight:
                return
            page, future = flight.popleft()
            folded = future.result()
            rows, dropped = folded if folded is not None else _refold(page)
            yield page[-1][0], len(page), list(map(_as_change, rows)), dropped
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

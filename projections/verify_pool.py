"""The full projection check on a second core: the caller reads the snapshot and verifies the log
(the Merkle tree) while a forked worker folds the same records and checks the stored change rows
and the intervals they derive, page by page, exactly as `ProjectionCheck` does in one process.

The worker reads nothing itself (everything comes from the caller's one snapshot) and returns the
check's findings; it never writes, logs or repairs.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from ledger.errors import StoreError
from projections.digest import ChangeRow
from projections.facts import FactRow
from projections.verify import ProjectionCheck, stored_facts_total

__all__ = ["PARALLEL_MIN_EVENTS", "ParallelCheck", "full_check"]

# Below this many projected events the check runs in the caller (a worker costs a fork and the
# transfer of every record).
PARALLEL_MIN_EVENTS = 100_000
# Records per page sent to the worker.
PAGE = 4096
# The log's record as the check takes it: (position, topic, JSON state).
_Rec = tuple[int, str, bytes]


def full_check(tracked: int, stored: Iterable[ChangeRow]) -> ProjectionCheck | ParallelCheck:
    """A full check of a projection tracked up to `tracked`: in a worker process when the
    projection is long and the platform can fork, otherwise in this one."""
    if (tracked >= PARALLEL_MIN_EVENTS and "fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon and (os.cpu_count() or 1) > 1):
        return ParallelCheck(tracked, stored)
    return ProjectionCheck(tracked, stored)


class _Feed:
    """The stored change rows as they arrive, page by page. Each page brings every row up to
    its last event and one beyond (or says the rows have ended), so the check's look-ahead
    never finds it empty mid-stream."""

    def __init__(self) -> None:
        self.rows: deque[ChangeRow] = deque()
        self.ended = False

    def __iter__(self) -> Iterator[ChangeRow]:
        return self

    def __next__(self) -> ChangeRow:
        if self.rows:
            return self.rows.popleft()
        if self.ended:
            raise StopIteration
        raise RuntimeError("the stored change rows ran dry before their page")


def _serve(conn: Connection, tracked: int, key: bytes) -> None:
    """The worker: pages of (records, rows, rows ended) until records is None; sends back the
    check, its change rows and tracking checked, its intervals digested except the keys that
    need the snapshot (or the error that stopped it)."""
    try:
        feed = _Feed()
        check: ProjectionCheck | None = None
        while True:
            records, rows, ended = conn.recv()
            feed.rows.extend(rows)
            feed.ended = ended
            if check is None:
                check = ProjectionCheck(tracked, feed, facts_key=key)
            if records is None:
                break
            add = check.add
            for position, topic, state in records:
                add(position, topic, state)
        check.finish_changes()
        conn.send(("ok", check))
    except BaseException as error:  # noqa: BLE001 - reported by the caller as a store error
        conn.send(("error", f"{type(error).__name__}: {error}"[:300]))
    finally:
        conn.close()


class ParallelCheck:
    """`ProjectionCheck.add` in a worker: `add` the log's records in order, then `result`."""

    def __init__(self, tracked: int, stored: Iterable[ChangeRow]) -> None:
        self.tracked = tracked
        self.key = os.urandom(32)
        self._stored = iter(stored)
        self._pending: ChangeRow | None = next(self._stored, None)
        self._records: list[_Rec] = []
        context = multiprocessing.get_context("fork")  # the worker needs no imports nor __main__
        self._conn, child = context.Pipe()
        self._worker = context.Process(target=_serve, args=(child, tracked, self.key), daemon=True,
                                       name="projection-check")
        self._worker.start()
        child.close()

    def add(self, position: int, topic: str, state: bytes) -> None:
        self._records.append((position, topic, state))
        if len(self._records) >= PAGE:
            self._ship()

    def _ship(self) -> None:
        if not self._records:
            return
        last = self._records[-1][0]
        rows: list[ChangeRow] = []
        stored = self._stored
        while self._pending is not None:
            row = self._pending
            rows.append(row)
            self._pending = next(stored, None)
            if row[6] > last:
                break
        self._send((self._records, rows, self._pending is None))
        self._records = []

    def _send(self, message: Any) -> None:
        try:
            self._conn.send(message)
        except (BrokenPipeError, EOFError, OSError):
            self._fail("the projection check's worker stopped")

    def _fail(self, why: str) -> None:
        self._worker.join(timeout=5)
        raise StoreError(f"{why}; run `ledger verify` again")

    def result(self, stored_facts: Iterable[FactRow]) -> tuple[ProjectionCheck, int]:
        """The worker's check after the last record, and the digest of `stored_facts`, taken
        here while the worker finishes."""
        self._ship()
        rest = ([self._pending] if self._pending is not None else []) + list(self._stored)
        self._pending = None
        self._send((None, rest, True))
        total = stored_facts_total(self.key, stored_facts)
        try:
            status, value = self._conn.recv()
        except (EOFError, OSError):
            self._fail("the projection check's worker stopped")
        self._worker.join()
        self._conn.close()
        if status != "ok":
            self._fail(f"the projection check failed in its worker ({value})")
        assert isinstance(value, ProjectionCheck)
        return value, total

    def close(self) -> None:
        """Stop the worker (after an error on the caller's side)."""
        if self._worker.is_alive():
            self._worker.kill()
            self._worker.join()
        self._conn.close()

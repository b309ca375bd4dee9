"""Bulk loading of the fact tables for a rebuild or a projection batch: rows as plain tuples,
executemany on SQLite, binary COPY on PostgreSQL, on a writer thread beside the fold.

It writes only on the connection (and in the transaction) its caller hands it; it never commits.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, inspect
from sqlalchemy.engine import Connection

from projections.facts import EMPTY_PAYLOAD, Change, FactRow, IntervalStream, encode_payload
from projections.tables import fact_changes, facts

_CHANGE_COLUMNS = [c.name for c in fact_changes.columns if c.name != "id"]
_FACT_COLUMNS = [c.name for c in facts.columns if c.name != "id"]
_EMPTY = EMPTY_PAYLOAD
_COPY_TYPES = {
    table.name: ["int8" if isinstance(c.type, BigInteger) else "int4" if isinstance(c.type, Integer) else "text"
                 for c in table.columns if c.name != "id"]
    for table in (fact_changes, facts)
}
# Rows per executemany / COPY call during a rebuild.
_FLUSH = 20_000


def change_row(c: Change) -> tuple[Any, ...]:
    """The change's columns in table order: the `Change` fields themselves, payload as JSON."""
    payload = c[9]
    return (*c[:9], encode_payload(payload).decode() if payload else _EMPTY)


class Writer:
    """Bulk inserts of plain tuples on the unit's own DBAPI connection (same transaction):
    executemany of one prepared INSERT, or COPY on PostgreSQL. SQLAlchemy's per-row parameter
    processing cost more than SQLite's own insert work."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        mark = "%s" if self.postgres else "?"
        # Table and column names come from `tables`, never from input.
        self._sql = {
            name: f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"  # noqa: S608
            for name, cols in ((fact_changes.name, _CHANGE_COLUMNS), (facts.name, _FACT_COLUMNS))
        }
        # Binary COPY: no text escaping of the payloads on either side.
        self._copy = {
            name: f"COPY {name} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)"
            for name, cols in ((fact_changes.name, _CHANGE_COLUMNS), (facts.name, _FACT_COLUMNS))
        }

    def insert(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.postgres and len(rows) > 50:
            driver = self.conn.connection.driver_connection
            assert driver is not None
            with driver.cursor() as cur, cur.copy(self._copy[table]) as copy:
                copy.set_types(_COPY_TYPES[table])
                for row in rows:
                    copy.write_row(row)
            return
        self.conn.exec_driver_sql(self._sql[table], list(rows))


class _Behind:
    """Runs a writer's inserts on a second thread, in order, while the caller folds the next
    page: SQLite (inside sqlite3_step) and psycopg (waiting on the server) release the GIL, so
    the B-tree work overlaps with the fold on another core. The caller never touches the
    connection until `finish` has drained the queue."""

    def __init__(self, writer: Writer, depth: int = 4) -> None:
        self.writer = writer
        self.queue: queue.Queue[tuple[str, Sequence[tuple[Any, ...]]] | None] = queue.Queue(depth)
        self.error: BaseException | None = None
        self.cpu = 0.0  # seconds of CPU the thread spent (SQLite's B-tree work; psycopg's COPY)
        self.thread = threading.Thread(target=self._run, name="projection-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.writer.insert(*item)
                except BaseException as error:  # noqa: BLE001 - re-raised on the caller's thread
                    self.error = error
        self.cpu = time.thread_time()

    def insert(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if self.error is not None:
            self.finish()
        self.queue.put((table, rows))

    def finish(self, *, failing: bool = False) -> None:
        """Wait for every queued insert; re-raise the first one that failed (unless the caller
        is already failing: its own error is the one to report)."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        if self.error is not None and not failing:
            raise self.error


def secondary_indexes(conn: Connection) -> list[Index]:
    """The plain (non-unique, column) indexes the database has on the two fact tables, as
    migrated: whatever revisions added, not only those `tables` declares."""
    found = []
    inspector = inspect(conn)
    for table in (facts, fact_changes):
        for info in inspector.get_indexes(table.name):
            columns = info.get("column_names") or []
            if info.get("unique") or not columns or None in columns or not info.get("name"):
                continue
            found.append(Index(info["name"], *[table.c[c] for c in columns if c is not None]))
    return found


def load(writer: Writer, stream: IntervalStream,
          batches: Iterable[tuple[int, int, list[Change]]]) -> tuple[int, int, float]:
    """Insert every change of `batches` (payloads as their stored JSON text) and the intervals
    they derive (the open ones last), the inserts on a second thread; returns (events, last
    position, the insert thread's CPU s)."""
    behind = _Behind(writer)
    add = stream.add
    change_rows: list[tuple[Any, ...]] = []
    rows: list[FactRow] = []
    done = last = 0
    try:
        for position, count, changes in batches:
            change_rows += changes
            for c in changes:
                closed = add(c, c[9])
                if closed is not None:
                    rows.append(closed)
            if len(change_rows) >= _FLUSH:
                behind.insert(fact_changes.name, change_rows)
                change_rows = []
            if len(rows) >= _FLUSH:
                behind.insert(facts.name, rows)
                rows = []
            done += count
            last = position
        behind.insert(fact_changes.name, change_rows)
        behind.insert(facts.name, rows)
        del change_rows, rows
        behind.insert(facts.name, stream.open_rows())
    except BaseException:
        behind.finish(failing=True)
        raise
    behind.finish()
    return done, last, behind.cpu

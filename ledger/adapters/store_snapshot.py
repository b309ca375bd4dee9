"""One consistent, read-only view of a store: the raw event records, the projection's tables,
the source-id table and the stored checkpoints, all from the same transaction.

It reads and never writes (SQLite opened read-only; PostgreSQL in a READ ONLY, REPEATABLE READ
transaction), never decodes events, and builds no SQL from values: table names are constants.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from ledger.adapters.store import EVENTS_TABLE, SOURCE_KEYS_TABLE, EventStore
from ledger.errors import LedgerError, StoreError
from ledger.integrity.leaves import Record
from projections.tables import fact_changes, facts, tracking

__all__ = ["CHECKPOINTS_TABLE", "StoreSnapshot", "open_snapshot"]

CHECKPOINTS_TABLE = "ledger_checkpoints"
PROJECTION = "temporal"
_FETCH = 20_000
_CHANGE_COLUMNS = "fact_key, kind, subject, ref, op, at, position, seq, cause, payload"
_FACT_COLUMNS = ("fact_key, kind, subject, ref, valid_from, valid_to, opened_position, opened_type, "
                 "closed_position, closed_type, payload")
_names = itertools.count()


def _first_line(error: BaseException) -> str:
    return (str(error).strip() or type(error).__name__).splitlines()[0][:300]


class StoreSnapshot:
    """Queries over one read transaction; every iterator may be consumed alongside the others."""

    def __init__(self, conn: Any, dialect: str, schema: str | None) -> None:
        self.conn = conn
        self.dialect = dialect
        self.schema = schema
        self.mark = "?" if dialect == "sqlite" else "%s"

    def _table(self, name: str) -> str:
        return f'"{self.schema}".{name}' if self.schema else name

    def has_table(self, name: str) -> bool:
        if self.dialect == "sqlite":
            found = self.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
            return found is not None
        row = self.conn.execute("SELECT to_regclass(%s)", (self._table(name),)).fetchone()
        return row is not None and row[0] is not None

    def _stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        if self.dialect == "sqlite":
            cursor = self.conn.execute(sql, tuple(params))
            while rows := cursor.fetchmany(_FETCH):
                yield from rows
            return
        with self.conn.cursor(name=f"ledger_snapshot_{next(_names)}") as cursor:
            cursor.itersize = _FETCH
            cursor.execute(sql, tuple(params))
            yield from cursor

    # -- the log ---------------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        """Every stored event as (position, originator_id, version, topic, state), undecoded."""
        if self.dialect == "sqlite":
            # CAST: a state rewritten as TEXT behind the ledger's back must hash as its bytes.
            sql = (f"SELECT rowid, originator_id, originator_version, topic, CAST(state AS BLOB) "  # noqa: S608
                   f"FROM {EVENTS_TABLE} ORDER BY rowid")
            yield from self._stream(sql)
            return
        sql = (f"SELECT notification_id, originator_id, originator_version, topic, state "  # noqa: S608
               f"FROM {self._table(EVENTS_TABLE)} ORDER BY notification_id")
        for position, originator_id, version, topic, state in self._stream(sql):
            yield position, originator_id, version, topic, bytes(state)

    def _position_column(self) -> str:
        return "rowid" if self.dialect == "sqlite" else "notification_id"

    def count_after(self, after: int) -> int:
        """How many events the log holds after position `after`."""
        sql = f"SELECT count(*) FROM {self._table(EVENTS_TABLE)} WHERE {self._position_column()} > {self.mark}"  # noqa: S608
        return int(self.conn.execute(sql, (after,)).fetchone()[0])

    def position_before_offset(self, after: int, offset: int) -> int | None:
        """The position after which the page starting `offset` events after `after` begins
        (None when the log has no event there)."""
        if offset == 0:
            return after
        column = self._position_column()
        sql = (f"SELECT {column} FROM {self._table(EVENTS_TABLE)} WHERE {column} > {self.mark} "  # noqa: S608
               f"ORDER BY {column} LIMIT 1 OFFSET {self.mark}")
        row = self.conn.execute(sql, (after, offset - 1)).fetchone()
        return None if row is None else int(row[0])

    def source_key_digests(self) -> Iterator[bytes]:
        """The stored source-id digests (16 bytes each), in no particular order."""
        if not self.has_table(SOURCE_KEYS_TABLE):
            return
        for (digest,) in self._stream(f"SELECT source_key FROM {self._table(SOURCE_KEYS_TABLE)}"):  # noqa: S608
            yield bytes(digest)

    def checkpoints(self) -> list[str]:
        """The checkpoints saved in the store (JSON documents), oldest first."""
        if not self.has_table(CHECKPOINTS_TABLE):
            return []
        rows = self.conn.execute(f"SELECT body FROM {self._table(CHECKPOINTS_TABLE)} ORDER BY id").fetchall()  # noqa: S608
        return [str(row[0]) for row in rows]

    # -- the projection ----------------------------------------------------------------------

    def has_projection(self) -> bool:
        return all(self.has_table(t.name) for t in (tracking, facts, fact_changes))

    def tracked_position(self) -> int:
        row = self.conn.execute(f"SELECT position FROM {self._table(tracking.name)} WHERE name = {self.mark}",  # noqa: S608
                                (PROJECTION,)).fetchone()
        return int(row[0]) if row else 0

    def change_rows(self) -> Iterator[tuple[Any, ...]]:
        """Every stored change row, in (position, seq) order (the table's unique index)."""
        yield from self._stream(f"SELECT {_CHANGE_COLUMNS} FROM {self._table(fact_changes.name)} "  # noqa: S608
                                "ORDER BY position, seq")

    def fact_rows(self, kind: str | None = None) -> Iterator[tuple[Any, ...]]:
        """Every stored interval (of one kind), in no particular order."""
        sql = f"SELECT {_FACT_COLUMNS} FROM {self._table(facts.name)}"  # noqa: S608
        yield from self._stream(sql + f" WHERE kind = {self.mark}" if kind else sql, (kind,) if kind else ())

    def changes_of_kind(self, kind: str) -> Iterator[tuple[Any, ...]]:
        yield from self._stream(f"SELECT {_CHANGE_COLUMNS} FROM {self._table(fact_changes.name)} "  # noqa: S608
                                f"WHERE kind = {self.mark}", (kind,))

    def changes_of_keys(self, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(keys), 400):
            chunk = list(keys[start:start + 400])
            marks = ", ".join([self.mark] * len(chunk))
            out.extend(self.conn.execute(f"SELECT {_CHANGE_COLUMNS} FROM {self._table(fact_changes.name)} "  # noqa: S608
                                         f"WHERE fact_key IN ({marks})", chunk).fetchall())
        return out


def _lenient_text(raw: bytes) -> str:
    # Invalid UTF-8 planted in a text column must become a finding, not a decoding error.
    return raw.decode("utf-8", "surrogateescape")


@contextlib.contextmanager
def _sqlite(path: str) -> Iterator[StoreSnapshot]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    conn.text_factory = _lenient_text
    try:
        conn.execute("BEGIN")  # one snapshot for the whole read (WAL readers never block writers)
        yield StoreSnapshot(conn, "sqlite", None)
    finally:
        conn.close()


@contextlib.contextmanager
def _postgres(store: EventStore) -> Iterator[StoreSnapshot]:
    import psycopg
    from psycopg.rows import tuple_row

    assert store.url.pg_params is not None
    with psycopg.connect(**store.url.pg_params, row_factory=tuple_row) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield StoreSnapshot(conn, "postgresql", store.url.schema)
        finally:
            conn.rollback()


@contextlib.contextmanager
def open_snapshot(store: EventStore) -> Iterator[StoreSnapshot]:
    """A read-only snapshot of an SQLite file or a PostgreSQL schema; driver errors become one
    typed `StoreError`."""
    url = store.url
    if url.dialect == "sqlite" and url.sqlite_path in (None, ":memory:"):
        raise StoreError("an in-memory store has no snapshot to verify")
    try:
        with _sqlite(url.sqlite_path or "") if url.dialect == "sqlite" else _postgres(store) as snapshot:
            yield snapshot
    except LedgerError:
        raise
    except Exception as error:  # noqa: BLE001 - driver errors become one typed store error
        raise StoreError(f"cannot read the store: {_first_line(error)}") from None

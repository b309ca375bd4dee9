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

__all__ = ["CHECKPOINTS_TABLE", "StoreSnapshot", "UndecodableTextError", "open_snapshot"]

CHECKPOINTS_TABLE = "ledger_checkpoints"
PROJECTION = "temporal"
_FETCH = 20_000
_CHANGE_COLUMNS = "fact_key, kind, subject, ref, op, at, position, seq, cause, payload"
_FACT_COLUMNS = ("fact_key, kind, subject, ref, valid_from, valid_to, opened_position, opened_type, "
                 "closed_position, closed_type, payload")
_names = itertools.count()


class UndecodableTextError(StoreError):
    """A projection table holds bytes that are not UTF-8 text: it was edited behind the ledger."""


def _first_line(error: BaseException) -> str:
    return (str(error).strip() or type(error).__name__).splitlines()[0][:300]


def _statements(dialect: str, schema: str | None) -> dict[str, str]:
    """Every statement of a snapshot, built once from constants only: table and column names of
    this module and `projections.tables`, the placeholder style and the schema (which
    `StoreUrl.parse` restricts to [a-z_][a-z0-9_]*). Values are always bound parameters."""
    mark = "?" if dialect == "sqlite" else "%s"

    def table(name: str) -> str:
        return f'"{schema}".{name}' if schema else name

    position = "rowid" if dialect == "sqlite" else "notification_id"
    state = "CAST(state AS BLOB)" if dialect == "sqlite" else "state"
    events, changes = table(EVENTS_TABLE), table(fact_changes.name)
    # S608 below: every interpolated name is one of the constants above, never a value.
    return {
        # CAST: a state rewritten as TEXT behind the ledger's back must hash as its bytes.
        "records": f"SELECT {position}, originator_id, originator_version, topic, {state} "  # noqa: S608
                   f"FROM {events} ORDER BY {position}",
        "count_after": f"SELECT count(*) FROM {events} WHERE {position} > {mark}",  # noqa: S608
        "offset": f"SELECT {position} FROM {events} WHERE {position} > {mark} "  # noqa: S608
                  f"ORDER BY {position} LIMIT 1 OFFSET {mark}",
        "source_keys": f"SELECT source_key FROM {table(SOURCE_KEYS_TABLE)}",  # noqa: S608
        "checkpoints": f"SELECT body FROM {table(CHECKPOINTS_TABLE)} ORDER BY id",  # noqa: S608
        "tracked": f"SELECT position FROM {table(tracking.name)} WHERE name = {mark}",  # noqa: S608
        "changes": f"SELECT {_CHANGE_COLUMNS} FROM {changes} ORDER BY position, seq",  # noqa: S608
        "changes_of_kind": f"SELECT {_CHANGE_COLUMNS} FROM {changes} WHERE kind = {mark}",  # noqa: S608
        "changes_of_keys": f"SELECT {_CHANGE_COLUMNS} FROM {changes} "  # noqa: S608
                           "WHERE fact_key IN ({marks})",
        "facts": f"SELECT {_FACT_COLUMNS} FROM {table(facts.name)}",  # noqa: S608
        "kinds": f"SELECT kind FROM {table(facts.name)} UNION SELECT kind FROM {changes}",  # noqa: S608
        "facts_of_kind": f"SELECT {_FACT_COLUMNS} FROM {table(facts.name)} WHERE kind = {mark}",  # noqa: S608
        "mark": mark,
    }


class StoreSnapshot:
    """Queries over one read transaction; every iterator may be consumed alongside the others."""

    def __init__(self, conn: Any, dialect: str, schema: str | None) -> None:
        self.conn = conn
        self.dialect = dialect
        self.schema = schema
        self.sql = _statements(dialect, schema)

    def has_table(self, name: str) -> bool:
        if self.dialect == "sqlite":
            found = self.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
            return found is not None
        qualified = f'"{self.schema}".{name}' if self.schema else name
        row = self.conn.execute("SELECT to_regclass(%s)", (qualified,)).fetchone()
        return row is not None and row[0] is not None

    def _stream(self, sql: str, params: Sequence[Any] = (), *, lenient: bool = False) -> Iterator[tuple[Any, ...]]:
        if self.dialect == "sqlite":
            # The log's text is read leniently (a planted invalid byte must reach the hashes);
            # the projection's with SQLite's own decoder, several times faster.
            factory = _lenient_text if lenient else str
            self.conn.text_factory = factory
            cursor = self.conn.execute(sql, tuple(params))
            while True:
                self.conn.text_factory = factory  # streams interleave on one connection
                try:
                    rows = cursor.fetchmany(_FETCH)
                except sqlite3.OperationalError as error:
                    if "decode" not in str(error):
                        raise
                    raise UndecodableTextError("a table holds text that is not UTF-8 (edited behind the "
                                               "ledger's back)") from None
                if not rows:
                    return
                yield from rows
            return
        with self.conn.cursor(name=f"ledger_snapshot_{next(_names)}") as cursor:
            cursor.itersize = _FETCH
            cursor.execute(sql, tuple(params))
            yield from cursor

    def _one(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self.sql[statement], tuple(params)).fetchone()

    # -- the log ---------------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        """Every stored event as (position, originator_id, version, topic, state), undecoded."""
        for position, originator_id, version, topic, state in self._stream(self.sql["records"], lenient=True):
            yield position, originator_id, version, topic, bytes(state)

    def count_after(self, after: int) -> int:
        """How many events the log holds after position `after`."""
        return int(self._one("count_after", (after,))[0])

    def position_before_offset(self, after: int, offset: int) -> int | None:
        """The position after which the page starting `offset` events after `after` begins
        (None when the log has no event there)."""
        if offset == 0:
            return after
        row = self._one("offset", (after, offset - 1))
        return None if row is None else int(row[0])

    def source_key_digests(self) -> Iterator[bytes]:
        """The stored source-id digests (16 bytes each), in no particular order."""
        if not self.has_table(SOURCE_KEYS_TABLE):
            return
        for (digest,) in self._stream(self.sql["source_keys"]):
            yield bytes(digest)

    def checkpoints(self) -> list[str]:
        """The checkpoints saved in the store (JSON documents), oldest first."""
        if not self.has_table(CHECKPOINTS_TABLE):
            return []
        return [str(row[0]) for row in self.conn.execute(self.sql["checkpoints"]).fetchall()]

    # -- the projection ----------------------------------------------------------------------

    def has_projection(self) -> bool:
        return all(self.has_table(t.name) for t in (tracking, facts, fact_changes))

    def tracked_position(self) -> int:
        row = self._one("tracked", (PROJECTION,))
        return int(row[0]) if row else 0

    def change_rows(self) -> Iterator[tuple[Any, ...]]:
        """Every stored change row, in (position, seq) order (the table's unique index)."""
        yield from self._stream(self.sql["changes"])

    def fact_rows(self, kind: str | None = None) -> Iterator[tuple[Any, ...]]:
        """Every stored interval (of one kind), in no particular order."""
        if kind is None:
            yield from self._stream(self.sql["facts"])
        else:
            yield from self._stream(self.sql["facts_of_kind"], (kind,))

    def fact_kinds(self) -> list[str]:
        """Every fact kind either projection table holds."""
        return sorted(str(row[0]) for row in self.conn.execute(self.sql["kinds"]).fetchall())

    def changes_of_kind(self, kind: str) -> Iterator[tuple[Any, ...]]:
        yield from self._stream(self.sql["changes_of_kind"], (kind,))

    def changes_of_keys(self, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(keys), 400):
            chunk = list(keys[start:start + 400])
            statement = self.sql["changes_of_keys"].format(marks=", ".join([self.sql["mark"]] * len(chunk)))
            out.extend(self.conn.execute(statement, chunk).fetchall())
        return out


def _lenient_text(raw: bytes) -> str:
    # Invalid UTF-8 planted in a text column must become a finding, not a decoding error.
    return raw.decode("utf-8", "surrogateescape")


@contextlib.contextmanager
def _sqlite(path: str) -> Iterator[StoreSnapshot]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
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

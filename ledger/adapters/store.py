"""Persistence of the event log on eventsourcing's built-in SQLite and PostgreSQL recorders.

Append-only: it never updates or deletes a stored event; source ids go in with the events, in one
transaction. The recorder subclasses override more than eventsourcing's `_insert_events` hook
(which its own ProcessRecorder extends for tracking), so they are pinned to eventsourcing 9.5.x:
- SQLite: `construct_create_table_statements` adds the source-key table, and `_insert_events` is
  replaced (one executemany instead of row-by-row inserts; positions from `last_insert_rowid()`).
- PostgreSQL: `__init__` adds the source-key table's DDL, `_insert_events` extends the hook with
  the source keys, and `insert_events` itself is overridden: batches over `_PIPELINED_BATCH`
  events skip psycopg's pipeline mode (and eventsourcing's retry decorator and database-function
  path) and call the private `_insert_stored_events` and `_fetch_ids_after_insert_events`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError as RecorderIntegrityError
from eventsourcing.persistence import OperationalError as RecorderOperationalError
from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore
from pydantic_core import PydanticSerializationError

from ledger.adapters import pages
from ledger.domain import events as ev
from ledger.errors import ConcurrencyError, DuplicateSourceError, StoreError, ValidationError

EVENTS_TABLE = pages.EVENTS_TABLE
SOURCE_KEYS_TABLE = "ledger_source_keys"
DEFAULT_URL = "sqlite:///ledger.db"
_TOPIC_PREFIX = "ledger.events:"
_PIPELINED_BATCH = 1000
_NOT_STORED = {"originator_id", "originator_version", "position"}
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class StoreUrl:
    """A parsed store URL: `sqlite:///path/to.db`, `sqlite:///:memory:` or `postgresql://...`."""

    url: str
    dialect: str
    sqlite_path: str | None = None
    pg_params: dict[str, Any] | None = None
    schema: str | None = None

    @classmethod
    def parse(cls, url: str | None) -> StoreUrl:
        raw = url or os.environ.get("LEDGER_DB") or DEFAULT_URL
        if raw.startswith("sqlite:///"):
            path = raw[len("sqlite:///") :] or ":memory:"
            return cls(raw, "sqlite", sqlite_path=path)
        if raw.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                parsed = make_url(raw.replace("postgres://", "postgresql://", 1))
            except (ArgumentError, ValueError, TypeError):
                raise StoreError(f"invalid PostgreSQL URL {raw!r}") from None
            query = dict(parsed.query)
            schema = str(query.pop("schema", "")) or None
            if schema is not None and not _SCHEMA_NAME.match(schema):
                raise StoreError(f"invalid schema name {schema!r} in store URL")
            params = {
                "dbname": parsed.database or "postgres",
                "host": parsed.host or "127.0.0.1",
                "port": parsed.port or 5432,
                "user": parsed.username or "postgres",
                "password": parsed.password or "",
            }
            return cls(raw, "postgresql", pg_params=params, schema=schema)
        raise StoreError(f"unsupported store URL {raw!r}: use sqlite:///FILE or postgresql://USER@HOST:PORT/DB")

    def sqlalchemy_url(self) -> str:
        if self.dialect == "sqlite":
            return f"sqlite:///{self.sqlite_path}"
        assert self.pg_params is not None
        p = self.pg_params
        auth = p["user"] + (f":{p['password']}" if p["password"] else "")
        return f"postgresql+psycopg://{auth}@{p['host']}:{p['port']}/{p['dbname']}"


def source_key_digest(key: str) -> bytes:
    """Source keys are stored as 16-byte BLAKE2b digests: a fixed-size key keeps the uniqueness
    index small (it is written once per imported record); 128 bits make collisions negligible."""
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class _SQLiteLedgerRecorder(SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {SOURCE_KEYS_TABLE} (source_key BLOB PRIMARY KEY) WITHOUT ROWID",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # One executemany instead of eventsourcing's row-by-row inserts. The positions are still
        # exact: once the first row is in, this transaction holds SQLite's write lock, and a rowid
        # table without AUTOINCREMENT gives each new row max(rowid) + 1, so the batch's rowids are
        # the contiguous run ending at last_insert_rowid().
        c.executemany(
            self.insert_events_statement,
            [
                (
                    s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                    s.originator_version,
                    s.topic,
                    s.state,
                )
                for s in stored_events
            ],
        )
        c.execute("SELECT last_insert_rowid()")
        last = c.fetchone()[0]
        positions = list(range(last - len(stored_events) + 1, last + 1))
        source_keys = kwargs.get("source_keys") or ()
        if source_keys:
            c.executemany(
                f"INSERT INTO {SOURCE_KEYS_TABLE} (source_key) VALUES (?)",  # noqa: S608 - constant table name
                [(source_key_digest(key),) for key in source_keys],
            )
        return positions

    def existing_source_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(keys), 500):
                chunk = {source_key_digest(key): key for key in keys[start : start + 500]}
                c.execute(
                    f"SELECT source_key FROM {SOURCE_KEYS_TABLE} WHERE source_key IN "  # noqa: S608 - constant
                    f"({','.join('?' * len(chunk))})",  # table name; the values are bound parameters
                    list(chunk),
                )
                found.update(chunk[bytes(row[0])] for row in c.fetchall())
        return found


def _postgres_recorder_class() -> type[Any]:
    from eventsourcing.postgres import PostgresApplicationRecorder
    from psycopg.sql import SQL, Identifier

    class _PostgresLedgerRecorder(PostgresApplicationRecorder):
        def __init__(self, datastore: Any, **kwargs: Any) -> None:
            super().__init__(datastore, **kwargs)
            self.sql_create_statements.append(
                SQL("CREATE TABLE IF NOT EXISTS {schema}.{table} (source_key bytea PRIMARY KEY)").format(
                    schema=Identifier(self.datastore.schema), table=Identifier(SOURCE_KEYS_TABLE)
                )
            )
            # One statement for the whole batch: an executemany of thousands of statements in
            # psycopg's pipeline mode can deadlock (the server blocks on output nobody reads yet).
            self._insert_source_keys = SQL(
                "INSERT INTO {schema}.{table} (source_key) SELECT unnest(%s::bytea[])"
            ).format(schema=Identifier(self.datastore.schema), table=Identifier(SOURCE_KEYS_TABLE))
            self._select_source_keys = SQL("SELECT source_key FROM {schema}.{table} WHERE source_key = ANY(%s)").format(
                schema=Identifier(self.datastore.schema), table=Identifier(SOURCE_KEYS_TABLE)
            )

        def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
            if len(stored_events) <= _PIPELINED_BATCH:
                return super().insert_events(stored_events, **kwargs)  # type: ignore[no-any-return]
            # Large batches run without psycopg's pipeline mode, in which a multi-megabyte insert
            # can deadlock (client and server each waiting to read); same statements, same
            # transaction, a few more round trips.
            with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
                self._insert_events(curs, stored_events, **kwargs)
                self._insert_stored_events(curs, stored_events, **kwargs)
                return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

        def _insert_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> None:
            # Runs in the same transaction (and pipeline) as the events insert, on its own cursor.
            super()._insert_events(curs, stored_events, **kwargs)
            source_keys = kwargs.get("source_keys") or ()
            if source_keys:
                curs.execute(self._insert_source_keys, ([source_key_digest(key) for key in source_keys],))

        def existing_source_keys(self, keys: Sequence[str]) -> set[str]:
            digests = {source_key_digest(key): key for key in keys}
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(self._select_source_keys, (list(digests),))
                return {digests[bytes(row["source_key"])] for row in curs.fetchall()}

    return _PostgresLedgerRecorder


@cache
def _topic(cls: type[ev.LedgerEvent]) -> str:
    return _TOPIC_PREFIX + cls.__name__


class EventCodec:
    """Maps ledger events to eventsourcing `StoredEvent`s and back, upcasting old versions."""

    def encode(self, event: ev.LedgerEvent, stream: tuple[UUID, int] | None = None) -> StoredEvent:
        """`stream` overrides the event's own (originator id, version), for facts being appended
        to whatever version their account stream has reached."""
        state = type(event).__pydantic_serializer__.to_json(event, exclude=_NOT_STORED)
        version = type(event).class_version
        if version > 1:
            state = b'{"class_version":%d,' % version + state[1:]
        originator_id, originator_version = stream or (event.originator_id, event.originator_version)
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=_topic(type(event)),
            state=state,
        )

    def decode(
        self,
        originator_id: UUID | str,
        originator_version: int,
        topic: str,
        state: bytes,
        position: int | None = None,
    ) -> ev.LedgerEvent:
        name = topic.removeprefix(_TOPIC_PREFIX)
        cls = ev.EVENT_TYPES.get(name)
        if cls is None:
            raise StoreError(f"unknown event topic {topic!r} at position {position}")
        data = json.loads(state)
        stored_version = data.pop("class_version", 1)
        while stored_version < cls.class_version:
            getattr(cls, f"upcast_v{stored_version}_v{stored_version + 1}")(data)
            stored_version += 1
        data["originator_id"] = originator_id
        data["originator_version"] = originator_version
        data["position"] = position
        return cls.model_validate(data)


class EventStore:
    """The append-only event log. Positions are the recorder's notification ids."""

    def __init__(self, url: str | None = None, *, create: bool = True) -> None:
        """Open the store at `url`; with `create=False` (readers), refuse one that does not
        exist (`StoreNotFoundError`, naming the place) instead of creating an empty ledger."""
        from ledger.adapters.store_open import first_use_lock, require_store

        self.url = StoreUrl.parse(url)
        self.codec = EventCodec()
        if not create:
            require_store(self.url, EVENTS_TABLE)
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                # The lock also makes a PostgreSQL server say why it refuses a connection
                # (e.g. a missing database) before eventsourcing's pool would just time out.
                with first_use_lock(self.url, EVENTS_TABLE):
                    self.recorder = self._make_recorder()
                    self.recorder.create_table()
                break
            except StoreError:
                raise
            except Exception as error:  # noqa: BLE001 - every driver failure becomes a StoreError
                # PostgreSQL's CREATE ... IF NOT EXISTS is not safe against itself: processes
                # opening a new store at once can fail with "tuple concurrently updated" or a
                # unique violation on the catalog. The DDL is idempotent, so try again.
                if attempt + 1 < _OPEN_ATTEMPTS and _is_ddl_race(error):
                    time.sleep(min(0.05 * (attempt + 1), 0.5))
                    continue
                raise StoreError(f"cannot open store {self.url.url!r}: {_first_line(error)}") from None

    def _make_recorder(self) -> Any:
        if self.url.dialect == "sqlite":
            path = self.url.sqlite_path or ":memory:"
            if path != ":memory:":
                directory = os.path.dirname(os.path.abspath(path))
                if not os.path.isdir(directory):
                    raise StoreError(f"cannot open store {self.url.url!r}: no directory {directory}")
            datastore = SQLiteDatastore(path if path != ":memory:" else "file::memory:?cache=shared", lock_timeout=30)
            return _SQLiteLedgerRecorder(datastore, events_table_name=EVENTS_TABLE)
        from eventsourcing.postgres import PostgresDatastore

        assert self.url.pg_params is not None
        pg_datastore = PostgresDatastore(
            **self.url.pg_params,
            schema=self.url.schema or "",
            pool_size=2,
            max_overflow=4,
            lock_timeout=30,
        )
        if self.url.schema:
            from psycopg.sql import SQL, Identifier

            with pg_datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(Identifier(self.url.schema)))
        return _postgres_recorder_class()(pg_datastore, events_table_name=EVENTS_TABLE)

    # -- writing ---------------------------------------------------------------------------

    def append(self, events: Sequence[ev.LedgerEvent], source_keys: Sequence[str] = ()) -> list[ev.LedgerEvent]:
        """Record events atomically; returns them with their positions. Writes all or nothing."""
        positions = self.append_positions(events, None, source_keys)
        return [event.with_position(pos) for event, pos in zip(events, positions, strict=True)]

    def append_positions(
        self,
        events: Sequence[ev.LedgerEvent],
        streams: Sequence[tuple[UUID, int]] | None,
        source_keys: Sequence[str] = (),
    ) -> list[int]:
        """Record events atomically at the given stream versions (default: their own); returns
        their positions. The bulk path: no copies of the events are made."""
        if not events:
            return []
        try:
            if streams is None:
                stored = [self.codec.encode(event) for event in events]
            else:
                stored = [self.codec.encode(event, stream) for event, stream in zip(events, streams, strict=True)]
        except (PydanticSerializationError, UnicodeError) as error:
            # e.g. a lone surrogate from a JSON "\udc80" escape in an imported record.
            raise ValidationError(f"an event cannot be stored as UTF-8 JSON: {_first_line(error)}") from None
        try:
            positions = self.recorder.insert_events(stored, source_keys=list(source_keys))
        except RecorderIntegrityError as error:
            text = str(error)
            if SOURCE_KEYS_TABLE in text or "source_key" in text:
                raise DuplicateSourceError("an event with this source id is already recorded") from None
            raise ConcurrencyError("another writer changed the same account first; nothing was written") from None
        except RecorderOperationalError as error:
            # psycopg's pipeline mode may report a source id's unique violation as "pipeline aborted".
            if source_keys and "pipeline aborted" in str(error) and self.existing_source_keys(source_keys):
                raise DuplicateSourceError("an event with this source id is already recorded") from None
            raise StoreError(f"store unavailable: {_first_line(error)}") from None
        return list(positions or [])

    def existing_source_keys(self, keys: Sequence[str]) -> set[str]:
        return set(self.recorder.existing_source_keys(list(keys))) if keys else set()

    # -- reading ---------------------------------------------------------------------------

    def read_stream(self, originator_id: UUID, after_version: int = 0) -> list[ev.LedgerEvent]:
        """Events of one stream after `after_version`, positions not included (streams are for
        write-side folding; use `read_log` for positions)."""
        return [
            self.codec.decode(s.originator_id, s.originator_version, s.topic, s.state)
            for s in self.recorder.select_events(originator_id, gt=after_version or None)
        ]

    def read_log(
        self, after: int = 0, limit: int = 1000, upto: int | None = None, topics: Sequence[str] = ()
    ) -> list[ev.LedgerEvent]:
        notifications = self.recorder.select_notifications(
            start=after,
            limit=limit,
            stop=upto,
            inclusive_of_start=False,
            topics=[_TOPIC_PREFIX + t for t in topics],
        )
        return [self.codec.decode(n.originator_id, n.originator_version, n.topic, n.state, n.id) for n in notifications]

    def iter_log(
        self, after: int = 0, upto: int | None = None, batch: int = 1000, topics: Sequence[str] = ()
    ) -> Iterator[ev.LedgerEvent]:
        position = after
        while True:
            page = self.read_log(position, batch, upto, topics)
            if not page:
                return
            yield from page
            position = page[-1].position or position
            if len(page) < batch:
                return

    def stored_page(self, after: int, limit: int, upto: int | None = None) -> list[tuple[int, str, bytes]]:
        """(position, topic, JSON state) of up to `limit` stored events after `after` (and at
        most `upto`), in log order: the raw page a projection rebuild folds (see `pages`)."""
        return pages.stored_page(self.recorder, self.url.dialect, after, limit, upto)

    def iter_records(self, after: int = 0, batch: int = 5000) -> Iterator[tuple[int, UUID, int, str, bytes]]:
        """Raw stored records in log order, as stored (for tamper evidence)."""
        position = after
        while True:
            page = self.recorder.select_notifications(start=position, limit=batch, inclusive_of_start=False)
            if not page:
                return
            for n in page:
                yield n.id, UUID(str(n.originator_id)), n.originator_version, n.topic, bytes(n.state)
            position = page[-1].id
            if len(page) < batch:
                return

    def max_position(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def listen(self) -> NewEventsListener | None:
        """A wake-up for new events (PostgreSQL LISTEN on eventsourcing's channel), or None where
        the store has no push notifications (SQLite) or listening failed: callers poll instead."""
        if self.url.dialect != "postgresql" or self.url.pg_params is None:
            return None
        try:
            import psycopg
            from psycopg.sql import SQL, Identifier

            conn = psycopg.connect(**self.url.pg_params, autocommit=True)
            conn.execute(SQL("LISTEN {}").format(Identifier(self.recorder.channel_name)))
        except Exception:  # noqa: BLE001 - polling still works without notifications
            return None
        return NewEventsListener(conn)

    def close(self) -> None:
        # Closing must never mask the caller's own error.
        with contextlib.suppress(Exception):
            self.recorder.datastore.close()


_OPEN_ATTEMPTS = 40


def _is_ddl_race(error: BaseException) -> bool:
    # SQLite answers "database is locked" at once, without waiting out the busy timeout, when a
    # transaction that has read must upgrade to write while another process writes (it would
    # deadlock otherwise); creating a fresh store's tables from many processes meets exactly that.
    text = str(error)
    return ("concurrently updated" in text or "duplicate key value" in text or "already exists" in text
            or "database is locked" in text)


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]


class NewEventsListener:
    """A PostgreSQL connection LISTENing for eventsourcing's new-event notifications."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def wait(self, timeout: float) -> None:
        """Return on the next notification or after `timeout` seconds, whichever comes first."""
        for _ in self._conn.notifies(timeout=timeout, stop_after=1):
            break

    def close(self) -> None:
        self._conn.close()

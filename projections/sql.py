"""SQL persistence of the temporal facts (SQLite or PostgreSQL, via SQLAlchemy 2 Core).

The only projections module that touches SQLAlchemy besides `tables`; schema comes from Alembic.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Engine,
    Index,
    and_,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ledger.adapters.logging import get_logger
from ledger.timeaxis import FOREVER
from projections import sql_schema
from projections.facts import Change, Fact, FactRow, IntervalStream, derive_rows
from projections.tables import fact_changes, facts, tracking

log = get_logger("projections.sql")

_CHUNK = 400


def make_engine(sqlalchemy_url: str, schema: str | None = None) -> Engine:
    """An engine whose connections live in `schema` (PostgreSQL) and wait on SQLite locks."""
    if sqlalchemy_url.startswith("sqlite"):
        engine = create_engine(sqlalchemy_url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # A projection batch touches pages all over seven indexes; with SQLite's default 2 MB
            # cache they spill to the WAL mid-transaction and are read back. Memory is taken
            # only as pages are used.
            cur.execute("PRAGMA cache_size=-65536")  # KiB: up to 64 MiB per connection
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.execute("PRAGMA threads=2")  # CREATE INDEX sorts on a helper thread too
            cur.close()

        return engine
    engine = create_engine(sqlalchemy_url, pool_size=2, max_overflow=4, pool_pre_ping=True)
    if schema:
        @event.listens_for(engine, "connect")
        def _search_path(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            cur.execute(f'SET search_path TO "{schema}"')
            cur.close()
            dbapi_conn.commit()

    return engine


def upgrade(engine: Engine) -> None:
    """Bring the read-side schema to Alembic head, safely under concurrent first use (see
    `projections.sql_schema`)."""
    sql_schema.upgrade(engine)


def _row_fact(row: Any) -> Fact:
    return Fact(row.fact_key, row.kind, row.subject, row.ref, row.valid_from, row.valid_to,
                row.opened_position, row.opened_type, row.closed_position, row.closed_type,
                json.loads(row.payload))


# The payload column holds this exact text for every path (rebuild, incremental, re-derive), so
# rows written by any of them compare equal.
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_CHANGE_COLUMNS = [c.name for c in fact_changes.columns if c.name != "id"]
_FACT_COLUMNS = [c.name for c in facts.columns if c.name != "id"]
_EMPTY = "{}"
# Rows per executemany / COPY call during a rebuild.
_FLUSH = 20_000


def _change_row(c: Change) -> tuple[Any, ...]:
    return (c.key, c.kind, c.subject, c.ref, c.op, c.at, c.position, c.seq, c.cause,
            _dumps(c.payload) if c.payload else _EMPTY)


class _Writer:
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
        self._copy = {
            name: f"COPY {name} ({', '.join(cols)}) FROM STDIN"
            for name, cols in ((fact_changes.name, _CHANGE_COLUMNS), (facts.name, _FACT_COLUMNS))
        }

    def insert(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.postgres and len(rows) > 50:
            driver = self.conn.connection.driver_connection
            assert driver is not None
            with driver.cursor() as cur, cur.copy(self._copy[table]) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        self.conn.exec_driver_sql(self._sql[table], list(rows))


class _Behind:
    """Runs a writer's inserts on a second thread, in order, while the caller folds the next
    page: SQLite (inside sqlite3_step) and psycopg (waiting on the server) release the GIL, so
    the B-tree work overlaps with the fold on another core. The caller never touches the
    connection until `finish` has drained the queue."""

    def __init__(self, writer: _Writer, depth: int = 4) -> None:
        self.writer = writer
        self.queue: queue.Queue[tuple[str, Sequence[tuple[Any, ...]]] | None] = queue.Queue(depth)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="projection-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.writer.insert(*item)
                except BaseException as error:  # noqa: BLE001 - re-raised on the caller's thread
                    self.error = error

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


def _secondary_indexes(conn: Connection) -> list[Index]:
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


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _rederive(conn: Connection, writer: _Writer, keys: Iterable[str]) -> int:
    """Replace the intervals of `keys` by those derived from all their stored changes."""
    written = 0
    for chunk in _chunks(sorted(keys)):
        stmt = select(fact_changes).where(fact_changes.c.fact_key.in_(chunk))
        pairs = [(Change(r.fact_key, r.kind, r.subject, r.ref, r.op, r.at, r.position, r.seq, r.cause),
                  r.payload) for r in conn.execute(stmt)]
        conn.execute(delete(facts).where(facts.c.fact_key.in_(chunk)))
        rows = derive_rows(pairs)
        writer.insert(facts.name, rows)
        written += len(rows)
    return written


class SqlUnit:
    """One projection transaction: rows and position commit together or not at all."""

    def __init__(self, conn: Connection, name: str) -> None:
        self.conn = conn
        self.name = name

    def lock_position(self) -> int:
        """Take the projection's write lock and read its position."""
        conn = self.conn
        # An UPDATE first makes SQLite take its write lock now (BEGIN IMMEDIATE semantics), and
        # on PostgreSQL locks the tracking row, so two projectors never fold the same batch.
        result = conn.execute(update(tracking).where(tracking.c.name == self.name)
                              .values(position=tracking.c.position))
        if result.rowcount == 0:
            # First use: a rival may be inserting the same row right now. ON CONFLICT DO NOTHING
            # waits for it (PostgreSQL) instead of failing on the key; the UPDATE then locks it.
            dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            conn.execute(dialect_insert(tracking).values(name=self.name, position=0)
                         .on_conflict_do_nothing(index_elements=["name"]))
            conn.execute(update(tracking).where(tracking.c.name == self.name)
                         .values(position=tracking.c.position))
        return int(conn.execute(select(tracking.c.position).where(tracking.c.name == self.name)).scalar_one())

    def set_position(self, position: int) -> None:
        self.conn.execute(update(tracking).where(tracking.c.name == self.name).values(position=position))

    def apply(self, changes: Sequence[Change]) -> None:
        """Add a batch of changes, all from events later in the log than any stored change.

        Per touched key, only its latest valid time and its open interval are read (one query
        each per chunk of keys): a key whose new changes are all at or after that time just
        continues from its open interval; any other key (a late, older event) is re-derived
        from all of its changes."""
        if not changes:
            return
        conn = self.conn
        writer = _Writer(conn)
        keys = sorted({c.key for c in changes})
        stream = IntervalStream()
        reopened: list[int] = []
        for chunk in _chunks(keys):
            latest: dict[str, int] = {row[0]: row[1] for row in conn.execute(
                select(fact_changes.c.fact_key, func.max(fact_changes.c.at))
                .where(fact_changes.c.fact_key.in_(chunk)).group_by(fact_changes.c.fact_key))}
            if not latest:
                continue
            open_rows = conn.execute(
                select(facts.c.id, facts.c.fact_key, facts.c.kind, facts.c.subject, facts.c.ref,
                       facts.c.valid_from, facts.c.opened_position, facts.c.opened_type, facts.c.payload)
                .where(facts.c.fact_key.in_(list(latest)), facts.c.valid_to == FOREVER)).all()
            opened: dict[str, Any] = {}
            for r in open_rows:
                if r.fact_key in opened or r.valid_from != latest[r.fact_key]:
                    stream.unordered.add(r.fact_key)  # not what a derivation leaves: start over
                opened[r.fact_key] = r
            for key, at in latest.items():
                if key in stream.unordered:
                    continue
                o = opened.get(key)
                stream.seed(key, at, None if o is None else (
                    o.kind, o.subject, o.ref, o.valid_from, o.opened_position, o.opened_type, o.payload))
                if o is not None:
                    reopened.append(o.id)
        change_rows = []
        rows = []
        for c in changes:
            row = _change_row(c)
            change_rows.append(row)
            closed = stream.add(c, row[9])
            if closed is not None:
                rows.append(closed)
        writer.insert(fact_changes.name, change_rows)
        for start in range(0, len(reopened), _CHUNK):
            conn.execute(delete(facts).where(facts.c.id.in_(reopened[start:start + _CHUNK])))
        rows.extend(stream.open_rows())
        unordered = stream.unordered
        if unordered:
            rows = [r for r in rows if r[0] not in unordered]
        writer.insert(facts.name, rows)
        if unordered:
            _rederive(conn, writer, unordered)


class SqlFacts:
    """The temporal facts in SQL: transactions for the projector, point lookups for queries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.token = uuid.uuid4().hex

    @contextmanager
    def unit(self, name: str) -> Iterator[SqlUnit]:
        with self.engine.begin() as conn:
            yield SqlUnit(conn, name)

    def position(self, name: str) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(select(tracking.c.position).where(tracking.c.name == name)).scalar()
        return int(value or 0)

    def reset(self, name: str) -> None:
        with self.engine.begin() as conn:
            SqlUnit(conn, name).lock_position()
            conn.execute(delete(facts))
            conn.execute(delete(fact_changes))
            conn.execute(update(tracking).where(tracking.c.name == name).values(position=0))

    def rebuild_from(self, name: str, batches: Iterable[tuple[int, int, list[Change]]]) -> int:
        """Replace the projection by the fold of the whole log, in one transaction.

        `batches` yields (last position, events, changes) in log order. Readers keep seeing
        the previous projection until the commit; a crash leaves it untouched. Secondary
        indexes are dropped for the load and built once at the end (a sort, rather than a
        million random index inserts), inside the same transaction."""
        started = time.perf_counter()
        with self.engine.begin() as conn:
            unit = SqlUnit(conn, name)
            unit.lock_position()
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"TRUNCATE {facts.name}, {fact_changes.name}")
            else:
                conn.execute(delete(facts))
                conn.execute(delete(fact_changes))
            indexes = _secondary_indexes(conn)
            for index in indexes:
                index.drop(conn)
            writer = _Writer(conn)
            behind = _Behind(writer)
            stream = IntervalStream()
            change_rows: list[tuple[Any, ...]] = []
            rows: list[FactRow] = []
            done = 0
            last = 0
            try:
                for position, count, changes in batches:
                    for c in changes:
                        row = _change_row(c)
                        change_rows.append(row)
                        closed = stream.add(c, row[9])
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
            loaded = time.perf_counter()
            stream.heads.clear()
            for index in indexes:
                index.create(conn)
            indexed = time.perf_counter()
            if stream.unordered:
                _rederive(conn, writer, stream.unordered)
            unit.set_position(last)
        log.info("projection_rebuilt", projection=name, events=done, position=last,
                 load_s=round(loaded - started, 2), index_s=round(indexed - loaded, 2),
                 rederived_keys=len(stream.unordered),
                 commit_s=round(time.perf_counter() - indexed, 2))
        return done

    # -- queries -------------------------------------------------------------------------

    def at(self, kind: str, at: int, subject: str | None = None, ref: str | None = None) -> list[Fact]:
        cond = [facts.c.kind == kind, facts.c.valid_from <= at, facts.c.valid_to > at]
        if subject is not None:
            cond.append(facts.c.subject == subject)
        if ref is not None:
            cond.append(facts.c.ref == ref)
        with self.engine.connect() as conn:
            return [_row_fact(r) for r in conn.execute(select(facts).where(and_(*cond)))]

    def many_at(self, kinds: Iterable[str], at: int) -> list[Fact]:
        with self.engine.connect() as conn:
            stmt = select(facts).where(and_(facts.c.kind.in_(list(kinds)), facts.c.valid_from <= at,
                                            facts.c.valid_to > at))
            return [_row_fact(r) for r in conn.execute(stmt)]

    def history(self, kind: str | None = None, subjects: Iterable[str] | None = None,
                refs: Iterable[str] | None = None) -> list[Fact]:
        """Every interval (any time) of the given kind / subjects / refs."""
        cond = []
        if kind is not None:
            cond.append(facts.c.kind == kind)
        out: list[Fact] = []
        with self.engine.connect() as conn:
            if subjects is None and refs is None:
                return [_row_fact(r) for r in conn.execute(select(facts).where(and_(*cond)))]
            for column, values in ((facts.c.subject, subjects), (facts.c.ref, refs)):
                vals = sorted(set(values or ()))
                for start in range(0, len(vals), _CHUNK):
                    stmt = select(facts).where(and_(*cond, column.in_(vals[start:start + _CHUNK])))
                    out.extend(_row_fact(r) for r in conn.execute(stmt))
        return out

    def all_facts(self) -> list[Fact]:
        with self.engine.connect() as conn:
            return [_row_fact(r) for r in conn.execute(select(facts))]

    def change_times(self) -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(facts.c.valid_from).distinct()).scalars().all()
            ends = conn.execute(select(facts.c.valid_to).where(facts.c.valid_to < FOREVER).distinct()).scalars().all()
        return sorted(set(rows) | set(ends))

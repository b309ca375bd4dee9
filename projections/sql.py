"""SQL persistence of the temporal facts (SQLite or PostgreSQL, via SQLAlchemy 2 Core).

The only projections module that touches SQLAlchemy besides `tables`; schema comes from Alembic.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Engine,
    and_,
    create_engine,
    delete,
    event,
    select,
    update,
)
from sqlalchemy.engine import Connection

from ledger.adapters.logging import get_logger
from ledger.timeaxis import FOREVER
from projections import sql_schema
from projections.facts import Change, Fact, IntervalStream, derive_rows
from projections.sql_bulk import Writer, change_row, load, secondary_indexes
from projections.sql_read import job_queue_spans
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


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _rederive(conn: Connection, writer: Writer, keys: Iterable[str]) -> int:
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


# Per key of a chunk, its latest change time and its open interval: one index probe per key
# whatever the planner's statistics say (an IN list over keys with long histories made
# PostgreSQL scan whole tables). The keys travel as one array (PostgreSQL) or JSON (SQLite).
_LATEST = {
    "postgresql": "SELECT k, (SELECT max(at) FROM pl_fact_changes WHERE fact_key = k) FROM unnest(%s::text[]) AS k",
    "sqlite": "SELECT value, (SELECT max(at) FROM pl_fact_changes WHERE fact_key = value) FROM json_each(?)",
}
_OPEN_COLUMNS = "f.id, f.fact_key, f.kind, f.subject, f.ref, f.valid_from, f.opened_position, f.opened_type, f.payload"
_OPEN = {
    "postgresql": f"SELECT {_OPEN_COLUMNS} FROM unnest(%s::text[]) AS k JOIN LATERAL "  # noqa: S608 - constants
                  "(SELECT * FROM pl_facts WHERE fact_key = k AND valid_to = %s) AS f ON true",
    "sqlite": f"SELECT {_OPEN_COLUMNS} FROM json_each(?) AS k "  # noqa: S608 - constants
              "JOIN pl_facts AS f ON f.fact_key = k.value AND f.valid_to = ?",
}


def _heads(conn: Connection, keys: Sequence[str]) -> tuple[dict[str, int], list[Any]]:
    """({key: latest change time} for the keys that have changes, their open interval rows)."""
    dialect = conn.dialect.name
    packed: Any = list(keys) if dialect == "postgresql" else json.dumps(list(keys))
    latest = {k: at for k, at in conn.exec_driver_sql(_LATEST[dialect], (packed,)) if at is not None}
    if not latest:
        return latest, []
    packed = list(latest) if dialect == "postgresql" else json.dumps(list(latest))
    return latest, list(conn.exec_driver_sql(_OPEN[dialect], (packed, FOREVER)))


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
            # start-up: the PostgreSQL dialect costs a SQLite `ledger can` ~15% of its imports
            from sqlalchemy.dialects import postgresql, sqlite

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
        writer = Writer(conn)
        keys = sorted({c.key for c in changes})
        stream = IntervalStream()
        reopened: list[int] = []
        for chunk in _chunks(keys):
            latest, open_rows = _heads(conn, chunk)
            if not latest:
                continue
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
            row = change_row(c)
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
        self._queue_spans: dict[tuple[str, int | None], list[tuple[str, int, int]]] = {}

    @contextmanager
    def unit(self, name: str) -> Iterator[SqlUnit]:
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # A batch and its position commit together or not at all either way; waiting for
                # the WAL flush adds nothing: a batch lost with a server crash is folded again
                # from the (durable) log. It only makes a follower slower.
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
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

        `batches` yields (last position, events, changes) in log order, each change's payload
        already its stored JSON text (`fold_pool.as_stored`). Readers keep seeing
        the previous projection until the commit; a crash leaves it untouched. Secondary
        indexes are dropped for the load and built once at the end (a sort, rather than a
        million random index inserts), inside the same transaction."""
        started = time.perf_counter()
        with self.engine.begin() as conn:
            unit = SqlUnit(conn, name)
            unit.lock_position()
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"TRUNCATE {facts.name}, {fact_changes.name}")
                # The index builds at the end sort in memory rather than in temporary files.
                conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
            else:
                conn.execute(delete(facts))
                conn.execute(delete(fact_changes))
            indexes = secondary_indexes(conn)
            for index in indexes:
                index.drop(conn)
            writer = Writer(conn)
            stream = IntervalStream()
            fold_cpu = time.thread_time()
            done, last, insert_cpu = load(writer, stream, batches)
            fold_cpu = time.thread_time() - fold_cpu
            loaded = time.perf_counter()
            stream.heads.clear()
            for index in indexes:
                index.create(conn)
            indexed = time.perf_counter()
            if stream.unordered:
                _rederive(conn, writer, stream.unordered)
            if conn.dialect.name == "postgresql":
                # Fresh statistics: without them the planner seq-scans the new tables for the
                # follower's per-key lookups (70 ms instead of 2 ms per chunk at 100k events).
                conn.exec_driver_sql(f"ANALYZE {facts.name}, {fact_changes.name}")
            unit.set_position(last)
        log.info("projection_rebuilt", projection=name, events=done, position=last,
                 load_s=round(loaded - started, 2), index_s=round(indexed - loaded, 2),
                 rederived_keys=len(stream.unordered),
                 commit_s=round(time.perf_counter() - indexed, 2),
                 read_fold_cpu_s=round(fold_cpu, 2), insert_cpu_s=round(insert_cpu, 2))
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

    def job_queues_at(self, account: str, at: int, position: int | None = None) -> list[str]:
        """Queue ARNs of the account's jobs in force at T, without decoding the jobs; read once per
        projection `position` when given (the facts cannot change until it moves)."""
        key = (account, position)
        spans = self._queue_spans.get(key) if position is not None else None
        if spans is None:
            spans = job_queue_spans(self.engine, account)
            if position is not None:
                if len(self._queue_spans) >= 256:
                    self._queue_spans.clear()
                self._queue_spans[key] = spans
        return sorted({queue for queue, low, high in spans if low <= at < high})

    def change_times(self) -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(facts.c.valid_from).distinct()).scalars().all()
            ends = conn.execute(select(facts.c.valid_to).where(facts.c.valid_to < FOREVER).distinct()).scalars().all()
        return sorted(set(rows) | set(ends))

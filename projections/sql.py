"""SQL persistence of the temporal facts (SQLite or PostgreSQL, via SQLAlchemy 2 Core).

The only projections module that touches SQLAlchemy besides `tables`; schema comes from Alembic.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, create_engine, delete, event, insert, select, text, update
from sqlalchemy.engine import Connection

from ledger.errors import StoreError
from projections.facts import FOREVER, Change, Fact, derive_intervals
from projections.tables import fact_changes, facts, tracking

_CHUNK = 400
_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def make_engine(sqlalchemy_url: str, schema: str | None = None) -> Engine:
    """An engine whose connections live in `schema` (PostgreSQL) and wait on SQLite locks."""
    if sqlalchemy_url.startswith("sqlite"):
        engine = create_engine(sqlalchemy_url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
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
    """Bring the read-side schema to Alembic head (idempotent; safe on a fresh file or schema)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # Serialise concurrent first opens of the same schema.
                conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except Exception as error:
        raise StoreError(f"cannot migrate read-side schema: {str(error).splitlines()[0][:200]}") from None


def _row_fact(row: Any) -> Fact:
    return Fact(row.fact_key, row.kind, row.subject, row.ref, row.valid_from, row.valid_to,
                row.opened_position, row.opened_type, row.closed_position, row.closed_type,
                json.loads(row.payload))


def _row_change(row: Any) -> Change:
    return Change(row.fact_key, row.kind, row.subject, row.ref, row.op, row.at, row.position,
                  row.seq, row.cause, json.loads(row.payload))


class SqlUnit:
    """One projection transaction: rows and position commit together or not at all."""

    def __init__(self, conn: Connection, name: str, fresh: set[str] | None = None) -> None:
        self.conn = conn
        self.name = name
        # During a rebuild by this process: keys folded so far (any other key has no rows yet).
        self.fresh = fresh

    def lock_position(self) -> int:
        """Take the projection's write lock and read its position."""
        conn = self.conn
        # An UPDATE first makes SQLite take its write lock now (BEGIN IMMEDIATE semantics), and
        # on PostgreSQL locks the tracking row, so two projectors never fold the same batch.
        result = conn.execute(update(tracking).where(tracking.c.name == self.name)
                              .values(position=tracking.c.position))
        if result.rowcount == 0:
            conn.execute(insert(tracking).values(name=self.name, position=0))
        return int(conn.execute(select(tracking.c.position).where(tracking.c.name == self.name)).scalar_one())

    def set_position(self, position: int) -> None:
        self.conn.execute(update(tracking).where(tracking.c.name == self.name).values(position=position))

    def apply(self, changes: Sequence[Change]) -> None:
        if not changes:
            return
        conn = self.conn
        conn.execute(insert(fact_changes), [
            {"fact_key": c.key, "kind": c.kind, "subject": c.subject, "ref": c.ref, "op": c.op,
             "at": c.at, "position": c.position, "seq": c.seq, "cause": c.cause,
             "payload": json.dumps(c.payload, separators=(",", ":"))}
            for c in changes
        ])
        keys = sorted({c.key for c in changes})
        rows: list[dict[str, Any]] = []
        batch: dict[str, list[Change]] = {}
        for c in changes:
            batch.setdefault(c.key, []).append(c)
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start:start + _CHUNK]
            by_key: dict[str, list[Change]] = {}
            stored = chunk if self.fresh is None else [k for k in chunk if k in self.fresh]
            if stored:
                for row in conn.execute(select(fact_changes).where(fact_changes.c.fact_key.in_(stored))):
                    by_key.setdefault(row.fact_key, []).append(_row_change(row))
                conn.execute(delete(facts).where(facts.c.fact_key.in_(stored)))
            for key in chunk:
                if self.fresh is not None and key not in self.fresh:
                    by_key[key] = batch[key]
                    self.fresh.add(key)
            for key in chunk:
                for f in derive_intervals(by_key.get(key, ())):
                    rows.append({
                        "fact_key": f.key, "kind": f.kind, "subject": f.subject, "ref": f.ref,
                        "valid_from": f.valid_from, "valid_to": f.valid_to,
                        "opened_position": f.opened_position, "opened_type": f.opened_type,
                        "closed_position": f.closed_position, "closed_type": f.closed_type,
                        "payload": json.dumps(f.payload, separators=(",", ":")),
                    })
        if rows:
            conn.execute(insert(facts), rows)


class SqlFacts:
    """The temporal facts in SQL: transactions for the projector, point lookups for queries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.token = uuid.uuid4().hex
        self._fresh: set[str] | None = None

    def rebuilding(self, on: bool) -> None:
        """While on, this process is the only writer and started from empty tables (`reset`)."""
        self._fresh = set() if on else None

    @contextmanager
    def unit(self, name: str) -> Iterator[SqlUnit]:
        with self.engine.begin() as conn:
            yield SqlUnit(conn, name, self._fresh)

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

"""Reads that load and refresh the in-memory keyframe index (`projections.keyframes`) from SQL.

Read-only, and each load is one consistent read (one transaction, repeatable on PostgreSQL);
the index itself and every decision about it live in `projections.keyframes`.
"""

# ruff: noqa: S608  - the SQL text is built from this module's constants; values are bound parameters

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text

from projections.facts import Fact
from projections.keyframes import KeyframeIndex
from projections.sql_read import LazyFact

_COLUMNS = ("fact_key, kind, subject, ref, valid_from, valid_to, opened_position, opened_type, "
            "closed_position, closed_type, payload")
_CHUNK = 500


def _kinds(kinds: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{k}'" for k in kinds) + ")"  # the index's own constant kinds only


@contextmanager
def consistent_read(engine: Engine) -> Iterator[Connection]:
    """One read transaction: the position and the rows it returns belong to the same state
    (SQLite's read transaction is a snapshot; PostgreSQL needs REPEATABLE READ for that)."""
    with engine.connect() as plain:
        conn = plain.execution_options(isolation_level="REPEATABLE READ") \
            if plain.dialect.name == "postgresql" else plain
        with conn.begin():
            yield conn


def projection_position(conn: Connection, name: str) -> int:
    value = conn.execute(text("SELECT position FROM pl_tracking WHERE name = :n"), {"n": name}).scalar()
    return int(value or 0)


def all_rows(conn: Connection, kinds: Sequence[str]) -> list[Any]:
    """Every interval (any valid time) of the given kinds."""
    return list(conn.execute(text(f"SELECT {_COLUMNS} FROM pl_facts WHERE kind IN {_kinds(kinds)}")))


def touched_keys(conn: Connection, kinds: Sequence[str], since: int) -> list[str]:
    """Keys of the given kinds that any change recorded after log position `since` touched
    (an out-of-order event re-derives its key's intervals, so its key is among them)."""
    stmt = text(f"SELECT DISTINCT fact_key FROM pl_fact_changes WHERE position > :p AND kind IN {_kinds(kinds)}")
    return [str(k) for k in conn.execute(stmt, {"p": since}).scalars()]


def rows_of_keys(conn: Connection, keys: Sequence[str]) -> list[Any]:
    """Every interval of the given keys, as stored now."""
    out: list[Any] = []
    for start in range(0, len(keys), _CHUNK):
        chunk = list(keys[start:start + _CHUNK])
        marks = ", ".join(f":k{i}" for i in range(len(chunk)))
        stmt = text(f"SELECT {_COLUMNS} FROM pl_facts WHERE fact_key IN ({marks})")
        out.extend(conn.execute(stmt, {f"k{i}": k for i, k in enumerate(chunk)}))
    return out


# The kinds point-in-time evaluation reads (sessions, jobs and objects stay point lookups in SQL).
INDEXED_KINDS = ("principal", "account", "attach", "inline", "member", "policy", "pver", "pdefault",
                 "boundary", "trust", "scp", "bucket", "bucket_policy", "ownership", "tag", "revoked",
                 "orgmember", "orgunit", "orgtype", "orgattach", "orgpolicy")
# Beyond this many keys changed since the index's position, reading everything again is cheaper.
_REFRESH_LIMIT = 20_000


def _facts(rows: Iterable[Any]) -> Iterator[Fact]:
    """Rows as lazily decoded facts (decoding every payload up front measured +320 MiB at 1M
    events); repeated strings interned (the index holds them for long)."""
    intern = sys.intern
    for row in rows:
        yield LazyFact((row[0], intern(row[1]), intern(row[2]), intern(row[3]), row[4], row[5], row[6],
                        intern(row[7]), row[8], intern(row[9]) if row[9] is not None else None, row[10]))


class KeyframeSource:
    """Owns one `KeyframeIndex` for a store: built on first use, then brought to the projection's
    position by re-reading only the keys changed since (late events included), or rebuilt when
    the projection went back (a rebuild or reset)."""

    def __init__(self, engine: Engine, fallback: Any, projection: str = "temporal") -> None:
        self.engine = engine
        self.fallback = fallback
        self.projection = projection
        self.index: KeyframeIndex | None = None
        self.loads = 0  # full reads, for tests and benchmarks
        self.refreshes = 0

    def forget(self) -> None:
        self.index = None

    def current(self, position: int | None = None) -> KeyframeIndex:
        """The index at the projection's current position (`position`: the caller has just read
        it, and the index already at it needs no look at the database)."""
        if self.index is not None and position is not None and self.index.position == position:
            return self.index
        with consistent_read(self.engine) as conn:
            position = projection_position(conn, self.projection)
            index = self.index
            if index is not None and index.position == position:
                return index
            if index is not None and index.position < position:
                keys = touched_keys(conn, INDEXED_KINDS, index.position)
                if len(keys) <= _REFRESH_LIMIT:
                    index.replace(keys, _facts(rows_of_keys(conn, keys)), position)
                    self.refreshes += 1
                    self.settle()
                    return index
            self.index = None  # let the old one go before reading everything again
            index = self.index = KeyframeIndex(INDEXED_KINDS, _facts(all_rows(conn, INDEXED_KINDS)),
                                               position, self.fallback)
            self.loads += 1
        self.settle()
        return index

    @staticmethod
    def settle() -> None:
        """After a load or refresh: collect, then move what is alive out of the collector's
        generations (`gc.freeze`), the index above all (half a million objects, none in a
        cycle: reference counting still frees what a refresh drops; payloads decoded later
        stay with the collector). Later collections no longer traverse the index (measured at
        1M events: gen-1/gen-2 passes of 0.3-0.4 s after a who_can). Collecting first means no
        cyclic garbage of the host process is frozen with it; that collection costs as much
        as the objects made since the last freeze."""
        gc.collect()
        gc.freeze()

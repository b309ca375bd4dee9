"""Opening a store: whether a ledger exists at a URL, a PostgreSQL server that says why it refuses
a connection, and the lock that serialises the first creation of a store's tables.

It never creates anything while only looking: `store_exists` opens SQLite files read-only and
asks PostgreSQL's catalogue; nothing here decodes or writes events.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ledger.errors import StoreError, StoreNotFoundError

if TYPE_CHECKING:
    from ledger.adapters.store import StoreUrl

__all__ = ["first_use_lock", "require_store", "store_exists"]

_CONNECT_TIMEOUT_S = 10
# PostgreSQL advisory lock key taken while a store's event tables are first created.
_CREATE_LOCK = 727273


def _sqlite_has_table(path: str, table: str) -> bool:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()
    except sqlite3.Error:
        return False  # not an SQLite database at all
    finally:
        conn.close()
    return found is not None


def _pg_connect(url: StoreUrl, **kwargs: Any) -> Any:
    """A psycopg connection, or a `StoreError` that names the cause (a missing database, an
    unreachable server, a refused login) instead of a pool timeout."""
    import psycopg

    assert url.pg_params is not None
    params = url.pg_params
    try:
        return psycopg.connect(**params, connect_timeout=_CONNECT_TIMEOUT_S, **kwargs)
    except psycopg.Error as error:
        text = (str(error).strip() or type(error).__name__).splitlines()[0]
        where = f"{params['host']}:{params['port']}"
        if getattr(error, "sqlstate", None) == "3D000" or "does not exist" in text:
            raise StoreError(
                f"PostgreSQL database {params['dbname']!r} does not exist on {where} "
                f"(create it first: createdb -h {params['host']} -p {params['port']} {params['dbname']})"
            ) from None
        raise StoreError(f"cannot connect to PostgreSQL at {where}: {text[:300]}") from None


def _pg_table(url: StoreUrl, table: str) -> str:
    return f'"{url.schema}".{table}' if url.schema else table


def store_exists(url: StoreUrl, events_table: str) -> bool:
    """True iff a ledger (its event table) exists at `url`; looks without creating anything."""
    if url.dialect == "sqlite":
        path = url.sqlite_path or ":memory:"
        return path != ":memory:" and os.path.isfile(path) and _sqlite_has_table(path, events_table)
    with contextlib.closing(_pg_connect(url, autocommit=True)) as conn:
        row = conn.execute("SELECT to_regclass(%s)", (_pg_table(url, events_table),)).fetchone()
    return row is not None and row[0] is not None


def require_store(url: StoreUrl, events_table: str) -> None:
    """Raise `StoreNotFoundError`, naming the place, unless a ledger exists at `url`."""
    if store_exists(url, events_table):
        return
    if url.dialect == "sqlite":
        path = url.sqlite_path or ":memory:"
        if path == ":memory:":
            raise StoreNotFoundError("an in-memory store is always empty: nothing to read")
        if os.path.isfile(path):
            raise StoreNotFoundError(f"{path} is not a ledger (it has no {events_table} table)")
        raise StoreNotFoundError(f"no ledger at {path}: the file does not exist (check --db or LEDGER_DB)")
    assert url.pg_params is not None
    schema = f" schema {url.schema!r}" if url.schema else ""
    raise StoreNotFoundError(
        f"no ledger in PostgreSQL database {url.pg_params['dbname']!r}{schema} at "
        f"{url.pg_params['host']}:{url.pg_params['port']} (no {events_table} table; check --db or LEDGER_DB)"
    )


@contextlib.contextmanager
def first_use_lock(url: StoreUrl, events_table: str) -> Iterator[None]:
    """Serialise the first creation of a PostgreSQL store's tables across processes (an
    advisory lock held for the duration); a no-op once the store exists, and on SQLite, whose
    own locking makes `CREATE TABLE IF NOT EXISTS` safe."""
    if url.dialect != "postgresql":
        yield
        return
    conn = _pg_connect(url, autocommit=True)
    try:
        row = conn.execute("SELECT to_regclass(%s)", (_pg_table(url, events_table),)).fetchone()
        if row is not None and row[0] is not None:
            yield
            return
        conn.execute("SELECT pg_advisory_lock(%s)", (_CREATE_LOCK,))
        try:
            if url.schema:
                from psycopg.sql import SQL, Identifier

                conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(Identifier(url.schema)))
            yield
        finally:
            with contextlib.suppress(Exception):
                conn.execute("SELECT pg_advisory_unlock(%s)", (_CREATE_LOCK,))
    finally:
        conn.close()

"""The read side's schema: Alembic migrations to head, run once however many processes open a
fresh store at the same instant.

Only this module runs Alembic; it never touches rows of the projection, only its tables.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from ledger.errors import StoreError

__all__ = ["upgrade"]

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_VERSION_TABLE = "pl_alembic_version"  # as migrations/env.py names it
_MIGRATION_LOCK = 727274  # PostgreSQL advisory lock key of read-side migrations
_REVISION = re.compile(r'^revision = "([^"]+)"', re.M)
_DOWN_REVISION = re.compile(r'^down_revision = "([^"]+)"', re.M)


@cache
def _head_revision() -> str | None:
    """The one head of the migration scripts, read from their `revision` / `down_revision`
    lines (None if there is not exactly one: Alembic then decides)."""
    revisions, parents = set(), set()
    for script in (_MIGRATIONS / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revisions.update(_REVISION.findall(source))
        parents.update(_DOWN_REVISION.findall(source))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _at_head_without_alembic(engine: Engine) -> bool:
    """The schema's stored revision is already the head: a warm start need not load Alembic at
    all. Any doubt (no version table yet, several rows) says no and Alembic decides."""
    head = _head_revision()
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            stored = conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars().all()  # noqa: S608
    except Exception:  # noqa: BLE001 - a missing version table just means "migrate"
        return False
    return stored == [head]


def upgrade(engine: Engine) -> None:
    """Bring the read-side schema to Alembic head (idempotent; safe on a fresh file or schema,
    and when many processes open the same fresh store at once).

    A store already at head costs one read and takes no lock. Otherwise the migration runs in
    one transaction that first takes the store's migration lock (SQLite: BEGIN IMMEDIATE, its
    write lock; PostgreSQL: a transaction-level advisory lock), then looks again: whoever waited
    finds the work done."""
    if _at_head_without_alembic(engine):
        return
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()

    def at_head(conn: Connection) -> bool:
        context = MigrationContext.configure(conn, opts={"version_table": _VERSION_TABLE})
        return context.get_current_revision() == head

    try:
        with engine.connect() as conn:
            if at_head(conn):
                return
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            if not at_head(conn):
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
    except Exception as error:  # noqa: BLE001 - any migration failure is reported as a StoreError
        raise StoreError(f"cannot migrate read-side schema: {str(error).splitlines()[0][:200]}") from None

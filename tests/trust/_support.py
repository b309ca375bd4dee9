"""Shared helpers of the trust suite: a realistic history, raw database access behind the
ledger's back, tamper operations, and an in-process CLI runner through the real boundary.

Test support only: the raw SQL here is how an attacker would edit the store, never how the
ledger itself writes.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Self
from uuid import UUID, uuid4

from ledger.adapters.store import EVENTS_TABLE, StoreUrl
from ledger.application.facade import Ledger

ACCOUNT = "111122223333"


def record_history(ledger: Ledger) -> None:
    """The MediaConvert story plus a few more commands: ~35 events over three streams."""
    from ledger.application.demo import record_story

    record_story(ledger)
    admin = f"arn:aws:iam::{ACCOUNT}:user/admin"
    ledger.create_user(ACCOUNT, "carol", at="2024-03-20T09:00:00Z", actor=admin)
    ledger.add_user_to_group(ACCOUNT, "carol", "video-editors", at="2024-03-20T09:01:00Z", actor=admin)
    key = ledger.create_access_key(ACCOUNT, "carol", at="2024-03-20T09:02:00Z", actor=admin)
    ledger.deactivate_access_key(ACCOUNT, "carol", key.access_key_id, at="2024-03-21T09:00:00Z", actor=admin)
    ledger.detach_group_policy(
        ACCOUNT, "video-editors", f"arn:aws:iam::{ACCOUNT}:policy/MediaConvertSubmitJobs",
        at="2024-03-22T09:00:00Z", actor=admin,
    )


# -- the CLI, in process, through `main()` (the real error boundary) -------------------------------


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(*args: str) -> CliResult:
    """Run `ledger ARGS...` through `ledger.cli.app.main`, capturing its output and exit code."""
    from ledger.cli.app import main, state

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["ledger", *args]
    code: Any = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as done:
                code = done.code
    finally:
        sys.argv = argv
        state.db = None
        state.json = False
    if code is None:
        code = 0
    if not isinstance(code, int):
        code = 1
    return CliResult(code, out.getvalue(), err.getvalue())


# -- raw access behind the ledger's back ------------------------------------------------------------


@dataclass(frozen=True)
class RawRow:
    position: int
    originator_id: str
    version: int
    topic: str
    state: bytes


class RawDb:
    """Direct SQL on `ledger_events` (sqlite3 or psycopg), as an attacker with DB access."""

    def __init__(self, url: str) -> None:
        self.url = StoreUrl.parse(url)
        self.sqlite = self.url.dialect == "sqlite"
        if self.sqlite:
            self.conn: Any = sqlite3.connect(self.url.sqlite_path or "", isolation_level=None)
            self.table = EVENTS_TABLE
            self.pos = "rowid"
            self.ph = "?"
        else:
            import psycopg

            assert self.url.pg_params is not None
            self.conn = psycopg.connect(**self.url.pg_params, autocommit=True)
            self.table = f'"{self.url.schema}".{EVENTS_TABLE}'
            self.pos = "notification_id"
            self.ph = "%s"

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def named(self, table: str) -> str:
        """A table of the store, qualified by its schema on PostgreSQL."""
        return table if self.sqlite else f'"{self.url.schema}".{table}'

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        sql = sql.replace("?", self.ph).replace("{t}", self.table).replace("{pos}", self.pos)
        for name, table in (("{facts}", "pl_facts"), ("{changes}", "pl_fact_changes"),
                            ("{tracking}", "pl_tracking"), ("{source_keys}", "ledger_source_keys")):
            sql = sql.replace(name, self.named(table))
        cursor = self.conn.execute(sql, params)
        try:
            return list(cursor.fetchall())
        except Exception:
            return []

    def rows(self) -> list[RawRow]:
        found = self.execute(
            "SELECT {pos}, originator_id, originator_version, topic, state FROM {t} ORDER BY {pos}"
        )
        return [RawRow(int(r[0]), str(r[1]), int(r[2]), str(r[3]), bytes(r[4])) for r in found]

    def positions(self) -> list[int]:
        return [r[0] for r in self.execute("SELECT {pos} FROM {t} ORDER BY {pos}")]

    def count(self) -> int:
        return int(self.execute("SELECT count(*) FROM {t}")[0][0])

    def table_exists(self) -> bool:
        if self.sqlite:
            found = self.execute("SELECT name FROM sqlite_master WHERE type='table' AND name=?", (EVENTS_TABLE,))
        else:
            found = self.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema=? AND table_name=?",
                (self.url.schema, EVENTS_TABLE),
            )
        return bool(found)

    def fingerprint(self) -> list[tuple[int, str, int, str, bytes]]:
        return [(r.position, r.originator_id, r.version, r.topic, r.state) for r in self.rows()]

    def make_gap(self) -> None:
        """PostgreSQL only: burn a sequence value in a rolled-back insert (a real-world gap)."""
        assert not self.sqlite
        with self.conn.transaction(force_rollback=True):
            self.conn.execute(
                f"INSERT INTO {self.table} (originator_id, originator_version, topic, state) "
                "VALUES (%s, %s, %s, %s)",
                (uuid4(), 1, "ledger.events:Nothing", b"{}"),
            )

    # -- tampering -------------------------------------------------------------------------------

    def state_of(self, position: int) -> bytes:
        return bytes(self.execute("SELECT state FROM {t} WHERE {pos}=?", (position,))[0][0])

    def edit_field(self, position: int) -> None:
        """Change one field inside the stored JSON state (the actor, or the first string)."""
        data = json.loads(self.state_of(position))
        field = "actor" if "actor" in data else next(k for k, v in data.items() if isinstance(v, str))
        data[field] = "arn:aws:iam::999999999999:user/mallory"
        self.execute("UPDATE {t} SET state=? WHERE {pos}=?", (json.dumps(data).encode(), position))

    def edit_byte(self, position: int) -> None:
        """Flip whitespace-free bytes: the JSON stays valid and keeps its length."""
        state = self.state_of(position)
        self.execute("UPDATE {t} SET state=? WHERE {pos}=?", (state.replace(b"2024", b"2023", 1), position))

    def delete(self, position: int) -> None:
        self.execute("DELETE FROM {t} WHERE {pos}=?", (position,))

    def swap(self, a: int, b: int) -> None:
        """Swap the topics and states of two events (their positions stay)."""
        ra, rb = (self.execute("SELECT topic, state FROM {t} WHERE {pos}=?", (p,))[0] for p in (a, b))
        self.execute("UPDATE {t} SET topic=?, state=? WHERE {pos}=?", (rb[0], bytes(rb[1]), a))
        self.execute("UPDATE {t} SET topic=?, state=? WHERE {pos}=?", (ra[0], bytes(ra[1]), b))

    def insert_forged(self, position: int, like: int) -> None:
        """Insert a copy of event `like` (with a forged actor) at `position`."""
        row = self.execute(
            "SELECT originator_id, originator_version, topic, state FROM {t} WHERE {pos}=?", (like,)
        )[0]
        data = json.loads(bytes(row[3]))
        data["actor"] = "arn:aws:iam::999999999999:user/mallory"
        originator: Any = row[0] if self.sqlite else UUID(str(row[0]))
        # A fresh stream id: the (originator_id, version) uniqueness must not stop the forger.
        originator = uuid4().hex if self.sqlite else uuid4()
        self.execute(
            "INSERT INTO {t} ({pos}, originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?, ?)",
            (position, originator, 1, row[2], json.dumps(data).encode()),
        )

    def truncate_after(self, position: int) -> None:
        self.execute("DELETE FROM {t} WHERE {pos}>?", (position,))


@contextlib.contextmanager
def raw(url: str) -> Iterator[RawDb]:
    db = RawDb(url)
    try:
        yield db
    finally:
        db.close()

"""Secrets: passwords, secret access keys and session tokens never reach the database (SQLite
file and WAL, PostgreSQL rows) nor the logs, whether given to commands or imported."""

from __future__ import annotations

import json
from pathlib import Path

from structlog.testing import capture_logs

from ledger.adapters.store import StoreUrl
from ledger.application.facade import Ledger
from tests.trust._cloudtrail import (
    PASSWORD,
    SECRET_ACCESS_KEY,
    SESSION_TOKEN,
    secret_bearing_records,
)
from tests.trust._support import ACCOUNT, raw

COMMAND_PASSWORD = "c0mmand-Password!-never-stored"


def _database_bytes(url: str) -> bytes:
    parsed = StoreUrl.parse(url)
    if parsed.dialect == "sqlite":
        path = Path(parsed.sqlite_path or "")
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    with raw(url) as db:
        rows = db.execute("SELECT topic, state FROM {t}")
        keys = db.execute(f'SELECT source_key FROM "{parsed.schema}".ledger_source_keys')
    return b"\n".join([*(r[0].encode() + bytes(r[1]) for r in rows), *(bytes(k[0]) for k in keys)])


class TestSecretsNeverStored:
    """Credentials given to commands or carried by imported records are neither stored nor logged."""

    def test_database_and_logs_hold_no_secret(self, store_url: str, tmp_path: Path) -> None:
        """Grep the raw store and every captured log entry for each secret: none present."""
        from ledger.application.importing.runner import import_cloudtrail

        trail = tmp_path / "secrets.json"
        trail.write_text(json.dumps({"Records": secret_bearing_records()}))
        with capture_logs() as logs, Ledger.open(store_url) as ledger:
            ledger.create_account(ACCOUNT, "secrets")
            ledger.create_user(ACCOUNT, "erin")
            ledger.set_login_profile(ACCOUNT, "erin", COMMAND_PASSWORD)
            key = ledger.create_access_key(ACCOUNT, "erin")
            summary = import_cloudtrail(ledger, [trail])
            recorded = list(ledger.events())
        assert key.secret_access_key and key.access_key_id
        assert summary.imported >= 1
        assert any(e.event_type == "LoginProfileSet" for e in recorded)
        secrets = [PASSWORD, SECRET_ACCESS_KEY, SESSION_TOKEN, COMMAND_PASSWORD, key.secret_access_key]
        stored = _database_bytes(store_url)
        logged = repr(logs)
        assert [] == [s for s in secrets if s.encode() in stored]
        assert [] == [s for s in secrets if s in logged]
        assert key.secret_access_key not in repr(key)

"""First use under concurrency: processes opening a fresh store at the same instant (schema
migration, projection bootstrap) and two `ledger demo` runs at once all succeed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ledger.application.facade import Ledger
from tests.trust._concurrency import ROOT, race_first_use


class TestFirstUseIsSafeUnderConcurrency:
    """Sixteen processes on one fresh store: no migration or bootstrap error, one total order."""

    def test_sixteen_processes_open_a_fresh_store_at_once(self, store_url: str) -> None:
        """Every process writes and queries successfully; the log holds each write exactly once."""
        outcome = race_first_use(store_url, processes=16)
        assert [] == outcome.violations


class TestTwoDemosAtOnce:
    """The demo resets its own file; two runs started together both succeed."""

    def test_two_demos_started_together_both_succeed(self, tmp_path: Path) -> None:
        """Both exit 0 and the file left behind holds one whole story."""
        start_at = time.time() + 2.0
        script = (
            "import sys, time; time.sleep(max(0.0, float(sys.argv[1]) - time.time()));"
            "from ledger.cli import main; sys.argv = ['ledger', 'demo', '--json']; main()"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LEDGER_DB": ""}
        procs = [subprocess.Popen([sys.executable, "-c", script, str(start_at)], cwd=tmp_path, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        done = [proc.communicate(timeout=180) for proc in procs]
        codes = [(proc.returncode, err.strip()[-300:]) for proc, (_, err) in zip(procs, done, strict=True)]
        assert [(0, "")] * 2 == codes
        expected = len(json.loads(done[0][0])["events"])
        with Ledger.open(f"sqlite:///{tmp_path / 'ledger-demo.db'}") as ledger:
            assert expected == len(list(ledger.events()))


class TestProjectionBootstrap:
    """The projection's tracking row is created once, whoever gets there first."""

    def test_a_second_projector_waits_for_the_first_ones_bootstrap(self, store_url: str) -> None:
        """While one transaction has created the tracking row (uncommitted), a second one that
        needs it waits and then reads position 0, instead of failing on the row's key."""
        import threading

        from ledger.adapters.store import StoreUrl
        from projections.sql import SqlFacts, make_engine, upgrade

        url = StoreUrl.parse(store_url)
        engine = make_engine(url.sqlalchemy_url(), url.schema)
        try:
            upgrade(engine)
            facts = SqlFacts(engine)
            seen: list[object] = []

            def second() -> None:
                try:
                    with facts.unit("temporal") as unit:
                        seen.append(unit.lock_position())
                except Exception as error:
                    seen.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")

            with facts.unit("temporal") as unit:
                assert 0 == unit.lock_position()
                rival = threading.Thread(target=second)
                rival.start()
                time.sleep(0.5)
            rival.join(timeout=60)
            assert [0] == seen
        finally:
            engine.dispose()


class TestOpeningRetriesSQLitesImmediateBusy:
    """SQLite refuses at once ("database is locked", no busy wait) a reader's upgrade to writer
    while another process writes; opening a fresh store must retry that, not fail the command."""

    def test_open_succeeds_after_transient_database_is_locked(self, tmp_path: Path, monkeypatch: Any) -> None:
        import sqlite3

        from eventsourcing.sqlite import SQLiteApplicationRecorder

        from ledger.adapters.store import EventStore

        real_create = SQLiteApplicationRecorder.create_table
        refusals = {"left": 3}

        def busy_then_create(recorder: Any) -> None:
            if refusals["left"]:
                refusals["left"] -= 1
                raise sqlite3.OperationalError("database is locked")
            real_create(recorder)

        monkeypatch.setattr(SQLiteApplicationRecorder, "create_table", busy_then_create)
        store = EventStore(f"sqlite:///{tmp_path / 'fresh.db'}")
        assert 0 == refusals["left"]
        assert [] == list(store.iter_log())

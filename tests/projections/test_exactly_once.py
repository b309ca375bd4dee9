"""Exactly-once projection: a crash mid-batch (exception or kill -9) loses and duplicates nothing;
gaps in positions are tolerated, and a young gap is not skipped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from ledger.domain import events as ev
from projections.fold import changes_of
from projections.memory import MemoryFacts
from projections.runner import Projector
from tests.projections._support import OPS, apply_op, fact_rows, setup


def _history(ledger: Any, n: int = 40) -> None:
    minute = setup(ledger)
    for k in range(n):
        apply_op(ledger, OPS[k % len(OPS)], k, k * 7, minute)
        minute += 1


class _Crash(Exception):
    pass


class TestCrashMidBatch:
    def test_exception_inside_the_fold_leaves_no_partial_batch(self, ledger: Any) -> None:
        """A fold that raises mid-batch commits nothing of that batch; a restart converges."""
        _history(ledger)
        rs = ledger.read_side()
        calls = {"n": 0}

        def flaky(event: ev.LedgerEvent) -> Any:
            calls["n"] += 1
            if calls["n"] == 17:
                raise _Crash()
            return changes_of(event)

        crashing = Projector(ledger.store, rs.facts, batch=10, fold=flaky)
        with pytest.raises(_Crash):
            crashing.catch_up()
        assert 10 == rs.position()
        rs.catch_up()
        assert fact_rows(MemoryFacts.replay(ledger.events()).all_facts()) == fact_rows(rs.facts.all_facts())

    def test_crash_after_rows_are_written_rolls_them_back(self, ledger: Any) -> None:
        """Rows written before the position update vanish with it when the unit fails."""
        _history(ledger)
        rs = ledger.read_side()

        class FailingFacts:
            def __init__(self, inner: Any) -> None:
                self.inner = inner

            def position(self, name: str) -> int:
                return int(self.inner.position(name))

            def unit(self, name: str) -> Any:
                inner_unit = self.inner.unit(name)

                class Wrapped:
                    def __enter__(self_nonlocal) -> Any:
                        u = inner_unit.__enter__()
                        original = u.apply

                        def apply(changes: Any) -> None:
                            original(changes)
                            raise _Crash()

                        u.apply = apply
                        return u

                    def __exit__(self_nonlocal, *exc: Any) -> Any:
                        return inner_unit.__exit__(*exc)

                return Wrapped()

        with pytest.raises(_Crash):
            Projector(ledger.store, FailingFacts(rs.facts), batch=25).catch_up()
        assert (0, []) == (rs.position(), rs.facts.all_facts())
        rs.catch_up()
        assert fact_rows(MemoryFacts.replay(ledger.events()).all_facts()) == fact_rows(rs.facts.all_facts())

    @pytest.mark.slow
    def test_kill_9_of_a_projector_process_then_restart_converges(self, ledger: Any) -> None:
        """A real projector process killed with SIGKILL mid-run resumes to the same state."""
        _history(ledger, 120)
        ledger.read_side()  # migrate first
        url = ledger.store.url.url
        # The fold stalls on the first event of the fourth batch of 7: three batches are
        # committed and the fourth is open when the kill lands, however loaded the machine.
        script = (
            "import time, sys\n"
            "from ledger import Ledger\n"
            "from projections.fold import changes_of\n"
            "from projections.runner import Projector\n"
            "l = Ledger.open(sys.argv[1]); rs = l.read_side()\n"
            "folded = [0]\n"
            "def stalling(e):\n"
            "    folded[0] += 1\n"
            "    if folded[0] == 22:\n"
            "        print('stalled', flush=True); time.sleep(3600)\n"
            "    return changes_of(e)\n"
            "Projector(l.store, rs.facts, batch=7, fold=stalling).catch_up()\n"
        )
        env = dict(os.environ, PYTHONPATH=os.getcwd())
        proc = subprocess.Popen([sys.executable, "-c", script, url], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        assert "stalled" == proc.stdout.readline().strip()
        os.kill(proc.pid, signal.SIGKILL)
        assert -signal.SIGKILL == proc.wait()
        rs = ledger.read_side()
        stopped = rs.position()
        assert 0 < stopped < ledger.store.max_position()
        rs.catch_up()
        assert ledger.store.max_position() == rs.position()
        assert fact_rows(MemoryFacts.replay(ledger.events()).all_facts()) == fact_rows(rs.facts.all_facts())


class _FakeLog:
    """A log whose position 3 commits late (visible only after `reveal`)."""

    def __init__(self, events: list[ev.LedgerEvent]) -> None:
        self.events = events
        self.hidden = {3}

    def read_log(self, after: int = 0, limit: int = 1000, upto: int | None = None) -> list[ev.LedgerEvent]:
        return [e for e in self.events if (e.position or 0) > after and e.position not in self.hidden][:limit]

    def max_position(self) -> int:
        return max(e.position or 0 for e in self.events)


class TestPositionGaps:
    def test_a_young_gap_is_not_skipped_by_a_follower(self, ledger: Any) -> None:
        """An event committing late behind a visible one is still projected (gap grace)."""
        _history(ledger, 3)
        events = list(ledger.events())[:6]
        now = [0.0]
        facts = MemoryFacts()
        log = _FakeLog(events)
        projector = Projector(log, facts, gap_grace=1.0, clock=lambda: now[0])
        projector.catch_up()
        assert 2 == facts.position("temporal")
        log.hidden.clear()  # the late commit lands
        projector.catch_up()
        assert 6 == facts.position("temporal")
        assert fact_rows(MemoryFacts.replay(events).all_facts()) == fact_rows(facts.all_facts())

    def test_a_permanent_gap_is_passed_after_the_grace(self, ledger: Any) -> None:
        """A rolled-back position never arrives: the follower moves past it after the grace."""
        _history(ledger, 3)
        events = [e for e in list(ledger.events())[:6] if e.position != 3]
        now = [0.0]
        facts = MemoryFacts()
        projector = Projector(_FakeLog(events), facts, gap_grace=1.0, clock=lambda: now[0])
        projector.catch_up()
        assert 2 == facts.position("temporal")
        now[0] = 5.0
        projector.catch_up()
        assert 6 == facts.position("temporal")

    def test_real_store_gap_from_a_rolled_back_insert(self, ledger: Any) -> None:
        """A position burnt by a rolled-back transaction does not stop the projector."""
        if ledger.store.url.dialect != "postgresql":
            pytest.skip("SQLite rowids have no gaps (max+1); the fake-log tests cover the logic")
        ledger.create_account("111111111111", "a")
        if True:
            import psycopg

            with psycopg.connect(**ledger.store.url.pg_params) as conn:
                schema = ledger.store.url.schema
                conn.execute(f"SELECT nextval(pg_get_serial_sequence('\"{schema}\".ledger_events', 'notification_id'))")
                conn.rollback()
        ledger.create_account("222222222222", "b")
        positions = [e.position for e in ledger.events()]
        assert positions[1] - positions[0] > 1
        assert ledger.can("arn:aws:iam::222222222222:root", "s3:ListAllMyBuckets", "*").allowed
        assert positions[-1] == ledger.read_side().position()


class TestFollowerWorker:
    @pytest.mark.slow
    def test_project_follow_keeps_up_with_writers(self, ledger: Any) -> None:
        """`ledger project --follow` in its own process projects events appended after it starts."""
        ledger.read_side()
        env = dict(os.environ, PYTHONPATH=os.getcwd(), LEDGER_DB=ledger.store.url.url)
        proc = subprocess.Popen([sys.executable, "-c", "from ledger.cli import main; main()", "project",
                                 "--follow", "--poll", "0.2"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _history(ledger, 10)
            target = ledger.store.max_position()
            from projections.sql import SqlFacts

            facts = SqlFacts(ledger.read_side().engine)
            deadline = time.monotonic() + 120  # a bound for a hung worker, not a speed requirement
            while facts.position("temporal") < target and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            assert None is proc.poll(), "the follower exited"
            assert target == facts.position("temporal")
        finally:
            proc.terminate()
            proc.wait(10)

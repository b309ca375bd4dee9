"""The projection write path's shortcuts equal the plain definitions: folding stored JSON equals
folding validated events, streamed intervals equal `derive_intervals`, and the one-transaction
rebuild leaves the previous projection intact when it fails."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.adapters.store import EventCodec
from ledger.application.generate import generate
from ledger.domain import events as ev
from projections import runner
from projections.facts import Change, derive_intervals, derive_rows
from projections.fold import changes_of, changes_of_stored
from projections.memory import MemoryFacts
from tests.projections._support import OPS, apply_op, fact_rows, setup


def _history(ledger: Any, n: int = 60) -> None:
    minute = setup(ledger)
    for k in range(n):
        apply_op(ledger, OPS[k % len(OPS)], k, k * 7, minute)
        minute += 1


def _stored(ledger: Any) -> list[tuple[int, str, bytes]]:
    return [(n.id, n.topic, n.state)
            for n in ledger.store.recorder.select_notifications(start=0, limit=10**6, inclusive_of_start=False)]


class TestFoldOfStoredEvents:
    def test_stored_fold_equals_model_fold_on_every_event_type_recorded(self, ledger: Any) -> None:
        """`changes_of_stored` on the recorded JSON equals `changes_of` on the decoded event."""
        _history(ledger, 80)
        generate(ledger, 3000, seed=7)
        decoded = {e.position: e for e in ledger.events()}
        stored = _stored(ledger)
        assert [changes_of(decoded[p]) for p, _, _ in stored] == [changes_of_stored(*s) for s in stored]

    def test_an_old_event_version_is_upcast_before_folding(self) -> None:
        """A BucketCreated stored before `object_ownership` existed folds as the upcaster says."""
        state = json.dumps({
            "occurred_at": "2024-03-01T00:00:00Z", "recorded_at": "2024-03-01T00:00:00Z",
            "actor": None, "source": "api", "source_id": None, "account_id": "111111111111",
            "bucket_name": "old", "bucket_arn": "arn:aws:s3:::old", "region": "us-east-1",
        }).encode()
        topic = "ledger.events:BucketCreated"
        event = EventCodec().decode(ev.account_stream_id("111111111111"), 1, topic, state, 5)
        assert "ObjectWriter" == changes_of_stored(5, topic, state)[1].payload["object_ownership"]
        assert changes_of(event) == changes_of_stored(5, topic, state)

    def test_an_integer_beyond_64_bits_in_a_document_folds_exactly(self, ledger: Any) -> None:
        """A policy document's 2**70 reaches the fact payload unchanged (no float rounding)."""
        ledger.create_account("111111111111", "a")
        document = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"NumericLessThan": {"s3:max-keys": 2**70 + 1}}}]}
        ledger.create_policy("111111111111", "Big", document)
        stored = _stored(ledger)
        decoded = {e.position: e for e in ledger.events()}
        assert [changes_of(decoded[p]) for p, _, _ in stored] == [changes_of_stored(*s) for s in stored]
        versions = [c.payload for p, t, st in stored for c in changes_of_stored(p, t, st) if c.kind == "pver"]
        assert 2**70 + 1 == versions[0]["document"]["Statement"][0]["Condition"]["NumericLessThan"]["s3:max-keys"]

    def test_a_state_the_fast_path_cannot_read_is_validated_and_rejected(self) -> None:
        """Garbage in a stored time is reported by pydantic, never folded silently."""
        state = json.dumps({"occurred_at": 12, "recorded_at": "x", "account_id": "1",
                            "account_name": "a", "root_arn": "r"}).encode()
        with pytest.raises(ValueError, match="validation error"):
            changes_of_stored(1, "ledger.events:AccountCreated", state)


class TestRawLogPages:
    def test_stored_pages_equal_the_recorders_notifications(self, ledger: Any) -> None:
        """`stored_page` returns what eventsourcing's `select_notifications` does, page by page."""
        generate(ledger, 700, seed=11)
        top = ledger.store.max_position()
        for after, limit, upto in [(0, 100, None), (250, 1000, None), (10, 50, 40), (top, 10, None), (0, 5, 0)]:
            expected = [(n.id, n.topic, bytes(n.state)) for n in ledger.store.recorder.select_notifications(
                start=after, limit=limit, stop=upto, inclusive_of_start=False)]
            assert expected == [(p, t, bytes(s)) for p, t, s in ledger.store.stored_page(after, limit, upto)]


CHANGES = st.lists(
    st.tuples(st.sampled_from(["k1", "k2", "k3"]), st.sampled_from(["set", "clear"]),
              st.integers(0, 6), st.integers(0, 3)),
    max_size=30,
)


class TestStreamedIntervals:
    @settings(max_examples=200)
    @given(spec=CHANGES, seed=st.integers(0, 1000))
    def test_derive_rows_equals_derive_intervals_whatever_the_order(
            self, spec: list[tuple[str, str, int, int]], seed: int) -> None:
        """Streaming intervals (emitted as they close) gives exactly `derive_intervals` per key."""
        changes = [Change(key, "k", "s", "r", op, at, position, seq, f"E{position}", {"v": position})
                   for position, (key, op, at, seq) in enumerate(spec, start=1)]
        random.Random(seed).shuffle(changes)
        expected = sorted(
            (f.key, f.valid_from, f.valid_to, f.opened_position, f.closed_position, f.closed_type)
            for key in {c.key for c in changes}
            for f in derive_intervals([c for c in changes if c.key == key]))
        got = sorted((r[0], r[4], r[5], r[6], r[8], r[9]) for r in derive_rows([(c, c.payload) for c in changes]))
        assert expected == got


class _Boom(Exception):
    pass


class TestRebuildIsOneTransaction:
    def test_a_failing_rebuild_leaves_the_previous_projection(self, ledger: Any, monkeypatch: Any) -> None:
        """A rebuild that fails part-way commits nothing: rows and position stay as they were."""
        _history(ledger)
        generate(ledger, 25_000, seed=3)  # more than two rebuild pages
        rs = ledger.read_side()
        rs.catch_up()
        before = (rs.position(), fact_rows(rs.facts.all_facts()))
        calls = {"n": 0}

        def failing(position: int, topic: str, state: bytes) -> list[Change]:
            calls["n"] += 1
            if calls["n"] == runner.REBUILD_PAGE + 17:
                raise _Boom()
            return changes_of_stored(position, topic, state)

        monkeypatch.setattr(runner, "changes_of_stored", failing)
        with pytest.raises(_Boom):
            rs.projector.rebuild()
        assert before == (rs.position(), fact_rows(rs.facts.all_facts()))
        monkeypatch.undo()
        assert ledger.store.max_position() == rs.projector.rebuild()
        assert before == (rs.position(), fact_rows(rs.facts.all_facts()))

    def test_rebuild_equals_replay_and_resumes_incrementally(self, ledger: Any) -> None:
        """Rebuilt rows equal a replay; events recorded afterwards continue from them."""
        _history(ledger, 30)
        rs = ledger.read_side()
        rs.rebuild()
        for k in range(40):  # more commands, half of them dated before what is already recorded
            apply_op(ledger, OPS[(3 * k) % len(OPS)], k + 1, k * 5, 20 + k if k % 2 else 200 + k)
        rs.catch_up()
        assert fact_rows(MemoryFacts.replay(ledger.events()).all_facts()) == fact_rows(rs.facts.all_facts())

    @pytest.mark.slow
    def test_kill_9_during_a_rebuild_leaves_the_previous_projection(self, ledger: Any) -> None:
        """A rebuilding process killed with SIGKILL commits nothing; the next rebuild completes."""
        _history(ledger)
        generate(ledger, 5000, seed=5)
        rs = ledger.read_side()
        rs.catch_up()
        before = (rs.position(), fact_rows(rs.facts.all_facts()))
        # The fold stalls on its 1,000th event: the rebuild's transaction has emptied the tables
        # and is folding when the kill lands, however loaded the machine.
        script = (
            "import sys, time\n"
            "from ledger import Ledger\n"
            "import projections.runner as r\n"
            "fold = r.changes_of_stored\n"
            "folded = [0]\n"
            "def stalling(*a):\n"
            "    folded[0] += 1\n"
            "    if folded[0] == 1000:\n"
            "        print('stalled', flush=True); time.sleep(3600)\n"
            "    return fold(*a)\n"
            "r.changes_of_stored = stalling\n"
            "l = Ledger.open(sys.argv[1]); rs = l.read_side()\n"
            "rs.rebuild()\n"
            "print('finished', flush=True)\n"
        )
        env = dict(os.environ, PYTHONPATH=os.getcwd())
        proc = subprocess.Popen([sys.executable, "-c", script, ledger.store.url.url], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        assert "stalled" == proc.stdout.readline().strip()
        os.kill(proc.pid, signal.SIGKILL)
        assert -signal.SIGKILL == proc.wait()  # killed, not finished
        assert before == (rs.position(), fact_rows(rs.facts.all_facts()))
        assert ledger.store.max_position() == rs.rebuild()
        assert before == (rs.position(), fact_rows(rs.facts.all_facts()))

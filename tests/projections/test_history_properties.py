"""`diff` and `timeline` against the naive replay on Hypothesis-generated histories with role chains,
PassRole to MediaConvert in random Regions and queues, cross-account trust and unknown buckets, on
SQLite and PostgreSQL (issue 10 item 18): the answers must agree exactly."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from ledger.timeaxis import to_us
from projections.naive import ReplaySnapshot, naive_diff, naive_timeline
from tests.projections._paths_support import MCROLE, OPS, QUESTIONS, X, record
from tests.projections._support import fresh_ledger, t

BACKENDS = ["sqlite", "postgres"]
HISTORIES = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 3), st.integers(0, 5)), min_size=2, max_size=10)
# The naive replay is slow: a failure is reported as found, not shrunk for minutes.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
PAIRS = [*QUESTIONS, ("iam:PassRole", MCROLE), ("sts:AssumeRole", X)]


def _rows(items: Any) -> set[tuple[str, str, str, str, str]]:
    return {(i.principal, i.action, i.resource, i.before_state, i.after_state) for i in items}


@pytest.mark.parametrize("backend", BACKENDS)
class TestDiffEqualsNaiveReplay:
    @settings(max_examples=5, phases=NO_SHRINK)
    @given(ops=HISTORIES, cut=st.integers(0, 9))
    def test_gained_and_lost_match_replay(self, backend: str, ops: list[tuple[str, int, int]], cut: int) -> None:
        """Every change of a request's own decision or of its strongest path, and nothing else."""
        with fresh_ledger(backend) as ledger:
            last = record(ledger, ops)
            events = list(ledger.events())
            t1, t2 = t(min(5.5 + cut, last - 0.5)), t(last + 1)
            replayed = [ReplaySnapshot(events, at) for at in (t1, t2)]
            principals = sorted({p.arn for s in replayed for p in s.principals()}
                                | {f"arn:aws:iam::{a}:root" for s in replayed for a in s.accounts()})
            result = ledger.diff(t1, t2, principals=principals, pairs=PAIRS)
            assert naive_diff(events, t1, t2, principals, PAIRS) == (_rows(result.gained), _rows(result.lost))

    @settings(max_examples=3, phases=NO_SHRINK)
    @given(ops=HISTORIES)
    def test_an_empty_window_changes_nothing(self, backend: str, ops: list[tuple[str, int, int]]) -> None:
        """diff T T is empty, whatever the history."""
        with fresh_ledger(backend) as ledger:
            last = record(ledger, ops)
            result = ledger.diff(t(last), t(last))
            assert ((), ()) == (result.gained, result.lost)


@pytest.mark.parametrize("backend", BACKENDS)
class TestTimelineEqualsNaiveReplay:
    @settings(max_examples=5, phases=NO_SHRINK)
    @given(ops=HISTORIES)
    def test_intervals_match_replay_at_every_event(self, backend: str, ops: list[tuple[str, int, int]]) -> None:
        """The intervals equal the decision replayed at every event time, merged into runs, and the
        last one ends at --end."""
        with fresh_ledger(backend) as ledger:
            last = record(ledger, ops)
            events = list(ledger.events())
            start, end = to_us(t(0)), to_us(t(last + 30))
            callers = [f"arn:aws:iam::{'111111111111'}:user/alice", f"arn:aws:iam::{'111111111111'}:role/R",
                       f"arn:aws:iam::{'222222222222'}:user/carol"]
            for principal in callers:
                for action, resource in PAIRS:
                    tl = ledger.timeline(principal, action, resource, start=t(0), end=t(last + 30))
                    got = [(iv.start_us, iv.end_us, iv.eval_decision, iv.conditional) for iv in tl.intervals]
                    assert naive_timeline(events, principal, action, resource, start, end) == got

"""Projection laws on Hypothesis-generated histories, on SQLite and PostgreSQL: every as-of answer
equals a naive replay, whatever the arrival order; rebuilt equals incremental."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from ledger.timeaxis import to_us
from projections.memory import MemoryFacts
from projections.naive import ReplaySnapshot, naive_can, naive_diff
from tests.projections._support import (
    OPS,
    QUERIES,
    apply_op,
    fact_rows,
    fresh_ledger,
    setup,
    t,
)

BACKENDS = ["sqlite", "postgres"]
HISTORIES = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 3), st.integers(0, 5)),
                     min_size=3, max_size=16)
SETTINGS = settings(max_examples=6)


def _record(ledger: Any, ops: list[tuple[str, int, int]]) -> int:
    minute = setup(ledger)
    for op, i, j in ops:
        apply_op(ledger, op, i, j, minute)
        minute += 1
    return minute


def _times(last_minute: int) -> list[Any]:
    return [t(m + 0.5) for m in range(0, last_minute, 2)] + [t(last_minute + 20), t(last_minute + 60)]


@pytest.mark.parametrize("backend", BACKENDS)
class TestAnswersEqualNaiveReplay:
    @SETTINGS
    @given(ops=HISTORIES)
    def test_can_who_can_timeline_and_diff_match_replay(self, backend: str, ops: list[tuple[str, int, int]]) -> None:
        """can/who_can/timeline/diff at any valid time equal replaying events up to that time."""
        with fresh_ledger(backend) as ledger:
            last = _record(ledger, ops)
            events = list(ledger.events())
            times = _times(last)
            for at in times:
                for principal, action, resource in QUERIES:
                    expected = naive_can(events, principal, action, resource, at).eval_decision
                    assert expected == ledger.can(principal, action, resource, at=at).eval_decision, (at, principal, action)
            for at in times[::3]:
                action, resource = "s3:PutObject", "arn:aws:s3:::data-b/k"
                snap = ReplaySnapshot(events, at)
                callers = [p.arn for p in snap.principals()] + [f"arn:aws:iam::{a}:root" for a in snap.accounts()]
                expected_set = {c for c in callers
                                if naive_can(events, c, action, resource, at, unknown_context=True).allowed}
                got = {p["principal"] for p in ledger.who_can(action, resource, at=at)["principals"]}
                assert expected_set == got
            principal, action, resource = QUERIES[1]
            tl = ledger.timeline(principal, action, resource, start=t(0), end=t(last + 60))
            for at in times:
                us = to_us(at)
                # half-open intervals, but the last one holds at --end itself
                ivs = tl["intervals"]
                inside = [iv for i, iv in enumerate(ivs) if iv["start_us"] <= us and (
                    us < iv["end_us"] or (i == len(ivs) - 1 and us == iv["end_us"]))]
                assert len(inside) == 1
                assert naive_can(events, principal, action, resource, at).eval_decision == inside[0]["EvalDecision"]
            t1, t2 = times[0], times[-3]
            pairs = [(a, r) for _, a, r in QUERIES]
            # diff ranges over users, roles and account roots (sessions are not principals of its own)
            principals = sorted({p for p, _, _ in QUERIES if ":assumed-role/" not in p})
            result = ledger.diff(t1, t2, principals=principals, pairs=pairs)
            gained = {(g.principal, g.action, g.resource, g.before_state, g.after_state) for g in result.gained}
            lost = {(g.principal, g.action, g.resource, g.before_state, g.after_state) for g in result.lost}
            assert naive_diff(events, t1, t2, principals, pairs) == (gained, lost)


@pytest.mark.parametrize("backend", BACKENDS)
class TestArrivalOrderDoesNotMatter:
    @SETTINGS
    @given(ops=HISTORIES, seed=st.integers(0, 10_000), chunks=st.integers(1, 4))
    def test_shuffled_imports_answer_like_sorted_replay(self, backend: str, ops: list[tuple[str, int, int]],
                                                         seed: int, chunks: int) -> None:
        """Facts recorded in shuffled order give the same as-of answers as replay by occurred_at,
        and the incrementally projected facts equal a rebuild from scratch."""
        with fresh_ledger("sqlite") as source:
            last = _record(source, ops)
            facts = list(source.events())
        shuffled = facts[:]
        random.Random(seed).shuffle(shuffled)
        with fresh_ledger(backend) as ledger:
            size = max(1, len(shuffled) // chunks)
            for start in range(0, len(shuffled), size):
                ledger.record(shuffled[start:start + size])
                ledger.project()  # incremental: each chunk folds into what is already there
            events = list(ledger.events())
            for at in _times(last):
                for principal, action, resource in QUERIES:
                    expected = naive_can(events, principal, action, resource, at).eval_decision
                    assert expected == ledger.can(principal, action, resource, at=at).eval_decision
            rs = ledger.read_side()
            incremental = fact_rows(rs.facts.all_facts())
            assert fact_rows(MemoryFacts.replay(events).all_facts()) == incremental
            ledger.rebuild()
            assert fact_rows(rs.facts.all_facts()) == incremental
            cut = len(events) // 2 or 1
            known = events[:cut]
            for at in _times(last)[::2]:
                for principal, action, resource in QUERIES[:5]:
                    expected = naive_can(known, principal, action, resource, at).eval_decision
                    got = ledger.can(principal, action, resource, at=at, known_at=f"@{known[-1].position}")
                    assert expected == got.eval_decision


def test_invalid_times_raise_a_ledger_error(tmp_path: Any) -> None:
    """An unparseable `at` or an unknown @POSITION is a typed error, not a crash."""
    with fresh_ledger("sqlite") as ledger:
        setup(ledger)
        for bad in ("yesterday", "@0", "@999"):
            with pytest.raises(LedgerError):
                ledger.can(QUERIES[0][0], "s3:GetObject", "*", at=bad)

"""who-can never leaves anyone out, and every path it gives is real (issue 10, items 16 and 17), on
Hypothesis-generated histories with role chains, cross-account trust, PassRole to MediaConvert in
random Regions and queues, time conditions, unknown policies and unseen buckets, on both stores."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.naive import ReplaySnapshot, naive_who_can
from projections.queries.paths import open_ended
from projections.results import WhoCanEntry
from tests.projections._paths_support import OPS, QUESTIONS, record
from tests.projections._support import fresh_ledger, t

BACKENDS = ["sqlite", "postgres"]
HISTORIES = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 3), st.integers(0, 5)), min_size=4, max_size=18)
SETTINGS = settings(max_examples=25)
DEPTH = 3


def _times(last: int) -> list[Any]:
    return [t(last // 2 + 0.5), t(last + 1)]


def _callers(events: list[Any], at: Any) -> list[str]:
    snap = ReplaySnapshot(events, at)
    return [p.arn for p in snap.principals()] + [f"arn:aws:iam::{a}:root" for a in snap.accounts()]


def _shape(entry: WhoCanEntry) -> tuple[Any, ...]:
    steps = tuple((s.principal, s.action, s.resource, s.eval_decision, s.conditional, s.context) for s in entry.path)
    return entry.principal, entry.conditional, entry.missing_context, entry.unknown_policies, steps


@pytest.mark.parametrize("backend", BACKENDS)
class TestSoundness:
    @SETTINGS
    @given(ops=HISTORIES)
    def test_every_caller_can_allows_is_listed_by_who_can(self, backend: str, ops: list[tuple[str, int, int]]) -> None:
        """can(p, a, r, at=T) allowed (or allowed unless an unknown policy) ⇒ p is in who_can(a, r, at=T),
        with and without paths."""
        with fresh_ledger(backend) as ledger:
            last = record(ledger, ops)
            events = list(ledger.events())
            for at in _times(last):
                for action, resource in QUESTIONS:
                    direct = {p.principal for p in ledger.who_can(action, resource, at=at).principals}
                    via = {p.principal for p in ledger.who_can(action, resource, at=at, paths=True,
                                                               max_depth=DEPTH).principals}
                    for caller in _callers(events, at):
                        d = ledger.can(caller, action, resource, at=at)
                        if d.eval_decision == "allowed" or d.unless is not None:
                            assert caller in direct and caller in via, (at, caller, action, resource)

    @SETTINGS
    @given(ops=HISTORIES)
    def test_every_path_replays_step_by_step(self, backend: str, ops: list[tuple[str, int, int]]) -> None:
        """Each step of each who-can path is allowed at T through can (with the context the path
        supplies); the entry is conditional exactly when a step is, with every step's keys."""
        with fresh_ledger(backend) as ledger:
            last = record(ledger, ops)
            rs = ledger.read_side()
            for at in _times(last):
                for action, resource in QUESTIONS:
                    for entry in ledger.who_can(action, resource, at=at, paths=True, max_depth=DEPTH).principals:
                        if entry.delegated:
                            continue
                        replayed = [rs.can(s.principal, s.action, s.resource, dict(s.context), at=at,
                                           unknown_context=True) for s in entry.path]
                        assert all(open_ended(d) for d in replayed), (at, entry.principal, action)
                        conditional = any(d.decision.conditional or d.unless for d in replayed)
                        keys = {k for d in replayed for k in d.decision.missing_context_values}
                        assert (conditional, keys if conditional else set()) == \
                            (entry.conditional, set(entry.missing_context))


@pytest.mark.parametrize("backend", BACKENDS)
class TestExhaustiveReference:
    @SETTINGS
    @given(ops=HISTORIES)
    def test_who_can_paths_equal_the_exhaustive_search(self, backend: str, ops: list[tuple[str, int, int]]) -> None:
        """who_can(paths=True) equals the naive replay's search over every principal and every chain
        up to the depth, entry by entry and step by step."""
        with fresh_ledger(backend) as ledger:
            last = record(ledger, ops)
            events = list(ledger.events())
            for at in _times(last):
                for action, resource in QUESTIONS:
                    got = [e for e in ledger.who_can(action, resource, at=at, paths=True, max_depth=DEPTH).principals
                           if not e.delegated]
                    expected = naive_who_can(events, action, resource, at, max_depth=DEPTH)
                    assert [_shape(e) for e in expected] == [_shape(e) for e in got], (at, action, resource)

"""The keyframe index answers exactly as the plain SQL reads: fact lookups at any valid time,
who_can and can on Hypothesis histories, and after out-of-order arrival (a late event whose
valid time is before the index's keyframes) on both stores."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections import keyframes
from projections.sql_keyframes import INDEXED_KINDS
from tests.projections._support import OPS, QUERIES, A, doc, fact_rows, fresh_ledger, setup, t
from tests.projections.test_properties import _record, _times

BACKENDS = ["sqlite", "postgres"]
HISTORIES = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 3), st.integers(0, 5)),
                     min_size=3, max_size=16)
SETTINGS = settings(max_examples=6)
QUESTIONS = [
    ("s3:PutObject", "arn:aws:s3:::data-b/k"),
    ("s3:GetObject", "arn:aws:s3:::data-a/k"),
    ("sts:AssumeRole", f"arn:aws:iam::{A}:role/R"),
]


@pytest.fixture(autouse=True)
def _small_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyframes every 3 intervals, so small histories cross many of them."""
    monkeypatch.setattr(keyframes, "FRAME", 3)


def _answers(rs: Any, times: list[Any], keyframed: bool) -> list[Any]:
    rs.use_keyframes = keyframed
    out: list[Any] = []
    for at in times:
        for action, resource in QUESTIONS:
            out.append(rs.who_can(action, resource, at=at, paths=True))
        out.extend(rs.can(p, a, r, at=at).to_dict() for p, a, r in QUERIES)
    return out


def _same_lookups(rs: Any, us: int) -> None:
    """Every kind at T, whole and by each subject and ref, equals the SQL read."""
    index = rs.keyframes.current()
    for kind in INDEXED_KINDS:
        plain = rs.facts.at(kind, us)
        assert fact_rows(plain) == fact_rows(index.at(kind, us)), (kind, us)
        for f in rs.facts.history(kind):
            assert fact_rows(rs.facts.at(kind, us, subject=f.subject)) == \
                fact_rows(index.at(kind, us, subject=f.subject)), (kind, f.subject)
            assert fact_rows(rs.facts.at(kind, us, ref=f.ref)) == fact_rows(index.at(kind, us, ref=f.ref))


@pytest.mark.parametrize("backend", BACKENDS)
class TestKeyframesEqualPlainReads:
    @SETTINGS
    @given(ops=HISTORIES)
    def test_who_can_and_can_equal_the_plain_reads(self, backend: str, ops: list[tuple[str, int, int]]) -> None:
        """who_can (paths included) and can from the keyframe index equal the SQL reads."""
        with fresh_ledger(backend) as ledger:
            last = _record(ledger, ops)
            rs = ledger.read_side()
            times = _times(last)[::2]
            assert _answers(rs, times, False) == _answers(rs, times, True)

    @SETTINGS
    @given(ops=HISTORIES)
    def test_fact_lookups_equal_sql_at_every_change(self, backend: str, ops: list[tuple[str, int, int]]) -> None:
        """At every valid time where a fact opens or closes (and just before), each lookup
        equals the SQL one."""
        with fresh_ledger(backend) as ledger:
            _record(ledger, ops)
            rs = ledger.read_side()
            rs.catch_up()
            for us in sorted(set(rs.facts.change_times()))[::3]:
                _same_lookups(rs, us)
                _same_lookups(rs, us - 1)


@pytest.mark.parametrize("backend", BACKENDS)
class TestOutOfOrderArrival:
    def test_late_event_before_the_keyframes_refreshes_only_its_keys(self, backend: str) -> None:
        """An event whose valid time precedes the index's facts, recorded after the index was
        built, changes the answers exactly as the plain reads do, by a refresh (no full reload)."""
        with fresh_ledger(backend) as ledger:
            minute = setup(ledger)
            for i in range(12):  # many intervals of the same kinds, so keyframes lie before T
                ledger.create_user(A, f"u{i}", at=t(minute + i))
                ledger.put_user_policy(A, f"u{i}", "p", doc({"Effect": "Allow", "Action": "s3:GetObject",
                                                               "Resource": "*"}), at=t(minute + i))
            rs = ledger.read_side()
            times = [t(minute + 5.5), t(minute + 30)]
            before = _answers(rs, times, True)
            assert rs.keyframes.loads == 1
            # Late: alice is put into devs, which gets s3:* attached, before every user above existed.
            ledger.add_user_to_group(A, "alice", "devs", at=t(14.5))
            ledger.attach_group_policy(A, "devs", f"arn:aws:iam::{A}:policy/PB", at=t(14.6))
            ledger.delete_user_policy(A, "u3", "p", at=t(minute + 4))
            after = _answers(rs, times, True)
            assert (rs.keyframes.loads, rs.keyframes.refreshes) == (1, 1)
            assert after != before
            assert after == _answers(rs, times, False)
            _same_lookups(rs, int(t(minute + 5.5).timestamp() * 1_000_000))

    def test_shuffled_arrival_in_chunks_keeps_index_equal_to_sql(self, backend: str) -> None:
        """A history recorded in shuffled chunks, queried between chunks (the index refreshing
        each time), answers like the plain reads after every chunk."""
        with fresh_ledger("sqlite") as source:
            ops = [(op, i % 4, i % 6) for i, op in enumerate(OPS)]
            last = _record(source, ops)
            events = list(source.events())
        shuffled = events[:]
        random.Random(7).shuffle(shuffled)
        with fresh_ledger(backend) as ledger:
            rs = ledger.read_side()
            times = _times(last)[::4]
            for start in range(0, len(shuffled), 9):
                ledger.record(shuffled[start:start + 9])
                assert _answers(rs, times, True) == _answers(rs, times, False), start
            assert rs.keyframes.loads == 1


class TestIndexBuiltOnlyWhenItPays:
    def test_first_who_can_reads_sql_and_the_second_builds_the_index(self) -> None:
        """A one-shot who_can (the CLI's) never builds the index; a second one in the process
        does, and can() reads from it only once it exists."""
        with fresh_ledger("sqlite") as ledger:
            last = setup(ledger)
            rs = ledger.read_side()
            principal, action, resource = QUERIES[0]
            rs.can(principal, action, resource, at=t(last))
            rs.who_can(*QUESTIONS[0], at=t(last))
            assert (rs.keyframes.index, rs.keyframes.loads) == (None, 0)
            rs.who_can(*QUESTIONS[0], at=t(last))
            assert rs.keyframes.loads == 1
            assert rs.keyframes.index is not None

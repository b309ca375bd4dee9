"""Projection verification on Hypothesis-generated histories, both stores: an untouched projection
always verifies (whatever the arrival order, however it was projected, with or without a
checkpoint), and any single edited interval is found at its key."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application.trust import checkpoint_ledger, verify_ledger
from ledger.timeaxis import FOREVER
from tests.projections._support import OPS, apply_op, fresh_ledger, setup
from tests.trust._support import raw

BACKENDS = ["sqlite", "postgres"]
HISTORIES = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 3), st.integers(0, 5)), min_size=3, max_size=14)
SETTINGS = settings(max_examples=6)
_COLUMNS = ("valid_from", "valid_to", "opened_position", "closed_position", "payload", "subject")


def _history(ops: list[tuple[str, int, int]]) -> list[Any]:
    with fresh_ledger("sqlite") as source:
        minute = setup(source)
        for op, i, j in ops:
            apply_op(source, op, i, j, minute)
            minute += 1
        return list(source.events())


def _replay_shuffled(ledger: Any, events: list[Any], seed: int, chunks: int) -> None:
    """Record the events in a shuffled order, projecting after each chunk (late, older events)."""
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    size = max(1, len(shuffled) // chunks)
    for start in range(0, len(shuffled), size):
        ledger.record(shuffled[start:start + size])
        ledger.project()


@pytest.mark.parametrize("backend", BACKENDS)
class TestAnUntouchedProjectionVerifies:
    """No false alarm: the fold of the log always matches what the projector stored."""

    @SETTINGS
    @given(ops=HISTORIES, seed=st.integers(0, 10_000), chunks=st.integers(1, 4))
    def test_shuffled_incremental_projection_verifies_full_and_quick(
        self, backend: str, ops: list[tuple[str, int, int]], seed: int, chunks: int
    ) -> None:
        """Out-of-order imports projected chunk by chunk verify fully, and quickly against a
        checkpoint taken halfway (later events closing or re-deriving earlier facts)."""
        events = _history(ops)
        with fresh_ledger(backend) as ledger:
            half = len(events) // 2 or 1
            _replay_shuffled(ledger, events[:half], seed, chunks)
            checkpoint, _ = checkpoint_ledger(ledger.store, save=False)
            _replay_shuffled(ledger, events[half:], seed + 1, chunks)
            full = verify_ledger(ledger.store, [checkpoint])
            quick = verify_ledger(ledger.store, [checkpoint], quick=True)
            assert (True, True, "quick") == (full.ok, quick.ok, quick.projection.mode), (
                full.projection.reason, quick.projection.reason)
            ledger.rebuild()
            assert verify_ledger(ledger.store, [checkpoint], quick=True).ok


@pytest.mark.parametrize("backend", BACKENDS)
class TestAnyEditedIntervalIsFound:
    """Any one column of any one stored interval, edited: verify fails at that fact's key."""

    @SETTINGS
    @given(ops=HISTORIES, pick=st.integers(0, 10_000), column=st.sampled_from(_COLUMNS))
    def test_a_single_edit_is_located_at_its_key(self, backend: str, ops: list[tuple[str, int, int]],
                                                 pick: int, column: str) -> None:
        """The first divergence names the edited fact's key."""
        events = _history(ops)
        with fresh_ledger(backend) as ledger:
            ledger.record(events)
            ledger.project()
            url = ledger.store.url.url
            with raw(url) as db:
                rows = db.execute("SELECT id, fact_key FROM {facts} ORDER BY id")
                row_id, key = rows[pick % len(rows)]
                new = {"valid_from": "valid_from - 1", "valid_to": f"CASE WHEN valid_to = {FOREVER} THEN 1 "
                       f"ELSE {FOREVER} END", "opened_position": "opened_position + 1000",
                       "closed_position": "CASE WHEN closed_position IS NULL THEN 1 ELSE NULL END",
                       "payload": "'{\"forged\":true}'", "subject": "'AIDAFORGED'"}[column]
                db.execute(f"UPDATE {{facts}} SET {column} = {new} WHERE id = ?", (row_id,))
            report = verify_ledger(ledger.store)
            first = report.projection.first
            assert (True, False) == (report.log.ok, report.projection.ok)
            assert first is not None and key == first.key


class TestTheCheckedRowsAreTheStoredRows:
    """verify folds events into exactly the rows the projector stores (guard against drift)."""

    def test_change_rows_match_the_projectors_encoding(self) -> None:
        """For every change of the demo story, `change_rows` equals the SQL writer's row."""
        from ledger.adapters.store import EventStore
        from ledger.application.demo import record_story
        from projections.sql_bulk import change_row as _change_row
        from projections.verify import change_rows

        with fresh_ledger("sqlite") as ledger:
            record_story(ledger)
            store: EventStore = ledger.store
            pairs = [pair for position, _, _, topic, state in store.iter_records()
                     for pair in change_rows(position, topic, state)]
        assert pairs and [_change_row(change) for change, _ in pairs] == [row for _, row in pairs]

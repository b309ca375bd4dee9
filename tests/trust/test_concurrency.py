"""Concurrency: processes racing conflicting commands on one store (SQLite and PostgreSQL) get
exactly one winner, typed errors for the rest, the invariant in the folded state, and one log."""

from __future__ import annotations

import pytest

from tests.trust._concurrency import SCENARIOS


class TestConcurrentCommands:
    """Conflicting commands from several processes at once."""

    @pytest.mark.parametrize("scenario", list(SCENARIOS))
    def test_race_keeps_invariants_and_one_total_order(self, store_url: str, scenario: str) -> None:
        """Exactly one winner where the invariant demands; only typed errors; no lost or
        duplicated event; positions strictly increasing; stream versions contiguous."""
        outcome = SCENARIOS[scenario](store_url)
        assert [] == outcome.untyped
        assert [] == outcome.violations

"""The report re-decides only the users a change can reach: on a generated history (policy churn,
memberships, bucket policies, role chains) it equals the report that re-decides everyone at every
change point, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from ledger.application.generate import generate
from ledger.timeaxis import to_us
from projections.queries.report import build, target
from tests.projections._support import fresh_ledger


class TestIncrementalEqualsFull:
    """Keeping the answers of users a change cannot reach changes nothing in the report."""

    @pytest.mark.parametrize("backend", ["sqlite", "postgres"])
    def test_generated_history(self, backend: str) -> None:
        """Intervals, changes, rows and graph samples are identical with and without incremental deciding."""
        with fresh_ledger(backend) as ledger:
            generate(ledger, 700, 3)
            events = list(ledger.events())
            rs = ledger.read_side()
            rs.catch_up()
            low, high = to_us(events[0].occurred_at), to_us(max(e.occurred_at for e in events)) + 1
            tgt = target("arn:aws:s3:::bucket2-2")
            full = build(rs, tgt, low, high, incremental=False)
            fast = build(rs, tgt, low, high)
            assert full["samples"] > 50  # the history has enough change points to say something
            for key in ("principals", "intervals", "changes", "graph"):
                assert full[key] == fast[key], key

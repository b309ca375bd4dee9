"""Crash safety: kill -9 during batched appends, a CloudTrail import and a projection batch;
nothing partial is visible and a restart converges (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from tests.trust import _crash


class TestKillNine:
    """A SIGKILL at an arbitrary point never leaves a partial batch or a divergence."""

    def test_record_batches_are_all_or_nothing(self, store_url: str) -> None:
        """Every `Ledger.record` batch in the log after the kill is whole."""
        assert [] == _crash.crash_during_record_batches(store_url)

    def test_import_resumes_idempotently(self, store_url: str, tmp_path: Path) -> None:
        """Re-running a killed import records only the rest; every record ends up once."""
        assert [] == _crash.crash_during_import(store_url, tmp_path / "trail")

    def test_projection_resumes_equal_to_rebuild(self, store_url: str) -> None:
        """A killed projection shows a whole prefix and resumes to equal a rebuild."""
        assert [] == _crash.crash_during_projection(store_url)


class TestFollowerDuringConcurrentWrites:
    """A projection follower running while several processes write."""

    def test_follower_ends_with_exactly_the_log(self, store_url: str) -> None:
        """No skipped and no duplicated event, gaps included (PostgreSQL)."""
        assert [] == _crash.follower_during_writes(store_url)

"""How the event store translates its driver's failures into the ledger's typed errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import Ledger
from ledger.domain import events as ev

A = "111122223333"


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    with Ledger.open(store_url) as opened:
        opened.create_account(A, "media")
        yield opened


class TestDriverFailures:
    def test_a_duplicate_reported_as_an_aborted_pipeline_is_still_a_duplicate(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """psycopg's pipeline mode may report a source id's unique violation as "pipeline aborted"
        (seen in CI): the store asks which source ids exist and answers DuplicateSourceError."""
        from eventsourcing.persistence import OperationalError

        from ledger.errors import DuplicateSourceError, StoreError

        fact = ev.AccessObserved(
            originator_id=ev.account_stream_id(A), originator_version=0, occurred_at="2024-05-01T00:00:00Z",
            recorded_at="2024-05-01T00:00:00Z", account_id=A, source="cloudtrail", source_id="once",
            principal_arn=f"arn:aws:iam::{A}:user/u", action="s3:GetObject", resource="arn:aws:s3:::b/k", allowed=True)
        ledger.record([fact])
        recorder = ledger.store.recorder

        def aborted(*_: object, **__: object) -> None:
            raise OperationalError("pipeline aborted")

        monkeypatch.setattr(recorder, "insert_events", aborted)
        with pytest.raises(DuplicateSourceError):
            ledger.record([fact])
        other = fact.model_copy(update={"source_id": "never-seen"})
        with pytest.raises(StoreError, match="pipeline aborted"):
            ledger.record([other])


"""Bucket names are global: of several writers creating one name from the same view of the log,
exactly one commits, and the others get EntityAlreadyExistsError having written nothing.

The race itself, with processes, is `tests.trust._concurrency.race_same_bucket_name`; here the
losing writer's stale view is made deterministic, on both stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import Ledger
from ledger.errors import EntityAlreadyExistsError

A, B = "111111111111", "222222222222"


@pytest.fixture
def two_writers(store_url: str) -> Iterator[tuple[Ledger, Ledger]]:
    with Ledger.open(store_url) as first, Ledger.open(store_url) as second:
        first.create_account(A, "a")
        first.create_account(B, "b")
        yield first, second


def stale_once(ledger: Ledger) -> None:
    """Make the writer's next read of the bucket index miss everything recorded since its last
    read, as when another process commits between the read and the append."""
    work = ledger._work
    real = work.bucket_owners
    calls = {"n": 0}

    def owners() -> dict[str, str]:
        calls["n"] += 1
        return {} if calls["n"] == 1 else real()

    work.bucket_owners = owners  # type: ignore[method-assign]


class TestGlobalBucketNames:
    def test_a_writer_with_a_stale_view_loses_the_name_and_writes_nothing(
        self, two_writers: tuple[Ledger, Ledger]
    ) -> None:
        """The second creation of a taken name is refused with EntityAlreadyExistsError."""
        first, second = two_writers
        stale_once(second)
        first.create_bucket(A, "contested")
        before = second.store.max_position()
        with pytest.raises(EntityAlreadyExistsError):
            second.create_bucket(B, "contested")
        assert before == second.store.max_position()
        assert [A] == [e.account_id for e in second.events() if e.event_type == "BucketCreated"]

    def test_a_deleted_name_can_be_created_again_by_another_account(self, two_writers: tuple[Ledger, Ledger]) -> None:
        """After its owner deletes it, the name's next creation claims a new generation."""
        first, second = two_writers
        first.create_bucket(A, "reused")
        first.delete_bucket(A, "reused")
        second.create_bucket(B, "reused")
        assert B == second.bucket_owner("reused")
        with pytest.raises(EntityAlreadyExistsError):
            first.create_bucket(A, "reused")

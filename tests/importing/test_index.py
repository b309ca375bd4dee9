"""The import's identity index: names resolve to ids by time, whatever order sightings arrive in."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ledger.application.importing.index import ImportIndex

START = datetime(2024, 1, 1, tzinfo=UTC)


def _naive_resolve(sightings: set[tuple[datetime, str]], at: datetime) -> str:
    """The rule the index documents, over every sighting: the latest at or before `at`, else the earliest."""
    ordered = sorted(sightings)
    before = [unique_id for when, unique_id in ordered if when <= at]
    return before[-1] if before else ordered[0][1]


# Consistent histories: each id owns the name for one stretch of seconds (AWS never gives a name
# two ids at once); a successor may be seen in the very second its predecessor was last seen.
_consistent = st.lists(
    st.tuples(st.integers(1, 20), st.lists(st.integers(0, 20), min_size=1, max_size=8), st.booleans()),
    min_size=1, max_size=4,
)


def _sightings(stretches: list[tuple[int, list[int], bool]]) -> set[tuple[datetime, str]]:
    seen: set[tuple[datetime, str]] = set()
    start = 0
    for number, (length, offsets, touch_next) in enumerate(stretches):
        end = start + length
        for offset in offsets:
            seen.add((START + timedelta(seconds=start + offset % (length + (1 if touch_next else 0))), f"ID{number}"))
        start = end
    return seen


class TestResolve:
    @given(_consistent, st.randoms(use_true_random=False))
    def test_consistent_history_resolves_as_over_every_sighting(
        self, stretches: list[tuple[int, list[int], bool]], rng: random.Random,
    ) -> None:
        """Keeping each id's first and last sighting answers exactly as keeping them all would."""
        sightings = _sightings(stretches)
        index = ImportIndex()
        for when, unique_id in rng.sample(sorted(sightings), len(sightings)):
            index.add_name("111122223333", "user", "Alice", when, unique_id)
            index.resolve("111122223333", "user", "alice", when)  # interleaved lookups see fresh answers
        for second in range(-1, 100):
            at = START + timedelta(seconds=second)
            assert _naive_resolve(sightings, at) == index.resolve("111122223333", "user", "ALICE", at)

    @given(st.lists(st.tuples(st.integers(0, 30), st.sampled_from("ABC")), min_size=1, max_size=30),
           st.randoms(use_true_random=False))
    def test_any_history_resolves_the_same_in_any_arrival_order(
        self, raw: list[tuple[int, str]], rng: random.Random,
    ) -> None:
        """Even contradictory sightings give answers that do not depend on file order."""
        first, second = ImportIndex(), ImportIndex()
        for index, order in ((first, raw), (second, rng.sample(raw, len(raw)))):
            for offset, unique_id in order:
                index.add_name("111122223333", "role", "R", START + timedelta(seconds=offset), unique_id)
        for offset in range(-1, 32):
            at = START + timedelta(seconds=offset)
            assert first.resolve("111122223333", "role", "r", at) == second.resolve("111122223333", "role", "r", at)

    def test_a_principal_seen_in_every_record_costs_one_span(self) -> None:
        """A million sightings of one id keep one span, not a million entries."""
        index = ImportIndex()
        for second in range(10_000):
            index.add_name("111122223333", "user", "alice", START + timedelta(seconds=second), "AIDAALICE")
        assert {"AIDAALICE": [START, START + timedelta(seconds=9_999)]} == index.names[
            ("111122223333", "user", "alice")]

    def test_unknown_name_resolves_to_nothing(self) -> None:
        """A name never seen has no id."""
        assert None is ImportIndex().resolve("111122223333", "user", "nobody", START)

"""A rebuild folded by worker processes writes exactly what the in-process fold writes (and what
a naive replay derives), counts what no store can hold the same way, and fails as it does."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.application.generate import generate
from projections import fold_pool, runner
from projections.memory import MemoryFacts
from projections.stored import changes_of_stored
from tests.projections._support import OPS, apply_op, fact_rows, setup


def _history(ledger: Any, n: int = 60) -> None:
    minute = setup(ledger)
    for k in range(n):
        apply_op(ledger, OPS[k % len(OPS)], k, k * 7, minute)
        minute += 1
    generate(ledger, 3000, seed=11)


def _rebuilt(ledger: Any, processes: int) -> tuple[int, list[Any], dict[str, int]]:
    rs = ledger.read_side()
    rs.projector.fold_processes = processes
    done = rs.projector.rebuild()
    return done, fact_rows(rs.facts.all_facts()), dict(rs.projector.unstorable)


@pytest.fixture
def small_pages(monkeypatch: Any) -> None:
    """Many small pages, and the worker path taken however short the log."""
    monkeypatch.setattr(runner, "REBUILD_PAGE", 97)
    monkeypatch.setattr(runner, "PARALLEL_MIN_EVENTS", 0)


@pytest.mark.usefixtures("small_pages")
class TestParallelRebuild:
    @pytest.mark.parametrize("processes", [1, 2])
    def test_workers_write_what_the_in_process_fold_writes(self, ledger: Any, processes: int) -> None:
        """Rebuilt by worker processes: the same rows, events and position as folded in-process,
        and the same rows as a naive replay."""
        _history(ledger)
        sequential = _rebuilt(ledger, 0)
        assert sequential == _rebuilt(ledger, processes)
        assert ledger.store.max_position() == ledger.read_side().position()
        assert fact_rows(MemoryFacts.replay(ledger.events()).all_facts()) == sequential[1]

    def test_a_page_that_fails_in_a_worker_fails_the_rebuild_as_in_process(self, ledger: Any,
                                                                           monkeypatch: Any) -> None:
        """An event the fold rejects fails the rebuild with the fold's own error, and the previous
        projection stays as it was."""
        _history(ledger)
        rs = ledger.read_side()
        rs.catch_up()
        before = (rs.position(), fact_rows(rs.facts.all_facts()))

        class Boom(Exception):
            pass

        def failing(position: int, topic: str, state: bytes) -> Any:
            if position == 1500:
                raise Boom()
            return changes_of_stored(position, topic, state)

        monkeypatch.setattr(fold_pool, "changes_of_stored", failing)
        rs.projector.fold_processes = 1
        with pytest.raises(Boom):
            rs.projector.rebuild()
        assert before == (rs.position(), fact_rows(rs.facts.all_facts()))

    def test_changes_no_store_can_hold_are_counted_as_in_process(self, ledger: Any, monkeypatch: Any) -> None:
        """A change with NUL in its key is left out and counted by kind, folded in a worker or not."""
        _history(ledger)

        def with_nul(position: int, topic: str, state: bytes) -> Any:
            changes = changes_of_stored(position, topic, state)
            if position % 50 == 0:
                return [c._replace(key=c.key + "\x00") for c in changes]
            return changes

        monkeypatch.setattr(fold_pool, "changes_of_stored", with_nul)
        monkeypatch.setattr(runner, "changes_of_stored", with_nul)
        sequential = _rebuilt(ledger, 0)
        assert sequential[2]
        assert sequential == _rebuilt(ledger, 1)

"""The projection check run by a worker process (long projections) reports exactly what the check
in one process reports: the tamper and property suites run again through the worker, with pages
of a few records so that page edges fall everywhere, and edits of change rows give equal reports."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.application.generate import generate
from ledger.application.trust import verify_ledger
from projections import verify_pool
from tests.projections._support import fresh_ledger
from tests.trust._support import raw
from tests.trust.test_tamper_projection import TestBookkeepingAttacks as _Bookkeeping
from tests.trust.test_tamper_projection import TestProjectionAttacksAreDetectedAndLocated as _Attacks
from tests.trust.test_verify_properties import TestAnUntouchedProjectionVerifies as _Untouched
from tests.trust.test_verify_properties import TestAnyEditedIntervalIsFound as _Edited


@pytest.fixture(autouse=True)
def in_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every full check in this module runs in the worker, three records per page."""
    monkeypatch.setattr(verify_pool, "PARALLEL_MIN_EVENTS", 0)
    monkeypatch.setattr(verify_pool, "PAGE", 3)


class TestAttacksFoundByTheWorker(_Attacks):
    """The projection attacks, detected and located by the worker's check."""


class TestBookkeepingFoundByTheWorker(_Bookkeeping):
    """Source ids and the tracked position, checked with the worker's check."""


class TestUntouchedVerifiesInTheWorker(_Untouched):
    """No false alarm from the worker on shuffled, incrementally projected histories."""


class TestEditedIntervalFoundByTheWorker(_Edited):
    """Any edited interval, located at its key by the worker's check."""


def _reports(ledger: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for threshold in (0, 10**12):  # worker, then in process
        monkeypatch.setattr(verify_pool, "PARALLEL_MIN_EVENTS", threshold)
        yield verify_ledger(ledger.store).projection


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
class TestChangeRowEditsReportAlike:
    @pytest.mark.parametrize("edit", ["delete", "move", "forge_beyond", "alter"])
    def test_an_edited_change_row_gives_the_same_report(self, backend: str, edit: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
        """Deleted, moved to a position without an event, forged beyond the tracked position, or
        altered: the worker's report equals the one-process report, and both fail."""
        with fresh_ledger(backend) as ledger:
            generate(ledger, 400, seed=5)
            ledger.project()
            with raw(ledger.store.url.url) as db:
                ids = [r[0] for r in db.execute("SELECT id FROM {changes} ORDER BY id")]
                target = random.Random(edit).choice(ids)
                sql = {
                    "delete": "DELETE FROM {changes} WHERE id = ?",
                    "move": "UPDATE {changes} SET position = -7 WHERE id = ?",
                    "forge_beyond": "UPDATE {changes} SET position = 10000000, seq = 0 WHERE id = ?",
                    "alter": "UPDATE {changes} SET cause = 'Forged' WHERE id = ?",
                }[edit]
                db.execute(sql, (target,))
            worker, alone = _reports(ledger, monkeypatch)
            assert (False, alone) == (alone.ok, worker)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
class TestNonAsciiPayloadsVerify:
    def test_a_non_ascii_tag_value_verifies_in_both_checks(self, backend: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
        """A payload with non-ASCII text (a tag value) is expected exactly as the projector stores
        it (UTF-8, not \\u-escaped): no false alarm, in the worker or in one process."""
        with fresh_ledger(backend) as ledger:
            ledger.create_account("111122223333", "media")
            ledger.create_user("111122223333", "zoe")
            ledger.tag_user("111122223333", "zoe", {"team": "Médiathèque Zoë"})
            ledger.project()
            worker, alone = _reports(ledger, monkeypatch)
            assert (True, True) == (worker.ok, alone.ok), (worker.reason, alone.reason)

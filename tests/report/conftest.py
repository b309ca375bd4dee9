"""A ledger holding the demo story, on SQLite and on PostgreSQL, and its report over Q1 2024."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger import Ledger
from ledger.application.demo import record_story
from tests.projections._support import fresh_ledger
from tests.report._reference import DEMO_BUCKET, DEMO_WINDOW


@pytest.fixture(params=["sqlite", "postgres"], scope="module")
def story(request: pytest.FixtureRequest) -> Iterator[tuple[Ledger, Any, dict[str, Any]]]:
    with fresh_ledger(request.param) as ledger:
        facts = record_story(ledger)
        from ledger.application.trust import checkpoint_ledger

        checkpoint_ledger(ledger.store)
        yield ledger, facts, ledger.report(DEMO_BUCKET, start=DEMO_WINDOW[0], end=DEMO_WINDOW[1])

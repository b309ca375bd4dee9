"""The `ledger` fixture: the same behaviour suite on SQLite and on PostgreSQL (private schema)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import Ledger
from tests.projections._support import fresh_ledger


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest) -> Iterator[Ledger]:
    with fresh_ledger(request.param) as opened:
        yield opened

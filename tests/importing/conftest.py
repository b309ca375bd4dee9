"""The import suite runs on SQLite and on PostgreSQL (via the shared `store_url` fixture)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import Ledger

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CLOUDTRAIL = FIXTURES / "cloudtrail"
GAAD = FIXTURES / "gaad"


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    """A fresh ledger on each backend."""
    opened = Ledger.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


def state_of(ledger: Ledger) -> str:
    """The write-side state of every account, as canonical JSON (stream versions left out)."""
    accounts = sorted({event.account_id for event in ledger.events()})
    states = {}
    for account in accounts:
        data = dataclasses.asdict(ledger.account_state(account))
        data.pop("version")
        states[account] = data
    return json.dumps(states, sort_keys=True, default=lambda o: sorted(o) if isinstance(o, set) else str(o))

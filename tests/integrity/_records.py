"""Synthetic stored-event records for the integrity tests (deterministic, no store)."""

from __future__ import annotations

import uuid

from ledger.integrity import Record

TOPIC = "ledger.events:PolicyAttached"


def make_records(n: int, *, start: int = 1, gap_every: int = 0) -> list[Record]:
    """`n` records with increasing positions (a gap after every `gap_every`-th, if set)."""
    records: list[Record] = []
    position = start
    for i in range(n):
        stream = uuid.UUID(int=i % 7 + 1)
        state = b'{"i": %d, "policy": "arn:aws:iam::123456789012:policy/p%d"}' % (i, i)
        records.append((position, stream, i // 7 + 1, TOPIC, state))
        position += 2 if gap_every and (i + 1) % gap_every == 0 else 1
    return records

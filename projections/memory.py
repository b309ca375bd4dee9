"""In-memory temporal facts: the same fold and interval derivation as SQL, held in dicts.

Used for `known_at=@P` (replay the log up to P, then answer) and in tests; never persists.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from ledger.domain import events as ev
from ledger.timeaxis import FOREVER
from projections.facts import Change, Fact, derive_intervals
from projections.fold import changes_of


class MemoryFacts:
    """Facts with the query surface of `SqlFacts`, plus `unit()` for the projector."""

    def __init__(self) -> None:
        self.changes: dict[str, list[Change]] = {}
        self.facts: dict[str, list[Fact]] = {}
        self._positions: dict[str, int] = {}
        self.token = uuid.uuid4().hex

    @classmethod
    def replay(cls, events: Iterable[ev.LedgerEvent]) -> MemoryFacts:
        out = cls()
        batch: list[Change] = []
        last = 0
        for event in events:
            batch.extend(changes_of(event))
            last = event.position or last
        out.apply(batch)
        out._positions["temporal"] = last
        return out

    # -- projector surface -------------------------------------------------------------------

    @contextmanager
    def unit(self, name: str) -> Iterator[_MemoryUnit]:
        unit = _MemoryUnit(self, name)
        yield unit

    def position(self, name: str) -> int:
        return self._positions.get(name, 0)

    def reset(self, name: str) -> None:
        self.changes.clear()
        self.facts.clear()
        self._positions[name] = 0

    def apply(self, changes: Sequence[Change]) -> None:
        touched = set()
        for change in changes:
            self.changes.setdefault(change.key, []).append(change)
            touched.add(change.key)
        for key in touched:
            self.facts[key] = derive_intervals(self.changes[key])

    # -- queries ---------------------------------------------------------------------------------

    def _all(self) -> Iterator[Fact]:
        for intervals in self.facts.values():
            yield from intervals

    def at(self, kind: str, at: int, subject: str | None = None, ref: str | None = None) -> list[Fact]:
        return [f for f in self._all() if f.kind == kind and f.valid_from <= at < f.valid_to
                and (subject is None or f.subject == subject) and (ref is None or f.ref == ref)]

    def many_at(self, kinds: Iterable[str], at: int) -> list[Fact]:
        wanted = set(kinds)
        return [f for f in self._all() if f.kind in wanted and f.valid_from <= at < f.valid_to]

    def history(self, kind: str | None = None, subjects: Iterable[str] | None = None,
                refs: Iterable[str] | None = None) -> list[Fact]:
        subs = set(subjects) if subjects is not None else None
        rfs = set(refs) if refs is not None else None
        out = []
        for f in self._all():
            if kind is not None and f.kind != kind:
                continue
            if ((subs is None and rfs is None) or (subs is not None and f.subject in subs)
                    or (rfs is not None and f.ref in rfs)):
                out.append(f)
        return out

    def all_facts(self) -> list[Fact]:
        return list(self._all())

    def change_times(self) -> list[int]:
        times = set()
        for f in self._all():
            times.add(f.valid_from)
            if f.valid_to < FOREVER:
                times.add(f.valid_to)
        return sorted(times)


class _MemoryUnit:
    def __init__(self, store: MemoryFacts, name: str) -> None:
        self.store = store
        self.name = name

    def lock_position(self) -> int:
        return self.store._positions.get(self.name, 0)

    def set_position(self, position: int) -> None:
        self.store._positions[self.name] = position

    def apply(self, changes: Sequence[Change]) -> None:
        self.store.apply(changes)

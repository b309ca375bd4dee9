"""Checking a stored projection against the log it claims to fold: every change row against the
fold of its event, every interval against the derivation of the changes, the tracked position
against the log; a mismatch is located (the first divergent fact, its key, its events).

Pure: the caller streams the log's records and the stored rows in; it must never read a store,
a clock or a logger, and never repairs anything (a divergence is a finding, not an error).
"""

from __future__ import annotations

import hashlib
import marshal
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.timeaxis import FOREVER, iso
from projections.digest import ChangeRow, ProjectionDigest
from projections.facts import Change, FactRow, IntervalStream, derive_rows, payload_text
from projections.fold import changes_of_stored

__all__ = ["Divergence", "ProjectionCheck", "ProjectionReport", "change_rows", "locate_facts", "stored_facts_total"]

_MOD = 1 << 128
# Findings kept in a report beyond the first (the count is always exact).
_KEEP = 20


def change_rows(position: int, topic: str, state: bytes | str) -> list[tuple[Change, ChangeRow]]:
    """The fold of one stored event as (change, row) pairs; the row is exactly what the
    projection stores in its change table (payload as compact JSON text, `{}` when empty)."""
    return [(c, (*c[:9], payload_text(c[9]))) for c in changes_of_stored(position, topic, state)]


@dataclass(frozen=True)
class Divergence:
    """One place where the stored projection differs from what the log produces."""

    table: str  # "changes", "facts" or "tracking"
    reason: str
    position: int | None = None  # the event at fault: the one that should have produced it
    kind: str | None = None
    key: str | None = None
    expected: tuple[Any, ...] | None = None
    stored: tuple[Any, ...] | None = None
    events: tuple[int, ...] = ()  # every event that should have produced the fact

    def sort_key(self) -> tuple[int, str]:
        return (self.position if self.position is not None else 1 << 63, self.key or "")


@dataclass(frozen=True)
class ProjectionReport:
    """What checking the projection found; `ok` only if it is exactly the fold of the log."""

    ok: bool
    checked: bool
    reason: str
    tracked_position: int
    events: int
    not_yet_projected: int
    divergences: int
    first: Divergence | None
    findings: tuple[Divergence, ...] = ()
    mode: str = "full"
    notes: tuple[str, ...] = ()


class _RowHash:
    """A keyed 128-bit hash of a row. Keyed per run: nobody editing the tables can aim at a
    collision of a key they never see. marshal format 2 (no back-references, so equal rows give
    equal bytes) is a typed, length-prefixed and so unambiguous encoding of str/int/None tuples;
    never persisted. The keyed state is set up once and copied per row (a third cheaper than
    keying each row's hash afresh)."""

    __slots__ = ("base", "key")

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.base = hashlib.blake2b(digest_size=16, key=key)

    def __reduce__(self) -> tuple[Any, ...]:  # a hash state does not pickle; its key does
        return (_RowHash, (self.key,))

    def __call__(self, row: Sequence[Any]) -> int:
        h = self.base.copy()
        h.update(marshal.dumps(row if type(row) is tuple else tuple(row), 2))
        return int.from_bytes(h.digest(), "big")

    def total(self, rows: Iterable[Sequence[Any]]) -> int:
        copy, dumps, from_bytes = self.base.copy, marshal.dumps, int.from_bytes
        total = 0
        for row in rows:
            h = copy()
            h.update(dumps(row if type(row) is tuple else tuple(row), 2))
            total += from_bytes(h.digest(), "big")
        return total


@dataclass
class _Facts:
    """Expected intervals, streamed from change rows in log order, as one keyed multiset digest.

    A key made unordered by a late event (`IntervalStream.unordered`) is re-derived from all its
    changes at the end; the rows it emitted before are found again by replaying its changes in
    log order, and taken back out of the digest."""

    hash: _RowHash = field(default_factory=lambda: _RowHash(os.urandom(32)))
    stream: IntervalStream = field(default_factory=IntervalStream)
    total: int = 0

    closed: bool = False

    def add(self, change: Change, payload: str) -> None:
        row = self.stream.add(change, payload)
        if row is not None:
            self.total += self.hash(row)

    def close(self) -> None:
        """No more changes: the open intervals join the digest, and the stream keeps only the
        keys to re-derive (a small state to hand to another process)."""
        if not self.closed:
            self.closed = True
            self.total += self.hash.total(self.stream.open_rows())
            self.stream.heads.clear()

    def digest(self, changes_of_keys: Callable[[Sequence[str]], Iterable[ChangeRow]]) -> int:
        """The digest of every expected interval (closes the stream)."""
        self.close()
        total = self.total
        unordered = sorted(self.stream.unordered)
        if unordered:
            changes = list(changes_of_keys(unordered))
            by_key: dict[str, list[ChangeRow]] = {}
            for row in changes:
                by_key.setdefault(row[0], []).append(row)
            for key, rows in by_key.items():
                total -= self.hash.total(_emitted_before_disorder(key, rows))
            total += self.hash.total(derive_rows((Change(*r[:9]), r[9]) for r in changes))
        return total % _MOD


def stored_facts_total(key: bytes, stored_facts: Iterable[FactRow]) -> int:
    """The keyed digest of stored intervals that a check made with `facts_key=key` compares."""
    return _RowHash(key).total(stored_facts) % _MOD


def _emitted_before_disorder(key: str, rows: list[ChangeRow]) -> list[FactRow]:
    """The intervals a stream in log order emits for `key` before a change arrives out of order."""
    stream = IntervalStream()
    out: list[FactRow] = []
    for row in sorted(rows, key=lambda r: (r[6], r[7])):
        emitted = stream.add(Change(*row[:9]), row[9])
        if key in stream.unordered:
            break
        if emitted is not None:
            out.append(emitted)
    return out


class ProjectionCheck:
    """Feed it the log's records in order (`add`), then `finish` with the stored intervals.

    `stored` streams the stored change rows in (position, seq) order. In "full" mode each
    event's rows are compared with its fold; in "quick" mode the stored rows are taken as they
    are (a checkpoint's digests vouch for them) and only the intervals are checked."""

    def __init__(self, tracked: int, stored: Iterable[ChangeRow], *, mode: str = "full",
                 digest: ProjectionDigest | None = None, digest_events: int = 0,
                 facts_key: bytes | None = None) -> None:
        self.tracked = tracked
        self.mode = mode
        self._stored: Iterator[ChangeRow] = iter(stored)
        self._next: ChangeRow | None = next(self._stored, None)
        self.facts = _Facts() if facts_key is None else _Facts(_RowHash(facts_key))
        self._changes_done = False
        self.digest = digest
        self.digest_events = digest_events
        self.events = 0
        self.behind = 0
        self.last_position = 0
        self.found: list[Divergence] = []
        self.count = 0
        self.notes: list[str] = []

    def _find(self, divergence: Divergence) -> None:
        self.count += 1
        if len(self.found) < _KEEP:
            self.found.append(divergence)

    def _stored_of(self, position: int) -> list[ChangeRow]:
        """The stored rows of the event at `position`; rows of positions no event has are
        divergences (forged or moved rows)."""
        rows: list[ChangeRow] = []
        while self._next is not None and self._next[6] <= position:
            row = self._next
            if row[6] < position:
                self._find(Divergence("changes", f"a change of {row[0]} is attributed to position {row[6]}, "
                                      "where the log has no event", row[6], row[1], row[0], stored=row))
            else:
                rows.append(row)
            self._next = next(self._stored, None)
        return rows

    def add(self, position: int, topic: str, state: bytes) -> None:
        """The next record of the log (any position order violation is the log check's job)."""
        self.last_position = position
        if position > self.tracked:
            self.behind += 1
            self._feed_digest([])
            return
        self.events += 1
        stored = self._stored_of(position)
        if self.mode == "quick":
            rows = [(Change(*r[:9]), r) for r in stored]
        else:
            try:
                rows = change_rows(position, topic, state)
            except Exception as error:  # noqa: BLE001 - an unreadable event is a finding
                self._find(Divergence("changes", f"the event at position {position} cannot be folded "
                                      f"({type(error).__name__}): the log itself is damaged", position))
                rows = []
            else:
                expected = [row for _, row in rows]
                if expected != stored:
                    self._compare(position, topic, expected, stored)
        for change, row in rows:
            self.facts.add(change, row[9])
        self._feed_digest([row for _, row in rows])

    def _feed_digest(self, rows: list[ChangeRow]) -> None:
        if self.digest is not None and self.digest.events < self.digest_events:
            self.digest.add(rows)

    def _compare(self, position: int, topic: str, expected: list[ChangeRow], stored: list[ChangeRow]) -> None:
        event = topic.rsplit(":", 1)[-1]
        by_seq = {row[7]: row for row in stored}
        for row in expected:
            found = by_seq.pop(row[7], None)
            if found is None:
                why = f"the change of {row[0]} made by event #{position} ({event}) is missing"
                self._find(Divergence("changes", why, position, row[1], row[0], row, None, (position,)))
            elif found != row:
                column = _first_difference(row, found)
                why = (f"the change of {row[0]} made by event #{position} ({event}) was altered: "
                       f"{column} is {_show(column, found)}, the event says {_show(column, row)}")
                self._find(Divergence("changes", why, position, row[1], row[0], row, found, (position,)))
        for row in by_seq.values():
            why = f"a change of {row[0]} is attributed to event #{position} ({event}), which does not make it"
            self._find(Divergence("changes", why, position, row[1], row[0], None, row, (position,)))

    def finish_changes(self) -> None:
        """After the last record: stored change rows no event accounts for, and the tracked
        position against the log (once; `finish` does it when not done yet)."""
        if self._changes_done:
            return
        self._changes_done = True
        while self._next is not None:
            row = self._next
            where = "beyond the tracked position" if row[6] > self.tracked else "where the log has no event"
            self._find(Divergence("changes", f"a change of {row[0]} is attributed to position {row[6]}, {where}",
                                  row[6], row[1], row[0], stored=row))
            self._next = next(self._stored, None)
        if self.tracked > self.last_position:
            self._find(Divergence("tracking", f"the projection claims to have folded the log up to position "
                                  f"{self.tracked}, but the log ends at {self.last_position}: events recorded "
                                  "next would be skipped", self.last_position + 1))
        self._stored, self._next = iter(()), None
        self.facts.close()

    def stored_facts_total(self, stored_facts: Iterable[FactRow]) -> int:
        """The keyed digest of stored intervals (may be taken before `finish`)."""
        return self.facts.hash.total(stored_facts) % _MOD

    def finish(self, stored_facts: Iterable[FactRow] | int,
               changes_of_keys: Callable[[Sequence[str]], Iterable[ChangeRow]]) -> bool:
        """After the last record: leftover stored rows, the tracked position, and the intervals
        (one keyed digest each side; the stored side may come as `stored_facts_total`). True
        when the stored intervals differ (`locate_facts` then says where, kind by kind)."""
        self.finish_changes()
        expected = self.facts.digest(changes_of_keys)
        stored = stored_facts if isinstance(stored_facts, int) else self.stored_facts_total(stored_facts)
        return expected != stored

    def report(self, located: Iterable[Divergence] = ()) -> ProjectionReport:
        found = sorted([*self.found, *located], key=Divergence.sort_key)
        count = self.count + len(found) - len(self.found)
        first = found[0] if found else None
        if first is None:
            reason = (f"ok: the projection is the fold of the log's {self.events} events up to position "
                      f"{self.tracked}" + (f" ({self.behind} later events not yet projected)" if self.behind else ""))
        else:
            more = f" (and {count - 1} more divergence(s))" if count > 1 else ""
            reason = f"{first.reason}{more}"
        return ProjectionReport(ok=first is None, checked=True, reason=reason, tracked_position=self.tracked,
                                events=self.events, not_yet_projected=self.behind, divergences=count,
                                first=first, findings=tuple(found[:_KEEP]), mode=self.mode,
                                notes=tuple(self.notes))


_CHANGE_COLUMNS = ("key", "kind", "subject", "ref", "op", "at", "position", "seq", "cause", "payload")
_FACT_COLUMNS = ("key", "kind", "subject", "ref", "valid_from", "valid_to", "opened_position", "opened_type",
                 "closed_position", "closed_type", "payload")


def _show(column: str, row: Sequence[Any]) -> str:
    columns = _CHANGE_COLUMNS if len(row) == len(_CHANGE_COLUMNS) else _FACT_COLUMNS
    value = row[columns.index(column)]
    if column in ("at", "valid_from", "valid_to") and isinstance(value, int):
        return "until further notice" if value >= FOREVER else str(iso(value))
    return repr(value)


def _first_difference(expected: Sequence[Any], stored: Sequence[Any]) -> str:
    columns = _CHANGE_COLUMNS if len(expected) == len(_CHANGE_COLUMNS) else _FACT_COLUMNS
    return next((c for c, a, b in zip(columns, expected, stored, strict=False) if a != b), columns[-1])


def locate_facts(kind: str, stored_facts: Iterable[FactRow], changes: Iterable[ChangeRow]) -> list[Divergence]:
    """Every stored interval of `kind` that differs from the derivation of the key's changes:
    missing, altered or extra, each named with the events that should have produced it."""
    by_key: dict[str, list[ChangeRow]] = {}
    for row in changes:
        by_key.setdefault(row[0], []).append(row)
    stored: dict[str, list[tuple[Any, ...]]] = {}
    for fact in stored_facts:
        stored.setdefault(fact[0], []).append(tuple(fact))
    out: list[Divergence] = []
    for key in sorted(set(by_key) | set(stored)):
        rows = by_key.get(key, [])
        expected = sorted(derive_rows((Change(*r[:9]), r[9]) for r in rows), key=_interval_order)
        have = sorted(stored.get(key, []), key=_interval_order)
        if expected != have:
            out.extend(_diff_intervals(kind, key, expected, have, tuple(sorted({r[6] for r in rows}))))
    return out


def _interval_order(row: Sequence[Any]) -> tuple[int, int, int]:
    return (row[4], row[5], row[6])


def _interval(row: Sequence[Any]) -> str:
    end = "until further notice" if row[5] >= FOREVER else f"to {iso(row[5])}"
    return f"from {iso(row[4])} {end}"


def _diff_intervals(kind: str, key: str, expected: list[Any], have: list[Any],
                    events: tuple[int, ...]) -> list[Divergence]:
    out = []
    unmatched = list(have)
    for row in expected:
        if row in unmatched:
            unmatched.remove(row)
            continue
        opened = f"event #{row[6]} ({row[7]})"
        closed = f" and closed by event #{row[8]} ({row[9]})" if row[8] is not None else ""
        same = next((h for h in unmatched if h[4] == row[4] and h[6] == row[6]), None)
        if same is not None:
            unmatched.remove(same)
            column = _first_difference(row, same)
            why = (f"the {kind} fact {key} ({_interval(row)}, opened by {opened}{closed}) was altered: "
                   f"{column} is {_show(column, same)}, the log says {_show(column, row)}")
        else:
            why = f"the {kind} fact {key} {_interval(row)}, opened by {opened}{closed}, is missing"
        out.append(Divergence("facts", why, row[6], kind, key, tuple(row), same, events))
    for extra in unmatched:
        why = (f"the {kind} fact {key} {_interval(extra)} is in the projection, but no event produced it "
               f"(it claims event #{extra[6]} ({extra[7]}))")
        claimed = tuple(p for p in (extra[6], extra[8]) if isinstance(p, int))
        out.append(Divergence("facts", why, extra[6], kind, key, None, tuple(extra), events or claimed))
    return out

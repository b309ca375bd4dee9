"""Observations (a snapshot, a Config item, an organisation or bucket listing) become the events that
take the ledger's state at their own time to what they saw, whatever order they arrive in.

One sweep per account walks the recorded history in valid-time order with two states: `old` (the
history as recorded) and `new` (plus what this import emits). Each observation of this import is
diffed against `new` at its time; each earlier-recorded observation later in time (a
`StateObserved` marker) is re-asserted against `new` from what `old` held there, so an older
observation imported last changes history only until the next observation says otherwise: the
history a chronological import would have made. What the import added to an entity also ends
where the recorded history deletes it or re-creates it as an earlier import's baseline.
Pure: reads events, returns events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from ledger.domain import events as ev
from ledger.domain.state import STATELESS_EVENTS, AccountState, apply
from ledger.timeaxis import from_us, to_us

# Stored events that can change write-side state, plus the observation markers.
STATEFUL_TOPICS = tuple(sorted(name for name, cls in ev.EVENT_TYPES.items()
                               if cls not in STATELESS_EVENTS or cls is ev.StateObserved))
POINTS_PER_MARKER = 5000


class Stamp(NamedTuple):
    """Who and what every event of one observation is attributed to (a tuple: one per Config item)."""

    source: ev.Source
    source_id: str
    recorded_at: datetime
    actor: str

    def event(self, cls: type[ev.LedgerEvent], account: str, at: datetime, **fields: Any) -> ev.LedgerEvent:
        return cls(originator_id=ev.account_stream_id(account), originator_version=0, occurred_at=at,
                   recorded_at=self.recorded_at, actor=self.actor, source=self.source, source_id=self.source_id,
                   account_id=account, **fields)


@dataclass
class Diffed:
    """What one observation needs recorded, and what it could not resolve."""

    events: list[ev.LedgerEvent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class ScopeDiffer(Protocol):
    """Compares one kind of observation ("iam", "s3", "organization") with a state."""

    def diff(self, spec: Any, scope: str, state: AccountState, at: datetime, stamp: Stamp) -> Diffed: ...

    def spec_of(self, scope: str, state: AccountState) -> Any: ...


class Observation(NamedTuple):
    at: datetime
    scope: str  # "iam", "iam:role:<id>", "s3", "s3:bucket:<name>", "organization"
    stamp: Stamp
    spec: Any


@dataclass(frozen=True)
class _Point:
    """An observation recorded by an earlier import: re-asserted after this import's changes."""

    at: datetime
    scope: str
    source: ev.Source
    source_id: str


def overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ":") or b.startswith(a + ":")


def family(scope: str) -> str:
    return scope.split(":", 1)[0]


def points_of(marker: ev.StateObserved) -> Iterable[_Point]:
    """The observations a marker records: its whole scope at its time, or each "scope|µs|source id"."""
    if not marker.points:
        yield _Point(marker.occurred_at, marker.scope, marker.source, marker.source_id or "")
        return
    for entry in marker.points:
        scope, micros, source_id = entry.split("|", 2)
        moment = from_us(int(micros))
        if moment is not None:
            yield _Point(moment, scope, marker.source, source_id)


def account_history(events: Iterable[ev.LedgerEvent], account: str) -> list[ev.LedgerEvent]:
    """One account's stateful events in valid-time order (ties in log order)."""
    mine = [e for e in events if e.account_id == account]
    mine.sort(key=lambda e: (e.occurred_at, e.position or 0))
    return mine


@dataclass
class SweepResult:
    events: list[ev.LedgerEvent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def sweep(account: str, history: Sequence[ev.LedgerEvent], observations: Sequence[Observation],
          differs: dict[str, ScopeDiffer], run_key: str) -> SweepResult:
    """The events this import records for `account` (see the module docstring). `history` is the
    account's recorded stateful events in valid-time order; `run_key` names this import in the
    source ids of the re-assertions it causes."""
    result = SweepResult()
    if not observations:
        return result
    start = min(o.at for o in observations)
    run_scopes = {o.scope for o in observations}
    replaced = {(o.at, o.scope) for o in observations}
    points = sorted({p for m in history if isinstance(m, ev.StateObserved) for p in points_of(m)
                     if p.at > start and any(overlaps(p.scope, s) for s in run_scopes)
                     and (p.at, p.scope) not in replaced}, key=lambda p: (p.at, p.scope))
    timeline: list[tuple[datetime, int, str, Observation | _Point]] = [
        *((o.at, 0, o.scope, o) for o in observations), *((p.at, 1, p.scope, p) for p in points)]
    timeline.sort(key=lambda item: item[:3])
    old, new = AccountState(account), AccountState(account)
    changed: set[str] = set()
    # scope -> (what it last observed, history read so far): a repeat of the same observation
    # with no recorded history in between changes nothing (Config records changes of properties
    # the ledger does not model too), so it is not diffed again.
    last_seen: dict[str, tuple[Any, int]] = {}
    cursor = 0
    for at, _, scope, item in timeline:
        while cursor < len(history) and history[cursor].occurred_at <= at:
            event = history[cursor]
            if changed and type(event) in CASCADING:
                cascade(account, event, new, differs, run_key, observations[0].stamp.recorded_at, result)
            if type(event) not in STATELESS_EVENTS:
                apply(event, old)
                apply(event, new)
            cursor += 1
        differ = differs[family(scope)]
        if isinstance(item, Observation):
            if last_seen.get(scope) == (item.spec, cursor):
                continue
            diffed = differ.diff(item.spec, scope, new, at, item.stamp)
            if diffed.warnings:
                last_seen.pop(scope, None)
            else:
                last_seen[scope] = (item.spec, cursor)
            if any(e.account_id == account for e in diffed.events):
                changed.add(scope)
        else:
            if not any(overlaps(scope, c) for c in changed):
                continue
            stamp = Stamp(item.source, f"{item.source_id}#after:{run_key}",
                          observations[0].stamp.recorded_at, "ledger-import")
            diffed = differ.diff(differ.spec_of(scope, old), scope, new, at, stamp)
        for event in diffed.events:
            if event.account_id == account and type(event) not in STATELESS_EVENTS:
                apply(event, new)
        result.events.extend(diffed.events)
        result.warnings.extend(diffed.warnings)
    return result


# Recorded events that end what came before for one entity: a deletion (AWS allows one only once
# the entity's dependents are gone) and a creation, which an earlier import recorded as the
# entity's baseline because it did not exist then. What this import attached to the entity before
# such an event must end there too, as a chronological import would have made it.
_RESETS: tuple[type[ev.LedgerEvent], ...] = (
    ev.RoleDeleted, ev.UserDeleted, ev.GroupDeleted, ev.ManagedPolicyDeleted, ev.RoleCreated, ev.UserCreated,
    ev.GroupCreated, ev.BucketCreated, ev.OrganizationCreated)
CASCADING = frozenset(_RESETS)


def cascade(account: str, reset: ev.LedgerEvent, new: AccountState, differs: dict[str, ScopeDiffer],
            run_key: str, recorded_at: datetime, result: SweepResult) -> None:
    """Before a recorded deletion or baseline creation is folded, end what this import added to
    the entity (each differ that knows the entity's kind answers; the others add nothing)."""
    stamp = Stamp(reset.source, f"{reset.source_id}#after:{run_key}", recorded_at, "ledger-import")
    # One microsecond before: at the same instant the log order would put these after the reset.
    just_before = reset.occurred_at - timedelta(microseconds=1)
    for differ in differs.values():
        remove = getattr(differ, "dependents", None)
        if remove is None:
            continue
        diffed: Diffed = remove(reset, new, just_before, stamp)
        for event in diffed.events:
            if event.account_id == account:
                apply(event, new)
        result.events.extend(diffed.events)


def markers(account: str, observations: Sequence[Observation], stamp: Stamp, *, scope: str,
            files: Sequence[str] = (), digest: str | None = None, per_item: bool = False) -> list[ev.LedgerEvent]:
    """The `StateObserved` facts of this import: one for a whole-scope snapshot (attributed to
    `stamp`), or (`per_item`) the points of Config items with each item's own source id,
    `POINTS_PER_MARKER` to a marker, each marker keyed by the digest of its points."""
    if not observations:
        return []
    at = min(o.at for o in observations)
    if not per_item:
        return [stamp.event(ev.StateObserved, account, at, scope=scope, files=tuple(files), digest=digest)]
    entries = sorted(f"{o.scope}|{to_us(o.at)}|{o.stamp.source_id}" for o in observations)
    out = []
    for i in range(0, len(entries), POINTS_PER_MARKER):
        chunk = tuple(entries[i:i + POINTS_PER_MARKER])
        key = hashlib.sha256("\n".join(chunk).encode()).hexdigest()[:32]
        marker = Stamp(stamp.source, f"points-{key}", stamp.recorded_at, stamp.actor)
        out.append(marker.event(ev.StateObserved, account, at, scope=scope, files=tuple(files), points=chunk))
    return out

"""Disagreements between sources: a fact that one source (CloudTrail, a snapshot, Config, the API)
set one way and a different source changed, with no change of its own in between to explain it.

Pure: reads events in valid-time order and reports; never decides who is right (the later
observation is what the ledger holds; both are listed so a person can look).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.domain import events as ev
from ledger.timeaxis import iso
from projections.facts import Change
from projections.fold import changes_of

# Facts whose value decides access; names, paths and session durations are not compared.
_COMPARED = frozenset({"attach", "inline", "boundary", "trust", "member", "pver", "pdefault", "bucket_policy",
                       "ownership", "bucket", "orgattach", "orgpolicy", "orgmember", "orgunit", "orgtype", "scp"})
_EXISTENCE = frozenset({"principal", "policy", "account"})  # compared only as present / absent
_PRESENCE = frozenset({"attach", "member", "orgattach", "bucket"})  # their payload only names the parties
_UNKNOWN = "LedgerUnknown"  # the placeholders of the importers: they knew nothing to disagree with


@dataclass(frozen=True)
class _Seen:
    event: ev.LedgerEvent
    change: Change


def _side(event: ev.LedgerEvent, change: Change) -> dict[str, Any]:
    return {"source": event.source, "source_id": event.source_id, "event_type": event.event_type,
            "at": iso(event.occurred_at), "position": event.position, "says": _says(change)}


def _says(change: Change) -> str:
    if change.op == "clear":
        return "absent"
    if change.kind in _EXISTENCE or change.kind in _PRESENCE:
        return "present"
    return "present: " + json.dumps(change.payload, sort_keys=True, default=str)[:200]


def _differs(before: Change, after: Change) -> bool:
    if before.op != after.op:
        return True
    if after.op == "clear" or after.kind in _EXISTENCE:
        return False
    return before.payload != after.payload


def disagreements(events: Iterable[tuple[ev.LedgerEvent, bool]]) -> list[dict[str, Any]]:
    """Every change by one source of a fact last set by another, in the given (valid-time) order;
    each item is (event, is_new) and, if any item is new, only changes involving a new one count."""
    ordered = list(events)
    if len({event.source for event, _ in ordered}) < 2:
        return []  # one source cannot disagree with itself
    only_new = any(new for _, new in ordered)
    last: dict[str, tuple[_Seen, bool]] = {}
    found: list[dict[str, Any]] = []
    for event, new in ordered:
        for change in changes_of(event):
            if change.kind not in _COMPARED and change.kind not in _EXISTENCE:
                continue
            before = last.get(change.key)
            last[change.key] = (_Seen(event, change), new)
            if before is None:
                continue
            seen, before_new = before
            if seen.event.source == event.source or not _differs(seen.change, change):
                continue
            if only_new and not (new or before_new):
                continue
            if _UNKNOWN in json.dumps(seen.change.payload, default=str):
                continue
            found.append({"fact": change.key, "at": iso(event.occurred_at), "this": _side(event, change),
                          "other": _side(seen.event, seen.change)})
    return found


def merged(history: Sequence[ev.LedgerEvent], emitted: Sequence[ev.LedgerEvent]) -> list[tuple[ev.LedgerEvent, bool]]:
    """Recorded and newly emitted events in valid-time order (at one instant, the recorded first)."""
    keyed = [((e.occurred_at, 0, e.position or 0, i), e, False) for i, e in enumerate(history)]
    keyed += [((e.occurred_at, 1, 0, i), e, True) for i, e in enumerate(emitted)]
    keyed.sort(key=lambda item: item[0])
    return [(event, new) for _, event, new in keyed]

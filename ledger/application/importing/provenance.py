"""Where a fact came from: the event an answer's Origin names is looked up in the log by position,
and its source said in the source's own terms (a CloudTrail eventID; a Config item's resource and
configurationStateId; a snapshot's files and `--at`). Reads only; the projection is not touched.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import Any

from ledger.application.facade import Ledger
from ledger.domain import events as ev
from ledger.timeaxis import iso


def _origins(data: Any) -> Iterator[dict[str, Any]]:
    """Every Origin in an answer's JSON: a dict naming an event by position and type."""
    if isinstance(data, dict):
        if isinstance(data.get("position"), int) and isinstance(data.get("event_type"), str):
            yield data
        for value in data.values():
            yield from _origins(value)
    elif isinstance(data, list):
        for value in data:
            yield from _origins(value)


def _markers(ledger: Ledger) -> dict[str, ev.StateObserved]:
    found: dict[str, ev.StateObserved] = {}
    for event in ledger.store.iter_log(topics=["StateObserved"], batch=5000):
        if isinstance(event, ev.StateObserved) and event.source_id and not event.points:
            found[event.source_id] = event
    return found


def describe(event: ev.LedgerEvent, markers: dict[str, ev.StateObserved]) -> dict[str, Any]:
    """The provenance of one recorded event."""
    out: dict[str, Any] = {"source": event.source, "source_id": event.source_id, "actor": event.actor,
                           "recorded_at": iso(event.recorded_at)}
    base, _, after = (event.source_id or "").partition("#after:")
    if after:
        out["reasserted_after_import"] = after  # an earlier observation, re-asserted after an older one
    if event.source == "cloudtrail":
        out["cloudtrail_event_id"] = base
    elif event.source == "config":
        resource_type, _, rest = base.partition("/")
        resource_id, _, state_id = rest.rpartition("/")
        out["config"] = {"resourceType": resource_type, "resourceId": resource_id, "configurationStateId": state_id}
    elif event.source == "snapshot":
        marker = markers.get(base)
        out["snapshot"] = {"observed_at": iso(marker.occurred_at if marker else event.occurred_at),
                           "files": list(marker.files) if marker else [], "scope": marker.scope if marker else None}
    return out


def provenance(ledger: Ledger, positions: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The provenance of the events at `positions` (unknown positions are left out)."""
    markers: dict[str, ev.StateObserved] | None = None
    out: dict[int, dict[str, Any]] = {}
    for position in sorted(set(positions)):
        page = ledger.store.read_log(after=position - 1, limit=1, upto=position)
        if not page or page[0].position != position:
            continue
        if markers is None and page[0].source == "snapshot":
            markers = _markers(ledger)
        out[position] = describe(page[0], markers or {})
    return out


def annotate(ledger: Ledger, data: Any) -> Any:
    """A copy of `data` (an answer's JSON) with a "provenance" beside every Origin. A copy: the
    Origins of an answer may be shared with the read side's caches."""
    data = copy.deepcopy(data)
    found = list(_origins(data))
    known = provenance(ledger, (o["position"] for o in found))
    for origin in found:
        if origin["position"] in known:
            origin["provenance"] = known[origin["position"]]
    return data


def summary(origin: Any) -> str:
    """One line for a table: where the fact an Origin names came from."""
    found = origin.get("provenance") if isinstance(origin, dict) else None
    if not isinstance(found, dict):
        return ""
    if "config" in found:
        c = found["config"]
        text = f"config {c['resourceType']} {c['resourceId']} state {c['configurationStateId']}"
    elif "snapshot" in found:
        s = found["snapshot"]
        files = s["files"]
        what = files[0] if len(files) == 1 else f"{s['scope']} ({len(files)} files)" if files else found["source_id"]
        text = f"snapshot {what} at {s['observed_at']}"
    elif "cloudtrail_event_id" in found:
        text = f"cloudtrail {found['cloudtrail_event_id']}"
    else:
        text = f"{found['source']} by {found.get('actor')}"
    return text + (" (re-asserted)" if "reasserted_after_import" in found else "")

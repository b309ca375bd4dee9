"""`Ledger.report`: the access picture of one resource over a window, with its provenance (the log
positions read, the newest checkpoint, and `verify` run at report time).

Composes the read side's report query with the integrity checks; never writes an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ledger.timeaxis import iso, to_us


def build_report(ledger: Any, resource: str, actions: Sequence[str] = (), start: datetime | str | None = None,
                 end: datetime | str | None = None, *, verify: bool = True) -> dict[str, Any]:
    """The report as JSON-ready data. `start` defaults to the first recorded event's valid time,
    `end` to now (the window is [start, end)); `verify=False` skips the integrity check (the
    footer then says it was not run)."""
    from projections.queries.report import build, target

    tgt = target(resource, actions)
    rs = ledger.read_side()
    ledger.project()  # every answer below reads the projection as of this position
    position = rs.position()
    first = ledger.store.read_log(0, 1)
    low = rs.resolve_time(start)[0] if start is not None else (to_us(first[0].occurred_at) if first else 0)
    high = rs.resolve_time(end)[0] if end is not None else to_us(datetime.now(UTC))
    data = build(rs, tgt, low, high)
    data["provenance"] = provenance(ledger, position, first[0].position if first else None, verify=verify)
    data["generated_at"] = iso(datetime.now(UTC))
    return data


def provenance(ledger: Any, position: int, first: int | None, *, verify: bool) -> dict[str, Any]:
    """The log position range the answers were read at, the newest stored checkpoint, and the
    result of `verify` (log against every stored checkpoint, projection against the log)."""
    from ledger.application.trust import stored_checkpoints, verify_ledger

    memory = ledger.store.url.sqlite_path == ":memory:"
    kept = [] if memory else stored_checkpoints(ledger.store)
    newest = max(kept, key=lambda cp: cp.tree_size, default=None)
    out: dict[str, Any] = {
        "positions": {"first": first, "last": position},
        "checkpoint": None if newest is None else {
            "tree_size": newest.tree_size, "root_hash": newest.root_hash, "created_at": newest.created_at,
            "signed": newest.signature is not None},
        "verify": {"run": False, "ok": None, "reason": "not run (--no-verify)"},
    }
    if verify:
        report = verify_ledger(ledger.store)
        reason = report.log.reason if not report.log.ok else report.projection.reason
        out["verify"] = {"run": True, "ok": report.ok, "vouched": report.vouched,
                         "reason": reason, "warnings": list(report.warnings)}
    return out

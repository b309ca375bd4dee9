"""`timeline`, `diff` and the universe they range over: how access changed over valid time, and why.

Reads a fact source's history and decides at each fact boundary through `projections.assemble.decide`;
never writes, and reads the clock only for an open-ended timeline's end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from projections.queries import history_diff
from projections.queries.history_timeline import relevant_facts, timeline
from projections.results import AsOf, DiffResult
from projections.view import Snapshot

__all__ = ["diff", "relevant_facts", "timeline", "universe"]

# Valid time in µs of an `at=` value (datetime, ISO-8601 or "@POSITION").
ToMicros = Callable[[datetime | str], int]


def universe(source: Any, times: Iterable[int]) -> tuple[list[str], list[tuple[str, str]]]:
    """Principals (users, roles, account roots) in force at any of `times`, and the
    (action, resource) pairs: every wildcard-free action named in a policy in force then,
    crossed with every wildcard-free resource ARN named in those policies, every bucket and
    written object, and every role (for sts:* actions) — only pairs of matching service."""
    principals: set[str] = set()
    actions: set[str] = set()
    resources: set[str] = set()
    for t in times:
        snap = Snapshot(source, t).preload()
        principals |= {p.arn for p in snap.principals()}
        principals |= {f"arn:aws:iam::{a}:root" for a in snap.accounts()}
        resources |= {p.arn for p in snap.principals() if p.kind == "role"}
        for kind in ("inline", "pver", "bucket_policy", "trust", "scp"):
            for f in source.many_at([kind], t):
                _named_in(f.payload.get("document") or {}, actions, resources)
        for f in source.many_at(["bucket"], t):
            resources.add(f.payload["arn"])
        for f in source.many_at(["object"], t):
            resources.add(f.ref)
    pairs = []
    resources.add("*")
    for a in sorted(actions):
        service = a.split(":", 1)[0].lower()
        for r in sorted(resources):
            parts = r.split(":", 5)
            rs = parts[2] if len(parts) == 6 else ""
            if r == "*" or rs == service or (service == "sts" and rs == "iam" and ":role/" in r):
                pairs.append((a, r))
    return sorted(principals), pairs


def _named_in(doc: dict[str, Any], actions: set[str], resources: set[str]) -> None:
    """Add the wildcard- and variable-free Action and Resource values of a policy document."""
    stmts = doc.get("Statement", [])
    for st in stmts if isinstance(stmts, list) else [stmts]:
        for key, bucket in (("Action", actions), ("Resource", resources)):
            vals = st.get(key, [])
            for v in [vals] if isinstance(vals, str) else vals:
                if "*" not in v and "?" not in v and "$" not in v:
                    bucket.add(v)


def diff(source: Any, as_of: AsOf, to_micros: ToMicros, t1: datetime | str, t2: datetime | str,
         principals: Iterable[str] | None, pairs: Iterable[tuple[str, str]] | None,
         event_of: Callable[[int], Any] | None = None) -> DiffResult:
    """Effective access gained and lost between t1 and t2: see `history_diff.diff`."""
    return history_diff.diff(source, as_of, to_micros, t1, t2, principals, pairs, event_of)

"""`timeline`, `diff` and the universe they range over: how access changed over valid time, and why.

Reads a fact source's history and decides at each fact boundary through `projections.assemble.decide`;
never writes, and reads the clock only for an open-ended timeline's end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from ledger.timeaxis import iso
from projections.assemble import decide
from projections.queries.history_timeline import relevant_facts, timeline
from projections.results import AccessChange, AsOf, DiffResult, UniverseSize
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
         principals: Iterable[str] | None, pairs: Iterable[tuple[str, str]] | None) -> DiffResult:
    """Effective access gained and lost between t1 and t2 over `universe()` (or the given
    principals / pairs), each change with the events that caused it (via `timeline`)."""
    u1, u2 = to_micros(t1), to_micros(t2)
    ps, prs = universe(source, [u1, u2])
    ps = sorted(principals) if principals is not None else ps
    prs = sorted(pairs) if pairs is not None else prs
    s1, s2 = Snapshot(source, u1).preload(), Snapshot(source, u2).preload()
    gained: list[AccessChange] = []
    lost: list[AccessChange] = []
    for p in ps:
        for a, r in prs:
            d1 = decide(s1, p, a, r)
            d2 = decide(s2, p, a, r)
            if d1.allowed == d2.allowed:
                continue
            lo, hi = min(u1, u2), max(u1, u2)
            tl = timeline(source, as_of, to_micros, p, a, r, iso(lo), iso(hi), None)
            causes = tuple(c for iv in tl.intervals[1:] for c in iv.started_by)
            item = AccessChange(principal=p, action=a, resource=r, before=d1.eval_decision, after=d2.eval_decision,
                                caused_by=causes, via=(d2 if d2.allowed else d1).decision.matched_statements)
            (gained if d2.allowed else lost).append(item)
    return DiffResult(as_of=as_of, t1=iso(u1), t2=iso(u2), gained=tuple(gained), lost=tuple(lost),
                      universe=UniverseSize(principals=len(ps), pairs=len(prs)))

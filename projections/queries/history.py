"""`timeline`, `diff` and the universe they range over: how access changed over valid time, and why.

Reads a fact source's history and decides at each fact boundary through `projections.assemble.decide`;
never writes, and reads the clock only for an open-ended timeline's end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from ledger.policy import principal_from_arn
from ledger.timeaxis import FOREVER, iso, to_us
from projections.assemble import decide
from projections.facts import Fact
from projections.results import AccessChange, AsOf, DiffResult, FactChange, Interval, TimelineResult, UniverseSize
from projections.view import Snapshot

# Valid time in µs of an `at=` value (datetime, ISO-8601 or "@POSITION").
ToMicros = Callable[[datetime | str], int]


def relevant_facts(source: Any, principal: str, resource: str) -> list[Fact]:
    """Every interval (any time) of any fact that `build_inputs` could read for this pair."""
    out: list[Fact] = []
    rp = principal_from_arn(principal)
    refs = {principal}
    out += source.history("principal", refs=refs)
    sessions = source.history("session", refs=refs)
    out += sessions
    holders = {f.subject for f in out if f.kind == "principal"}
    holders |= {f.payload.get("role_id") or f.payload.get("user_id") for f in sessions} - {None}
    if rp.account:
        out += source.history("account", subjects={rp.account})
        out += source.history("scp", subjects={rp.account})
    members = source.history("member", subjects=holders)
    out += members
    groups = {f.payload["group_id"] for f in members}
    out += source.history("principal", subjects=groups)
    everyone = holders | groups
    for kind in ("inline", "attach", "boundary", "tag", "revoked", "trust"):
        out += source.history(kind, subjects=everyone)
    policies = {f.payload["policy_id"] for f in out if f.kind in ("attach", "boundary")}
    for f in sessions:
        for arn in f.payload.get("session_policy_arns") or ():
            policies |= {p.subject for p in source.history("policy", refs={arn})}
    for kind in ("policy", "pver", "pdefault"):
        out += source.history(kind, subjects=policies)
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[2] == "s3":
        bucket = parts[5].split("/", 1)[0]
        for kind in ("bucket", "bucket_policy", "ownership"):
            out += source.history(kind, subjects={bucket})
    elif len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/"):
        roles = source.history("principal", refs={resource})
        out += roles
        out += source.history("trust", subjects={f.subject for f in roles})
    unique: dict[tuple[str, int], Fact] = {(f.key, f.valid_from): f for f in out}
    return list(unique.values())


def timeline(source: Any, as_of: AsOf, to_micros: ToMicros, principal: str, action: str, resource: str,
             start: datetime | str | None, end: datetime | str | None,
             context: dict[str, Any] | None) -> TimelineResult:
    """Intervals of valid time over which the decision was constant, each boundary tied to
    the events that opened or closed a relevant fact at that instant."""
    facts = relevant_facts(source, principal, resource)
    start_us = to_micros(start) if start is not None else None
    end_us = to_micros(end) if end is not None else to_us(datetime.now(UTC))
    causes: dict[int, list[FactChange]] = {}
    for f in facts:
        causes.setdefault(f.valid_from, []).append(
            FactChange(position=f.opened_position, event_type=f.opened_type, fact=f.key, change="opened"))
        if f.valid_to < FOREVER:
            causes.setdefault(f.valid_to, []).append(
                FactChange(position=f.closed_position, event_type=f.closed_type, fact=f.key, change="closed"))
    times = sorted(causes)
    if start_us is None:
        start_us = times[0] if times else end_us
    points = [start_us] + [t for t in times if start_us < t <= end_us]
    intervals: list[Interval] = []
    for t in points:
        d = decide(Snapshot(source, t), principal, action, resource, context)
        if intervals and intervals[-1].eval_decision == d.eval_decision:
            continue
        if intervals:
            last = intervals[-1]
            intervals[-1] = Interval(start=last.start, start_us=last.start_us, end=iso(t), end_us=t,
                                     eval_decision=last.eval_decision, allowed=last.allowed,
                                     started_by=last.started_by, matched=last.matched,
                                     ended_by=_dedupe(causes.get(t, [])))
        started_by = _dedupe(causes.get(t, [])) if t != start_us or t in causes else ()
        intervals.append(Interval(start=iso(t), start_us=t, end=None, end_us=None, eval_decision=d.eval_decision,
                                  allowed=d.allowed, started_by=started_by, matched=d.decision.matched_statements))
    return TimelineResult(as_of=as_of, principal=principal, action=action, resource=resource,
                          start=iso(start_us), end=iso(end_us), intervals=tuple(intervals))


def _dedupe(items: list[FactChange]) -> tuple[FactChange, ...]:
    seen: dict[tuple[int | None, str, str], FactChange] = {}
    for item in items:
        seen.setdefault((item.position, item.fact, item.change), item)
    return tuple(sorted(seen.values(), key=lambda i: (i.position or 0, i.fact)))


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

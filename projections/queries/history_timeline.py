"""`timeline`: the intervals of valid time over which one request's decision stayed constant, and why.

Reads the whole history of the facts one request depends on, once, then decides in memory at each of
their change points (`projections.assemble.decide`); never writes, and never reads the clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from ledger.errors import LedgerError, ValidationError
from ledger.policy import principal_from_arn
from ledger.timeaxis import FOREVER, iso
from projections.assemble import decide
from projections.facts import Fact
from projections.results import AsOf, FactChange, Interval, TimelineResult
from projections.view import Snapshot

# Valid time in µs of an `at=` value (datetime, ISO-8601 or "@POSITION").
ToMicros = Callable[[datetime | str], int]
_ORG_KINDS = ("orgmember", "orgtype", "orgunit", "orgattach", "orgpolicy")


class Gathered:
    """The whole history of the facts one request can read, with the lookups it answers completely:
    a `FactSource` that answers those lookups from memory and hands any other to the store."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.token = getattr(source, "token", None)
        self.facts: dict[tuple[str, int], Fact] = {}
        self._by_subject: dict[tuple[str, str], list[Fact]] = {}
        self._by_ref: dict[tuple[str, str], list[Fact]] = {}
        self._sweeps: dict[int, list[Any]] = {}

    def fetch(self, kind: str, *, subjects: Iterable[str] = (), refs: Iterable[str] = ()) -> list[Fact]:
        """Every interval of `kind` for these subjects / refs (each fetched once), now answered here."""
        subs = [s for s in set(subjects) if (kind, s) not in self._by_subject]
        rfs = [r for r in set(refs) if (kind, r) not in self._by_ref]
        for s in subs:
            self._by_subject[(kind, s)] = []
        for r in rfs:
            self._by_ref[(kind, r)] = []
        wanted = set(subs)
        for found in self.source.history(kind, subjects=subs) if subs else ():
            f = self.facts.setdefault((found.key, found.valid_from), found)
            if f.subject in wanted:
                self._by_subject[(kind, f.subject)].append(f)
        wanted = set(rfs)
        for found in self.source.history(kind, refs=rfs) if rfs else ():
            f = self.facts.setdefault((found.key, found.valid_from), found)
            if f.ref in wanted:
                self._by_ref[(kind, f.ref)].append(f)
        out = [f for s in set(subjects) for f in self._by_subject[(kind, s)]]
        return out + [f for r in set(refs) for f in self._by_ref[(kind, r)]]

    def decision_times_for(self, action: str) -> set[int]:
        """`decision_times`, less the instants where only policy documents that name no statement
        for `action` came or went (inline, managed default versions, bucket and trust policies):
        the evaluation never reads a statement whose action does not match."""
        versions = {(f.subject, f.ref): f.payload.get("document") for f in self.facts.values() if f.kind == "pver"}
        at: dict[int, list[Fact]] = {}
        for f in self.facts.values():
            at.setdefault(f.valid_from, []).append(f)
            if f.valid_to < FOREVER:
                at.setdefault(f.valid_to, []).append(f)
        keep = self.decision_times()
        return {t for t in keep if not all(_silent(f, action, versions) for f in at.get(t, []))}

    def decision_times(self) -> set[int]:
        """The instants a decision can change at: a managed policy's versions are immutable and only
        its default one is read, so the boundaries of a version that is never the default cannot
        move an answer."""
        defaults = {(f.subject, f.payload.get("version_id")) for f in self.facts.values() if f.kind == "pdefault"}
        out: set[int] = set()
        for f in self.facts.values():
            if f.kind != "pver" or (f.subject, f.ref) in defaults:
                out.add(f.valid_from)
                if f.valid_to < FOREVER:
                    out.add(f.valid_to)
        return out

    def change_times(self) -> dict[int, list[FactChange]]:
        """Each instant a gathered fact opened or closed, with the events that did it."""
        causes: dict[int, list[FactChange]] = {}
        for f in self.facts.values():
            causes.setdefault(f.valid_from, []).append(
                FactChange(position=f.opened_position, event_type=f.opened_type, fact=f.key, change="opened"))
            if f.valid_to < FOREVER:
                causes.setdefault(f.valid_to, []).append(
                    FactChange(position=f.closed_position, event_type=f.closed_type, fact=f.key, change="closed"))
        return causes

    # -- the FactSource surface ----------------------------------------------------------------

    def at(self, kind: str, at: int, subject: str | None = None, ref: str | None = None) -> list[Fact]:
        hit = self._by_subject.get((kind, subject)) if subject is not None else None
        if hit is None and ref is not None:
            hit = self._by_ref.get((kind, ref))
        if hit is None:
            return list(self.source.at(kind, at, subject, ref))
        return [f for f in self._live(hit, at)
                if (subject is None or f.subject == subject) and (ref is None or f.ref == ref)]

    def _live(self, found: list[Fact], at: int) -> list[Fact]:
        """The facts of one lookup in force at `at`: a sweep forward in time over the lookup's
        facts ordered by start (a timeline asks at increasing times), restarted if asked earlier."""
        sweep = self._sweeps.get(id(found))
        if sweep is None or sweep[0] > at or sweep[3] is not found:
            ordered = sorted(found, key=lambda f: f.valid_from)
            sweep = [at, 0, [], found, ordered]
            self._sweeps[id(found)] = sweep
        ordered = sweep[4]
        i, active = sweep[1], sweep[2]
        while i < len(ordered) and ordered[i].valid_from <= at:
            active.append(ordered[i])
            i += 1
        active = [f for f in active if f.valid_to > at]
        sweep[0], sweep[1], sweep[2] = at, i, active
        return active

    def many_at(self, kinds: Any, at: int) -> list[Fact]:
        return list(self.source.many_at(kinds, at))

    def history(self, kind: str | None = None, subjects: Iterable[str] | None = None,
                refs: Iterable[str] | None = None) -> list[Fact]:
        subs, rfs = list(subjects or ()), list(refs or ())
        if kind is not None and (subs or rfs) and all((kind, s) in self._by_subject for s in subs) \
                and all((kind, r) in self._by_ref for r in rfs):
            return self.fetch(kind, subjects=subs, refs=rfs)
        return list(self.source.history(kind, subjects=subjects, refs=refs))


_DOC_KINDS = ("inline", "pdefault", "pver", "bucket_policy", "trust")


def _silent(f: Fact, action: str, versions: dict[tuple[str, str], Any]) -> bool:
    """Whether a fact only holds a policy document none of whose statements names `action`."""
    if f.kind not in _DOC_KINDS:
        return False
    doc = versions.get((f.subject, str(f.payload.get("version_id")))) if f.kind == "pdefault" else \
        f.payload.get("document")
    if not isinstance(doc, dict):
        return False
    stmts = doc.get("Statement", [])
    for st in stmts if isinstance(stmts, list) else [stmts]:
        if not isinstance(st, dict) or "NotAction" in st:
            return False
        patterns = st.get("Action", [])
        for p in [patterns] if isinstance(patterns, str) else patterns:
            if not isinstance(p, str) or _action_glob(p).fullmatch(action):
                return False
    return True


@lru_cache(maxsize=4096)
def _action_glob(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.IGNORECASE)


def gather(source: Any, principal: str, resource: str) -> Gathered:
    """Every interval (any time) of any fact that `build_inputs` reads for this caller and resource."""
    g = Gathered(source)
    try:
        rp = principal_from_arn(principal)
    except LedgerError:
        return g
    refs = {principal}
    found = g.fetch("principal", refs=refs)
    sessions = g.fetch("session", refs=refs)
    holders = {f.subject for f in found}
    holders |= {str(f.payload.get("role_id") or f.payload.get("user_id")) for f in sessions
                if f.payload.get("role_id") or f.payload.get("user_id")}
    user_arns = {str(f.payload["user_arn"]) for f in sessions if f.payload.get("user_arn")}
    holders |= {p.subject for p in g.fetch("principal", refs=user_arns)}
    g.fetch("principal", subjects=holders)
    accounts: set[str] = {rp.account} - {""} if rp.account else set()
    members = g.fetch("member", subjects=holders)
    groups = {f.payload["group_id"] for f in members}
    g.fetch("principal", subjects=groups)
    everyone = holders | groups
    kinds = ("inline", "attach", "boundary", "tag", "revoked", "trust")
    linked = [f for kind in kinds for f in g.fetch(kind, subjects=everyone)]
    policies = {f.payload["policy_id"] for f in linked if f.kind in ("attach", "boundary")}
    arns = {f.payload["policy_arn"] for f in linked if f.kind == "boundary"}
    arns |= {arn for f in sessions for arn in f.payload.get("session_policy_arns") or ()}
    policies |= {p.subject for p in g.fetch("policy", refs=arns)}
    for kind in ("policy", "pver", "pdefault"):
        g.fetch(kind, subjects=policies)
    _resource_facts(g, resource, accounts)
    for kind in ("account", "scp", "orgmember"):
        g.fetch(kind, subjects=accounts)
    _org_facts(g)
    return g


def _resource_facts(g: Gathered, resource: str, accounts: set[str]) -> None:
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return
    if parts[2] == "s3":
        bucket = parts[5].split("/", 1)[0]
        for kind in ("bucket", "bucket_policy", "ownership"):
            found = g.fetch(kind, subjects={bucket})
            accounts |= {str(f.payload["account"]) for f in found if kind == "bucket"}
    elif parts[2] == "iam" and parts[5].startswith("role/"):
        roles = g.fetch("principal", refs={resource})
        g.fetch("trust", subjects={f.subject for f in roles})
        accounts |= {f.payload["account"] for f in roles}
    if parts[4].isdigit():
        accounts.add(parts[4])


def _org_facts(g: Gathered) -> None:
    """The organisation facts of the accounts gathered (only when an organisation is recorded)."""
    members = [f for (kind, _), found in list(g._by_subject.items()) if kind == "orgmember" for f in found]
    if not members:
        return
    management = {f.payload["management_account_id"] for f in members}
    g.fetch("orgtype", subjects=management)
    for kind in ("orgunit", "orgattach", "orgpolicy"):
        for f in g.source.history(kind):
            g.facts.setdefault((f.key, f.valid_from), f)
            g._by_subject.setdefault((kind, f.subject), []).append(f)


def relevant_facts(source: Any, principal: str, resource: str) -> list[Fact]:
    """Every interval (any time) of any fact that `build_inputs` could read for this pair."""
    return list(gather(source, principal, resource).facts.values())


def timeline(source: Any, as_of: AsOf, to_micros: ToMicros, principal: str, action: str, resource: str,
             start: datetime | str | None, end: datetime | str | None,
             context: dict[str, Any] | None, now_us: int | None = None) -> TimelineResult:
    """Intervals of valid time over which the decision was constant, each boundary tied to the
    events that opened or closed a relevant fact at that instant. With `end`, the last interval
    ends there (never "now"); without it, at `now_us` and open (`end` None on the interval)."""
    g = gather(source, principal, resource)
    causes = g.change_times()
    start_us = to_micros(start) if start is not None else None
    end_us = to_micros(end) if end is not None else (now_us if now_us is not None else max(causes, default=0))
    if start_us is not None and start_us > end_us:
        raise ValidationError(f"timeline: --start {iso(start_us)} is after --end {iso(end_us)}")
    times = sorted(g.decision_times_for(action))
    if start_us is None:
        start_us = times[0] if times else end_us
    points = [start_us] + [t for t in times if start_us < t <= end_us]
    intervals: list[Interval] = []
    notes: dict[str, None] = {}
    for t in points:
        d = decide(Snapshot(g, t), principal, action, resource, context)
        notes.update(dict.fromkeys([*d.decision.errors, *d.all_notes]))
        conditional = depends_on_context(d.decision)
        if intervals and (intervals[-1].eval_decision, intervals[-1].conditional) == (d.eval_decision, conditional):
            continue
        if intervals:
            intervals[-1] = replace(intervals[-1], end=iso(t), end_us=t, ended_by=dedupe(causes.get(t, [])))
        started_by = dedupe(causes.get(t, [])) if t != start_us or t in causes else ()
        intervals.append(Interval(start=iso(t), start_us=t, end=None, end_us=None, eval_decision=d.eval_decision,
                                  allowed=d.allowed, started_by=started_by, matched=d.decision.matched_statements,
                                  conditional=conditional, missing_context=d.decision.missing_context_values))
    if end is not None and intervals:
        # The window ends at --end: whatever happened later is outside it, so nothing is "now".
        intervals[-1] = replace(intervals[-1], end=iso(end_us), end_us=end_us, ended_by=None)
    return TimelineResult(as_of=as_of, principal=principal, action=action, resource=resource,
                          start=iso(start_us), end=iso(end_us), intervals=tuple(intervals), notes=tuple(notes))


def depends_on_context(decision: Any) -> bool:
    """The answer would differ with context the request does not give: a missing key settles it
    (an implicit deny that the key could turn into an allow, or an allow a conditional deny could
    take back), or the engine marked it conditional. An explicit deny never depends on it."""
    if decision.eval_decision == "explicitDeny":
        return False
    return bool(decision.conditional or decision.missing_context_values)


def dedupe(items: list[FactChange]) -> tuple[FactChange, ...]:
    """One entry per (position, fact, change), in log order."""
    seen: dict[tuple[int | None, str, str], FactChange] = {}
    for item in items:
        seen.setdefault((item.position, item.fact, item.change), item)
    return tuple(sorted(seen.values(), key=lambda i: (i.position or 0, i.fact)))

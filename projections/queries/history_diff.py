"""`diff`: every change of effective access between two valid times, with the events that caused it.

Works from the facts that changed inside (T1, T2]: only the requests whose answer those facts can
move are decided, at T1 and at T2. Reads facts; never writes, never reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from ledger.errors import LedgerError, ValidationError
from ledger.timeaxis import iso
from projections.assemble import AuditDecision, decide
from projections.facts import Fact
from projections.queries import history_universe as uni
from projections.queries.candidates import Candidates
from projections.queries.history_scope import Scope
from projections.queries.history_timeline import ToMicros, timeline
from projections.queries.paths import open_ended
from projections.queries.who_can import who_can
from projections.results import AccessChange, AsOf, DiffResult, FactChange, PathStep, UniverseSize
from projections.view import Snapshot

# The kinds whose change can move an access answer (sessions, jobs and objects cannot).
ACCESS_KINDS = ("principal", "account", "attach", "inline", "member", "policy", "pver", "pdefault", "boundary",
                "trust", "scp", "bucket", "bucket_policy", "ownership", "tag", "revoked",
                "orgmember", "orgtype", "orgunit", "orgattach", "orgpolicy")
_RANK = {"denied": 0, "allowed-conditional": 1, "allowed": 2}
# Above this many changed requests, causes are the changed facts each depends on, not re-walked.
_REWALK_LIMIT = 200
EventOf = Callable[[int], Any]
Pair = tuple[str, str]


def state_of(d: AuditDecision) -> str:
    """allowed | allowed-conditional (only if context keys hold, or resting on an unseen policy) | denied."""
    if not open_ended(d):
        return "denied"
    return "allowed-conditional" if (d.decision.conditional or d.unless is not None) else "allowed"


def changed_facts(source: Any, lo: int, hi: int) -> list[Fact]:
    """The facts of `ACCESS_KINDS` that opened or closed at a valid time in (lo, hi]."""
    engine = getattr(source, "engine", None)
    if engine is not None:
        from projections.sql_history import changed_between

        return changed_between(engine, lo, hi, ACCESS_KINDS)
    return [f for f in source.all_facts() if f.kind in ACCESS_KINDS
            and (lo < f.valid_from <= hi or lo < f.valid_to <= hi)]


def diff(source: Any, as_of: AsOf, to_micros: ToMicros, t1: datetime | str, t2: datetime | str,
         principals: Iterable[str] | None, pairs: Iterable[Pair] | None,
         event_of: EventOf | None = None) -> DiffResult:
    """Access gained and lost between t1 and t2 (over `principals` × `pairs` when given), direct
    and through role chains and PassRole paths; objects of one bucket grouped per action."""
    u1, u2 = to_micros(t1), to_micros(t2)
    if u1 > u2:
        raise ValidationError(f"diff: T1 ({iso(u1)}) is after T2 ({iso(u2)}); give the earlier time first")
    s1, s2 = _snapshot(source, u1), _snapshot(source, u2)
    changed = changed_facts(source, u1, u2)
    universe = uni.Universe(source, s1, s2, principals, pairs)
    scope = Scope(s1, s2, universe)
    for f in changed:
        scope.add(f)
    found: dict[tuple[str, str, str], _Row] = {}
    _direct(s1, s2, scope, universe, found)
    _paths(s1, s2, scope, universe, found, as_of)
    causes = _Causes(source, as_of, to_micros, scope, event_of, u1, u2, len(found))
    rows = [r.change(causes) for r in found.values()]
    grouped = uni.group_objects(rows, universe.members)
    gained = tuple(sorted((r for r in grouped if _RANK[r.after_state] > _RANK[r.before_state]), key=_order))
    lost = tuple(sorted((r for r in grouped if _RANK[r.after_state] < _RANK[r.before_state]), key=_order))
    return DiffResult(as_of=as_of, t1=iso(u1), t2=iso(u2), gained=gained, lost=lost,
                      universe=UniverseSize(principals=len(universe.principals), pairs=universe.pair_count))


def _snapshot(source: Any, at: int) -> Snapshot:
    """Every evaluation fact in force at T, read in one statement on a SQL store (as `who_can` does)."""
    engine = getattr(source, "engine", None)
    if engine is None:
        return Snapshot(source, at).preload()
    from projections.sql_read import live_facts

    return Snapshot(source, at).preload(live_facts(engine, source.token, at), frozenset({"pver"}))


def _order(c: AccessChange) -> tuple[str, str, str]:
    return (c.principal, c.action, c.resource)


class _Row:
    """One request whose state differs at t1 and t2, before its causes are known."""

    __slots__ = ("action", "d1", "d2", "path", "principal", "resource", "s1", "s2", "through")

    def __init__(self, principal: str, action: str, resource: str, d1: Any, d2: Any, s1: str, s2: str,
                 path: tuple[PathStep, ...] = (), through: frozenset[str] = frozenset()) -> None:
        self.principal, self.action, self.resource = principal, action, resource
        self.d1, self.d2, self.s1, self.s2, self.path, self.through = d1, d2, s1, s2, path, through

    def change(self, causes: _Causes) -> AccessChange:
        allowed = self.d2 if _RANK[self.s2] >= _RANK[self.s1] else self.d1
        via = allowed.decision.matched_statements if isinstance(allowed, AuditDecision) else ()
        missing = tuple(allowed.decision.missing_context_values) if isinstance(allowed, AuditDecision) else ()
        return AccessChange(principal=self.principal, action=self.action, resource=self.resource,
                            before=_eval(self.d1), after=_eval(self.d2),
                            caused_by=causes.of(self), via=via, before_state=self.s1, after_state=self.s2,
                            missing_context=missing, path=self.path)


def _eval(d: Any) -> str:
    if isinstance(d, AuditDecision):
        return d.eval_decision
    return str(d) if d else "implicitDeny"


def _decide(snap: Snapshot, principal: str, action: str, resource: str) -> AuditDecision | None:
    try:
        return decide(snap, principal, action, resource, None, unknown_context=True)
    except LedgerError:
        return None


def _direct(s1: Snapshot, s2: Snapshot, scope: Scope, universe: uni.Universe,
            found: dict[tuple[str, str, str], _Row]) -> None:
    """Each affected caller on the pairs its policies (or any resource policy) can allow, and every
    caller on the pairs of a resource whose own policy or existence changed."""
    checks: dict[str, set[Pair]] = {}
    for p, ids in scope.moves.items():
        if p not in universe.principals:
            continue
        own = ids if ids is not None else scope.own_ids(p)
        wanted = set(universe.pairs) if own is None else universe.pairs_matching(own, scope.statements)
        checks.setdefault(p, set()).update(wanted)
    for pair in universe.pairs_on(scope.resources):
        for p in _callers(s1, s2, pair) & universe.principals:
            checks.setdefault(p, set()).add(pair)
    by_pair: dict[Pair, list[str]] = {}
    for p, wanted in checks.items():
        for pair in wanted:
            by_pair.setdefault(pair, []).append(p)
    cands = [Candidates(s, sorted(universe.principals), True) for s in (s1, s2)]
    for (a, r), callers in sorted(by_pair.items()):
        # Who is not a candidate at either time is denied at both: no change to look for.
        possible = set(cands[0].for_action(a, r)) | set(cands[1].for_action(a, r))
        for p in sorted(set(callers) & possible):
            d1, d2 = _decide(s1, p, a, r), _decide(s2, p, a, r)
            st1 = state_of(d1) if d1 is not None else "denied"
            st2 = state_of(d2) if d2 is not None else "denied"
            if st1 != st2:
                found[(p, a, r)] = _Row(p, a, r, d1, d2, st1, st2)


def _callers(s1: Snapshot, s2: Snapshot, pair: Pair) -> set[str]:
    """Who may be allowed the pair at either time: who_can's own candidates, directly."""
    out: set[str] = set()
    for snap in (s1, s2):
        result = who_can(snap, {}, pair[0], pair[1], paths=False, max_depth=0, context=None, prune=True)
        out |= {e.principal for e in result.principals if not e.delegated}
    return out


def _paths(s1: Snapshot, s2: Snapshot, scope: Scope, universe: uni.Universe,
           found: dict[tuple[str, str, str], _Row], as_of: AsOf) -> None:
    """Access through role chains and PassRole→MediaConvert: for the pairs a changed role (its
    policies, its trust, who may assume or pass it) can reach, who_can with paths at both times."""
    roles = set(scope.roles) & universe.principals
    roles |= {k[2] for k in found if k[1].lower() in ("sts:assumerole", "iam:passrole")}
    roles |= {k[0] for k in found if ":role/" in k[0]}
    wanted: set[Pair] = set()
    for role in sorted(roles):
        own = scope.own_ids(role)
        for a, r in sorted(set(universe.pairs) if own is None else universe.pairs_matching(own, scope.statements)):
            d1, d2 = _decide(s1, role, a, r), _decide(s2, role, a, r)
            if (d1 is not None and open_ended(d1)) or (d2 is not None and open_ended(d2)):
                wanted.add((a, r))
    for a, r in sorted(wanted):
        before = _by_principal(who_can(s1, as_of, a, r, paths=True, max_depth=3, context=None, prune=True))
        after = _by_principal(who_can(s2, as_of, a, r, paths=True, max_depth=3, context=None, prune=True))
        for p in (set(before) | set(after)) & universe.principals:
            if (p, a, r) in found:
                continue
            st1, path1 = before.get(p, ("denied", ()))
            st2, path2 = after.get(p, ("denied", ()))
            if st1 != st2:
                path = path2 if _RANK[st2] >= _RANK[st1] else path1
                through = frozenset(step.principal for step in path)
                found[(p, a, r)] = _Row(p, a, r, _path_eval(st1), _path_eval(st2), st1, st2, path, through)


def _path_eval(state: str) -> str:
    return "implicitDeny" if state == "denied" else "allowed"


def _by_principal(result: Any) -> dict[str, tuple[str, tuple[PathStep, ...]]]:
    out = {}
    for e in result.principals:
        if e.delegated:
            continue
        out[e.principal] = ("allowed-conditional" if e.conditional else "allowed", tuple(e.path))
    return out


class _Causes:
    """The events behind each change: the instants in (t1, t2] where its answer flipped (walked with
    `timeline`), or, past `_REWALK_LIMIT` changes, every changed fact the request depends on."""

    def __init__(self, source: Any, as_of: AsOf, to_micros: ToMicros, scope: Scope,
                 event_of: EventOf | None, lo: int, hi: int, count: int) -> None:
        self.source, self.as_of, self.to_micros, self.scope = source, as_of, to_micros, scope
        self.event_of, self.lo, self.hi = event_of, lo, hi
        self.rewalk = count <= _REWALK_LIMIT
        self._events: dict[int, Any] = {}

    def of(self, row: _Row) -> tuple[FactChange, ...]:
        if self.rewalk and not row.path:
            tl = timeline(self.source, self.as_of, self.to_micros, row.principal, row.action, row.resource,
                          iso(self.lo), iso(self.hi), None)
            flips = [c for iv in tl.intervals[1:] for c in iv.started_by]
            if flips:
                return tuple(self._detail(c) for c in flips)
        facts = self.scope.facts_for(row.principal, row.resource, row.through)
        return tuple(self._detail(c) for c in self.scope.changes(facts, self.lo, self.hi))

    def _detail(self, c: FactChange) -> FactChange:
        """The change with its event's valid time and actor."""
        if self.event_of is None or c.position is None:
            return c
        event = self._events.get(c.position)
        if event is None:
            try:
                event = self._events[c.position] = self.event_of(c.position)
            except LedgerError:
                return c
        return FactChange(position=c.position, event_type=c.event_type, fact=c.fact, change=c.change,
                          occurred_at=iso(_us(event.occurred_at)), actor=getattr(event, "actor", None))


def _us(value: datetime) -> int:
    from ledger.timeaxis import to_us

    return to_us(value)

"""The naive oracle: replay every event with occurred_at ≤ T into fresh write-side account states
(`ledger.domain.state`), then evaluate. Independent of the temporal tables; slow by design.

Used by the tests (correctness reference) and the benchmarks (replay-from-scratch baseline).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ledger.domain import events as ev
from ledger.domain.state import AccountState, Role, User
from ledger.timeaxis import to_us
from projections.assemble import AuditDecision, decide
from projections.queries.paths import Reach, chain, hop, open_ended, pass_role, service_hop
from projections.results import WhoCanEntry
from projections.view import ManagedDoc, PrincipalInfo


class ReplaySnapshot:
    """The `Snapshot` interface over account states replayed up to valid time T."""

    def __init__(self, events: Iterable[ev.LedgerEvent], at: datetime | int) -> None:
        self.at_us = at if isinstance(at, int) else to_us(at)
        self.states: dict[str, AccountState] = {}
        self.sessions: dict[str, ev.LedgerEvent] = {}
        self.objects: dict[str, ev.OutputWritten] = {}
        self.jobs: dict[str, ev.JobCreated] = {}
        self.bucket_owner: dict[str, str] = {}
        everything = list(events)
        # Buckets the log names at any valid time: known history, unlike a name never seen.
        self.bucket_names = {e.bucket_name for e in everything if isinstance(e, ev.BucketCreated)}
        chosen = [e for e in everything if to_us(e.occurred_at) <= self.at_us]
        chosen.sort(key=lambda e: (to_us(e.occurred_at), e.position or 0))
        for event in chosen:
            state = self.states.setdefault(event.account_id, AccountState(event.account_id))
            state.fold(event)
            if isinstance(event, (ev.RoleAssumed, ev.FederationTokenIssued)):
                self.sessions[event.session_id] = event
            elif isinstance(event, ev.OutputWritten):
                self.objects[event.object_arn] = event
            elif isinstance(event, ev.JobCreated):
                self.jobs[event.job_arn] = event
            elif isinstance(event, ev.BucketCreated):
                self.bucket_owner[event.bucket_name] = event.account_id
            elif isinstance(event, ev.BucketDeleted):
                self.bucket_owner.pop(event.bucket_name, None)

    # -- principals -------------------------------------------------------------------------

    def _holders(self) -> Iterable[tuple[str, Any, str]]:
        for account, state in self.states.items():
            for u in state.users.values():
                yield account, u, "user"
            for g in state.groups.values():
                yield account, g, "group"
            for r in state.roles.values():
                yield account, r, "role"

    @staticmethod
    def _info(account: str, h: Any, kind: str) -> PrincipalInfo:
        uid = getattr(h, f"{kind}_id")
        return PrincipalInfo(kind, uid, h.arn, h.name, account,
                             max_session_duration=h.max_session_duration if isinstance(h, Role) else None)

    def principal_by_arn(self, arn: str) -> PrincipalInfo | None:
        return next((self._info(a, h, k) for a, h, k in self._holders() if h.arn == arn), None)

    def principal_by_id(self, uid: str) -> PrincipalInfo | None:
        return next((self._info(a, h, k) for a, h, k in self._holders() if getattr(h, f"{k}_id") == uid), None)

    def _holder(self, uid: str) -> Any:
        return next((h for _, h, k in self._holders() if getattr(h, f"{k}_id") == uid), None)

    def principals(self) -> list[PrincipalInfo]:
        return [self._info(a, h, k) for a, h, k in self._holders() if k != "group"]

    def account_exists(self, account: str) -> bool:
        return account in self.states and self.states[account].exists

    def accounts(self) -> list[str]:
        return sorted(a for a, s in self.states.items() if s.exists)

    def tags(self, uid: str) -> dict[str, str]:
        h = self._holder(uid)
        return dict(h.tags) if isinstance(h, (User, Role)) else {}

    # -- policies ---------------------------------------------------------------------------

    def inline(self, uid: str) -> list[tuple[str, dict[str, Any], dict[str, Any], Any]]:
        h = self._holder(uid)
        return sorted((n, d, {}, None) for n, d in h.inline.items()) if h is not None else []

    def attached(self, uid: str) -> list[tuple[str, str, dict[str, Any]]]:
        h = self._holder(uid)
        return sorted(((pid, arn, {}) for pid, arn in h.managed.items()), key=lambda t: t[1]) if h else []

    def groups_of(self, user_id: str) -> list[PrincipalInfo]:
        for account, state in self.states.items():
            user = state.users.get(user_id)
            if user is not None:
                return sorted((self._info(account, state.groups[g], "group") for g in user.groups
                               if g in state.groups), key=lambda g: g.arn)
        return []

    def _policy(self, policy_id: str) -> Any:
        for state in self.states.values():
            if policy_id in state.policies:
                return state.policies[policy_id]
        return None

    def managed(self, policy_id: str) -> ManagedDoc | None:
        p = self._policy(policy_id)
        if p is None or p.default_version not in p.versions:
            return None
        return ManagedDoc(policy_id, p.arn, p.versions[p.default_version], p.default_version, p.aws_managed, {})

    def managed_by_arn(self, arn: str) -> ManagedDoc | None:
        for state in self.states.values():
            p = state.policy_by_arn(arn)
            if p is not None:
                return self.managed(p.policy_id)
        return None

    def boundary(self, uid: str) -> tuple[str, str, dict[str, Any]] | None:
        h = self._holder(uid)
        if not isinstance(h, (User, Role)) or not h.boundary:
            return None
        for state in self.states.values():
            p = state.policy_by_arn(h.boundary)
            if p is not None:
                return (p.policy_id, h.boundary, {})
        return ("unknown", h.boundary, {})

    def trust(self, role_id: str) -> tuple[dict[str, Any], dict[str, Any], Any] | None:
        h = self._holder(role_id)
        return (h.trust_policy, {}, None) if isinstance(h, Role) else None

    def scps(self, account: str) -> list[tuple[int, str, dict[str, Any], dict[str, Any], Any]]:
        state = self.states.get(account)
        return sorted((lvl, sid, doc, {}, None) for sid, (lvl, doc) in state.scps.items()) if state else []

    def revoked_before(self, role_id: str) -> tuple[int, dict[str, Any]] | None:
        h = self._holder(role_id)
        return (to_us(h.revoked_before), {}) if isinstance(h, Role) and h.revoked_before else None

    # -- S3, sessions, jobs -----------------------------------------------------------------

    def bucket(self, name: str) -> tuple[str, dict[str, Any]] | None:
        owner = self.bucket_owner.get(name)
        return (owner, {}) if owner else None

    def bucket_recorded(self, name: str) -> bool:
        return name in self.bucket_names

    def bucket_policy(self, name: str) -> tuple[dict[str, Any], dict[str, Any], Any] | None:
        owner = self.bucket_owner.get(name)
        b = self.states[owner].buckets.get(name) if owner else None
        return (b.policy, {}, None) if b is not None and b.policy is not None else None

    def ownership(self, name: str) -> tuple[str, dict[str, Any]] | None:
        owner = self.bucket_owner.get(name)
        b = self.states[owner].buckets.get(name) if owner else None
        return (b.object_ownership, {}) if b is not None else None

    def sessions_by_arn(self, arn: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        out = []
        for e in self.sessions.values():
            extra: dict[str, Any]
            if isinstance(e, ev.RoleAssumed):
                s_arn, extra = e.session_arn, {"role_id": e.role_id, "source_identity": e.source_identity}
            elif isinstance(e, ev.FederationTokenIssued):
                s_arn, extra = e.federated_user_arn, {"user_id": e.user_id, "user_arn": e.user_arn}
            else:
                continue
            issued, expires = to_us(e.issued_at), to_us(e.expires_at)
            if s_arn != arn or not issued <= self.at_us < expires:
                continue
            payload = {"session_id": e.session_id, "arn": s_arn, "issued_at": issued,
                       "session_policy": e.session_policy,
                       "session_policy_arns": list(e.session_policy_arns), **extra}
            out.append((issued, e.position or 0, payload))
        return [(p, {}) for _, _, p in sorted(out, key=lambda t: (t[0], t[1]))]

    def object(self, arn: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        e = self.objects.get(arn)
        if e is None:
            return None
        return ({"object_arn": e.object_arn, "bucket": e.bucket_name, "bucket_account": e.account_id,
                 "writer_arn": e.writer_arn, "writer_account": e.writer_account, "acl": e.acl,
                 "object_ownership": e.object_ownership, "job_arn": e.job_arn,
                 "writer_session_id": e.writer_session_id}, {})

    def job(self, arn: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        e = self.jobs.get(arn)
        return ({"job_arn": e.job_arn, "account": e.account_id, "creator_arn": e.creator_arn,
                 "role_arn": e.role_arn, "queue_arn": e.queue_arn}, {}) if e else None

    def job_queues(self, account: str) -> list[str]:
        return sorted({e.queue_arn for e in self.jobs.values() if e.account_id == account})


def naive_can(events: Iterable[ev.LedgerEvent], principal: str, action: str, resource: str,
              at: datetime | int, context: dict[str, Any] | None = None,
              unknown_context: bool = False) -> AuditDecision:
    """Replay, then evaluate: the reference answer for `can(at=T)`."""
    snap = ReplaySnapshot(events, at)
    return decide(snap, principal, action, resource, context, unknown_context=unknown_context)  # type: ignore[arg-type]


def naive_who_can(events: Iterable[ev.LedgerEvent], action: str, resource: str, at: datetime | int, *,
                  paths: bool = True, max_depth: int = 3, context: dict[str, Any] | None = None,
                  resource_owner: str | None = None) -> list[WhoCanEntry]:
    """The reference for `who_can`: replay, then every caller and, with `paths`, every path of up
    to `max_depth` AssumeRole steps between distinct principals and every PassRole to MediaConvert,
    with no pruning; a caller allowed directly by its own request, any other by its strongest
    path (delegated account entries left out)."""
    snap: Any = ReplaySnapshot(events, at)
    ctx = dict(context or {})
    callers = [p.arn for p in snap.principals()] + [f"arn:aws:iam::{a}:root" for a in snap.accounts()]
    reaches: dict[str, list[Reach]] = {c: [] for c in callers}
    for caller in callers:
        d = decide(snap, caller, action, resource, ctx, unknown_context=True, resource_owner=resource_owner)
        if open_ended(d):
            reaches[caller].append(hop(d, caller, action, resource, target=True))
    if paths:
        roles = {p.arn: p for p in snap.principals() if p.kind == "role"}
        for role_arn in [r for r in roles if reaches[r]]:
            service = service_hop(snap, roles[role_arn], ctx)
            if service is None:
                continue
            direct = reaches[role_arn][0]
            for caller in [c for c in callers if c != role_arn]:
                reach = pass_role(snap, caller, roles[role_arn], direct, service, ctx)
                reaches[caller] += [reach] if reach is not None else []
        for caller in callers:
            reaches[caller] += _chains_from(snap, caller, roles, reaches, ctx, max_depth, {caller})
    # A caller allowed directly is answered by its own request (found first); any other by its
    # strongest path.
    best = {c: found[0] if found[0].path[0].conditional is None else min(found, key=Reach.strength)
            for c, found in reaches.items() if found}
    return [best[c].entry(c) for c in sorted(best)]


def _chains_from(snap: Any, caller: str, roles: dict[str, PrincipalInfo], ends: dict[str, list[Reach]],
                 ctx: dict[str, Any], depth: int, seen: set[str]) -> list[Reach]:
    """Every path from `caller` that assumes a role not yet on it, then goes on from that role."""
    out: list[Reach] = []
    if depth <= 0:
        return out
    for role_arn in roles:
        if role_arn in seen:
            continue
        d = decide(snap, caller, "sts:AssumeRole", role_arn, ctx, unknown_context=True)
        if not open_ended(d):
            continue
        step = hop(d, caller, "sts:AssumeRole", role_arn)
        tails = ends[role_arn] + _chains_from(snap, role_arn, roles, ends, ctx, depth - 1, seen | {role_arn})
        out += [chain(step, tail) for tail in tails]
    return out


def _state(d: AuditDecision) -> str:
    if not open_ended(d):
        return "denied"
    return "allowed-conditional" if (d.decision.conditional or d.unless is not None) else "allowed"


_RANK = {"denied": 0, "allowed-conditional": 1, "allowed": 2}


def naive_diff(events: Iterable[ev.LedgerEvent], t1: datetime | int, t2: datetime | int,
               principals: Iterable[str], pairs: Iterable[tuple[str, str]]
               ) -> tuple[set[tuple[str, str, str, str, str]], set[tuple[str, str, str, str, str]]]:
    """The reference for `diff` over `principals` × `pairs`: replay to each time, then decide every
    request; a request whose own decision (allowed / allowed-conditional / denied) differs is a
    change, else one whose strongest reach (`naive_who_can` with every path) differs. Returns
    (gained, lost) as (principal, action, resource, before, after) tuples."""
    everything = list(events)
    snaps = [ReplaySnapshot(everything, t) for t in (t1, t2)]
    gained: set[tuple[str, str, str, str, str]] = set()
    lost: set[tuple[str, str, str, str, str]] = set()
    for a, r in pairs:
        reach = [{e.principal: "allowed-conditional" if e.conditional else "allowed"
                  for e in naive_who_can(everything, a, r, t, paths=True) if not e.delegated} for t in (t1, t2)]
        for p in principals:
            st1, st2 = (_state(decide(s, p, a, r, None, unknown_context=True)) for s in snaps)  # type: ignore[arg-type]
            if st1 == st2:
                st1, st2 = reach[0].get(p, "denied"), reach[1].get(p, "denied")
            if st1 != st2:
                (gained if _RANK[st2] > _RANK[st1] else lost).add((p, a, r, st1, st2))
    return gained, lost


def naive_timeline(events: Iterable[ev.LedgerEvent], principal: str, action: str, resource: str,
                   start: int, end: int) -> list[tuple[int, int, str, bool]]:
    """The reference for `timeline`: the decision replayed at every event time in (start, end],
    merged into (start µs, end µs, EvalDecision, conditional) runs."""
    everything = list(events)
    times = sorted({start} | {to_us(e.occurred_at) for e in everything if start < to_us(e.occurred_at) <= end}
                   | _expiries(everything, start, end))
    runs: list[tuple[int, int, str, bool]] = []
    for t in times:
        d = decide(ReplaySnapshot(everything, t), principal, action, resource)  # type: ignore[arg-type]
        # Written out here rather than shared with the query, so the reference stays independent.
        conditional = d.eval_decision != "explicitDeny" and bool(
            d.decision.conditional or d.decision.missing_context_values)
        state = (d.eval_decision, conditional)
        if runs and runs[-1][2:] == state:
            continue
        if runs:
            runs[-1] = (runs[-1][0], t, *runs[-1][2:])
        runs.append((t, end, *state))
    return runs


def _expiries(events: list[ev.LedgerEvent], start: int, end: int) -> set[int]:
    """Session expiries inside the window: a decision can change there without an event."""
    out = set()
    for e in events:
        expires = getattr(e, "expires_at", None)
        if isinstance(expires, datetime) and start < to_us(expires) <= end:
            out.add(to_us(expires))
    return out

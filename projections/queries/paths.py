"""Paths to a target at T through role-assumption chains and PassRole to MediaConvert: each caller's
strongest path (unconditional first, then fewest steps, then by name), no stronger than its weakest step.

Reads one `Snapshot` and decides through `projections.assemble.decide`; never reads the clock or a store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ledger.policy import PolicySet, wildcard_match
from projections.assemble import UNLESS_ALLOWS, AuditDecision, decide
from projections.gather import Inputs, identity_entries
from projections.results import PathStep, WhoCanEntry
from projections.view import PrincipalInfo, Snapshot

MEDIACONVERT = "mediaconvert.amazonaws.com"
PASS_CONTEXT = (("iam:PassedToService", MEDIACONVERT),)
CREATE_JOB = "mediaconvert:CreateJob"
Signature = tuple[tuple[str, str, str], ...]


@dataclass(frozen=True, slots=True)
class Reach:
    """A way to the target: its steps, whether any is conditional, the context keys they left
    open, the policies the ledger never saw that they rest on, and the first step's qualification;
    `signature` names the steps (principal, action, resource), to order paths of equal length."""

    path: tuple[PathStep, ...]
    conditional: bool
    keys: frozenset[str]
    unknown: frozenset[str]
    reason: str | None
    signature: Signature

    def strength(self) -> tuple[bool, int, Signature]:
        """Smaller is stronger: unconditional first, then fewer steps, then by name."""
        return self.conditional, len(self.path), self.signature

    def shortness(self) -> tuple[int, Signature]:
        return len(self.path), self.signature

    def entry(self, principal: str) -> WhoCanEntry:
        keys = tuple(sorted(self.keys, key=str.lower)) if self.conditional else ()
        return WhoCanEntry(principal=principal, eval_decision="allowed", conditional=self.conditional,
                           path=self.path, missing_context=keys, reason=self.reason,
                           unknown_policies=tuple(sorted(self.unknown)))


def open_ended(d: AuditDecision) -> bool:
    """Allowed, or denied only for want of a policy the ledger never saw."""
    return d.eval_decision == "allowed" or d.unless == UNLESS_ALLOWS


def hop(d: AuditDecision, principal: str, action: str, resource: str,
        context: tuple[tuple[str, str], ...] = (), *, target: bool = False) -> Reach:
    """One request as a one-step reach; `target` marks the request asked about (no flag of its own)."""
    conditional = bool(d.decision.conditional) or d.unless is not None
    step = PathStep(principal=principal, action=action, resource=resource, eval_decision=d.eval_decision,
                    via=d.decision.matched_statements, conditional=None if target else conditional,
                    context=context)
    unknown = frozenset(str(u.get("policy_arn")) for u in d.unknown_policies) if d.unless else frozenset()
    return Reach((step,), conditional, frozenset(d.decision.missing_context_values), unknown, d.qualification,
                 ((principal, action, resource),))


def chain(*parts: Reach) -> Reach:
    """Steps one after the other: conditional if any is, with every key and unknown policy."""
    return Reach(tuple(s for p in parts for s in p.path), any(p.conditional for p in parts),
                 frozenset().union(*(p.keys for p in parts)), frozenset().union(*(p.unknown for p in parts)),
                 next((p.reason for p in parts if p.reason), None), tuple(n for p in parts for n in p.signature))


class Best:
    """Each caller's direct reach, its strongest reach and its shortest (a conditional first step
    makes the shortest tail the strongest continuation). A caller allowed directly is answered
    by its own request; the others by their strongest path."""

    def __init__(self) -> None:
        self.direct: dict[str, Reach] = {}
        self.strongest: dict[str, Reach] = {}
        self.shortest: dict[str, Reach] = {}

    def offer_direct(self, principal: str, reach: Reach) -> None:
        self.direct[principal] = reach
        self.offer(principal, reach)

    def answer(self, principal: str) -> WhoCanEntry:
        return (self.direct.get(principal) or self.strongest[principal]).entry(principal)

    def offer(self, principal: str, reach: Reach, *, tail: bool = True) -> bool:
        """Keep `reach` if it is stronger (or, for a caller others may chain through, shorter)
        than what the caller holds; whether anything changed."""
        changed = False
        held = self.strongest.get(principal)
        if held is None or reach.strength() < held.strength():
            self.strongest[principal] = reach
            changed = True
        if tail:
            held = self.shortest.get(principal)
            if held is None or reach.shortness() < held.shortness():
                self.shortest[principal] = reach
                changed = True
        return changed

    def beaten(self, principal: str, conditional: bool, length: int, tail: bool,
               first: tuple[str, str, str]) -> bool:
        """Whether a reach of that strength and length, whose first step is `first`, could not
        change what the caller holds (a cheap test before deciding or building it)."""
        held = self.strongest.get(principal)
        if held is None or not _loses((conditional, length), first, (held.conditional, len(held.path)), held):
            return False
        if not tail:
            return True
        shortest = self.shortest.get(principal)
        return shortest is not None and _loses((length,), first, (len(shortest.path),), shortest)

    def settled(self, roles: dict[str, PrincipalInfo]) -> set[str]:
        """Callers whose answer no path can change: allowed directly, and not a role others may
        chain through unless its direct reach is unconditional (no path is stronger)."""
        return {p for p, r in self.direct.items() if p not in roles or not r.conditional}


def _loses(mine: tuple[Any, ...], first: tuple[str, str, str], theirs: tuple[Any, ...], held: Reach) -> bool:
    """A reach ranked `mine` with first step `first` is worse than `held` (ranked `theirs`) for
    sure: worse rank, or equal rank and a first step that names sort after held's."""
    return mine > theirs or (mine == theirs and first > held.signature[0])


def queue_witnesses(snap: Snapshot, caller: str, account: str) -> list[str]:
    """Queues of `account` to try CreateJob on, in order: those its recorded jobs used, then the
    caller's own CreateJob Allow patterns narrowed to the account's queues (a pattern stands for
    every queue it covers), then every queue of the account in every Region."""
    out = list(snap.job_queues(account))
    holder = snap.principal_by_arn(caller)
    if holder is not None and holder.kind in ("user", "role"):
        for entry in identity_entries(snap, holder, Inputs(None, PolicySet()), share_groups=True):
            for st in entry.compiled.allow_statements_for(CREATE_JOB.lower()):
                for pattern in st.source.resource or ("*",):
                    queue = _queue_pattern(pattern, account)
                    if queue is not None and queue not in out:
                        out.append(queue)
    every = f"arn:aws:mediaconvert:*:{account}:queues/*"
    return out if every in out else [*out, every]


def _queue_pattern(pattern: str, account: str) -> str | None:
    """The part of a Resource pattern that names queues of `account`, as a queue ARN pattern."""
    if pattern == "*" or "${" in pattern:
        return f"arn:aws:mediaconvert:*:{account}:queues/*"
    parts = pattern.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    partition, service, region, owner, rest = parts[1:]
    if not wildcard_match(service, "mediaconvert", ignore_case=True) or not wildcard_match(owner, account):
        return None
    if rest.startswith("queues/"):
        name = rest[len("queues/"):]
    elif wildcard_match(rest, "queues/any"):
        name = "*"
    else:
        return None
    partition = partition if "*" not in partition and "?" not in partition else "aws"
    return f"arn:{partition}:mediaconvert:{region}:{account}:queues/{name}"


Decide = Callable[..., AuditDecision]


def create_job(snap: Snapshot, caller: str, account: str, ctx: dict[str, Any],
               judge: Decide = decide) -> tuple[AuditDecision, str] | None:
    """The first witness queue on which CreateJob is allowed unconditionally, else the first on
    which it is allowed at all (once per snapshot: it does not depend on the role passed)."""
    memo = getattr(snap, "memo", None)
    if memo is None:
        return _create_job(snap, caller, account, ctx, judge)
    key = ("create-job", caller, account, json.dumps(ctx, sort_keys=True, default=str), judge)
    if key not in memo:
        memo[key] = _create_job(snap, caller, account, ctx, judge)
    return memo[key]  # type: ignore[no-any-return]


def _create_job(snap: Snapshot, caller: str, account: str, ctx: dict[str, Any],
                judge: Decide) -> tuple[AuditDecision, str] | None:
    fallback: tuple[AuditDecision, str] | None = None
    for queue in queue_witnesses(snap, caller, account):
        d = judge(snap, caller, CREATE_JOB, queue, ctx, unknown_context=True)
        if not open_ended(d):
            continue
        if not d.decision.conditional and d.unless is None:
            return d, queue
        fallback = fallback or (d, queue)
    return fallback


def service_hop(snap: Snapshot, role: PrincipalInfo, ctx: dict[str, Any], judge: Decide = decide) -> Reach | None:
    """MediaConvert assuming the passed role for a job of the role's account (its aws:SourceAccount)."""
    supplied = () if any(k.lower() == "aws:sourceaccount" for k in ctx) else (("aws:SourceAccount", role.account),)
    d = judge(snap, MEDIACONVERT, "sts:AssumeRole", role.arn, {**dict(supplied), **ctx}, unknown_context=True)
    return hop(d, MEDIACONVERT, "sts:AssumeRole", role.arn, supplied) if open_ended(d) else None


def pass_role(snap: Snapshot, caller: str, role: PrincipalInfo, tail: Reach, service: Reach,
              ctx: dict[str, Any], judge: Decide = decide) -> Reach | None:
    """caller → iam:PassRole(role) → CreateJob on a queue of the role's account → MediaConvert
    assumes the role → the role's own request (`tail`)."""
    d1 = judge(snap, caller, "iam:PassRole", role.arn, {**ctx, **dict(PASS_CONTEXT)}, unknown_context=True)
    if not open_ended(d1):
        return None
    job = create_job(snap, caller, role.account, ctx, judge)
    if job is None:
        return None
    d2, queue = job
    return chain(hop(d1, caller, "iam:PassRole", role.arn, PASS_CONTEXT), hop(d2, caller, CREATE_JOB, queue),
                 service, tail)


def pass_role_paths(snap: Snapshot, best: Best, roles: dict[str, PrincipalInfo], direct: dict[str, Reach],
                    passers: Callable[[str, str], Iterable[str]], ctx: dict[str, Any]) -> None:
    """Every caller that can pass a role which reaches the target directly to MediaConvert."""
    settled = best.settled(roles)  # PassRole paths are never direct: this set cannot grow here
    for role_arn in sorted(direct):
        role = roles[role_arn]
        service = service_hop(snap, role, ctx)
        if service is None:
            continue
        for caller in passers(role.account, role_arn):
            if caller != role_arn and caller not in settled:
                reach = pass_role(snap, caller, role, direct[role_arn], service, ctx)
                if reach is not None:
                    best.offer(caller, reach)


def assume_chains(snap: Snapshot, best: Best, roles: dict[str, PrincipalInfo],
                  assumers: Callable[[str, set[str]], Iterable[str]], ctx: dict[str, Any], max_depth: int) -> None:
    """Callers that may assume a role that reaches the target, up to `max_depth` AssumeRole steps:
    each round extends the roles whose reach improved in the round before."""
    frontier = {arn: (best.strongest[arn], best.shortest[arn]) for arn in sorted(roles) if arn in best.strongest}
    decided: dict[tuple[str, str], AuditDecision] = {}
    for _ in range(max_depth):
        changed: dict[str, tuple[Reach, Reach]] = {}
        settled = best.settled(roles)  # chains are never direct: this set cannot grow in a round
        for role_arn, tails in frontier.items():
            for caller in assumers(role_arn, settled):
                is_role, first = caller in roles, (caller, "sts:AssumeRole", role_arn)
                # Whatever the step, no path through this role is stronger (or, for a role, shorter)
                # than what the caller holds: no need to decide it.
                if caller == role_arn or (
                        best.beaten(caller, tails[0].conditional, 1 + len(tails[0].path), False, first)
                        and best.beaten(caller, True, 1 + len(tails[1].path), is_role, first)):
                    continue
                d = decided.get((caller, role_arn))
                if d is None:
                    d = decided[(caller, role_arn)] = decide(snap, caller, "sts:AssumeRole", role_arn, ctx,
                                                             unknown_context=True)
                if not open_ended(d):
                    continue
                # After an unconditional step the strongest tail is strongest; after a conditional
                # one every path is conditional, so the shortest tail is.
                conditional = bool(d.decision.conditional) or d.unless is not None
                tail = tails[1] if conditional else tails[0]
                if best.beaten(caller, conditional or tail.conditional, 1 + len(tail.path), is_role, first) or \
                        any(s.principal == caller for s in tail.path):
                    continue
                step = hop(d, caller, "sts:AssumeRole", role_arn)
                if best.offer(caller, chain(step, tail), tail=is_role) and is_role:
                    changed[caller] = (best.strongest[caller], best.shortest[caller])
        if not changed:
            break
        frontier = dict(sorted(changed.items()))  # by role ARN: ties between paths go to the first

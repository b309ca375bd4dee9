"""Builds the policy engine's inputs for one request from the state at T, and explains the answer.

Pure: reads a `Snapshot`, calls the pure evaluator; never writes and never reads the clock.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.catalog import evaluated_resource
from ledger.errors import ValidationError
from ledger.policy import (
    Decision,
    MatchedStatement,
    PolicyEntry,
    PolicySet,
    PolicyType,
    PrincipalKind,
    Request,
    RequestPrincipal,
    principal_from_arn,
)
from ledger.timeaxis import iso
from projections import org_inputs, timectx
from projections.gather import Inputs, boundary_entries, entry_of, identity_entries, scp_entries, session_entries
from projections.view import PrincipalInfo, Snapshot

REVOKE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "AWSRevokeOlderSessions", "Effect": "Deny", "Action": "*", "Resource": "*"}]}
UNLESS_DENIES = "a policy the ledger never saw denies it"
UNLESS_ALLOWS = "a policy the ledger never saw allows it"
_SEVERITY = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}
_ACCOUNT = re.compile(r"(?:arn:aws:iam::)?([0-9]{12})(?::root)?")
_UNSEEN = ("the ledger never recorded bucket {bucket}: taken to be owned by {owner} with no bucket policy, as "
           "SimulatePrincipalPolicy does for a resource whose owner it is not told")


@dataclass
class AuditDecision:
    """The engine's Decision plus when it is as of, what the ledger could not resolve, and what it
    assumed. `unless` qualifies an answer that rests on a policy the ledger never saw; with several
    resources, `resource_results` holds one decision per resource and `decision` their aggregate."""

    decision: Decision
    as_of: dict[str, Any]
    principal: str
    unknown_policies: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unless: str | None = None
    resource_results: tuple[AuditDecision, ...] = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.decision, name)

    @property
    def eval_decision(self) -> str:
        return self.decision.eval_decision

    @property
    def allowed(self) -> bool:
        """Allowed, and not resting on a policy the ledger never saw."""
        return self.decision.eval_decision == "allowed" and self.unless is None

    @property
    def all_notes(self) -> list[str]:
        """The engine's own notes (when its Decision carries them), then the read side's."""
        return [*getattr(self.decision, "notes", ()), *self.notes]

    @property
    def qualification(self) -> str | None:
        """"allowed, unless ..." / "implicitDeny, unless ...", naming the unknown policies."""
        if self.unless is None:
            return None
        arns = ", ".join(sorted({str(u.get("policy_arn")) for u in self.unknown_policies}))
        return f"{self.decision.eval_decision}, unless {self.unless} ({arns})"

    def to_dict(self) -> dict[str, Any]:
        out = self.decision.to_dict()
        out["Principal"] = self.principal
        out["as_of"] = self.as_of
        out["UnknownPolicies"] = self.unknown_policies
        if self.notes:
            out["Notes"] = self.all_notes
        if self.unless is not None:
            out["Qualification"] = self.qualification
        if self.resource_results:
            out["ResourceSpecificResults"] = [_resource_specific(r) for r in self.resource_results]
        return out


def _resource_specific(d: AuditDecision) -> dict[str, Any]:
    """One resource's answer in the shape of AWS's ResourceSpecificResult (plus our own keys)."""
    body = d.decision.to_dict()
    out = {"EvalResourceName": body["EvalResourceName"], "EvalResourceDecision": body["EvalDecision"],
           "MatchedStatements": body["MatchedStatements"], "MissingContextValues": body["MissingContextValues"],
           "EvalDecisionDetails": body.get("EvalDecisionDetails"),
           "PermissionsBoundaryDecisionDetail": body["PermissionsBoundaryDecisionDetail"],
           "Errors": body["Errors"]}
    if d.all_notes:
        out["Notes"] = d.all_notes
    if d.unless is not None:
        out["Qualification"] = d.qualification
    return out


def combine_resource_decisions(decisions: Sequence[Decision]) -> Decision:
    """AWS's aggregate over several resources: "The top-level EvalDecision reflects the most
    restrictive decision across all resources" (IAM API Reference, EvaluationResult)."""
    worst = max(decisions, key=lambda d: _SEVERITY[d.eval_decision])
    deciding = decisions if worst.eval_decision == "allowed" else \
        [d for d in decisions if d.eval_decision == worst.eval_decision]
    matched: list[MatchedStatement] = []
    for d in deciding:
        matched += [m for m in d.matched_statements if m not in matched]
    missing = sorted({k for d in decisions for k in d.missing_context_values}, key=str.lower)
    errors = [e for i, d in enumerate(decisions) for e in d.errors
              if e not in [x for prior in decisions[:i] for x in prior.errors]]
    return Decision(
        eval_decision=worst.eval_decision, matched_statements=tuple(matched), missing_context_values=tuple(missing),
        permissions_boundary_decision_detail=_all_of(decisions, "permissions_boundary_decision_detail"),
        organizations_decision_detail=_all_of(decisions, "organizations_decision_detail"),
        errors=tuple(errors), conditional=any(d.conditional for d in decisions),
        eval_action_name=decisions[0].eval_action_name, eval_resource_name="*")


def _all_of(decisions: Sequence[Decision], name: str) -> dict[str, bool] | None:
    details = [getattr(d, name) for d in decisions if getattr(d, name) is not None]
    if not details:
        return None
    return {key: all(detail.get(key, True) for detail in details) for key in details[0]}


def combine_audit(results: Sequence[AuditDecision], principal: str, as_of: dict[str, Any]) -> AuditDecision:
    """One answer for several resources: the aggregate decision, each resource's own, and the
    notes and unknown policies of all; qualified when the aggregate rests on unknown policies."""
    decision = combine_resource_decisions([r.decision for r in results])
    unknown: list[dict[str, Any]] = []
    notes: list[str] = []
    for r in results:
        unknown += [u for u in r.unknown_policies if u not in unknown]
        notes += [n for n in r.notes if n not in notes]
    unless: str | None = None
    if decision.eval_decision == "allowed" and any(r.unless for r in results):
        unless = UNLESS_DENIES
    elif decision.eval_decision == "implicitDeny" and any(r.unless for r in results) and all(
            r.eval_decision == "allowed" or r.unless == UNLESS_ALLOWS for r in results):
        unless = UNLESS_ALLOWS
    return AuditDecision(decision, as_of, principal, unknown, notes, unless, tuple(results))


def owner_account(resource_owner: str | None) -> str | None:
    """AWS's ResourceOwner: a 12-digit account id or that account's root ARN, as the account id."""
    if resource_owner is None:
        return None
    match = _ACCOUNT.fullmatch(str(resource_owner))
    if match is None:
        raise ValidationError(f"resource owner {str(resource_owner)[:80]!r}: give a 12-digit account id "
                              "or arn:aws:iam::ACCOUNT:root", value=str(resource_owner)[:80])
    return match.group(1)


def unseen_note(bucket: str, owner: str) -> str:
    return _UNSEEN.format(bucket=bucket, owner=owner)


def _with_memberships(snap: Snapshot, holder: PrincipalInfo | None, decision: Decision) -> Decision:
    """Add the user's membership to each matched statement of a group policy (entries built
    with `share_groups`), exactly as an unshared entry's origin carries it."""
    if holder is None or holder.kind != "user" or not decision.matched_statements:
        return decision
    groups = {g.arn: g.origin for g in snap.groups_of(holder.unique_id) if g.origin}
    if not groups:
        return decision
    matched = []
    for m in decision.matched_statements:
        o = m.origin
        if isinstance(o, dict) and o.get("holder") in groups and "membership" not in o:
            matched.append(MatchedStatement(m.source_policy_id, m.source_policy_type, m.statement_index, m.sid,
                                            m.effect, dict(o, membership=groups[o["holder"]])))
        else:
            matched.append(m)
    return dataclasses.replace(decision, matched_statements=tuple(matched))


def resource_side(snap: Snapshot, action: str, resource: str, out: Inputs,
                  resource_owner: str | None = None) -> tuple[str | None, PolicyEntry | None]:
    """(owning account, resource-based policy) of the resource at T. A bucket the ledger never
    recorded is owned by `resource_owner`, or by the caller when None (`out.unseen` names it)."""
    if resource in ("*", ""):
        return None, None
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None, None
    service, account, rest = parts[2], parts[4], parts[5]
    if service == "s3":
        bucket_name = rest.split("/", 1)[0]
        bucket = snap.bucket(bucket_name)
        if bucket is None:
            if snap.bucket_recorded(bucket_name):
                out.errors.append(f"bucket {bucket_name} does not exist at this time")
                return None, None
            out.unseen = bucket_name
            return resource_owner, None
        policy = snap.bucket_policy(bucket_name)
        if policy is None:
            return bucket[0], None
        doc, origin, ckey = policy
        return bucket[0], entry_of(doc, PolicyType.RESOURCE, f"bucket-policy:{bucket_name}", "resource",
                                   origin, ckey, out.errors)
    if service == "iam" and rest.startswith("role/") and action.lower().startswith("sts:"):
        role = snap.principal_by_arn(resource)
        if role is None or role.kind != "role":
            out.errors.append(f"role {resource} does not exist at this time")
            return account or None, None
        trust = snap.trust(role.unique_id)
        if trust is None:
            return role.account, None
        doc, origin, ckey = trust
        return role.account, entry_of(doc, PolicyType.TRUST, f"trust-policy:{role.arn}", "resource",
                                      origin, ckey, out.errors)
    return (account if account.isdigit() else resource_owner), None


def _resource_side_memo(snap: Snapshot, action: str, resource: str, out: Inputs,
                        resource_owner: str | None) -> tuple[str | None, PolicyEntry | None]:
    """`resource_side`, once per snapshot for a given (action, resource): the same for every
    caller of `who_can`."""
    memo = getattr(snap, "memo", None)
    if memo is None:
        return resource_side(snap, action, resource, out, resource_owner)
    key = ("resource_side", action.lower().startswith("sts:"), resource, resource_owner)
    hit = memo.get(key)
    if hit is None:
        scratch = Inputs(None, PolicySet())
        account, entry = resource_side(snap, action, resource, scratch, resource_owner)
        hit = memo[key] = (account, entry, scratch.errors, scratch.unknown_policies, scratch.unseen)
    out.errors.extend(hit[2])
    out.unknown_policies.extend(hit[3])
    out.unseen = hit[4]
    return hit[0], hit[1]


class _Caller:
    """What the caller contributes to the request: its policies, identifiers and known context."""

    __slots__ = ("boundaries", "context", "identity", "role_arn", "session", "time", "unique_id")

    def __init__(self) -> None:
        self.identity: list[PolicyEntry] = []
        self.boundaries: list[PolicyEntry] | None = None
        self.session: list[PolicyEntry] | None = None
        self.unique_id: str | None = None
        self.role_arn: str | None = None
        self.context: dict[str, Any] = _NO_CONTEXT
        self.time: timectx.TimeKnowledge = timectx.NOTHING_KNOWN


_NO_CONTEXT: dict[str, Any] = {}  # shared and never written: a caller with context gets its own dict


def _holder(snap: Snapshot, rp: RequestPrincipal, out: Inputs, share_groups: bool) -> _Caller:
    """An IAM user (long-term credentials) or a role (one of its sessions, not recorded)."""
    caller = _Caller()
    holder = snap.principal_by_arn(rp.arn)
    if holder is None or holder.kind != rp.kind.value:
        out.errors.append(f"{rp.arn} does not exist at this time")
        return caller
    out.principal = holder
    caller.unique_id = holder.unique_id
    caller.identity = identity_entries(snap, holder, out, share_groups=share_groups)
    caller.boundaries = boundary_entries(snap, holder, out)
    tags = snap.tags(holder.unique_id)
    if tags:
        caller.context = {f"aws:PrincipalTag/{k}": v for k, v in tags.items()}
    if rp.kind is PrincipalKind.ROLE:
        caller.role_arn = holder.arn
        caller.time = _hypothetical(snap, holder.max_session_duration or timectx.ROLE_SESSION_DEFAULT_MAX_S)
    else:
        caller.time = timectx.LONG_TERM
    return caller


def _hypothetical(snap: Snapshot, longest_s: int) -> timectx.TimeKnowledge:
    """A role's session at T that the ledger did not record (once per snapshot and duration)."""
    memo = getattr(snap, "memo", None)
    if memo is None:
        return timectx.hypothetical_session(snap.at_us, longest_s)
    key = ("hypothetical-session", longest_s)
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = timectx.hypothetical_session(snap.at_us, longest_s)
    return hit  # type: ignore[no-any-return]


def _session(snap: Snapshot, rp: RequestPrincipal, out: Inputs, share_groups: bool) -> _Caller:
    """A role session or federated user the ledger recorded, in force at T."""
    caller = _Caller()
    sessions = snap.sessions_by_arn(rp.arn)
    if not sessions:
        out.errors.append(f"no session {rp.arn} is in force at this time (never issued or expired)")
        return caller
    payload, origin = sessions[-1]
    assumed = rp.kind is PrincipalKind.ASSUMED_ROLE
    holder_id = payload.get("role_id") if assumed else payload.get("user_id")
    holder = snap.principal_by_id(holder_id) if holder_id else snap.principal_by_arn(payload.get("user_arn", ""))
    if holder is None:
        out.errors.append(f"the principal behind {rp.arn} does not exist at this time")
        return caller
    out.principal = holder
    caller.identity = identity_entries(snap, holder, out, share_groups=share_groups)
    caller.boundaries = boundary_entries(snap, holder, out)
    caller.session = session_entries(snap, payload, origin, out)
    if not assumed and caller.session is None:
        caller.session = []  # GetFederationToken without a policy grants nothing
    caller.time = timectx.TimeKnowledge(values={timectx.TOKEN_ISSUE_TIME: iso(int(payload["issued_at"])) or ""})
    caller.context = {f"aws:PrincipalTag/{k}": v for k, v in snap.tags(holder.unique_id).items()}
    if payload.get("source_identity"):
        caller.context["aws:SourceIdentity"] = payload["source_identity"]
    if assumed:
        caller.unique_id = f"{holder.unique_id}:{rp.name}"
        caller.role_arn = holder.arn  # the role's full ARN, path included
        revoked = snap.revoked_before(holder.unique_id)
        if revoked is not None and int(payload["issued_at"]) < revoked[0]:
            e = entry_of(REVOKE_POLICY, PolicyType.INLINE_ROLE, "AWSRevokeOlderSessions", "role", revoked[1],
                         "revoke", out.errors)
            if e:
                caller.identity.append(e)
    return caller


def build_inputs(snap: Snapshot, principal_arn: str, action: str, resource: str,
                 context: dict[str, Any] | None = None, *, share_groups: bool = False,
                 resource_owner: str | None = None) -> Inputs:
    """Resolve the caller at T and gather every policy that bears on the request; the time keys
    are what the ledger knows at T (the caller's `context` wins over them)."""
    out = Inputs(None, PolicySet())
    rp = principal_from_arn(principal_arn)
    caller = _Caller()
    if rp.kind is PrincipalKind.ROOT:
        caller.time = timectx.LONG_TERM
        if not rp.account or not snap.account_exists(rp.account):
            out.errors.append(f"account {rp.account} does not exist at this time")
    elif rp.kind in (PrincipalKind.USER, PrincipalKind.ROLE):
        caller = _holder(snap, rp, out, share_groups)
    elif rp.kind in (PrincipalKind.ASSUMED_ROLE, PrincipalKind.FEDERATED_USER):
        caller = _session(snap, rp, out, share_groups)
    evaluated = evaluated_resource(action, resource, rp.arn)  # no resource type: all resources
    side = resource if evaluated == resource else "*"
    resource_account, resource_policy = _resource_side_memo(snap, action, side, out, resource_owner)
    if out.unseen is not None:
        owner = (f"account {resource_owner} (the given resource owner)" if resource_owner
                 else f"the caller's account ({rp.account})")
        out.notes.append(unseen_note(out.unseen, owner))
    rcps_of = org_inputs.rcp_account(action, resource_account)
    scps = scp_entries(snap, rp.account, out, rcps_of) if rp.kind is not PrincipalKind.SERVICE else None
    out.time = caller.time.without(context)
    ctx: dict[str, Any] = {**_now(snap), **caller.time.values, **caller.context,
                           **org_inputs.context(snap, rp.account, resource_account), **(context or {})}
    rp = RequestPrincipal(rp.arn, rp.kind, rp.account, caller.unique_id or rp.unique_id,
                          caller.role_arn or rp.role_arn)
    out.request = Request(rp, action, evaluated, resource_account, ctx)
    out.policies = PolicySet(caller.identity, resource_policy, caller.boundaries, caller.session, scps)
    return out


def _now(snap: Snapshot) -> dict[str, str]:
    memo = getattr(snap, "memo", None)
    if memo is None:
        return timectx.at_time(snap.at_us)
    now = memo.get("now")
    if now is None:
        now = memo["now"] = timectx.at_time(snap.at_us)
    return now  # type: ignore[no-any-return]


def _fail_closed(decision: Decision, errors: Sequence[str], action: str, resource: str) -> Decision:
    """What the ledger could not resolve never lets a request through, and is always reported."""
    if not errors:
        return decision
    if decision.eval_decision == "explicitDeny":
        return dataclasses.replace(decision, errors=(*errors, *decision.errors))
    return Decision(
        eval_decision="implicitDeny",
        missing_context_values=decision.missing_context_values,
        permissions_boundary_decision_detail=decision.permissions_boundary_decision_detail,
        organizations_decision_detail=decision.organizations_decision_detail,
        errors=(*errors, *decision.errors),
        eval_action_name=action,
        eval_resource_name=resource,
    )


def _unless(inputs: Inputs, decision: Decision, unknown_context: bool) -> str | None:
    """How a policy the ledger never saw could change the answer: deny an allow, or allow a
    request that only the known policies (or the unknown boundary's absence) deny."""
    if decision.eval_decision == "explicitDeny":
        return None
    if decision.eval_decision == "allowed":
        return UNLESS_DENIES
    unknowns = inputs.unknowns
    if any(e not in unknowns.errors for e in inputs.errors) or not (
            unknowns.identity or unknowns.boundary or unknowns.session):
        return None
    ps = inputs.policies
    session = None if ps.session is None and not unknowns.session else [*(ps.session or ()), *unknowns.session]
    optimistic = PolicySet([*ps.identity, *unknowns.identity], ps.resource, unknowns.boundary or ps.boundaries,
                           session, ps.scps)
    assert inputs.request is not None
    best = timectx.settle(inputs.request, optimistic, unknown_context, inputs.time)
    return UNLESS_ALLOWS if best.eval_decision == "allowed" else None


def decide(snap: Snapshot, principal_arn: str, action: str, resource: str,
           context: dict[str, Any] | None = None, *, unknown_context: bool = False,
           as_of: dict[str, Any] | None = None, resource_owner: str | None = None) -> AuditDecision:
    """Evaluate one request at the snapshot's time; unresolvable inputs fail closed, and an answer
    resting on a policy the ledger never saw is qualified."""
    inputs = build_inputs(snap, principal_arn, action, resource, context, share_groups=True,
                          resource_owner=resource_owner)
    assert inputs.request is not None
    decision = timectx.settle(inputs.request, inputs.policies, unknown_context, inputs.time)
    decision = _fail_closed(decision, inputs.errors, action, resource)
    decision = _with_memberships(snap, inputs.principal, decision)
    unless = _unless(inputs, decision, unknown_context) if inputs.unknown_policies else None
    return AuditDecision(decision, as_of or {"valid_time": iso(snap.at_us)}, principal_arn,
                         inputs.unknown_policies, list(inputs.notes), unless)

"""Builds the policy engine's inputs for one request from the state at T, and explains the answer.

Pure: reads a `Snapshot`, calls the pure evaluator; never writes and never reads the clock.
"""

from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ledger.errors import LedgerError
from ledger.policy import (
    CompiledPolicy,
    Decision,
    PolicyEntry,
    PolicySet,
    PolicyType,
    PrincipalKind,
    Request,
    RequestPrincipal,
    compile_policy,
    evaluate,
    parse_policy,
    principal_from_arn,
)
from ledger.timeaxis import iso
from projections import org_inputs
from projections.view import Origin, PrincipalInfo, Snapshot

_MAX_DOC = 1_000_000
_PARSED: OrderedDict[Any, CompiledPolicy] = OrderedDict()
_PARSED_MAX = 20_000
_BY_TEXT: OrderedDict[tuple[PolicyType, str], CompiledPolicy] = OrderedDict()
# The policy type of an inline policy, by the kind of its holder.
INLINE_TYPE = {"user": PolicyType.INLINE_USER, "group": PolicyType.INLINE_GROUP, "role": PolicyType.INLINE_ROLE}
REVOKE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "AWSRevokeOlderSessions", "Effect": "Deny", "Action": "*", "Resource": "*"}]}


def compile_cached(doc: dict[str, Any], ptype: PolicyType, cache_key: Any = None) -> CompiledPolicy:
    """Parse + compile, memoised by the fact that holds the document (documents never change
    inside one fact interval), so warm queries skip JSON validation; a fact not seen yet whose
    document text was parsed before (another version or holder with the same JSON) reuses it."""
    key = (cache_key, ptype) if cache_key is not None else None
    if key is not None:
        hit = _PARSED.get(key)
        if hit is not None:
            return hit
    text = (ptype, json.dumps(doc, sort_keys=True, separators=(",", ":")))
    compiled = _BY_TEXT.get(text)
    if compiled is None:
        compiled = compile_policy(parse_policy(doc, ptype, max_size=_MAX_DOC))
        _BY_TEXT[text] = compiled
        if len(_BY_TEXT) > _PARSED_MAX:
            _BY_TEXT.popitem(last=False)
    if key is not None:
        _PARSED[key] = compiled
        if len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    return compiled


@dataclass
class Inputs:
    """Everything the evaluator needs, plus what could not be resolved (reported, fail closed)."""

    request: Request | None
    policies: PolicySet
    errors: list[str] = field(default_factory=list)
    unknown_policies: list[dict[str, Any]] = field(default_factory=list)
    principal: PrincipalInfo | None = None


@dataclass
class AuditDecision:
    """The engine's Decision plus when it is as of and what the ledger could not resolve."""

    decision: Decision
    as_of: dict[str, Any]
    principal: str
    unknown_policies: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.decision, name)

    @property
    def eval_decision(self) -> str:
        return self.decision.eval_decision

    @property
    def allowed(self) -> bool:
        return self.decision.eval_decision == "allowed"

    def to_dict(self) -> dict[str, Any]:
        out = self.decision.to_dict()
        out["Principal"] = self.principal
        out["as_of"] = self.as_of
        out["UnknownPolicies"] = self.unknown_policies
        if self.notes:
            out["Notes"] = self.notes
        return out


def _entry(doc: dict[str, Any], ptype: PolicyType, policy_id: str, label: str, origin: Origin | None,
           cache_key: Any, errors: list[str]) -> PolicyEntry | None:
    try:
        return PolicyEntry(compile_cached(doc, ptype, cache_key), policy_id, label, origin)
    except LedgerError as error:
        errors.append(f"policy {policy_id} cannot be evaluated: {error.message}")
        return None


def identity_entries(snap: Snapshot, holder: PrincipalInfo, out: Inputs,
                     with_groups: bool = True, share_groups: bool = False) -> list[PolicyEntry]:
    """Inline and attached managed policies (default version at T) of a user/role, plus its
    groups' policies for a user (memoised per snapshot when the snapshot offers a `memo`).

    With `share_groups`, a group's entries are the same objects for every member and their
    origins leave out the user's membership (`decide` adds it to the matched statements)."""
    memo = getattr(snap, "memo", None)
    if memo is None:
        return _identity_entries(snap, holder, out, with_groups, share_groups)
    key = ("identity", holder.unique_id, holder.arn, holder.kind, with_groups, share_groups)
    hit = memo.get(key)
    if hit is None:
        scratch = Inputs(None, PolicySet())
        hit = memo[key] = (_identity_entries(snap, holder, scratch, with_groups, share_groups),
                           scratch.errors, scratch.unknown_policies)
    out.errors.extend(hit[1])
    out.unknown_policies.extend(hit[2])
    return list(hit[0])


def _identity_entries(snap: Snapshot, holder: PrincipalInfo, out: Inputs,
                      with_groups: bool, share_groups: bool) -> list[PolicyEntry]:
    groups = snap.groups_of(holder.unique_id) if with_groups and holder.kind == "user" else []
    if not share_groups:
        entries = _own_entries(snap, holder, None, out)
        for g in groups:
            entries += _own_entries(snap, g, g.origin, out)
        return entries
    entries = list(_shared_entries(snap, holder, out))
    for g in groups:
        entries += _shared_entries(snap, g, out)
    return entries


def _shared_entries(snap: Snapshot, h: PrincipalInfo, out: Inputs) -> list[PolicyEntry]:
    """`_own_entries` without membership, once per holder per snapshot."""
    memo = getattr(snap, "memo", None)
    if memo is None:
        return _own_entries(snap, h, None, out)
    key = ("own", h.unique_id, h.arn, h.kind)
    hit = memo.get(key)
    if hit is None:
        scratch = Inputs(None, PolicySet())
        hit = memo[key] = (_own_entries(snap, h, None, scratch), scratch.errors, scratch.unknown_policies)
    out.errors.extend(hit[1])
    out.unknown_policies.extend(hit[2])
    return hit[0]  # type: ignore[no-any-return]


def _own_entries(snap: Snapshot, h: PrincipalInfo, membership: Origin | None, out: Inputs) -> list[PolicyEntry]:
    """The inline and attached managed policies of one user, group or role."""
    entries: list[PolicyEntry] = []
    for name, doc, origin, ckey in snap.inline(h.unique_id):
        o = dict(origin, holder=h.arn)
        if membership:
            o["membership"] = membership
        e = _entry(doc, INLINE_TYPE[h.kind], name, h.kind, o, ckey, out.errors)
        if e:
            entries.append(e)
    for policy_id, policy_arn, origin in snap.attached(h.unique_id):
        managed = snap.managed(policy_id)
        if managed is None:
            out.unknown_policies.append({"policy_arn": policy_arn, "policy_id": policy_id,
                                         "attached_to": h.arn, "attachment": origin})
            continue
        o = dict(origin, holder=h.arn, version_id=managed.version_id, document=managed.origin)
        if membership:
            o["membership"] = membership
        label = "aws-managed" if managed.aws_managed else "user-managed"
        e = _entry(managed.document, PolicyType.IDENTITY, managed.arn, label, o,
                   managed.cache_key, out.errors)
        if e:
            entries.append(e)
    return entries


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
            matched.append(dataclasses.replace(m, origin=dict(o, membership=groups[o["holder"]])))
        else:
            matched.append(m)
    return dataclasses.replace(decision, matched_statements=tuple(matched))


def _boundary(snap: Snapshot, holder: PrincipalInfo, out: Inputs) -> list[PolicyEntry] | None:
    found = snap.boundary(holder.unique_id)
    if found is None:
        return None
    policy_id, policy_arn, origin = found
    managed = snap.managed(policy_id)
    if managed is None:
        out.unknown_policies.append({"policy_arn": policy_arn, "policy_id": policy_id,
                                     "boundary_of": holder.arn, "boundary": origin})
        # An unknown boundary allows nothing we can prove: fail closed (see `decide`).
        out.errors.append(f"permissions boundary {policy_arn} is not recorded in the ledger")
        return None
    o = dict(origin, version_id=managed.version_id, document=managed.origin)
    e = _entry(managed.document, PolicyType.BOUNDARY, managed.arn, "permissions-boundary", o,
               managed.cache_key, out.errors)
    return [e] if e else []


Levels = list[list[PolicyEntry]]


def _scps(snap: Snapshot, account: str | None, out: Inputs, rcps_of: str | None = None) -> Levels | None:
    """The organisation levels: the caller account's SCPs (the shorthand and the recorded tree,
    merged level by level from the root), then one RCP level of the resource's account."""
    levels: dict[int, list[PolicyEntry]] = {}
    found = snap.scps(account) if account else []
    for level, scp_id, doc, origin, ckey in found:
        e = _entry(doc, PolicyType.SCP, scp_id, "scp", origin, ckey, out.errors)
        if e:
            levels.setdefault(level, []).append(e)
    for level, docs in enumerate(org_inputs.scp_levels(snap, account, out.errors) if account else []):
        levels.setdefault(level, []).extend(
            e for p, doc, origin, ck in docs if (e := _entry(doc, PolicyType.SCP, p, "scp", origin, ck, out.errors)))
    result = [levels[k] for k in sorted(levels)] or None
    rcps = org_inputs.rcp_documents(snap, rcps_of, out.errors) if rcps_of else None
    if rcps is not None:
        result = [*(result or []), [e for pid, doc, origin, ckey in rcps
                                    if (e := _entry(doc, PolicyType.RESOURCE, pid, "rcp", origin, ckey, out.errors))]]
    return result


def _scps_memo(snap: Snapshot, account: str | None, out: Inputs, rcps_of: str | None = None) -> Levels | None:
    memo = getattr(snap, "memo", None)
    if memo is None:
        return _scps(snap, account, out, rcps_of)
    key = ("scps", account, rcps_of)
    hit = memo.get(key)
    if hit is None:
        scratch = Inputs(None, PolicySet())
        hit = memo[key] = (_scps(snap, account, scratch, rcps_of), scratch.errors)
    out.errors.extend(hit[1])
    return hit[0]  # type: ignore[no-any-return]


def _session_entries(snap: Snapshot, session: dict[str, Any], origin: Origin,
                     out: Inputs) -> list[PolicyEntry] | None:
    doc = session.get("session_policy")
    arns = session.get("session_policy_arns") or []
    if doc is None and not arns:
        return None
    entries: list[PolicyEntry] = []
    if doc is not None:
        e = _entry(doc, PolicyType.SESSION, "session-policy", "session", origin,
                   None, out.errors)
        if e:
            entries.append(e)
    for arn in arns:
        managed = snap.managed_by_arn(arn)
        if managed is None:
            out.unknown_policies.append({"policy_arn": arn, "session_policy_of": session["arn"]})
            continue
        e = _entry(managed.document, PolicyType.SESSION, arn, "session", origin, managed.cache_key,
                   out.errors)
        if e:
            entries.append(e)
    return entries


def resource_side(snap: Snapshot, action: str, resource: str, out: Inputs) -> tuple[str | None, PolicyEntry | None]:
    """(owning account, resource-based policy) of the resource at T."""
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
            out.errors.append(f"bucket {bucket_name} does not exist at this time")
            return None, None
        policy = snap.bucket_policy(bucket_name)
        if policy is None:
            return bucket[0], None
        doc, origin, ckey = policy
        return bucket[0], _entry(doc, PolicyType.RESOURCE, f"bucket-policy:{bucket_name}", "resource",
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
        return role.account, _entry(doc, PolicyType.TRUST, f"trust-policy:{role.arn}", "resource",
                                    origin, ckey, out.errors)
    return (account if account.isdigit() else None), None


def _resource_side_memo(snap: Snapshot, action: str, resource: str,
                        out: Inputs) -> tuple[str | None, PolicyEntry | None]:
    """`resource_side`, once per snapshot for a given (action, resource): the same for every
    caller of `who_can`."""
    memo = getattr(snap, "memo", None)
    if memo is None:
        return resource_side(snap, action, resource, out)
    key = ("resource_side", action.lower().startswith("sts:"), resource)
    hit = memo.get(key)
    if hit is None:
        scratch = Inputs(None, PolicySet())
        account, entry = resource_side(snap, action, resource, scratch)
        hit = memo[key] = (account, entry, scratch.errors, scratch.unknown_policies)
    out.errors.extend(hit[2])
    out.unknown_policies.extend(hit[3])
    return hit[0], hit[1]


def build_inputs(snap: Snapshot, principal_arn: str, action: str, resource: str,
                 context: dict[str, Any] | None = None, *, share_groups: bool = False) -> Inputs:
    """Resolve the caller at T and gather every policy that bears on the request."""
    out = Inputs(None, PolicySet())
    rp = principal_from_arn(principal_arn)
    ctx: dict[str, Any] = {}
    if snap.at_us:
        memo = getattr(snap, "memo", None)
        now = memo.get("now") if memo is not None else None
        if now is None:
            now = (iso(snap.at_us), str(snap.at_us // 1_000_000))
            if memo is not None:
                memo["now"] = now
        ctx["aws:CurrentTime"], ctx["aws:EpochTime"] = now
    identity: list[PolicyEntry] = []
    boundaries: list[PolicyEntry] | None = None
    session: list[PolicyEntry] | None = None
    caller_account = rp.account
    unique_id: str | None = None
    role_arn: str | None = None
    kind = rp.kind
    if kind is PrincipalKind.ROOT:
        if not rp.account or not snap.account_exists(rp.account):
            out.errors.append(f"account {rp.account} does not exist at this time")
    elif kind in (PrincipalKind.USER, PrincipalKind.ROLE):
        holder = snap.principal_by_arn(rp.arn)
        if holder is None or holder.kind != kind.value:
            out.errors.append(f"{rp.arn} does not exist at this time")
        else:
            out.principal = holder
            unique_id = holder.unique_id
            role_arn = holder.arn if kind is PrincipalKind.ROLE else None
            identity = identity_entries(snap, holder, out, share_groups=share_groups)
            boundaries = _boundary(snap, holder, out)
            for k, v in snap.tags(holder.unique_id).items():
                ctx[f"aws:PrincipalTag/{k}"] = v
    elif kind in (PrincipalKind.ASSUMED_ROLE, PrincipalKind.FEDERATED_USER):
        sessions = snap.sessions_by_arn(rp.arn)
        if not sessions:
            out.errors.append(f"no session {rp.arn} is in force at this time (never issued or expired)")
        else:
            payload, origin = sessions[-1]
            holder_id = payload.get("role_id") if kind is PrincipalKind.ASSUMED_ROLE else payload.get("user_id")
            holder = (snap.principal_by_id(holder_id) if holder_id
                      else snap.principal_by_arn(payload.get("user_arn", "")))
            if holder is None:
                out.errors.append(f"the principal behind {rp.arn} does not exist at this time")
            else:
                out.principal = holder
                identity = identity_entries(snap, holder, out, share_groups=share_groups)
                boundaries = _boundary(snap, holder, out)
                session = _session_entries(snap, payload, origin, out)
                if kind is PrincipalKind.FEDERATED_USER and session is None:
                    session = []  # GetFederationToken without a policy grants nothing
                ctx["aws:TokenIssueTime"] = iso(int(payload["issued_at"]))
                if payload.get("source_identity"):
                    ctx["aws:SourceIdentity"] = payload["source_identity"]
                for k, v in snap.tags(holder.unique_id).items():
                    ctx[f"aws:PrincipalTag/{k}"] = v
                if kind is PrincipalKind.ASSUMED_ROLE:
                    unique_id = f"{holder.unique_id}:{rp.name}"
                    role_arn = holder.arn
                    revoked = snap.revoked_before(holder.unique_id)
                    if revoked is not None and int(payload["issued_at"]) < revoked[0]:
                        e = _entry(REVOKE_POLICY, PolicyType.INLINE_ROLE, "AWSRevokeOlderSessions",
                                   "role", revoked[1], "revoke", out.errors)
                        if e:
                            identity.append(e)
    resource_account, resource_policy = _resource_side_memo(snap, action, resource, out)
    rcps_of = org_inputs.rcp_account(action, resource_account)
    scps = _scps_memo(snap, caller_account, out, rcps_of) if kind is not PrincipalKind.SERVICE else None
    ctx.update(org_inputs.context(snap, caller_account, resource_account))
    ctx.update(context or {})
    rp = RequestPrincipal(rp.arn, rp.kind, rp.account, unique_id or rp.unique_id, role_arn or rp.role_arn)
    out.request = Request(rp, action, resource, resource_account, ctx)
    out.policies = PolicySet(identity, resource_policy, boundaries, session, scps)
    return out


def decide(snap: Snapshot, principal_arn: str, action: str, resource: str,
           context: dict[str, Any] | None = None, *, unknown_context: bool = False,
           as_of: dict[str, Any] | None = None) -> AuditDecision:
    """Evaluate one request at the snapshot's time; unresolvable inputs fail closed."""
    inputs = build_inputs(snap, principal_arn, action, resource, context, share_groups=True)
    assert inputs.request is not None
    decision = evaluate(inputs.request, inputs.policies, unknown_context=unknown_context)
    if inputs.errors and decision.eval_decision != "explicitDeny":
        # Fail closed: what the ledger could not resolve never lets a request through.
        decision = Decision(
            eval_decision="implicitDeny",
            missing_context_values=decision.missing_context_values,
            permissions_boundary_decision_detail=decision.permissions_boundary_decision_detail,
            organizations_decision_detail=decision.organizations_decision_detail,
            errors=tuple(inputs.errors) + decision.errors,
            eval_action_name=action,
            eval_resource_name=resource,
        )
    decision = _with_memberships(snap, inputs.principal, decision)
    return AuditDecision(decision, as_of or {"valid_time": iso(snap.at_us)}, principal_arn,
                         inputs.unknown_policies)


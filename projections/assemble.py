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
from projections.view import Origin, PrincipalInfo, Snapshot

_MAX_DOC = 1_000_000
_PARSED: OrderedDict[Any, Any] = OrderedDict()
_PARSED_MAX = 20_000
_BY_TEXT: OrderedDict[tuple[PolicyType, str], Any] = OrderedDict()
REVOKE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "AWSRevokeOlderSessions", "Effect": "Deny", "Action": "*", "Resource": "*"}]}


def _compiled(doc: dict[str, Any], ptype: PolicyType, cache_key: Any = None) -> Any:
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
        return PolicyEntry(_compiled(doc, ptype, cache_key), policy_id, label, origin)
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
    inline_type = {"user": PolicyType.INLINE_USER, "group": PolicyType.INLINE_GROUP,
                   "role": PolicyType.INLINE_ROLE}
    for name, doc, origin, ckey in snap.inline(h.unique_id):
        o = dict(origin, holder=h.arn)
        if membership:
            o["membership"] = membership
        e = _entry(doc, inline_type[h.kind], name, h.kind, o, ckey, out.errors)
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


def _scps(snap: Snapshot, account: str | None, out: Inputs) -> list[list[PolicyEntry]] | None:
    if not account:
        return None
    found = snap.scps(account)
    if not found:
        return None
    levels: dict[int, list[PolicyEntry]] = {}
    for level, scp_id, doc, origin, ckey in found:
        e = _entry(doc, PolicyType.SCP, scp_id, "scp", origin, ckey, out.errors)
        if e:
            levels.setdefault(level, []).append(e)
    return [levels[k] for k in sorted(levels)]


def _scps_memo(snap: Snapshot, account: str | None, out: Inputs) -> list[list[PolicyEntry]] | None:
    memo = getattr(snap, "memo", None)
    if memo is None:
        return _scps(snap, account, out)
    key = ("scps", account)
    hit = memo.get(key)
    if hit is None:
        scratch = Inputs(None, PolicySet())
        hit = memo[key] = (_scps(snap, account, scratch), scratch.errors)
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


class _HolderIndex:
    """For one action at T: holders whose identity policies allow it on any resource, and the
    policies whose only Allow statements for it name specific resources, with their holders."""

    def __init__(self) -> None:
        self.anywhere: set[str] = set()
        self.specific: dict[Any, tuple[tuple[Any, ...], set[str], frozenset[str]]] = {}
        self.by_resource: dict[str, set[str]] = {}
        self.by_service: dict[str, list[tuple[tuple[Any, ...], set[str]]]] = {}
        # holders with an unconditional Deny for the action on every resource: explicitDeny
        self.denied: set[str] = set()


def _classify(compiled: Any, action_lower: str) -> tuple[tuple[Any, ...], frozenset[str]] | None:
    """None if no Allow statement covers the action; ((), {"*"}) if one covers every resource
    (or uses policy variables, decided per caller); otherwise the statements to match per
    resource and the services their Resource patterns can name ("*" when a pattern leaves the
    service open)."""
    allows = [st for st in compiled.candidates(action_lower) if st.allow]
    if not allows:
        return None
    if any(st.res_any or st.res_templates for st in allows):
        return (), frozenset("*")
    services: set[str] = set()
    statements = compiled.document.statements
    for st in allows:
        raw = statements[st.index]
        if raw.not_resource is not None:
            services.add("*")
            continue
        for pattern in raw.resource or ():
            parts = pattern.split(":", 3)
            service = parts[2].lower() if len(parts) > 3 else "*"
            services.add("*" if "*" in service or "?" in service else service)
    return tuple(allows), frozenset(services)


def _denies_everywhere(compiled: Any, action_lower: str) -> bool:
    """A Deny statement for the action on every resource, with no condition or variable."""
    return any(not st.allow and st.res_any and not st.res_not and not st.cond_keys and not st.conditions
               for st in compiled.candidates(action_lower))


def _holder_index(snap: Snapshot, action_lower: str) -> _HolderIndex:
    memo = getattr(snap, "memo", None)
    key = ("holder_index", action_lower)
    if memo is not None and key in memo:
        return memo[key]  # type: ignore[no-any-return]
    index = _HolderIndex()
    inline_type = {"user": PolicyType.INLINE_USER, "group": PolicyType.INLINE_GROUP,
                   "role": PolicyType.INLINE_ROLE}
    direct: dict[str, list[Any]] = {}  # holder -> specific-policy keys
    for f in snap.inline_facts():
        owner = snap.principal_by_id(f.subject)
        if owner is None:
            continue
        try:
            compiled = _compiled(f.payload["document"], inline_type[owner.kind], snap.cache_key(f))
        except LedgerError:
            continue
        if _denies_everywhere(compiled, action_lower):
            index.denied.add(f.subject)
        found = _classify(compiled, action_lower)
        if found is not None and found[0] == ():
            index.anywhere.add(f.subject)
        elif found is not None:
            index.specific.setdefault(("inline", f.key), (found[0], set(), found[1]))
            direct.setdefault(f.subject, []).append(("inline", f.key))
    classes: dict[str, tuple[tuple[Any, ...], frozenset[str]] | None] = {}
    denying: dict[str, bool] = {}
    for f in snap.attachment_facts():
        pid = f.ref  # the attached policy's id (as the payload's policy_id), without decoding it
        if pid not in classes:
            managed = snap.managed(pid)
            cls: tuple[tuple[Any, ...], frozenset[str]] | None = None
            denying[pid] = False
            if managed is not None:
                try:
                    compiled = _compiled(managed.document, PolicyType.IDENTITY, managed.cache_key)
                    cls = _classify(compiled, action_lower)
                    denying[pid] = _denies_everywhere(compiled, action_lower)
                except LedgerError:
                    cls = None
            classes[pid] = cls
            if cls is not None and cls[0]:
                index.specific[("managed", pid)] = (cls[0], set(), cls[1])
        if denying[pid]:
            index.denied.add(f.subject)
        cls = classes[pid]
        if cls is not None and cls[0] == ():
            index.anywhere.add(f.subject)
        elif cls is not None:
            direct.setdefault(f.subject, []).append(("managed", pid))
    for holder, keys in direct.items():
        for k in keys:
            index.specific[k][1].add(holder)
    exists: dict[str, bool] = {}
    for f in snap.membership_facts():  # users inherit their groups' grants (and denies)
        group = f.ref  # the group's id (as the payload's group_id)
        if group in index.denied:
            if group not in exists:
                exists[group] = snap.principal_by_id(group) is not None
            if exists[group]:
                index.denied.add(f.subject)
        if group in index.anywhere:
            index.anywhere.add(f.subject)
        for k in direct.get(group, ()):
            index.specific[k][1].add(f.subject)
    if memo is not None:
        memo[key] = index
    return index


def denied_holders(snap: Snapshot, action_lower: str) -> set[str]:
    """Unique ids of users, groups and roles whose identity policies at T deny the action on
    every resource without a condition: any request of theirs for it is an explicitDeny."""
    return _holder_index(snap, action_lower).denied


def allowing_holders(snap: Snapshot, action_lower: str, resource: str = "*") -> set[str]:
    """Unique ids of every user, group and role at T with an identity-based Allow statement
    whose Action (or NotAction) covers the action and whose Resource may cover `resource`
    (statements with policy variables always count), users also through their groups: the
    set-based form of "could an identity policy allow this?" (conservative, never decides).
    The result is shared: callers must not modify it."""
    index = _holder_index(snap, action_lower)
    hit = index.by_resource.get(resource)
    if hit is not None:
        return hit
    parts = resource.split(":", 3)
    service = parts[2].lower() if len(parts) > 3 else "*"
    specific = index.by_service.get(service)
    if specific is None:
        specific = index.by_service[service] = [
            (statements, holders) for statements, holders, services in index.specific.values()
            if holders and ("*" in services or service in services or service == "*")]
    out = index.anywhere
    if specific:
        probe = Request(RequestPrincipal("arn:aws:iam::000000000000:root", PrincipalKind.ROOT, "000000000000"),
                        action_lower, resource, derive_context=False)
        for statements, holders in specific:
            if not holders <= out and any(st.matches_resource(probe) for st in statements):
                out = out | holders
    index.by_resource[resource] = out
    return out


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
    scps = _scps_memo(snap, caller_account, out) if kind is not PrincipalKind.SERVICE else None
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


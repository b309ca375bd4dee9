"""Gathers the policies in force at T for one caller (identity, groups, boundary, session, SCPs),
compiled once per fact, and records what the ledger could not resolve.

Pure: reads a `Snapshot`; never evaluates a request, never writes, never reads the clock.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ledger.errors import LedgerError
from ledger.policy import CompiledPolicy, PolicyEntry, PolicySet, PolicyType, Request, compile_policy, parse_policy
from projections import org_inputs
from projections.timectx import NOTHING_KNOWN, TimeKnowledge
from projections.view import Origin, PrincipalInfo, Snapshot

_MAX_DOC = 1_000_000
_PARSED: OrderedDict[Any, CompiledPolicy] = OrderedDict()
_PARSED_MAX = 20_000
_BY_TEXT: OrderedDict[tuple[PolicyType, str], CompiledPolicy] = OrderedDict()
# The policy type of an inline policy, by the kind of its holder.
INLINE_TYPE = {"user": PolicyType.INLINE_USER, "group": PolicyType.INLINE_GROUP, "role": PolicyType.INLINE_ROLE}
# What a policy the ledger never saw could at most allow: its stand-in when asking "unless it allows?".
_ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


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


@dataclass(slots=True)
class Unknowns:
    """Allow-everything stand-ins for the policies the ledger never saw, by where they apply, and
    the errors that exist only because one of them is missing."""

    identity: list[PolicyEntry] = field(default_factory=list)
    boundary: list[PolicyEntry] = field(default_factory=list)
    session: list[PolicyEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Inputs:
    """Everything the evaluator needs, plus what could not be resolved (reported, fail closed)."""

    request: Request | None
    policies: PolicySet
    errors: list[str] = field(default_factory=list)
    unknown_policies: list[dict[str, Any]] = field(default_factory=list)
    principal: PrincipalInfo | None = None
    notes: list[str] = field(default_factory=list)
    unseen: str | None = None  # a bucket the ledger never recorded, taken as the caller's or the given owner's
    time: TimeKnowledge = NOTHING_KNOWN
    _unknowns: Unknowns | None = None

    @property
    def unknowns(self) -> Unknowns:
        """Stand-ins for the policies the ledger never saw (made on first use: most requests have none)."""
        if self._unknowns is None:
            self._unknowns = Unknowns()
        return self._unknowns


def stand_in(policy_arn: str, ptype: PolicyType) -> PolicyEntry:
    """The most a policy the ledger never saw could allow, under its ARN."""
    return PolicyEntry(compile_cached(_ALLOW_ALL, ptype, ("allow-all", ptype)), policy_arn, "unknown")


def entry_of(doc: dict[str, Any], ptype: PolicyType, policy_id: str, label: str, origin: Origin | None,
             cache_key: Any, errors: list[str]) -> PolicyEntry | None:
    try:
        return PolicyEntry(compile_cached(doc, ptype, cache_key), policy_id, label, origin)
    except LedgerError as error:
        errors.append(f"policy {policy_id} cannot be evaluated: {error.message}")
        return None


def _memo(snap: Snapshot) -> dict[Any, Any] | None:
    return getattr(snap, "memo", None)


def identity_entries(snap: Snapshot, holder: PrincipalInfo, out: Inputs,
                     with_groups: bool = True, share_groups: bool = False) -> list[PolicyEntry]:
    """Inline and attached managed policies (default version at T) of a user/role, plus its
    groups' policies for a user (memoised per snapshot when the snapshot offers a `memo`).

    With `share_groups`, a group's entries are the same objects for every member and their
    origins leave out the user's membership (`decide` adds it to the matched statements)."""
    memo = _memo(snap)
    if memo is None:
        return _identity_entries(snap, holder, out, with_groups, share_groups)
    key = ("identity", holder.unique_id, holder.arn, holder.kind, with_groups, share_groups)
    hit = memo.get(key)
    if hit is None:
        scratch = Inputs(None, PolicySet())
        hit = memo[key] = (_identity_entries(snap, holder, scratch, with_groups, share_groups),
                           scratch.errors, scratch.unknown_policies,
                           scratch.unknowns.identity if scratch.unknown_policies else [])
    out.errors.extend(hit[1])
    if hit[2]:
        out.unknown_policies.extend(hit[2])
        out.unknowns.identity.extend(hit[3])
    return list(hit[0])


def _identity_entries(snap: Snapshot, holder: PrincipalInfo, out: Inputs,
                      with_groups: bool, share_groups: bool) -> list[PolicyEntry]:
    groups = snap.groups_of(holder.unique_id) if with_groups and holder.kind == "user" else []
    if not share_groups:
        entries = own_entries(snap, holder, None, out)
        for g in groups:
            entries += own_entries(snap, g, g.origin, out)
        return entries
    entries = list(_shared_entries(snap, holder, out))
    for g in groups:
        entries += _shared_entries(snap, g, out)
    return entries


def _shared_entries(snap: Snapshot, h: PrincipalInfo, out: Inputs) -> list[PolicyEntry]:
    """`own_entries` without membership, once per holder per snapshot."""
    memo = _memo(snap)
    if memo is None:
        return own_entries(snap, h, None, out)
    key = ("own", h.unique_id, h.arn, h.kind)
    hit = memo.get(key)
    if hit is None:
        shared, fingerprint = snap.shared(), snap.own_fingerprint(h)
        hit = shared.get(fingerprint) if shared is not None and fingerprint is not None else None
        if hit is None:
            scratch = Inputs(None, PolicySet())
            hit = (own_entries(snap, h, None, scratch), scratch.errors, scratch.unknown_policies,
                   scratch.unknowns.identity if scratch.unknown_policies else [])
            if shared is not None and fingerprint is not None:
                shared[fingerprint] = hit
        memo[key] = hit
    out.errors.extend(hit[1])
    if hit[2]:
        out.unknown_policies.extend(hit[2])
        out.unknowns.identity.extend(hit[3])
    return hit[0]


def own_entries(snap: Snapshot, h: PrincipalInfo, membership: Origin | None, out: Inputs) -> list[PolicyEntry]:
    """The inline and attached managed policies of one user, group or role."""
    entries: list[PolicyEntry] = []
    for name, doc, origin, ckey in snap.inline(h.unique_id):
        o = dict(origin, holder=h.arn)
        if membership:
            o["membership"] = membership
        e = entry_of(doc, INLINE_TYPE[h.kind], name, h.kind, o, ckey, out.errors)
        if e:
            entries.append(e)
    for policy_id, policy_arn, origin in snap.attached(h.unique_id):
        managed = snap.managed(policy_id)
        if managed is None:
            out.unknown_policies.append({"policy_arn": policy_arn, "policy_id": policy_id,
                                         "attached_to": h.arn, "attachment": origin})
            out.unknowns.identity.append(stand_in(policy_arn, PolicyType.IDENTITY))
            continue
        o = dict(origin, holder=h.arn, version_id=managed.version_id, document=managed.origin)
        if membership:
            o["membership"] = membership
        label = "aws-managed" if managed.aws_managed else "user-managed"
        e = entry_of(managed.document, PolicyType.IDENTITY, managed.arn, label, o, managed.cache_key, out.errors)
        if e:
            entries.append(e)
    return entries


def boundary_entries(snap: Snapshot, holder: PrincipalInfo, out: Inputs) -> list[PolicyEntry] | None:
    found = snap.boundary(holder.unique_id)
    if found is None:
        return None
    policy_id, policy_arn, origin = found
    managed = snap.managed(policy_id)
    if managed is None:
        out.unknown_policies.append({"policy_arn": policy_arn, "policy_id": policy_id,
                                     "boundary_of": holder.arn, "boundary": origin})
        # An unknown boundary allows nothing we can prove: fail closed (see `decide`).
        error = f"permissions boundary {policy_arn} is not recorded in the ledger"
        out.errors.append(error)
        out.unknowns.errors.append(error)
        out.unknowns.boundary.append(stand_in(policy_arn, PolicyType.BOUNDARY))
        return None
    o = dict(origin, version_id=managed.version_id, document=managed.origin)
    e = entry_of(managed.document, PolicyType.BOUNDARY, managed.arn, "permissions-boundary", o,
                 managed.cache_key, out.errors)
    return [e] if e else []


Levels = list[list[PolicyEntry]]


def _scps(snap: Snapshot, account: str | None, out: Inputs, rcps_of: str | None = None) -> Levels | None:
    """The organisation levels: the caller account's SCPs (the shorthand and the recorded tree,
    merged level by level from the root), then one RCP level of the resource's account."""
    levels: dict[int, list[PolicyEntry]] = {}
    for level, scp_id, doc, origin, ckey in snap.scps(account) if account else []:
        e = entry_of(doc, PolicyType.SCP, scp_id, "scp", origin, ckey, out.errors)
        if e:
            levels.setdefault(level, []).append(e)
    for level, docs in enumerate(org_inputs.scp_levels(snap, account, out.errors) if account else []):
        levels.setdefault(level, []).extend(
            e for p, doc, origin, ck in docs if (e := entry_of(doc, PolicyType.SCP, p, "scp", origin, ck, out.errors)))
    result = [levels[k] for k in sorted(levels)] or None
    rcps = org_inputs.rcp_documents(snap, rcps_of, out.errors) if rcps_of else None
    if rcps is not None:
        result = [*(result or []), [e for pid, doc, origin, ckey in rcps
                                    if (e := entry_of(doc, PolicyType.RESOURCE, pid, "rcp", origin, ckey, out.errors))]]
    return result


def scp_entries(snap: Snapshot, account: str | None, out: Inputs, rcps_of: str | None = None) -> Levels | None:
    """The caller's SCP levels (and the resource account's RCP level), once per snapshot."""
    memo = _memo(snap)
    if memo is None:
        return _scps(snap, account, out, rcps_of)
    key = ("scps", account, rcps_of)
    hit = memo.get(key)
    if hit is None:
        scratch = Inputs(None, PolicySet())
        hit = memo[key] = (_scps(snap, account, scratch, rcps_of), scratch.errors)
    out.errors.extend(hit[1])
    return hit[0]


def session_entries(snap: Snapshot, session: dict[str, Any], origin: Origin,
                    out: Inputs) -> list[PolicyEntry] | None:
    doc = session.get("session_policy")
    arns = session.get("session_policy_arns") or []
    if doc is None and not arns:
        return None
    entries: list[PolicyEntry] = []
    if doc is not None:
        e = entry_of(doc, PolicyType.SESSION, "session-policy", "session", origin, None, out.errors)
        if e:
            entries.append(e)
    for arn in arns:
        managed = snap.managed_by_arn(arn)
        if managed is None:
            out.unknown_policies.append({"policy_arn": arn, "session_policy_of": session["arn"]})
            out.unknowns.session.append(stand_in(arn, PolicyType.SESSION))
            continue
        e = entry_of(managed.document, PolicyType.SESSION, arn, "session", origin, managed.cache_key, out.errors)
        if e:
            entries.append(e)
    return entries

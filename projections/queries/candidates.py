"""Which callers `who_can` must evaluate at T: the others are provably implicitDeny or explicitDeny.

Conservative set arithmetic over a `Snapshot` (who holds an Allow or a blanket Deny for an action,
whom a resource policy names); it never decides a request itself.
"""

from __future__ import annotations

from typing import Any

from ledger.errors import LedgerError
from ledger.policy import PolicySet, PolicyType
from projections.assemble import resource_side
from projections.gather import INLINE_TYPE, Inputs, compile_cached
from projections.queries.policy_shape import (
    AllowShape,
    Statements,
    allow_shape,
    any_matches_resource,
    denies_everywhere,
    named_principals,
)
from projections.view import Snapshot


class _HolderIndex:
    """For one action at T: holders whose identity policies allow it on any resource, and the
    policies whose only Allow statements for it name specific resources, with their holders."""

    def __init__(self) -> None:
        self.anywhere: set[str] = set()
        self.specific: dict[Any, tuple[Statements, set[str], frozenset[str]]] = {}
        self.by_resource: dict[str, set[str]] = {}
        self.by_service: dict[str, list[tuple[Statements, set[str]]]] = {}
        # holders with an unconditional Deny for the action on every resource: explicitDeny
        self.denied: set[str] = set()
        # holder -> keys of `specific` among its own policies
        self.direct: dict[str, list[Any]] = {}


def _index_inline(snap: Snapshot, action_lower: str, index: _HolderIndex) -> None:
    for f in snap.inline_facts():
        owner = snap.principal_by_id(f.subject)
        if owner is None:
            continue
        try:
            compiled = compile_cached(f.payload["document"], INLINE_TYPE[owner.kind], snap.cache_key(f))
        except LedgerError:
            continue
        if denies_everywhere(compiled, action_lower):
            index.denied.add(f.subject)
        found = allow_shape(compiled, action_lower)
        if found is not None and found[0] == ():
            index.anywhere.add(f.subject)
        elif found is not None:
            index.specific.setdefault(("inline", f.key), (found[0], set(), found[1]))
            index.direct.setdefault(f.subject, []).append(("inline", f.key))


def _index_attached(snap: Snapshot, action_lower: str, index: _HolderIndex) -> None:
    for pid, holders in _attached_by_policy(snap).items():
        managed = snap.managed(pid)
        shape: AllowShape | None = None
        if managed is None:
            shape = _UNKNOWN  # a policy the ledger never saw could allow anything
        else:
            try:
                compiled = compile_cached(managed.document, PolicyType.IDENTITY, managed.cache_key)
                shape = allow_shape(compiled, action_lower)
                if denies_everywhere(compiled, action_lower):
                    index.denied.update(holders)
            except LedgerError:
                shape = None
        if shape is not None and shape[0]:
            index.specific[("managed", pid)] = (shape[0], set(), shape[1])
        if shape is not None and shape[0] == ():
            index.anywhere.update(holders)
        elif shape is not None:
            for holder in holders:
                index.direct.setdefault(holder, []).append(("managed", pid))


def _attached_by_policy(snap: Snapshot) -> dict[str, list[str]]:
    """Holders of each managed policy attached at T (the attached policy's id is the fact's
    ref, as the payload's policy_id), in attachment order; once per snapshot for every action."""
    hit = snap.memo.get("attached_by_policy")
    if hit is None:
        hit = snap.memo["attached_by_policy"] = {}
        for f in snap.attachment_facts():
            hit.setdefault(f.ref, []).append(f.subject)
    return hit


def _members_by_group(snap: Snapshot) -> dict[str, list[str]]:
    """Users in each group at T (the group's id is the fact's ref, as the payload's group_id);
    once per snapshot for every action."""
    hit = snap.memo.get("members_by_group")
    if hit is None:
        hit = snap.memo["members_by_group"] = {}
        for f in snap.membership_facts():
            hit.setdefault(f.ref, []).append(f.subject)
    return hit


_UNKNOWN: AllowShape = ((), frozenset("*"))


def _index_members(snap: Snapshot, index: _HolderIndex) -> None:
    """Users inherit their groups' grants (and denies)."""
    for group, members in _members_by_group(snap).items():
        if group in index.denied and snap.principal_by_id(group) is not None:
            index.denied.update(members)
        if group in index.anywhere:
            index.anywhere.update(members)
        for k in index.direct.get(group, ()):
            index.specific[k][1].update(members)


def _holder_index(snap: Snapshot, action_lower: str) -> _HolderIndex:
    key = ("holder_index", action_lower)
    hit = snap.memo.get(key)
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    index = _HolderIndex()
    _index_inline(snap, action_lower, index)
    _index_attached(snap, action_lower, index)
    for holder, keys in index.direct.items():
        for k in keys:
            index.specific[k][1].add(holder)
    _index_members(snap, index)
    snap.memo[key] = index
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
        for statements, holders in specific:
            if not holders <= out and any_matches_resource(statements, resource):
                out = out | holders
    index.by_resource[resource] = out
    return out


def holders_for_service(snap: Snapshot, action_lower: str, service: str) -> set[str]:
    """Holders with an identity Allow for the action whose Resource may name some resource of
    `service` (any account, any Region): conservative, like `allowing_holders`."""
    index = _holder_index(snap, action_lower)
    out = set(index.anywhere)
    for _, holders, services in index.specific.values():
        if "*" in services or service in services:
            out |= holders
    return out


class Candidates:
    """Which callers can possibly be allowed, so `who_can` evaluates only those (in the order of
    `callers`, which keeps answers and chain paths identical to evaluating everyone).

    A user or role is allowed only through an identity-based Allow whose Action covers the
    request, or through a resource-based policy (bucket or trust policy) that names it (its ARN
    or unique id; "*" or NotPrincipal names everyone). Account roots are always evaluated."""

    def __init__(self, snap: Snapshot, callers: list[str], prune: bool, resource_owner: str | None = None) -> None:
        self.snap = snap
        self.callers = callers
        self.prune = prune
        self.resource_owner = resource_owner
        self.index = {arn: i for i, arn in enumerate(callers)}
        self.roots = {arn for arn in callers if arn.endswith(":root")}
        self.by_account: dict[str, list[str]] = {}
        self.ids: dict[str, set[str]] = {}  # ARN -> unique ids of principals with that ARN at T
        self.arn_of: dict[str, str] = {}
        for p in snap.principals():
            self.ids.setdefault(p.arn, set()).add(p.unique_id)
            self.arn_of[p.unique_id] = p.arn
        for arn in callers:
            account = arn.split(":", 5)[4] if arn.count(":") >= 5 else ""
            self.by_account.setdefault(account, []).append(arn)
        self._sets: dict[int, set[str]] = {}
        self._keep_alive: list[set[str]] = []  # ids in `_sets` stay unique while alive
        self._lists: dict[Any, list[str]] = {}
        self._creating: dict[str, set[str]] = {}

    def _allowing(self, action_lower: str, resource: str) -> set[str]:
        """Caller ARNs with an identity Allow that may cover the request, plus every root."""
        holders = allowing_holders(self.snap, action_lower, resource)
        hit = self._sets.get(id(holders))
        if hit is None:  # many resources share one holder set: translate each set once
            denied = denied_holders(self.snap, action_lower)
            hit = {self.arn_of[u] for u in holders if u in self.arn_of and u not in denied} | self.roots
            self._sets[id(holders)] = hit
            self._keep_alive.append(holders)
        return hit

    def _named(self, action: str, resource: str) -> tuple[set[str] | None, set[str], str | None]:
        """(callers named by the resource policy's Allow statements, or None for everyone;
        accounts it names; the account owning the resource)."""
        owner, entry = resource_side(self.snap, action, resource, Inputs(None, PolicySet()), self.resource_owner)
        if entry is None:
            return set(), set(), owner
        shape = named_principals(entry.compiled)
        if shape is None:
            return None, set(), owner
        values, accounts = shape
        named = {value if value in self.ids else self.arn_of[value]
                 for value in values if value in self.ids or value in self.arn_of}
        return named, set(accounts), owner

    def for_action(self, action: str, resource: str) -> list[str]:
        """Roots; callers the resource policy names; callers with an identity Allow (and no
        unconditional Deny) for it, but from another account only if the resource policy
        names their account (cross-account needs both sides)."""
        if not self.prune:
            return self.callers
        named, accounts, owner = self._named(action, resource)
        if named is None:
            return self.callers
        keep = self._allowing(action.lower(), resource) | named
        if owner:
            trusted = accounts | {owner}
            return [arn for arn in self.callers if arn in keep and (
                arn in self.roots or arn in named or arn.split(":", 5)[4] in trusted)]
        return [arn for arn in self.callers if arn in keep]

    def passers(self, account: str, role_arn: str) -> list[str]:
        """Callers of the role's account that may pass it and create a job on some queue of the
        account in some Region (candidates for iam:PassRole → mediaconvert:CreateJob)."""
        if not self.prune:
            return self.callers
        allowing = self._allowing("iam:passrole", role_arn)
        creating = self._creating.get(account)
        if creating is None:  # a set: membership is tested once per caller of the account
            holders = holders_for_service(self.snap, "mediaconvert:createjob", "mediaconvert")
            denied = denied_holders(self.snap, "mediaconvert:createjob")
            creating = self._creating[account] = {
                self.arn_of[u] for u in holders if u in self.arn_of and u not in denied} | self.roots
        return [a for a in self.by_account.get(account, []) if a in allowing and a in creating]

    def assumers(self, role_arn: str, settled: set[str]) -> list[str]:
        """Callers that may assume the role, but those in `settled`: those its trust policy names,
        and in the accounts it names, those with an identity Allow for sts:AssumeRole."""
        if not self.prune:
            return [a for a in self.callers if a not in settled]
        named, accounts, _ = self._named("sts:AssumeRole", role_arn)
        if named is None:
            return [a for a in self.callers if a not in settled]
        picked = {a for a in named if a not in settled and a in self.index}  # callers only (who_can's `only`)
        allowing = self._allowing("sts:assumerole", role_arn)
        for account in accounts:
            # `settled` only grows: keep per (account, grant set) the callers not settled yet.
            key = ("assume", account, id(allowing))
            remaining = self._lists.get(key)
            if remaining is None:
                remaining = [a for a in self.by_account.get(account, []) if a in allowing]
            remaining = self._lists[key] = [a for a in remaining if a not in settled]
            picked.update(remaining)
        return sorted(picked, key=self.index.__getitem__)

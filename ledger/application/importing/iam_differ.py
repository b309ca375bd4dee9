"""Compares IAM observations in GAAD shape (`gaad.Dump`) with the write-side state of an account
and emits the facts that take one to the other: a whole account ("iam") or one entity a Config
item describes ("iam:role:<id>", "iam:user:<id>", "iam:group:<id>", "iam:policy:<arn>").

Pure: diffs against a folded state. Dangling references (a policy attached but absent, a group not
listed) are reported; attachments to absent policies point at a placeholder policy that grants
nothing, so the fact "X is attached" is kept without inventing a document.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ledger.application.importing import gaad
from ledger.application.importing.cloudtrail import PLACEHOLDER_POLICY
from ledger.application.importing.gaad import AWS_ACCOUNT, Dump
from ledger.application.importing.index import derived_id
from ledger.application.importing.observe import Diffed, Stamp
from ledger.domain import events as ev
from ledger.domain import names
from ledger.domain.state import AccountState, Group, Role, User, apply


class IamDiffer:
    def __init__(self, account: str, at: datetime, state: AccountState, aws_state: AccountState,
                 stamp: Stamp, truncated: bool = False, ids_by_arn: dict[str, str] | None = None) -> None:
        self.account = account
        self.ids_by_arn = ids_by_arn or {}
        self.at = at
        self.state = state
        self.aws_state = aws_state
        self.stamp = stamp
        self.truncated = truncated
        self.plan = Diffed()
        self.policy_ids: dict[str, str] = {}
        self.shared_ids: set[str] = set()
        self.seen: dict[str, set[str]] = {"user": set(), "group": set(), "role": set()}

    def ident(self, kind: str, raw: str, arn: str) -> str:
        """The dump's unique id, unless the dump gives the same id to several entities (AWS's
        published sample does): then a deterministic id derived from the ARN (see `index`)."""
        return derived_id(kind, arn) if raw in self.shared_ids else raw

    def emit(self, cls: type[ev.LedgerEvent], account: str | None = None, **fields: Any) -> None:
        self.plan.events.append(self.stamp.event(cls, account or self.account, self.at, **fields))

    def warn(self, text: str) -> None:
        self.plan.warnings.append(text)

    # ------------------------------------------------------------ policies

    def policies(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            arn = item.get("Arn")
            if not isinstance(arn, str) or not item.get("PolicyName"):
                self.warn("a managed policy without Arn or PolicyName was ignored")
                continue
            owner = gaad.owner_of(arn)
            if owner not in (self.account, AWS_ACCOUNT):
                self.warn(f"policy {arn} belongs to account {owner}, not {self.account}: ignored")
                continue
            state = self.state if owner == self.account else self.aws_state
            versions = {str(v.get("VersionId")): gaad.document(v.get("Document"))
                        for v in item.get("PolicyVersionList") or () if isinstance(v, dict) and v.get("VersionId")}
            default = item.get("DefaultVersionId") or next(
                (str(v.get("VersionId")) for v in item.get("PolicyVersionList") or ()
                 if isinstance(v, dict) and v.get("IsDefaultVersion")), None)
            bad = [v for v, doc in versions.items() if doc is None]
            for version in bad:
                self.warn(f"policy {arn} version {version}: document missing or not JSON; ignored")
                versions.pop(version)
            if not versions or default not in versions:
                self.warn(f"policy {arn}: default version {default} is not in the dump; policy ignored")
                continue
            path = str(item.get("Path") or "/")
            existing = state.policy_by_arn(arn)
            if existing is None:
                policy_id = self.ident("policy", str(item.get("PolicyId") or ""), arn) \
                    if item.get("PolicyId") else derived_id("policy", arn)
                self.policy_ids[arn] = policy_id
                self.emit(ev.ManagedPolicyCreated, owner, policy_id=policy_id, policy_name=str(item["PolicyName"]),
                          path=path, policy_arn=arn, document=versions[default], version_id=default,
                          aws_managed=owner == AWS_ACCOUNT)
                for version, doc in sorted(versions.items()):
                    if version != default:
                        self.emit(ev.PolicyVersionCreated, owner, policy_id=policy_id, policy_arn=arn,
                                  version_id=version, document=doc, set_as_default=False)
                continue
            policy_id = existing.policy_id
            self.policy_ids[arn] = policy_id
            for version, doc in sorted(versions.items()):
                if existing.versions.get(version) != doc:
                    self.emit(ev.PolicyVersionCreated, owner, policy_id=policy_id, policy_arn=arn,
                              version_id=version, document=doc, set_as_default=version == default)
            if existing.default_version != default and existing.versions.get(default) == versions[default]:
                self.emit(ev.DefaultPolicyVersionSet, owner, policy_id=policy_id, policy_arn=arn, version_id=default)
            # AWS-managed policies list only the versions a dump happens to show: never delete them.
            if owner == self.account:
                for version in sorted(set(existing.versions) - set(versions)):
                    self.emit(ev.PolicyVersionDeleted, owner, policy_id=policy_id, policy_arn=arn, version_id=version)

    def policy_id(self, arn: str, holder: str) -> str:
        known = self.policy_ids.get(arn)
        if known is not None:
            return known
        owner = gaad.owner_of(arn)
        state = self.state if owner == self.account else self.aws_state
        existing = state.policy_by_arn(arn)
        if existing is not None:
            self.policy_ids[arn] = existing.policy_id
            return existing.policy_id
        policy_id = self.ids_by_arn.get(arn)
        if policy_id is None:
            self.warn(f"dangling reference: {holder} is attached to {arn}, which neither this observation nor "
                      "the ledger holds")
            policy_id = derived_id("policy", arn)
        else:
            self.warn(f"{holder} is attached to {arn} before the ledger knows its document: it is recorded "
                      "without one (granting nothing) until then")
        self.policy_ids[arn] = policy_id
        path, name = gaad.path_and_name(arn)
        self.emit(ev.ManagedPolicyCreated, owner if owner in (self.account, AWS_ACCOUNT) else self.account,
                  policy_id=policy_id, policy_name=name, path=path, policy_arn=arn, document=PLACEHOLDER_POLICY,
                  version_id="v1", aws_managed=owner == AWS_ACCOUNT)
        return policy_id

    # ------------------------------------------------------------ principals

    def arn_of(self, item: dict[str, Any], kind: str, name: str, path: str) -> str:
        expected = names.iam_arn(self.account, kind, path, name)
        given = item.get("Arn")
        if isinstance(given, str) and given != expected:
            self.warn(f"{kind} {name}: ARN {given} does not belong to account {self.account}; using {expected}")
        return expected

    def attachments(self, kind: str, holder_id: str, arn: str, current: dict[str, str], wanted: list[str]) -> None:
        wanted_ids = {self.policy_id(p, f"{kind} {arn}"): p for p in wanted}
        for policy_id, policy_arn in sorted(wanted_ids.items()):
            if policy_id not in current:
                self.emit(ev.PolicyAttached, principal_kind=kind, principal_id=holder_id, principal_arn=arn,
                          policy_id=policy_id, policy_arn=policy_arn)
        for policy_id, policy_arn in sorted(current.items()):
            if policy_id not in wanted_ids:
                self.emit(ev.PolicyDetached, principal_kind=kind, principal_id=holder_id, principal_arn=arn,
                          policy_id=policy_id, policy_arn=policy_arn)

    def inline(self, kind: str, holder_id: str, arn: str, current: dict[str, dict[str, Any]],
               wanted: dict[str, dict[str, Any] | None]) -> None:
        for name, doc in sorted(wanted.items()):
            if doc is None:
                self.warn(f"{kind} {arn}: inline policy {name} has no valid document; ignored")
                continue
            if current.get(name) != doc:
                self.emit(ev.InlinePolicyPut, principal_kind=kind, principal_id=holder_id, principal_arn=arn,
                          policy_name=name, document=doc)
        for name in sorted(set(current) - set(wanted)):
            self.emit(ev.InlinePolicyDeleted, principal_kind=kind, principal_id=holder_id, principal_arn=arn,
                      policy_name=name)

    def boundary(self, kind: str, holder_id: str, arn: str, current: str | None, wanted: str | None) -> None:
        if wanted and wanted != current:
            self.emit(ev.PermissionsBoundarySet, principal_kind=kind, principal_id=holder_id, principal_arn=arn,
                      policy_id=self.policy_id(wanted, f"{kind} {arn} (boundary)"), policy_arn=wanted)
        elif current and not wanted:
            self.emit(ev.PermissionsBoundaryRemoved, principal_kind=kind, principal_id=holder_id, principal_arn=arn)

    def tags(self, kind: str, holder_id: str, arn: str, current: dict[str, str], wanted: dict[str, str]) -> None:
        changed = {k: v for k, v in wanted.items() if current.get(k) != v}
        if changed:
            self.emit(ev.PrincipalTagged, principal_kind=kind, principal_id=holder_id, principal_arn=arn, tags=changed)
        removed = tuple(sorted(set(current) - set(wanted)))
        if removed:
            self.emit(ev.PrincipalUntagged, principal_kind=kind, principal_id=holder_id, principal_arn=arn,
                      tag_keys=removed)

    def groups(self, items: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
        by_name: dict[str, tuple[str, str]] = {}
        for item in items:
            name, gid, path = item.get("GroupName"), item.get("GroupId"), str(item.get("Path") or "/")
            if not isinstance(name, str) or not isinstance(gid, str):
                self.warn("a group without GroupName or GroupId was ignored")
                continue
            arn = self.arn_of(item, "group", name, path)
            gid = self.ident("group", gid, arn)
            by_name[name.lower()] = (gid, arn)
            self.seen["group"].add(gid)
            group = self.state.groups.get(gid)
            if group is None:
                self.emit(ev.GroupCreated, group_id=gid, group_name=name, path=path, group_arn=arn)
                group = Group(gid, name, path, arn)
            self.attachments("group", gid, arn, dict(group.managed), gaad.attached(item))
            self.inline("group", gid, arn, dict(group.inline), gaad.inline(item, "GroupPolicyList"))
        return by_name

    def users(self, items: list[dict[str, Any]], groups: dict[str, tuple[str, str]]) -> None:
        for item in items:
            name, uid, path = item.get("UserName"), item.get("UserId"), str(item.get("Path") or "/")
            if not isinstance(name, str) or not isinstance(uid, str):
                self.warn("a user without UserName or UserId was ignored")
                continue
            arn = self.arn_of(item, "user", name, path)
            uid = self.ident("user", uid, arn)
            self.seen["user"].add(uid)
            user = self.state.users.get(uid)
            if user is None:
                self.emit(ev.UserCreated, user_id=uid, user_name=name, path=path, user_arn=arn)
                user = User(uid, name, path, arn)
            wanted_groups: dict[str, str] = {}
            for group_name in item.get("GroupList") or ():
                found = groups.get(str(group_name).lower())
                if found is None and (existing := self.state.group_by_name(str(group_name))):
                    found = (existing.group_id, existing.arn)
                if found is None:
                    self.warn(f"dangling reference: user {arn} is in group {group_name}, "
                              "which neither this observation nor the ledger holds")
                    continue
                wanted_groups[found[0]] = found[1]
            for gid, garn in sorted(wanted_groups.items()):
                if gid not in user.groups:
                    self.emit(ev.UserAddedToGroup, user_id=uid, user_arn=arn, group_id=gid, group_arn=garn)
            for gid in sorted(user.groups - set(wanted_groups)):
                garn = self.state.groups[gid].arn if gid in self.state.groups else ""
                self.emit(ev.UserRemovedFromGroup, user_id=uid, user_arn=arn, group_id=gid, group_arn=garn)
            self.attachments("user", uid, arn, dict(user.managed), gaad.attached(item))
            self.inline("user", uid, arn, dict(user.inline), gaad.inline(item, "UserPolicyList"))
            self.boundary("user", uid, arn, user.boundary, gaad.boundary(item))
            self.tags("user", uid, arn, dict(user.tags), gaad.tags(item))

    def roles(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            name, rid, path = item.get("RoleName"), item.get("RoleId"), str(item.get("Path") or "/")
            if not isinstance(name, str) or not isinstance(rid, str):
                self.warn("a role without RoleName or RoleId was ignored")
                continue
            arn = self.arn_of(item, "role", name, path)
            rid = self.ident("role", rid, arn)
            trust = gaad.document(item.get("AssumeRolePolicyDocument"))
            if trust is None:
                self.warn(f"role {arn}: trust policy missing or not JSON; role ignored")
                continue
            self.seen["role"].add(rid)
            role = self.state.roles.get(rid)
            if role is None:
                duration = item.get("MaxSessionDuration")
                self.emit(ev.RoleCreated, role_id=rid, role_name=name, path=path, role_arn=arn, trust_policy=trust,
                          max_session_duration=int(duration) if isinstance(duration, int) else 3600,
                          description=item.get("Description") if isinstance(item.get("Description"), str) else None)
                role = Role(rid, name, path, arn, trust)
            elif role.trust_policy != trust:
                self.emit(ev.TrustPolicyUpdated, role_id=rid, role_arn=arn, trust_policy=trust)
            self.attachments("role", rid, arn, dict(role.managed), gaad.attached(item))
            self.inline("role", rid, arn, dict(role.inline), gaad.inline(item, "RolePolicyList"))
            self.boundary("role", rid, arn, role.boundary, gaad.boundary(item))
            self.tags("role", rid, arn, dict(role.tags), gaad.tags(item))

    def deletions(self, dump: Dump) -> None:
        """Entities of the account that the (complete) dump no longer lists were deleted: their
        dependents are removed first, as AWS requires."""
        if self.truncated:
            self.warn("the dump is truncated (IsTruncated without a final page): nothing is treated as deleted")
            return
        users, groups, roles = self.seen["user"], self.seen["group"], self.seen["role"]
        policies = {str(p.get("Arn")) for p in dump.policies}
        for user in sorted(self.state.users.values(), key=lambda u: u.user_id):
            if user.user_id not in users:
                self.delete_user(user)
        for group in sorted(self.state.groups.values(), key=lambda g: g.group_id):
            if group.group_id not in groups:
                self.delete_group(group, keep=users)
        for role in sorted(self.state.roles.values(), key=lambda r: r.role_id):
            if role.role_id not in roles:
                self._strip("role", role.role_id, role.arn, role)
                self.emit(ev.RoleDeleted, role_id=role.role_id, role_arn=role.arn)
        for policy in sorted(self.state.policies.values(), key=lambda p: p.policy_id):
            if policy.arn not in policies and policy.arn not in self.policy_ids:
                self.emit(ev.ManagedPolicyDeleted, policy_id=policy.policy_id, policy_arn=policy.arn)

    def delete_user(self, user: User) -> None:
        for gid in sorted(user.groups):
            group_arn = self.state.groups[gid].arn if gid in self.state.groups else ""
            self.emit(ev.UserRemovedFromGroup, user_id=user.user_id, user_arn=user.arn, group_id=gid,
                      group_arn=group_arn)
        self._strip("user", user.user_id, user.arn, user)
        for key in sorted(user.access_keys):
            self.emit(ev.AccessKeyDeleted, user_id=user.user_id, user_arn=user.arn, access_key_id=key)
        if user.login_profile:
            self.emit(ev.LoginProfileRemoved, user_id=user.user_id, user_arn=user.arn)
        self.emit(ev.UserDeleted, user_id=user.user_id, user_arn=user.arn)

    def delete_group(self, group: Group, keep: set[str] | None = None) -> None:
        """`keep`: the users still listed (a whole-account dump removes the deleted users' own
        memberships with the user)."""
        for uid in sorted(group.members):
            if (keep is None or uid in keep) and uid in self.state.users:
                self.emit(ev.UserRemovedFromGroup, user_id=uid, user_arn=self.state.users[uid].arn,
                          group_id=group.group_id, group_arn=group.arn)
        self._strip("group", group.group_id, group.arn, group)
        self.emit(ev.GroupDeleted, group_id=group.group_id, group_arn=group.arn)

    def delete_entity(self, scope: str) -> None:
        """The one entity a Config item said was deleted (nothing if the ledger never had it)."""
        _, kind, ident = scope.split(":", 2)
        if kind == "user" and (user := self.state.users.get(ident)):
            self.delete_user(user)
        elif kind == "group" and (group := self.state.groups.get(ident)):
            self.delete_group(group)
        elif kind == "role" and (role := self.state.roles.get(ident)):
            self._strip("role", role.role_id, role.arn, role)
            self.emit(ev.RoleDeleted, role_id=role.role_id, role_arn=role.arn)
        elif kind == "policy" and (policy := self.state.policy_by_arn(ident)):
            for holder_kind, holder_id in sorted(policy.attachments):
                holder = self.state.holder(holder_kind, holder_id)
                if holder is not None:
                    self.emit(ev.PolicyDetached, principal_kind=holder_kind, principal_id=holder_id,
                              principal_arn=holder.arn, policy_id=policy.policy_id, policy_arn=policy.arn)
            self.emit(ev.ManagedPolicyDeleted, policy_id=policy.policy_id, policy_arn=policy.arn)

    def _strip(self, kind: str, holder_id: str, arn: str, holder: User | Group | Role) -> None:
        for policy_id, policy_arn in sorted(holder.managed.items()):
            self.emit(ev.PolicyDetached, principal_kind=kind, principal_id=holder_id, principal_arn=arn,
                      policy_id=policy_id, policy_arn=policy_arn)
        for name in sorted(holder.inline):
            self.emit(ev.InlinePolicyDeleted, principal_kind=kind, principal_id=holder_id, principal_arn=arn,
                      policy_name=name)
        if isinstance(holder, (User, Role)) and holder.boundary:
            self.emit(ev.PermissionsBoundaryRemoved, principal_kind=kind, principal_id=holder_id, principal_arn=arn)




def diff_iam(dump: Dump, scope: str, account: str, at: datetime, state: AccountState, aws_state: AccountState,
             stamp: Stamp, ids_by_arn: dict[str, str] | None = None) -> Diffed:
    """The facts that take the ledger's state of `account` (or of the one entity `scope` names)
    to the dump's, all at `at`. `ids_by_arn`: managed policies the ledger knows at any time, so a
    reference before a policy's first sighting keeps its id."""
    differ = IamDiffer(account, at, state, aws_state, stamp, dump.truncated, ids_by_arn)
    if scope == "iam":  # a whole dump may give one id to several entities; one entity cannot
        names.check_account_id(account)
        counts = Counter(str(item.get(key)) for items, key in (
            (dump.users, "UserId"), (dump.groups, "GroupId"), (dump.roles, "RoleId"), (dump.policies, "PolicyId"))
            for item in items if item.get(key))
        differ.shared_ids = {ident for ident, n in counts.items() if n > 1}
        for ident in sorted(differ.shared_ids):
            differ.warn(f"invalid dump: unique id {ident} is given to {counts[ident]} entities; "
                        "they are keyed by ids derived from their ARNs instead")
    if not state.exists:
        differ.emit(ev.AccountCreated, account_name=account, root_arn=names.root_arn(account))
    if scope != "iam" and not dump.entity_count():
        differ.delete_entity(scope)
        return differ.plan
    differ.policies(dump.policies)
    groups = differ.groups(dump.groups)
    differ.users(dump.users, groups)
    differ.roles(dump.roles)
    if scope == "iam":
        differ.deletions(dump)
    return differ.plan


class AwsManagedTimeline:
    """The `aws` pseudo-account (AWS-managed policies) as of the sweep's current time: its history
    replayed up to each asked time (asked in ascending order), plus what the import adds."""

    def __init__(self, history: list[ev.LedgerEvent]) -> None:
        self.history = history
        self.cursor = 0
        self.state = AccountState(AWS_ACCOUNT)

    def at(self, when: datetime) -> AccountState:
        while self.cursor < len(self.history) and self.history[self.cursor].occurred_at <= when:
            apply(self.history[self.cursor], self.state)
            self.cursor += 1
        return self.state

    def add(self, events: list[ev.LedgerEvent]) -> None:
        for event in events:
            if event.account_id == AWS_ACCOUNT:
                apply(event, self.state)


class IamScopeDiffer:
    """The "iam" family of observations for the sweep (`observe.ScopeDiffer`)."""

    def __init__(self, account: str, aws: AwsManagedTimeline, history: Sequence[ev.LedgerEvent] = ()) -> None:
        self.account = account
        self.aws = aws
        self.ids_by_arn = {e.policy_arn: e.policy_id for e in [*aws.history, *history]
                           if isinstance(e, ev.ManagedPolicyCreated)}

    def diff(self, spec: Any, scope: str, state: AccountState, at: datetime, stamp: Stamp) -> Diffed:
        diffed = diff_iam(spec, scope, self.account, at, state, self.aws.at(at), stamp, self.ids_by_arn)
        self.aws.add(diffed.events)
        return diffed

    def spec_of(self, scope: str, state: AccountState) -> Any:
        return gaad.dump_of_state(state, scope)

    def dependents(self, reset: ev.LedgerEvent, state: AccountState, at: datetime, stamp: Stamp) -> Diffed:
        """What must end before a recorded deletion or baseline creation (see `observe.cascade`)."""
        differ = IamDiffer(self.account, at, state, self.aws.at(at), stamp)
        if isinstance(reset, (ev.RoleDeleted, ev.RoleCreated)) and (role := state.roles.get(reset.role_id)):
            differ._strip("role", role.role_id, role.arn, role)
            differ.tags("role", role.role_id, role.arn, dict(role.tags), {})
        elif isinstance(reset, (ev.UserDeleted, ev.UserCreated)) and (user := state.users.get(reset.user_id)):
            for gid in sorted(user.groups):
                differ.emit(ev.UserRemovedFromGroup, user_id=user.user_id, user_arn=user.arn, group_id=gid,
                            group_arn=state.groups[gid].arn if gid in state.groups else "")
            differ._strip("user", user.user_id, user.arn, user)
            differ.tags("user", user.user_id, user.arn, dict(user.tags), {})
        elif isinstance(reset, (ev.GroupDeleted, ev.GroupCreated)) and (group := state.groups.get(reset.group_id)):
            for uid in sorted(group.members):
                if uid in state.users:
                    differ.emit(ev.UserRemovedFromGroup, user_id=uid, user_arn=state.users[uid].arn,
                                group_id=group.group_id, group_arn=group.arn)
            differ._strip("group", group.group_id, group.arn, group)
        elif isinstance(reset, ev.ManagedPolicyDeleted) and (policy := state.policies.get(reset.policy_id)):
            for kind, holder_id in sorted(policy.attachments):
                if (holder := state.holder(kind, holder_id)) is not None:
                    differ.emit(ev.PolicyDetached, principal_kind=kind, principal_id=holder_id,
                                principal_arn=holder.arn, policy_id=policy.policy_id, policy_arn=policy.arn)
        return differ.plan

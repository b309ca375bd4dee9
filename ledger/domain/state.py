"""Write-side state of one AWS account, folded from its event stream, used to validate commands.

`apply` is total: events are facts (some observed from AWS, possibly incomplete), so folding
never raises. Only the command handlers in `ledger.domain.handlers` reject anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import singledispatch
from typing import Any

from ledger.domain import events as ev
from ledger.domain.entities import (
    Bucket,
    Group,
    IdentityProvider,
    Job,
    ManagedPolicy,
    Organization,
    OrgPolicy,
    Role,
    Session,
    User,
)
from ledger.domain.organization import ORGANIZATION_EVENTS, apply_to_organization

__all__ = [
    "STATELESS_EVENTS", "AccountState", "Bucket", "Group", "IdentityProvider", "Job", "ManagedPolicy",
    "OrgPolicy", "Organization", "Role", "Session", "User", "apply", "resulting_owner",
]


@dataclass
class AccountState:
    """Everything the command handlers must know about one account, as of `version`."""

    account_id: str
    version: int = 0
    exists: bool = False
    name: str = ""
    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    policies: dict[str, ManagedPolicy] = field(default_factory=dict)
    buckets: dict[str, Bucket] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    providers: dict[str, IdentityProvider] = field(default_factory=dict)
    scps: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    organization: Organization | None = None  # the organisation this account manages
    access_keys: dict[str, str] = field(default_factory=dict)  # key id -> user id (or session id)
    # Name indexes are case-insensitive, as AWS's are.
    user_names: dict[str, str] = field(default_factory=dict)
    group_names: dict[str, str] = field(default_factory=dict)
    role_names: dict[str, str] = field(default_factory=dict)
    policy_arns: dict[str, str] = field(default_factory=dict)
    policy_names: dict[str, str] = field(default_factory=dict)

    def fold(self, event: ev.LedgerEvent) -> None:
        if type(event) not in STATELESS_EVENTS:
            apply(event, self)
        self.version = event.originator_version

    def user_by_name(self, name: str) -> User | None:
        user_id = self.user_names.get(name.lower())
        return self.users.get(user_id) if user_id else None

    def group_by_name(self, name: str) -> Group | None:
        group_id = self.group_names.get(name.lower())
        return self.groups.get(group_id) if group_id else None

    def role_by_name(self, name: str) -> Role | None:
        role_id = self.role_names.get(name.lower())
        return self.roles.get(role_id) if role_id else None

    def latest_session(self, arn: str) -> Session | None:
        """The most recently issued session with this ARN (session names repeat)."""
        return max((s for s in self.sessions.values() if s.arn == arn), key=lambda s: s.issued_at, default=None)

    def policy_by_arn(self, arn: str) -> ManagedPolicy | None:
        policy_id = self.policy_arns.get(arn)
        return self.policies.get(policy_id) if policy_id else None

    def holder(self, kind: str, principal_id: str) -> User | Group | Role | None:
        if kind == "user":
            return self.users.get(principal_id)
        if kind == "group":
            return self.groups.get(principal_id)
        return self.roles.get(principal_id)


def resulting_owner(bucket_owner: str, writer_account: str, ownership: str, acl: str | None) -> str:
    """Who owns a newly written object, per S3 Object Ownership at write time (while the bucket
    is later BucketOwnerEnforced, the bucket owner owns every object regardless)."""
    if ownership == "BucketOwnerEnforced":
        return bucket_owner
    if ownership == "BucketOwnerPreferred" and acl == "bucket-owner-full-control":
        return bucket_owner
    return writer_account


@singledispatch
def apply(event: ev.LedgerEvent, state: AccountState) -> None:
    """Events that do not change write-side state (observed access, denials, outputs)."""


@apply.register
def _(event: ev.AccountCreated, state: AccountState) -> None:
    state.exists = True
    state.name = event.account_name


@apply.register
def _(event: ev.ServiceControlPolicyAttached, state: AccountState) -> None:
    state.scps[event.scp_id] = (event.level, event.document)


@apply.register
def _(event: ev.ServiceControlPolicyDetached, state: AccountState) -> None:
    state.scps.pop(event.scp_id, None)


def _organization_event(event: ev.LedgerEvent, state: AccountState) -> None:
    """Organisation facts live in the management account's stream; imported history may start
    after the organisation was created, so its record is created on first use."""
    if state.organization is None:
        state.organization = Organization(None, None)
    apply_to_organization(event, state.organization)


for _event_type in ORGANIZATION_EVENTS:
    apply.register(_event_type, _organization_event)


@apply.register
def _(event: ev.UserCreated, state: AccountState) -> None:
    state.users[event.user_id] = User(event.user_id, event.user_name, event.path, event.user_arn)
    state.user_names[event.user_name.lower()] = event.user_id


@apply.register
def _(event: ev.UserDeleted, state: AccountState) -> None:
    user = state.users.pop(event.user_id, None)
    if user is None:
        return
    if state.user_names.get(user.name.lower()) == user.user_id:
        del state.user_names[user.name.lower()]
    for key_id in user.access_keys:
        state.access_keys.pop(key_id, None)
    for group_id in user.groups:
        if group_id in state.groups:
            state.groups[group_id].members.discard(user.user_id)
    for policy_id in user.managed:
        if policy_id in state.policies:
            state.policies[policy_id].attachments.discard(("user", user.user_id))


@apply.register
def _(event: ev.LoginProfileSet, state: AccountState) -> None:
    if user := state.users.get(event.user_id):
        user.login_profile = True


@apply.register
def _(event: ev.LoginProfileRemoved, state: AccountState) -> None:
    if user := state.users.get(event.user_id):
        user.login_profile = False


@apply.register
def _(event: ev.AccessKeyCreated, state: AccountState) -> None:
    if user := state.users.get(event.user_id):
        user.access_keys[event.access_key_id] = True
    state.access_keys[event.access_key_id] = event.user_id


@apply.register
def _(event: ev.AccessKeyDeactivated, state: AccountState) -> None:
    if (user := state.users.get(event.user_id)) and event.access_key_id in user.access_keys:
        user.access_keys[event.access_key_id] = False


@apply.register
def _(event: ev.AccessKeyActivated, state: AccountState) -> None:
    if (user := state.users.get(event.user_id)) and event.access_key_id in user.access_keys:
        user.access_keys[event.access_key_id] = True


@apply.register
def _(event: ev.AccessKeyDeleted, state: AccountState) -> None:
    if user := state.users.get(event.user_id):
        user.access_keys.pop(event.access_key_id, None)
    state.access_keys.pop(event.access_key_id, None)


@apply.register
def _(event: ev.PrincipalTagged, state: AccountState) -> None:
    holder = state.holder(event.principal_kind, event.principal_id)
    if isinstance(holder, (User, Role)):
        holder.tags.update(event.tags)


@apply.register
def _(event: ev.PrincipalUntagged, state: AccountState) -> None:
    holder = state.holder(event.principal_kind, event.principal_id)
    if isinstance(holder, (User, Role)):
        for key in event.tag_keys:
            holder.tags.pop(key, None)


@apply.register
def _(event: ev.GroupCreated, state: AccountState) -> None:
    state.groups[event.group_id] = Group(event.group_id, event.group_name, event.path, event.group_arn)
    state.group_names[event.group_name.lower()] = event.group_id


@apply.register
def _(event: ev.GroupDeleted, state: AccountState) -> None:
    group = state.groups.pop(event.group_id, None)
    if group is None:
        return
    if state.group_names.get(group.name.lower()) == group.group_id:
        del state.group_names[group.name.lower()]
    for user_id in group.members:
        if user_id in state.users:
            state.users[user_id].groups.discard(group.group_id)
    for policy_id in group.managed:
        if policy_id in state.policies:
            state.policies[policy_id].attachments.discard(("group", group.group_id))


@apply.register
def _(event: ev.UserAddedToGroup, state: AccountState) -> None:
    user, group = state.users.get(event.user_id), state.groups.get(event.group_id)
    if user and group:
        user.groups.add(group.group_id)
        group.members.add(user.user_id)


@apply.register
def _(event: ev.UserRemovedFromGroup, state: AccountState) -> None:
    if user := state.users.get(event.user_id):
        user.groups.discard(event.group_id)
    if group := state.groups.get(event.group_id):
        group.members.discard(event.user_id)


@apply.register
def _(event: ev.RoleCreated, state: AccountState) -> None:
    state.roles[event.role_id] = Role(
        event.role_id, event.role_name, event.path, event.role_arn, event.trust_policy,
        event.max_session_duration,
    )
    state.role_names[event.role_name.lower()] = event.role_id


@apply.register
def _(event: ev.RoleDeleted, state: AccountState) -> None:
    role = state.roles.pop(event.role_id, None)
    if role is None:
        return
    if state.role_names.get(role.name.lower()) == role.role_id:
        del state.role_names[role.name.lower()]


@apply.register
def _(event: ev.TrustPolicyUpdated, state: AccountState) -> None:
    if role := state.roles.get(event.role_id):
        role.trust_policy = event.trust_policy


@apply.register
def _(event: ev.IdentityProviderCreated, state: AccountState) -> None:
    state.providers[event.provider_arn] = IdentityProvider(event.provider_arn, event.provider_type)


@apply.register
def _(event: ev.IdentityProviderDeleted, state: AccountState) -> None:
    state.providers.pop(event.provider_arn, None)


@apply.register
def _(event: ev.ManagedPolicyCreated, state: AccountState) -> None:
    policy = ManagedPolicy(
        event.policy_id, event.policy_name, event.path, event.policy_arn, event.aws_managed,
        versions={event.version_id: event.document}, default_version=event.version_id,
    )
    state.policies[event.policy_id] = policy
    state.policy_arns[event.policy_arn] = event.policy_id
    state.policy_names[event.policy_name.lower()] = event.policy_id


@apply.register
def _(event: ev.ManagedPolicyDeleted, state: AccountState) -> None:
    policy = state.policies.pop(event.policy_id, None)
    if policy is None:
        return
    if state.policy_arns.get(policy.arn) == policy.policy_id:
        del state.policy_arns[policy.arn]
    if state.policy_names.get(policy.name.lower()) == policy.policy_id:
        del state.policy_names[policy.name.lower()]


@apply.register
def _(event: ev.PolicyVersionCreated, state: AccountState) -> None:
    if policy := state.policies.get(event.policy_id):
        policy.versions[event.version_id] = event.document
        number = int(event.version_id.lstrip("v") or 0) if event.version_id.lstrip("v").isdigit() else 0
        policy.next_version = max(policy.next_version, number + 1)
        if event.set_as_default:
            policy.default_version = event.version_id


@apply.register
def _(event: ev.PolicyVersionDeleted, state: AccountState) -> None:
    if policy := state.policies.get(event.policy_id):
        policy.versions.pop(event.version_id, None)


@apply.register
def _(event: ev.DefaultPolicyVersionSet, state: AccountState) -> None:
    if policy := state.policies.get(event.policy_id):
        policy.default_version = event.version_id


@apply.register
def _(event: ev.PolicyAttached, state: AccountState) -> None:
    holder = state.holder(event.principal_kind, event.principal_id)
    if holder is not None:
        holder.managed[event.policy_id] = event.policy_arn
    if policy := state.policies.get(event.policy_id):
        policy.attachments.add((event.principal_kind, event.principal_id))


@apply.register
def _(event: ev.PolicyDetached, state: AccountState) -> None:
    holder = state.holder(event.principal_kind, event.principal_id)
    if holder is not None:
        holder.managed.pop(event.policy_id, None)
    if policy := state.policies.get(event.policy_id):
        policy.attachments.discard((event.principal_kind, event.principal_id))


@apply.register
def _(event: ev.InlinePolicyPut, state: AccountState) -> None:
    holder = state.holder(event.principal_kind, event.principal_id)
    if holder is not None:
        holder.inline[event.policy_name] = event.document


@apply.register
def _(event: ev.InlinePolicyDeleted, state: AccountState) -> None:
    holder = state.holder(event.principal_kind, event.principal_id)
    if holder is not None:
        holder.inline.pop(event.policy_name, None)


@apply.register
def _(event: ev.PermissionsBoundarySet, state: AccountState) -> None:
    holder = state.holder(event.principal_kind, event.principal_id)
    if isinstance(holder, (User, Role)):
        previous = holder.boundary
        if previous and (old := state.policy_by_arn(previous)):
            old.boundary_of.discard((event.principal_kind, event.principal_id))
        holder.boundary = event.policy_arn
    if policy := state.policies.get(event.policy_id):
        policy.boundary_of.add((event.principal_kind, event.principal_id))


@apply.register
def _(event: ev.PermissionsBoundaryRemoved, state: AccountState) -> None:
    holder = state.holder(event.principal_kind, event.principal_id)
    if isinstance(holder, (User, Role)) and holder.boundary:
        if policy := state.policy_by_arn(holder.boundary):
            policy.boundary_of.discard((event.principal_kind, event.principal_id))
        holder.boundary = None


@apply.register
def _(event: ev.BucketCreated, state: AccountState) -> None:
    state.buckets[event.bucket_name] = Bucket(
        event.bucket_name, event.bucket_arn, event.region, event.object_ownership
    )


@apply.register
def _(event: ev.BucketDeleted, state: AccountState) -> None:
    state.buckets.pop(event.bucket_name, None)


@apply.register
def _(event: ev.BucketPolicyPut, state: AccountState) -> None:
    if bucket := state.buckets.get(event.bucket_name):
        bucket.policy = event.document


@apply.register
def _(event: ev.BucketPolicyDeleted, state: AccountState) -> None:
    if bucket := state.buckets.get(event.bucket_name):
        bucket.policy = None


@apply.register
def _(event: ev.BucketOwnershipChanged, state: AccountState) -> None:
    if bucket := state.buckets.get(event.bucket_name):
        bucket.object_ownership = event.object_ownership


@apply.register
def _(event: ev.RoleAssumed, state: AccountState) -> None:
    state.sessions[event.session_id] = Session(
        event.session_id, event.role_id, event.session_arn, event.issued_at, event.expires_at,
        event.access_key_id, chained=event.parent_session_id is not None,
    )
    if event.access_key_id:
        state.access_keys[event.access_key_id] = event.session_id


@apply.register
def _(event: ev.FederationTokenIssued, state: AccountState) -> None:
    state.sessions[event.session_id] = Session(
        event.session_id, None, event.federated_user_arn, event.issued_at, event.expires_at,
        event.access_key_id, chained=False,
    )


@apply.register
def _(event: ev.SessionsRevoked, state: AccountState) -> None:
    if role := state.roles.get(event.role_id):
        role.revoked_before = event.revoked_before


@apply.register
def _(event: ev.JobCreated, state: AccountState) -> None:
    state.jobs[event.job_id] = Job(event.job_id, event.job_arn, event.role_arn, event.creator_arn, event.outputs)


# Facts the write side does not need to know about; folding skips them (the bulk import path).
STATELESS_EVENTS: frozenset[type[ev.LedgerEvent]] = frozenset({
    ev.AccessObserved, ev.CommandDenied, ev.OutputWritten, ev.StateObserved,
})

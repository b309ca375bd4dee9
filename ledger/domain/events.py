"""The event catalogue: every change to permission state is one of these immutable, past-tense facts.

Events never import storage, projections or the CLI; they are frozen pydantic models, stored as JSON.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger.timeaxis import utc

Source = Literal["api", "cloudtrail", "snapshot", "config"]
HolderKind = Literal["user", "group", "role"]  # who holds policies (the policy engine's PrincipalKind: who calls)
BoundaryHolderKind = Literal["user", "role"]
ObjectOwnership = Literal["BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"]
ProviderType = Literal["SAML", "OIDC"]
AssumptionKind = Literal[
    "AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetFederationToken", "service"
]
OrgPolicyType = Literal["SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"]
OrgTargetType = Literal["ROOT", "ORGANIZATIONAL_UNIT", "ACCOUNT"]

LEDGER_NAMESPACE = uuid5(NAMESPACE_URL, "https://permission-ledger.dev/ns")


@lru_cache(maxsize=65536)
def account_stream_id(account_id: str) -> UUID:
    """Every event of one AWS account lives in that account's stream: the account is the
    consistency boundary, exactly as AWS enforces IAM quotas and name uniqueness per account."""
    return uuid5(LEDGER_NAMESPACE, f"account:{account_id}")




class LedgerEvent(BaseModel):
    """Envelope shared by every event: where it sits in the log and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str | None = None
    source: Source = "api"
    source_id: str | None = None
    account_id: str
    # Assigned by the store when the event is recorded (the global log position); not stored.
    position: int | None = Field(default=None, exclude=True)

    @field_validator("occurred_at", "recorded_at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        return utc(value)

    @property
    def event_type(self) -> str:
        return type(self).__name__

    def entity_refs(self) -> tuple[str, ...]:
        """Keys of the entities this event touched (ARNs or unique ids), for `history`."""
        refs: list[str] = [f"account:{self.account_id}"]
        for name in _REF_FIELDS:
            value = getattr(self, name, None)
            if isinstance(value, str) and value:
                refs.append(value)
        return tuple(refs)

    def with_position(self, position: int) -> LedgerEvent:
        return self.model_copy(update={"position": position})

    def payload(self) -> dict[str, Any]:
        return self.model_dump(
            mode="json",
            exclude={
                "originator_id", "originator_version", "occurred_at", "recorded_at",
                "actor", "source", "source_id", "position",
            },
        )


_REF_FIELDS = (
    "user_id", "user_arn", "group_id", "group_arn", "role_id", "role_arn", "policy_id", "policy_arn",
    "principal_id", "principal_arn", "provider_arn", "bucket_arn", "session_arn", "session_id",
    "caller_arn", "caller_principal_id", "job_arn", "creator_arn", "object_arn", "writer_arn",
    "access_key_id", "federated_user_arn", "ou_id", "target_id", "organization_id",
)


# ---------------------------------------------------------------- accounts and organisations

class AccountCreated(LedgerEvent):
    account_name: str
    root_arn: str


class ServiceControlPolicyAttached(LedgerEvent):
    """An organisation SCP now applies to the account at `level` (0 = organisation root)."""

    scp_id: str
    level: int
    document: dict[str, Any]


class ServiceControlPolicyDetached(LedgerEvent):
    scp_id: str


# ---------------------------------------------------------------- the organisation tree
# Recorded in the management account's stream. Root ids start "r-", OU ids "ou-", policy ids "p-".


class _MemberEvent(LedgerEvent):
    """An organisation event about a member account: its history lists the event too."""

    member_account_id: str

    def entity_refs(self) -> tuple[str, ...]:
        return (*super().entity_refs(), f"account:{self.member_account_id}")


class OrganizationCreated(LedgerEvent):
    """An organisation whose management account is this stream's account; `root_id` may be
    unknown (CloudTrail's CreateOrganization does not name it)."""

    organization_id: str | None = None
    root_id: str | None = None
    enabled_policy_types: tuple[OrgPolicyType, ...] = ()


class OrganizationPolicyTypeEnabled(LedgerEvent):
    policy_type: OrgPolicyType
    root_id: str | None = None


class OrganizationPolicyTypeDisabled(LedgerEvent):
    policy_type: OrgPolicyType
    root_id: str | None = None


class OrganizationalUnitCreated(LedgerEvent):
    ou_id: str
    ou_name: str
    parent_id: str
    organization_id: str | None = None


class OrganizationalUnitDeleted(LedgerEvent):
    ou_id: str


class AccountJoinedOrganization(_MemberEvent):
    parent_id: str
    organization_id: str | None = None


class AccountMoved(_MemberEvent):
    """An account moved between the root and OUs (AWS never moves OUs themselves)."""

    source_parent_id: str | None = None
    parent_id: str
    organization_id: str | None = None


class AccountLeftOrganization(_MemberEvent):
    pass


class OrganizationPolicyCreated(LedgerEvent):
    """An SCP or RCP; `document` passed the policy grammar of its type when it was recorded."""

    policy_id: str
    policy_name: str
    policy_type: OrgPolicyType
    document: dict[str, Any]
    aws_managed: bool = False
    description: str | None = None


class OrganizationPolicyUpdated(LedgerEvent):
    policy_id: str
    policy_name: str
    policy_type: OrgPolicyType
    document: dict[str, Any]


class OrganizationPolicyDeleted(LedgerEvent):
    policy_id: str


class OrganizationPolicyAttached(LedgerEvent):
    policy_id: str
    policy_type: OrgPolicyType
    target_id: str
    target_type: OrgTargetType


class OrganizationPolicyDetached(LedgerEvent):
    policy_id: str
    policy_type: OrgPolicyType
    target_id: str


# ---------------------------------------------------------------- observations (imports)

class StateObserved(LedgerEvent):
    """An import observed (part of) the account's state at `occurred_at`: a snapshot's scope
    ("iam", "s3", "organization") and files, or the Config items (`points`: "scope@µs") it
    read. Changes no fact: later out-of-order imports re-assert these observations."""

    scope: str
    files: tuple[str, ...] = ()
    points: tuple[str, ...] = ()
    digest: str | None = None


# ---------------------------------------------------------------- users and credentials

class UserCreated(LedgerEvent):
    user_id: str
    user_name: str
    path: str = "/"
    user_arn: str


class UserDeleted(LedgerEvent):
    user_id: str
    user_arn: str


class LoginProfileSet(LedgerEvent):
    """A console password was set or changed. The password itself is never recorded."""

    user_id: str
    user_arn: str
    password_reset_required: bool = False


class LoginProfileRemoved(LedgerEvent):
    user_id: str
    user_arn: str


class AccessKeyCreated(LedgerEvent):
    """The secret access key is never recorded, only its public id."""

    user_id: str
    user_arn: str
    access_key_id: str


class AccessKeyDeactivated(LedgerEvent):
    user_id: str
    user_arn: str
    access_key_id: str


class AccessKeyActivated(LedgerEvent):
    user_id: str
    user_arn: str
    access_key_id: str


class AccessKeyDeleted(LedgerEvent):
    user_id: str
    user_arn: str
    access_key_id: str


class PrincipalTagged(LedgerEvent):
    principal_kind: Literal["user", "role"]
    principal_id: str
    principal_arn: str
    tags: dict[str, str]


class PrincipalUntagged(LedgerEvent):
    principal_kind: Literal["user", "role"]
    principal_id: str
    principal_arn: str
    tag_keys: tuple[str, ...]


# ---------------------------------------------------------------- groups

class GroupCreated(LedgerEvent):
    group_id: str
    group_name: str
    path: str = "/"
    group_arn: str


class GroupDeleted(LedgerEvent):
    group_id: str
    group_arn: str


class UserAddedToGroup(LedgerEvent):
    user_id: str
    user_arn: str
    group_id: str
    group_arn: str


class UserRemovedFromGroup(LedgerEvent):
    user_id: str
    user_arn: str
    group_id: str
    group_arn: str


# ---------------------------------------------------------------- roles and identity providers

class RoleCreated(LedgerEvent):
    role_id: str
    role_name: str
    path: str = "/"
    role_arn: str
    trust_policy: dict[str, Any]
    max_session_duration: int = 3600
    description: str | None = None


class RoleDeleted(LedgerEvent):
    role_id: str
    role_arn: str


class TrustPolicyUpdated(LedgerEvent):
    role_id: str
    role_arn: str
    trust_policy: dict[str, Any]


class IdentityProviderCreated(LedgerEvent):
    provider_arn: str
    provider_type: ProviderType
    url: str | None = None
    client_ids: tuple[str, ...] = ()


class IdentityProviderDeleted(LedgerEvent):
    provider_arn: str


# ---------------------------------------------------------------- policies

class ManagedPolicyCreated(LedgerEvent):
    policy_id: str
    policy_name: str
    path: str = "/"
    policy_arn: str
    document: dict[str, Any]
    version_id: str = "v1"
    aws_managed: bool = False


class ManagedPolicyDeleted(LedgerEvent):
    policy_id: str
    policy_arn: str


class PolicyVersionCreated(LedgerEvent):
    policy_id: str
    policy_arn: str
    version_id: str
    document: dict[str, Any]
    set_as_default: bool


class PolicyVersionDeleted(LedgerEvent):
    policy_id: str
    policy_arn: str
    version_id: str


class DefaultPolicyVersionSet(LedgerEvent):
    policy_id: str
    policy_arn: str
    version_id: str


class PolicyAttached(LedgerEvent):
    principal_kind: HolderKind
    principal_id: str
    principal_arn: str
    policy_id: str
    policy_arn: str


class PolicyDetached(LedgerEvent):
    principal_kind: HolderKind
    principal_id: str
    principal_arn: str
    policy_id: str
    policy_arn: str


class InlinePolicyPut(LedgerEvent):
    principal_kind: HolderKind
    principal_id: str
    principal_arn: str
    policy_name: str
    document: dict[str, Any]


class InlinePolicyDeleted(LedgerEvent):
    principal_kind: HolderKind
    principal_id: str
    principal_arn: str
    policy_name: str


class PermissionsBoundarySet(LedgerEvent):
    principal_kind: BoundaryHolderKind
    principal_id: str
    principal_arn: str
    policy_id: str
    policy_arn: str


class PermissionsBoundaryRemoved(LedgerEvent):
    principal_kind: BoundaryHolderKind
    principal_id: str
    principal_arn: str


# ---------------------------------------------------------------- S3 buckets

class BucketCreated(LedgerEvent):
    """Version 2 added `object_ownership`. Buckets recorded before it existed behaved as
    ObjectWriter (ACLs decided ownership), so the upcaster fills that in."""

    class_version: ClassVar[int] = 2

    bucket_name: str
    bucket_arn: str
    region: str = "us-east-1"
    object_ownership: ObjectOwnership

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["object_ownership"] = "ObjectWriter"


class BucketDeleted(LedgerEvent):
    bucket_name: str
    bucket_arn: str


class BucketPolicyPut(LedgerEvent):
    bucket_name: str
    bucket_arn: str
    document: dict[str, Any]


class BucketPolicyDeleted(LedgerEvent):
    bucket_name: str
    bucket_arn: str


class BucketOwnershipChanged(LedgerEvent):
    bucket_name: str
    bucket_arn: str
    object_ownership: ObjectOwnership


# ---------------------------------------------------------------- sessions

class RoleAssumed(LedgerEvent):
    """A temporary session was issued for a role (by a principal, a federated user or a service).

    `account_id` is the role's account. The session token and secret are never recorded; the
    access key id is, so that later calls made with the session can be tied to it.
    """

    session_id: str
    role_id: str
    role_arn: str
    session_name: str
    session_arn: str
    caller_arn: str
    caller_principal_id: str | None = None
    caller_account: str | None = None
    via: AssumptionKind = "AssumeRole"
    provider_arn: str | None = None
    issued_at: datetime
    expires_at: datetime
    session_policy: dict[str, Any] | None = None
    session_policy_arns: tuple[str, ...] = ()
    source_identity: str | None = None
    access_key_id: str | None = None
    parent_session_id: str | None = None

    @field_validator("issued_at", "expires_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return utc(value)


class FederationTokenIssued(LedgerEvent):
    """`GetFederationToken`: a federated-user session acting with the user's permissions
    intersected with the session policy."""

    session_id: str
    user_id: str | None = None
    user_arn: str
    federated_user_arn: str
    issued_at: datetime
    expires_at: datetime
    session_policy: dict[str, Any] | None = None
    session_policy_arns: tuple[str, ...] = ()
    access_key_id: str | None = None

    @field_validator("issued_at", "expires_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return utc(value)


class SessionsRevoked(LedgerEvent):
    """Every session of the role issued before `revoked_before` stops working (AWS's
    "revoke active sessions" adds a deny on aws:TokenIssueTime)."""

    role_id: str
    role_arn: str
    revoked_before: datetime

    @field_validator("revoked_before")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return utc(value)


# ---------------------------------------------------------------- MediaConvert and outputs

class JobCreated(LedgerEvent):
    """A MediaConvert job, owned by `account_id` whoever created it, running as the passed role."""

    job_id: str
    job_arn: str
    region: str = "us-east-1"
    creator_arn: str
    creator_principal_id: str | None = None
    queue_arn: str
    role_id: str | None = None
    role_arn: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


class OutputWritten(LedgerEvent):
    """An object was written into a bucket. `account_id` is the bucket owner's account."""

    bucket_name: str
    bucket_arn: str
    key: str
    object_arn: str
    writer_arn: str
    writer_account: str
    writer_session_id: str | None = None
    job_id: str | None = None
    job_arn: str | None = None
    acl: str | None = None
    object_ownership: ObjectOwnership
    owner_account: str


# ---------------------------------------------------------------- observed and denied access

class AccessObserved(LedgerEvent):
    """An API call seen in CloudTrail: what was done (not what could be done)."""

    principal_arn: str
    principal_account: str | None = None
    principal_type: str | None = None
    access_key_id: str | None = None
    action: str
    resource: str
    resource_account: str | None = None
    allowed: bool
    error_code: str | None = None
    invoked_by: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)


class CommandDenied(LedgerEvent):
    """Enforcing mode: the actor lacked permission; nothing else was recorded."""

    action: str
    resource: str
    reason: str


EVENT_TYPES: dict[str, type[LedgerEvent]] = {
    cls.__name__: cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, LedgerEvent) and cls is not LedgerEvent
    and not cls.__name__.startswith("_")
}

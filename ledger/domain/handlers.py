"""Command handlers: validate one imperative against current account state and AWS's quotas,
and return the events it would record. Pure: no storage, clock or logging here.

A handler either returns drafts (event class + fields) or raises a typed `LedgerError`; the unit
of work stamps the envelope and appends everything atomically, so a rejection writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from ledger.domain import events as ev
from ledger.domain import names
from ledger.domain.state import AccountState, Bucket, Group, ManagedPolicy, Role, User
from ledger.errors import (
    DeleteConflictError,
    EntityAlreadyExistsError,
    InvalidStateError,
    LimitExceededError,
    NotFoundError,
    PolicyValidationError,
    ValidationError,
)

T = TypeVar("T")
Draft = tuple[type[ev.LedgerEvent], dict[str, Any]]

AWS_ACCOUNT = "aws"  # pseudo-account holding AWS-managed policies (arn:aws:iam::aws:policy/...)
OWNERSHIP_SETTINGS = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")


@dataclass(frozen=True)
class Quotas:
    """AWS's default IAM quotas; the adjustable ones can be raised, as AWS allows."""

    access_keys_per_user: int = 2
    versions_per_policy: int = 5
    managed_policies_per_principal: int = 10
    groups_per_user: int = 10
    role_max_session_seconds: int = 43200
    chained_session_seconds: int = 3600
    min_session_seconds: int = 900
    federation_token_max_seconds: int = 129600


def validate_policy(document: Any, policy_type: str) -> dict[str, Any]:
    """Validate a policy document for `policy_type` and return it as a JSON object."""
    from ledger.policy import PolicyType, parse_policy

    if isinstance(document, (str, bytes)):
        try:
            loaded = json.loads(document)
        except (ValueError, UnicodeDecodeError) as error:
            raise PolicyValidationError("", f"policy is not valid JSON: {error}") from None
        except RecursionError:  # json raises it (not ValueError) on very deep nesting
            raise PolicyValidationError("", "policy is nested too deeply") from None
    else:
        loaded = document
    parse_policy(loaded, PolicyType(policy_type))
    if not isinstance(loaded, dict):
        raise PolicyValidationError("", "policy must be a JSON object")
    copied: dict[str, Any] = json.loads(json.dumps(loaded))  # events must not share caller state
    return copied


# ---------------------------------------------------------------- lookups


def require_account(state: AccountState) -> None:
    if not state.exists:
        from ledger.errors import AccountNotFoundError

        raise AccountNotFoundError(f"account {state.account_id} does not exist", account=state.account_id)


def _found(entity: T | None, kind: str, name: str, state: AccountState) -> T:
    if entity is None:
        raise NotFoundError(f"{kind} {name!r} does not exist in account {state.account_id}", entity=name)
    return entity


def require_user(state: AccountState, name: str) -> User:
    require_account(state)
    return _found(state.user_by_name(name), "user", name, state)


def require_group(state: AccountState, name: str) -> Group:
    require_account(state)
    return _found(state.group_by_name(name), "group", name, state)


def require_role(state: AccountState, name: str) -> Role:
    require_account(state)
    return _found(state.role_by_name(name), "role", name, state)


def require_policy(state: AccountState, arn: str) -> ManagedPolicy:
    policy = state.policy_by_arn(arn)
    if policy is None:
        raise NotFoundError(f"policy {arn} does not exist", entity=arn)
    return policy


def require_bucket(state: AccountState, name: str) -> Bucket:
    require_account(state)
    return _found(state.buckets.get(name), "bucket", name, state)


def holder_by_name(state: AccountState, kind: str, name: str) -> User | Group | Role:
    if kind == "user":
        return require_user(state, name)
    if kind == "group":
        return require_group(state, name)
    return require_role(state, name)


def holder_id(holder: User | Group | Role) -> str:
    if isinstance(holder, User):
        return holder.user_id
    if isinstance(holder, Group):
        return holder.group_id
    return holder.role_id


# ---------------------------------------------------------------- accounts


def create_account(state: AccountState, account_name: str) -> list[Draft]:
    if state.exists:
        raise EntityAlreadyExistsError(f"account {state.account_id} already exists", entity=state.account_id)
    if not account_name or len(account_name) > 50:
        raise ValidationError("account name must be 1-50 characters")
    return [(ev.AccountCreated, {"account_name": account_name, "root_arn": names.root_arn(state.account_id)})]


def attach_scp(state: AccountState, scp_id: str, document: Any, level: int) -> list[Draft]:
    require_account(state)
    if not scp_id or len(scp_id) > 128:
        raise ValidationError("SCP id must be 1-128 characters")
    if not 0 <= level <= 5:
        raise ValidationError("SCP level must be 0 (organisation root) to 5 (OU depth limit)")
    doc = validate_policy(document, "scp")
    return [(ev.ServiceControlPolicyAttached, {"scp_id": scp_id, "level": level, "document": doc})]


def detach_scp(state: AccountState, scp_id: str) -> list[Draft]:
    require_account(state)
    if scp_id not in state.scps:
        raise NotFoundError(f"SCP {scp_id!r} is not attached to account {state.account_id}", entity=scp_id)
    return [(ev.ServiceControlPolicyDetached, {"scp_id": scp_id})]


# ---------------------------------------------------------------- users


def create_user(state: AccountState, name: str, path: str = "/") -> list[Draft]:
    require_account(state)
    names.check_iam_name("user", name)
    names.check_path(path)
    if state.user_by_name(name):
        raise EntityAlreadyExistsError(f"user {name!r} already exists in account {state.account_id}", entity=name)
    user_id = names.new_unique_id("AIDA")
    return [
        (
            ev.UserCreated,
            {
                "user_id": user_id,
                "user_name": name,
                "path": path,
                "user_arn": names.iam_arn(state.account_id, "user", path, name),
            },
        )
    ]


def delete_user(state: AccountState, name: str) -> list[Draft]:
    user = require_user(state, name)
    blockers = []
    if user.login_profile:
        blockers.append("a login profile")
    if user.access_keys:
        blockers.append(f"{len(user.access_keys)} access key(s)")
    if user.groups:
        blockers.append(f"membership of {len(user.groups)} group(s)")
    if user.managed:
        blockers.append(f"{len(user.managed)} attached policy(ies)")
    if user.inline:
        blockers.append(f"{len(user.inline)} inline policy(ies)")
    if user.boundary:
        blockers.append("a permissions boundary")
    if blockers:
        raise DeleteConflictError(f"cannot delete user {name!r}: it still has {', '.join(blockers)}", entity=user.arn)
    return [(ev.UserDeleted, {"user_id": user.user_id, "user_arn": user.arn})]


def set_login_profile(state: AccountState, name: str, password: str, reset_required: bool) -> list[Draft]:
    user = require_user(state, name)
    if not isinstance(password, str) or not 8 <= len(password) <= 128:
        raise ValidationError("password must be 8-128 characters (AWS default password policy)")
    return [
        (
            ev.LoginProfileSet,
            {
                "user_id": user.user_id,
                "user_arn": user.arn,
                "password_reset_required": reset_required,
            },
        )
    ]


def remove_login_profile(state: AccountState, name: str) -> list[Draft]:
    user = require_user(state, name)
    if not user.login_profile:
        raise NotFoundError(f"user {name!r} has no login profile", entity=user.arn)
    return [(ev.LoginProfileRemoved, {"user_id": user.user_id, "user_arn": user.arn})]


def create_access_key(state: AccountState, name: str, quotas: Quotas) -> tuple[list[Draft], str]:
    user = require_user(state, name)
    if len(user.access_keys) >= quotas.access_keys_per_user:
        raise LimitExceededError(
            f"user {name!r} already has {len(user.access_keys)} access keys "
            f"(inactive keys count; the limit is {quotas.access_keys_per_user})",
            entity=user.arn,
            limit=quotas.access_keys_per_user,
        )
    key_id = names.new_access_key_id()
    return [(ev.AccessKeyCreated, {"user_id": user.user_id, "user_arn": user.arn, "access_key_id": key_id})], key_id


def change_access_key(state: AccountState, name: str, key_id: str, change: str) -> list[Draft]:
    user = require_user(state, name)
    if key_id not in user.access_keys:
        raise NotFoundError(f"access key {key_id} does not belong to user {name!r}", entity=key_id)
    active = user.access_keys[key_id]
    cls: type[ev.LedgerEvent]
    if change == "deactivate":
        if not active:
            raise InvalidStateError(f"access key {key_id} is already inactive", entity=key_id)
        cls = ev.AccessKeyDeactivated
    elif change == "activate":
        if active:
            raise InvalidStateError(f"access key {key_id} is already active", entity=key_id)
        cls = ev.AccessKeyActivated
    else:
        cls = ev.AccessKeyDeleted
    return [(cls, {"user_id": user.user_id, "user_arn": user.arn, "access_key_id": key_id})]


def tag_principal(state: AccountState, kind: str, name: str, tags: dict[str, str]) -> list[Draft]:
    holder = holder_by_name(state, kind, name)
    assert isinstance(holder, (User, Role))
    if not tags or any(not isinstance(k, str) or not 1 <= len(k) <= 128 for k in tags):
        raise ValidationError("tag keys must be 1-128 characters")
    if any(not isinstance(v, str) or len(v) > 256 for v in tags.values()):
        raise ValidationError("tag values must be strings of at most 256 characters")
    if len(set(holder.tags) | set(tags)) > 50:
        raise LimitExceededError(f"{kind} {name!r} would have more than 50 tags", entity=holder.arn)
    return [
        (
            ev.PrincipalTagged,
            {
                "principal_kind": kind,
                "principal_id": holder_id(holder),
                "principal_arn": holder.arn,
                "tags": dict(tags),
            },
        )
    ]


# ---------------------------------------------------------------- groups


def create_group(state: AccountState, name: str, path: str = "/") -> list[Draft]:
    require_account(state)
    names.check_iam_name("group", name)
    names.check_path(path)
    if state.group_by_name(name):
        raise EntityAlreadyExistsError(f"group {name!r} already exists in account {state.account_id}", entity=name)
    return [
        (
            ev.GroupCreated,
            {
                "group_id": names.new_unique_id("AGPA"),
                "group_name": name,
                "path": path,
                "group_arn": names.iam_arn(state.account_id, "group", path, name),
            },
        )
    ]


def delete_group(state: AccountState, name: str) -> list[Draft]:
    group = require_group(state, name)
    if group.members:
        raise DeleteConflictError(
            f"cannot delete group {name!r}: it still has {len(group.members)} member(s)", entity=group.arn
        )
    if group.managed or group.inline:
        raise DeleteConflictError(
            f"cannot delete group {name!r}: it still has attached or inline policies", entity=group.arn
        )
    return [(ev.GroupDeleted, {"group_id": group.group_id, "group_arn": group.arn})]


def add_user_to_group(state: AccountState, user_name: str, group_name: str, quotas: Quotas) -> list[Draft]:
    user = require_user(state, user_name)
    group = require_group(state, group_name)
    if group.group_id in user.groups:
        return []
    if len(user.groups) >= quotas.groups_per_user:
        raise LimitExceededError(
            f"user {user_name!r} is already in {len(user.groups)} groups (limit {quotas.groups_per_user})",
            entity=user.arn,
            limit=quotas.groups_per_user,
        )
    return [
        (
            ev.UserAddedToGroup,
            {
                "user_id": user.user_id,
                "user_arn": user.arn,
                "group_id": group.group_id,
                "group_arn": group.arn,
            },
        )
    ]


def remove_user_from_group(state: AccountState, user_name: str, group_name: str) -> list[Draft]:
    user = require_user(state, user_name)
    group = require_group(state, group_name)
    if group.group_id not in user.groups:
        raise NotFoundError(f"user {user_name!r} is not a member of group {group_name!r}", entity=group.arn)
    return [
        (
            ev.UserRemovedFromGroup,
            {
                "user_id": user.user_id,
                "user_arn": user.arn,
                "group_id": group.group_id,
                "group_arn": group.arn,
            },
        )
    ]


# ---------------------------------------------------------------- roles and providers


def create_role(
    state: AccountState,
    name: str,
    trust_policy: Any,
    path: str,
    max_session_duration: int,
    description: str | None,
    quotas: Quotas,
) -> list[Draft]:
    require_account(state)
    names.check_iam_name("role", name)
    names.check_path(path)
    if state.role_by_name(name):
        raise EntityAlreadyExistsError(f"role {name!r} already exists in account {state.account_id}", entity=name)
    if not 3600 <= max_session_duration <= quotas.role_max_session_seconds:
        raise ValidationError(
            f"max session duration must be 3600-{quotas.role_max_session_seconds} seconds",
            value=max_session_duration,
        )
    if description is not None and len(description) > 1000:
        raise ValidationError("role description must be at most 1000 characters")
    document = validate_policy(trust_policy, "trust")
    return [
        (
            ev.RoleCreated,
            {
                "role_id": names.new_unique_id("AROA"),
                "role_name": name,
                "path": path,
                "role_arn": names.iam_arn(state.account_id, "role", path, name),
                "trust_policy": document,
                "max_session_duration": max_session_duration,
                "description": description,
            },
        )
    ]


def delete_role(state: AccountState, name: str) -> list[Draft]:
    role = require_role(state, name)
    if role.managed or role.inline:
        raise DeleteConflictError(
            f"cannot delete role {name!r}: it still has {len(role.managed)} attached and "
            f"{len(role.inline)} inline policy(ies)",
            entity=role.arn,
        )
    return [(ev.RoleDeleted, {"role_id": role.role_id, "role_arn": role.arn})]


def update_trust_policy(state: AccountState, name: str, trust_policy: Any) -> list[Draft]:
    role = require_role(state, name)
    document = validate_policy(trust_policy, "trust")
    return [(ev.TrustPolicyUpdated, {"role_id": role.role_id, "role_arn": role.arn, "trust_policy": document})]


def create_identity_provider(
    state: AccountState, provider_type: str, name_or_url: str, client_ids: tuple[str, ...]
) -> list[Draft]:
    require_account(state)
    if provider_type == "SAML":
        names.check_iam_name("role", name_or_url)
        arn = f"arn:aws:iam::{state.account_id}:saml-provider/{name_or_url}"
        url = None
    elif provider_type == "OIDC":
        if not name_or_url.startswith("https://") or len(name_or_url) > 255:
            raise ValidationError("an OIDC provider URL must start with https:// (at most 255 characters)")
        host_path = name_or_url[len("https://") :].rstrip("/")
        arn = f"arn:aws:iam::{state.account_id}:oidc-provider/{host_path}"
        url = name_or_url
    else:
        raise ValidationError("provider type must be SAML or OIDC")
    if arn in state.providers:
        raise EntityAlreadyExistsError(f"identity provider {arn} already exists", entity=arn)
    return [
        (
            ev.IdentityProviderCreated,
            {
                "provider_arn": arn,
                "provider_type": provider_type,
                "url": url,
                "client_ids": tuple(client_ids),
            },
        )
    ]


def delete_identity_provider(state: AccountState, provider_arn: str) -> list[Draft]:
    require_account(state)
    if provider_arn not in state.providers:
        raise NotFoundError(f"identity provider {provider_arn} does not exist", entity=provider_arn)
    return [(ev.IdentityProviderDeleted, {"provider_arn": provider_arn})]


# ---------------------------------------------------------------- managed policies


def create_policy(state: AccountState, name: str, document: Any, path: str = "/") -> list[Draft]:
    if state.account_id != AWS_ACCOUNT:
        require_account(state)
    names.check_iam_name("policy", name)
    names.check_path(path)
    if name.lower() in state.policy_names:
        raise EntityAlreadyExistsError(f"policy {name!r} already exists in account {state.account_id}", entity=name)
    doc = validate_policy(document, "identity")
    arn = names.iam_arn(state.account_id, "policy", path, name)
    return [
        (
            ev.ManagedPolicyCreated,
            {
                "policy_id": names.new_unique_id("ANPA"),
                "policy_name": name,
                "path": path,
                "policy_arn": arn,
                "document": doc,
                "version_id": "v1",
                "aws_managed": state.account_id == AWS_ACCOUNT,
            },
        )
    ]


def delete_policy(state: AccountState, policy_arn: str) -> list[Draft]:
    policy = require_policy(state, policy_arn)
    if policy.attachments:
        raise DeleteConflictError(
            f"cannot delete policy {policy_arn}: it is attached to {len(policy.attachments)} entity(ies)",
            entity=policy_arn,
        )
    if policy.boundary_of:
        raise DeleteConflictError(
            f"cannot delete policy {policy_arn}: it is the permissions boundary of "
            f"{len(policy.boundary_of)} entity(ies)",
            entity=policy_arn,
        )
    non_default = [v for v in policy.versions if v != policy.default_version]
    if non_default:
        raise DeleteConflictError(
            f"cannot delete policy {policy_arn}: delete its non-default versions first "
            f"({', '.join(sorted(non_default))})",
            entity=policy_arn,
        )
    return [(ev.ManagedPolicyDeleted, {"policy_id": policy.policy_id, "policy_arn": policy.arn})]


def create_policy_version(
    state: AccountState, policy_arn: str, document: Any, set_as_default: bool, quotas: Quotas
) -> tuple[list[Draft], str]:
    policy = require_policy(state, policy_arn)
    if len(policy.versions) >= quotas.versions_per_policy:
        raise LimitExceededError(
            f"policy {policy_arn} already has {len(policy.versions)} versions "
            f"(limit {quotas.versions_per_policy}); delete one first",
            entity=policy_arn,
            limit=quotas.versions_per_policy,
        )
    doc = validate_policy(document, "identity")
    version_id = f"v{policy.next_version}"
    return [
        (
            ev.PolicyVersionCreated,
            {
                "policy_id": policy.policy_id,
                "policy_arn": policy.arn,
                "version_id": version_id,
                "document": doc,
                "set_as_default": set_as_default,
            },
        )
    ], version_id


def delete_policy_version(state: AccountState, policy_arn: str, version_id: str) -> list[Draft]:
    policy = require_policy(state, policy_arn)
    if version_id not in policy.versions:
        raise NotFoundError(f"policy {policy_arn} has no version {version_id}", entity=policy_arn)
    if version_id == policy.default_version:
        raise DeleteConflictError(
            f"cannot delete {version_id} of {policy_arn}: it is the default version", entity=policy_arn
        )
    return [
        (ev.PolicyVersionDeleted, {"policy_id": policy.policy_id, "policy_arn": policy.arn, "version_id": version_id})
    ]


def set_default_policy_version(state: AccountState, policy_arn: str, version_id: str) -> list[Draft]:
    policy = require_policy(state, policy_arn)
    if version_id not in policy.versions:
        raise NotFoundError(f"policy {policy_arn} has no version {version_id}", entity=policy_arn)
    return [
        (
            ev.DefaultPolicyVersionSet,
            {"policy_id": policy.policy_id, "policy_arn": policy.arn, "version_id": version_id},
        )
    ]


def attach_policy(
    state: AccountState, policy_owner: AccountState, kind: str, name: str, policy_arn: str, quotas: Quotas
) -> list[Draft]:
    holder = holder_by_name(state, kind, name)
    policy = require_policy(policy_owner, policy_arn)
    if policy.policy_id in holder.managed:
        return []
    if len(holder.managed) >= quotas.managed_policies_per_principal:
        raise LimitExceededError(
            f"{kind} {name!r} already has {len(holder.managed)} managed policies attached "
            f"(limit {quotas.managed_policies_per_principal})",
            entity=holder.arn,
            limit=quotas.managed_policies_per_principal,
        )
    return [
        (
            ev.PolicyAttached,
            {
                "principal_kind": kind,
                "principal_id": holder_id(holder),
                "principal_arn": holder.arn,
                "policy_id": policy.policy_id,
                "policy_arn": policy.arn,
            },
        )
    ]


def detach_policy(state: AccountState, kind: str, name: str, policy_arn: str) -> list[Draft]:
    holder = holder_by_name(state, kind, name)
    policy_id = next((pid for pid, arn in holder.managed.items() if arn == policy_arn), None)
    if policy_id is None:
        raise NotFoundError(f"policy {policy_arn} is not attached to {kind} {name!r}", entity=policy_arn)
    return [
        (
            ev.PolicyDetached,
            {
                "principal_kind": kind,
                "principal_id": holder_id(holder),
                "principal_arn": holder.arn,
                "policy_id": policy_id,
                "policy_arn": policy_arn,
            },
        )
    ]


def put_inline_policy(state: AccountState, kind: str, name: str, policy_name: str, document: Any) -> list[Draft]:
    holder = holder_by_name(state, kind, name)
    names.check_iam_name("inline policy", policy_name)
    doc = validate_policy(document, f"inline_{kind}")
    return [
        (
            ev.InlinePolicyPut,
            {
                "principal_kind": kind,
                "principal_id": holder_id(holder),
                "principal_arn": holder.arn,
                "policy_name": policy_name,
                "document": doc,
            },
        )
    ]


def delete_inline_policy(state: AccountState, kind: str, name: str, policy_name: str) -> list[Draft]:
    holder = holder_by_name(state, kind, name)
    if policy_name not in holder.inline:
        raise NotFoundError(f"{kind} {name!r} has no inline policy {policy_name!r}", entity=holder.arn)
    return [
        (
            ev.InlinePolicyDeleted,
            {
                "principal_kind": kind,
                "principal_id": holder_id(holder),
                "principal_arn": holder.arn,
                "policy_name": policy_name,
            },
        )
    ]


def set_boundary(state: AccountState, policy_owner: AccountState, kind: str, name: str, policy_arn: str) -> list[Draft]:
    holder = holder_by_name(state, kind, name)
    assert isinstance(holder, (User, Role))
    policy = require_policy(policy_owner, policy_arn)
    if holder.boundary == policy_arn:
        return []
    # One boundary per user/role: setting another replaces it, as PutUserPermissionsBoundary does.
    return [
        (
            ev.PermissionsBoundarySet,
            {
                "principal_kind": kind,
                "principal_id": holder_id(holder),
                "principal_arn": holder.arn,
                "policy_id": policy.policy_id,
                "policy_arn": policy.arn,
            },
        )
    ]


def remove_boundary(state: AccountState, kind: str, name: str) -> list[Draft]:
    holder = holder_by_name(state, kind, name)
    assert isinstance(holder, (User, Role))
    if holder.boundary is None:
        raise NotFoundError(f"{kind} {name!r} has no permissions boundary", entity=holder.arn)
    return [
        (
            ev.PermissionsBoundaryRemoved,
            {
                "principal_kind": kind,
                "principal_id": holder_id(holder),
                "principal_arn": holder.arn,
            },
        )
    ]


# ---------------------------------------------------------------- buckets


def create_bucket(state: AccountState, name: str, region: str, object_ownership: str, taken: bool) -> list[Draft]:
    require_account(state)
    names.check_bucket_name(name)
    if taken:
        raise EntityAlreadyExistsError(f"bucket name {name!r} is already taken (bucket names are global)", entity=name)
    if object_ownership not in OWNERSHIP_SETTINGS:
        raise ValidationError(f"object ownership must be one of {', '.join(OWNERSHIP_SETTINGS)}")
    return [
        (
            ev.BucketCreated,
            {
                "bucket_name": name,
                "bucket_arn": names.bucket_arn(name),
                "region": region,
                "object_ownership": object_ownership,
            },
        )
    ]


def delete_bucket(state: AccountState, name: str) -> list[Draft]:
    bucket = require_bucket(state, name)
    return [(ev.BucketDeleted, {"bucket_name": bucket.name, "bucket_arn": bucket.arn})]


def put_bucket_policy(state: AccountState, name: str, document: Any) -> list[Draft]:
    bucket = require_bucket(state, name)
    doc = validate_policy(document, "resource")
    return [(ev.BucketPolicyPut, {"bucket_name": bucket.name, "bucket_arn": bucket.arn, "document": doc})]


def delete_bucket_policy(state: AccountState, name: str) -> list[Draft]:
    bucket = require_bucket(state, name)
    if bucket.policy is None:
        raise NotFoundError(f"bucket {name!r} has no bucket policy", entity=bucket.arn)
    return [(ev.BucketPolicyDeleted, {"bucket_name": bucket.name, "bucket_arn": bucket.arn})]


def change_ownership(state: AccountState, name: str, object_ownership: str) -> list[Draft]:
    bucket = require_bucket(state, name)
    if object_ownership not in OWNERSHIP_SETTINGS:
        raise ValidationError(f"object ownership must be one of {', '.join(OWNERSHIP_SETTINGS)}")
    if bucket.object_ownership == object_ownership:
        return []
    return [
        (
            ev.BucketOwnershipChanged,
            {
                "bucket_name": bucket.name,
                "bucket_arn": bucket.arn,
                "object_ownership": object_ownership,
            },
        )
    ]


# ---------------------------------------------------------------- sessions and jobs


def check_session_duration(duration_seconds: int, role: Role, chained: bool, quotas: Quotas) -> None:
    limit = quotas.chained_session_seconds if chained else role.max_session_duration
    if not quotas.min_session_seconds <= duration_seconds <= limit:
        why = (
            "role chaining limits sessions to one hour"
            if chained
            else (f"role {role.name!r} allows at most {role.max_session_duration} seconds")
        )
        raise ValidationError(
            f"session duration {duration_seconds}s is outside {quotas.min_session_seconds}-{limit}s: {why}",
            value=duration_seconds,
        )


def session_expiry(issued_at: datetime, duration_seconds: int) -> datetime:
    return issued_at + timedelta(seconds=duration_seconds)

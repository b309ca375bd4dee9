"""Enforcing mode's rules: which IAM permissions (action, resource, request context) each write
command needs, read off the events the command would record.

Pure tables and functions: they never ask the read side, record a denial or raise one; the
facade does that with what `required_permissions`, `denial` and `access_denied` return.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ledger.domain import events as ev
from ledger.domain.handlers import AWS_ACCOUNT
from ledger.domain.names import PARTITION, is_account_id
from ledger.domain.state import AccountState
from ledger.errors import AccessDeniedError
from ledger.timeaxis import iso

# Which IAM action (and resource) each write command needs in enforcing mode.
# {ACCT} = the target account, {PATH}/{NAME} the entity's path and name, {POLICY} a policy ARN,
# {MGMT} the Organizations management account and {SCP} the SCP's id.
SCP_RESOURCE = "arn:aws:organizations::{MGMT}:policy/*/service_control_policy/{SCP}"
COMMAND_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    "create_account": [("organizations:CreateAccount", "*")],
    "attach_scp": [("organizations:AttachPolicy", SCP_RESOURCE)],
    "detach_scp": [("organizations:DetachPolicy", SCP_RESOURCE)],
    "create_user": [("iam:CreateUser", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "delete_user": [("iam:DeleteUser", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "set_login_profile": [("iam:CreateLoginProfile", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "remove_login_profile": [("iam:DeleteLoginProfile", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "create_access_key": [("iam:CreateAccessKey", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "deactivate_access_key": [("iam:UpdateAccessKey", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "activate_access_key": [("iam:UpdateAccessKey", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "delete_access_key": [("iam:DeleteAccessKey", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "tag_user": [("iam:TagUser", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "tag_role": [("iam:TagRole", "arn:aws:iam::{ACCT}:role{PATH}{NAME}")],
    "create_group": [("iam:CreateGroup", "arn:aws:iam::{ACCT}:group{PATH}{NAME}")],
    "delete_group": [("iam:DeleteGroup", "arn:aws:iam::{ACCT}:group{PATH}{NAME}")],
    "add_user_to_group": [("iam:AddUserToGroup", "arn:aws:iam::{ACCT}:group{PATH}{NAME}")],
    "remove_user_from_group": [("iam:RemoveUserFromGroup", "arn:aws:iam::{ACCT}:group{PATH}{NAME}")],
    "create_role": [("iam:CreateRole", "arn:aws:iam::{ACCT}:role{PATH}{NAME}")],
    "delete_role": [("iam:DeleteRole", "arn:aws:iam::{ACCT}:role{PATH}{NAME}")],
    "update_assume_role_policy": [("iam:UpdateAssumeRolePolicy", "arn:aws:iam::{ACCT}:role{PATH}{NAME}")],
    "create_saml_provider": [("iam:CreateSAMLProvider", "arn:aws:iam::{ACCT}:saml-provider/{NAME}")],
    "create_oidc_provider": [("iam:CreateOpenIDConnectProvider", "arn:aws:iam::{ACCT}:oidc-provider/{NAME}")],
    "delete_identity_provider": [("iam:DeleteSAMLProvider|iam:DeleteOpenIDConnectProvider", "{PROVIDER}")],
    "create_policy": [("iam:CreatePolicy", "arn:aws:iam::{ACCT}:policy{PATH}{NAME}")],
    "delete_policy": [("iam:DeletePolicy", "{POLICY}")],
    "create_policy_version": [("iam:CreatePolicyVersion", "{POLICY}")],
    "delete_policy_version": [("iam:DeletePolicyVersion", "{POLICY}")],
    "set_default_policy_version": [("iam:SetDefaultPolicyVersion", "{POLICY}")],
    "attach_user_policy": [("iam:AttachUserPolicy", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "attach_group_policy": [("iam:AttachGroupPolicy", "arn:aws:iam::{ACCT}:group{PATH}{NAME}")],
    "attach_role_policy": [("iam:AttachRolePolicy", "arn:aws:iam::{ACCT}:role{PATH}{NAME}")],
    "detach_user_policy": [("iam:DetachUserPolicy", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "detach_group_policy": [("iam:DetachGroupPolicy", "arn:aws:iam::{ACCT}:group{PATH}{NAME}")],
    "detach_role_policy": [("iam:DetachRolePolicy", "arn:aws:iam::{ACCT}:role{PATH}{NAME}")],
    "put_user_policy": [("iam:PutUserPolicy", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "put_group_policy": [("iam:PutGroupPolicy", "arn:aws:iam::{ACCT}:group{PATH}{NAME}")],
    "put_role_policy": [("iam:PutRolePolicy", "arn:aws:iam::{ACCT}:role{PATH}{NAME}")],
    "delete_user_policy": [("iam:DeleteUserPolicy", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "delete_group_policy": [("iam:DeleteGroupPolicy", "arn:aws:iam::{ACCT}:group{PATH}{NAME}")],
    "delete_role_policy": [("iam:DeleteRolePolicy", "arn:aws:iam::{ACCT}:role{PATH}{NAME}")],
    "put_user_permissions_boundary": [("iam:PutUserPermissionsBoundary", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "put_role_permissions_boundary": [("iam:PutRolePermissionsBoundary", "arn:aws:iam::{ACCT}:role{PATH}{NAME}")],
    "delete_user_permissions_boundary": [("iam:DeleteUserPermissionsBoundary", "arn:aws:iam::{ACCT}:user{PATH}{NAME}")],
    "delete_role_permissions_boundary": [("iam:DeleteRolePermissionsBoundary", "arn:aws:iam::{ACCT}:role{PATH}{NAME}")],
    "create_bucket": [("s3:CreateBucket", "arn:aws:s3:::{NAME}")],
    "delete_bucket": [("s3:DeleteBucket", "arn:aws:s3:::{NAME}")],
    "put_bucket_policy": [("s3:PutBucketPolicy", "arn:aws:s3:::{NAME}")],
    "delete_bucket_policy": [("s3:DeleteBucketPolicy", "arn:aws:s3:::{NAME}")],
    "put_bucket_ownership_controls": [("s3:PutBucketOwnershipControls", "arn:aws:s3:::{NAME}")],
    "assume_role": [("sts:AssumeRole", "{ROLE}")],  # identity side; the trust policy is the resource side
    "revoke_role_sessions": [("iam:PutRolePolicy", "arn:aws:iam::{ACCT}:role{PATH}{NAME}")],
    "get_federation_token": [("sts:GetFederationToken", "arn:aws:sts::{ACCT}:federated-user/{NAME}")],
    "create_job": [
        ("mediaconvert:CreateJob", "arn:aws:mediaconvert:{REGION}:{ACCT}:queues/{QUEUE}"),
        ("iam:PassRole", "{ROLE}"),
    ],
    "write_output": [("s3:PutObject", "arn:aws:s3:::{BUCKET}/{KEY}")],  # checked for the writer session
}

# The request context each command's permission is asked with: command -> action -> the rules
# that build its keys, following the condition keys the Service Authorization Reference lists for
# that action ("Actions, resources, and condition keys for AWS Identity and Access Management",
# "... for AWS Organizations", "... for Amazon S3", "... for AWS STS", "... for AWS Elemental
# MediaConvert"). Every permission also gets aws:CurrentTime and aws:EpochTime (global keys) of
# the moment it is authorised. A key no rule supplies is absent from the request: a condition on
# it is evaluated as AWS evaluates a missing key (never as unknown-and-therefore-allowed).
Rule = Callable[[Mapping[str, Any], "Target"], dict[str, Any]]


@dataclass(frozen=True)
class Target:
    """What the write-side state says about a permission's resource now: its tags and, for a user
    or role, the ARN of its permissions boundary (nothing for other resources)."""

    tags: Mapping[str, str] = field(default_factory=dict)
    boundary: str | None = None


NO_TARGET = Target()


def _resource_tags(fields: Mapping[str, Any], target: Target) -> dict[str, Any]:
    """aws:ResourceTag/${TagKey} and iam:ResourceTag/${TagKey} of the user or role acted on."""
    keys: dict[str, Any] = {}
    for key, value in target.tags.items():
        keys[f"aws:ResourceTag/{key}"] = value
        keys[f"iam:ResourceTag/{key}"] = value
    return keys


def _request_tags(fields: Mapping[str, Any], target: Target) -> dict[str, Any]:
    """aws:RequestTag/${TagKey} and aws:TagKeys of the tags the request carries (absent without)."""
    tags = fields.get("tags") or {}
    keys: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    if tags:
        keys["aws:TagKeys"] = list(tags)
    return keys


def _policy_arn(fields: Mapping[str, Any], target: Target) -> dict[str, Any]:
    """iam:PolicyARN: the managed policy being attached or detached."""
    return {"iam:PolicyARN": fields["policy_arn"]}


def _boundary_in_place(fields: Mapping[str, Any], target: Target) -> dict[str, Any]:
    """iam:PermissionsBoundary: the boundary the user or role has now (absent without one)."""
    return {"iam:PermissionsBoundary": target.boundary} if target.boundary else {}


def _boundary_being_set(fields: Mapping[str, Any], target: Target) -> dict[str, Any]:
    """iam:PermissionsBoundary of Put*PermissionsBoundary: the policy being set as boundary."""
    return {"iam:PermissionsBoundary": fields["policy_arn"]}


def _passed_to_mediaconvert(fields: Mapping[str, Any], target: Target) -> dict[str, Any]:
    """iam:PassedToService and iam:AssociatedResourceArn (the job the role is passed for)."""
    return {"iam:PassedToService": "mediaconvert.amazonaws.com", "iam:AssociatedResourceArn": fields["job_arn"]}


def _requested_region(fields: Mapping[str, Any], target: Target) -> dict[str, Any]:
    return {"aws:RequestedRegion": fields["region"]}


def _bucket_creation(fields: Mapping[str, Any], target: Target) -> dict[str, Any]:
    """s3:LocationConstraint and s3:x-amz-object-ownership of CreateBucket."""
    return {"s3:LocationConstraint": fields["region"], "s3:x-amz-object-ownership": fields["object_ownership"]}


def _object_acl(fields: Mapping[str, Any], target: Target) -> dict[str, Any]:
    return {"s3:x-amz-acl": fields["acl"]} if fields.get("acl") else {}


def _role_session(fields: Mapping[str, Any], target: Target) -> dict[str, Any]:
    """sts:RoleSessionName and sts:SourceIdentity of AssumeRole (the latter only when set)."""
    keys: dict[str, Any] = {"sts:RoleSessionName": fields["session_name"]}
    if fields.get("source_identity"):
        keys["sts:SourceIdentity"] = fields["source_identity"]
    return keys


def _scp_type(fields: Mapping[str, Any], target: Target) -> dict[str, Any]:
    """organizations:PolicyType of AttachPolicy/DetachPolicy."""
    return {"organizations:PolicyType": "SERVICE_CONTROL_POLICY"}


_ON_USER_OR_ROLE = (_resource_tags,)
_BOUNDARY_GUARDED = (_resource_tags, _boundary_in_place)
COMMAND_CONTEXT: dict[str, dict[str, tuple[Rule, ...]]] = {
    "attach_scp": {"organizations:AttachPolicy": (_scp_type,)},
    "detach_scp": {"organizations:DetachPolicy": (_scp_type,)},
    "create_user": {"iam:CreateUser": (_request_tags,)},
    "delete_user": {"iam:DeleteUser": _ON_USER_OR_ROLE},
    "set_login_profile": {"iam:CreateLoginProfile": _ON_USER_OR_ROLE},
    "remove_login_profile": {"iam:DeleteLoginProfile": _ON_USER_OR_ROLE},
    "create_access_key": {"iam:CreateAccessKey": _ON_USER_OR_ROLE},
    "deactivate_access_key": {"iam:UpdateAccessKey": _ON_USER_OR_ROLE},
    "activate_access_key": {"iam:UpdateAccessKey": _ON_USER_OR_ROLE},
    "delete_access_key": {"iam:DeleteAccessKey": _ON_USER_OR_ROLE},
    "tag_user": {"iam:TagUser": (_resource_tags, _request_tags)},
    "tag_role": {"iam:TagRole": (_resource_tags, _request_tags)},
    "add_user_to_group": {},  # the resource is the group: groups carry no tags
    "create_role": {"iam:CreateRole": (_request_tags,)},
    "delete_role": {"iam:DeleteRole": _BOUNDARY_GUARDED},
    "update_assume_role_policy": {"iam:UpdateAssumeRolePolicy": _ON_USER_OR_ROLE},
    "attach_user_policy": {"iam:AttachUserPolicy": (_policy_arn, *_BOUNDARY_GUARDED)},
    "attach_group_policy": {"iam:AttachGroupPolicy": (_policy_arn,)},
    "attach_role_policy": {"iam:AttachRolePolicy": (_policy_arn, *_BOUNDARY_GUARDED)},
    "detach_user_policy": {"iam:DetachUserPolicy": (_policy_arn, *_BOUNDARY_GUARDED)},
    "detach_group_policy": {"iam:DetachGroupPolicy": (_policy_arn,)},
    "detach_role_policy": {"iam:DetachRolePolicy": (_policy_arn, *_BOUNDARY_GUARDED)},
    "put_user_policy": {"iam:PutUserPolicy": _BOUNDARY_GUARDED},
    "put_role_policy": {"iam:PutRolePolicy": _BOUNDARY_GUARDED},
    "delete_user_policy": {"iam:DeleteUserPolicy": _BOUNDARY_GUARDED},
    "delete_role_policy": {"iam:DeleteRolePolicy": _BOUNDARY_GUARDED},
    "put_user_permissions_boundary": {"iam:PutUserPermissionsBoundary": (_resource_tags, _boundary_being_set)},
    "put_role_permissions_boundary": {"iam:PutRolePermissionsBoundary": (_resource_tags, _boundary_being_set)},
    "delete_user_permissions_boundary": {"iam:DeleteUserPermissionsBoundary": _BOUNDARY_GUARDED},
    "delete_role_permissions_boundary": {"iam:DeleteRolePermissionsBoundary": _BOUNDARY_GUARDED},
    "create_bucket": {"s3:CreateBucket": (_bucket_creation,)},
    "assume_role": {"sts:AssumeRole": (_resource_tags, _role_session)},
    "revoke_role_sessions": {"iam:PutRolePolicy": _BOUNDARY_GUARDED},
    "create_job": {
        "mediaconvert:CreateJob": (_requested_region,),
        "iam:PassRole": (_resource_tags, _passed_to_mediaconvert),
    },
    "write_output": {"s3:PutObject": (_object_acl,)},
}

# Account bootstrap is outside the model (the ledger keeps no organisation tree: an account is
# recorded, not created); AWS-managed policies belong to AWS.
OUTSIDE_IAM = frozenset({"create_account", "register_aws_managed_policy"})
# Commands AWS Organizations decides: asked of the organisation's management account.
ORGANIZATIONS = frozenset({"attach_scp", "detach_scp"})

# A command's `at` may differ from the clock by this much without being a backfill: AWS itself
# refuses a signed request more than 5 minutes from its own clock (SigV4 "RequestTimeTooSkewed").
BACKFILL_TOLERANCE = timedelta(minutes=5)
# The ledger's own permission to record a command at another time than now (see `backfill`).
BACKFILL_ACTION = "ledger:Backfill"
BACKFILL_RESOURCE = "arn:aws:ledger::{ACCT}:backfill"


@dataclass(frozen=True)
class Permission:
    """One authorisation a command needs: may the actor perform `action` on `resource` with
    this request `context`?"""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)


def time_keys(now: datetime) -> dict[str, Any]:
    """aws:CurrentTime and aws:EpochTime of the moment a request is authorised."""
    return {"aws:CurrentTime": str(iso(now)), "aws:EpochTime": str(int(now.timestamp()))}


def target_in(state_of: Callable[[str], AccountState], resource: str) -> Target:
    """The tags and boundary the write-side state holds now for the user or role `resource`
    names (exactly: partition, account, path and name); `NO_TARGET` for anything else."""
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "iam"] or not is_account_id(parts[4]):
        return NO_TARGET
    kind, _, rest = parts[5].partition("/")
    if kind not in ("user", "role") or not rest:
        return NO_TARGET
    state = state_of(parts[4])
    name = rest.rsplit("/", 1)[-1]
    entity = state.user_by_name(name) if kind == "user" else state.role_by_name(name)
    if entity is None or entity.arn != resource:
        return NO_TARGET
    return Target(dict(entity.tags), entity.boundary)


def partition_refusal(actor: str) -> str | None:
    """Why an actor from another partition cannot act here: `arn:aws-cn:iam::A:root` is not the
    root user of the `aws` account A (partitions are part of identity)."""
    if actor.startswith("arn:") and not actor.startswith(f"arn:{PARTITION}:"):
        return f"the actor is not in the {PARTITION} partition, which every principal of this ledger is in"
    return None


def required_permissions(
    command: str,
    events: Sequence[ev.LedgerEvent],
    *,
    now: datetime | None = None,
    target: Callable[[str], Target] = lambda resource: NO_TARGET,
    management_account: str | None = None,
) -> list[Permission]:
    """The permissions `command` needs, in the order to check them, given the events it would
    record (the first one names the target), each with its full request context (with the time
    keys of `now`); `target` looks up the state of a resource. None for commands decided
    outside IAM."""
    required = COMMAND_PERMISSIONS.get(command)
    if not required or not events or command in OUTSIDE_IAM or events[0].account_id == AWS_ACCOUNT:
        return []
    fields = events[0].model_dump()
    if command in ORGANIZATIONS:
        fields["management_account"] = management_account or ""
    rules = COMMAND_CONTEXT.get(command, {})
    permissions = []
    for action_spec, template in required:
        resource = required_resource(template, fields)
        action = action_spec.split("|")[1 if "oidc-provider" in resource else 0]
        context = time_keys(now) if now is not None else {}
        found = target(resource)
        for rule in rules.get(action, ()):
            context.update(rule(fields, found))
        permissions.append(Permission(action, resource, context))
    return permissions


def required_resource(template: str, fields: Mapping[str, Any]) -> str:
    """The ARN a command's permission applies to, taken from the event the command would record."""
    if "{MGMT}" in template:
        return template.replace("{MGMT}", str(fields["management_account"])).replace("{SCP}", str(fields["scp_id"]))
    for placeholder, field_name in (
        ("{POLICY}", "policy_arn"),
        ("{ROLE}", "role_arn"),
        ("{PROVIDER}", "provider_arn"),
    ):
        if placeholder in template:
            return str(fields[field_name])
    for marker, field_names in (
        (":user", ("user_arn", "principal_arn")),
        (":group", ("group_arn", "principal_arn")),
        (":role", ("role_arn", "principal_arn")),
        (":policy", ("policy_arn",)),
        ("{BUCKET}/{KEY}", ("object_arn",)),
        ("s3:::", ("bucket_arn",)),
        ("queues/", ("queue_arn",)),
        ("federated-user/", ("federated_user_arn",)),
        ("-provider/", ("provider_arn",)),
    ):
        if marker in template:
            for name in field_names:
                if fields.get(name):
                    return str(fields[name])
    return "*"


def backfill(event: ev.LedgerEvent, now: datetime) -> Permission | None:
    """The permission to record `event` at its `occurred_at` when that is more than
    `BACKFILL_TOLERANCE` from `now` (back- or future-dated), else None. Its context carries
    `ledger:OccurredAt`, so a policy can bound how far from now an actor may record."""
    if abs(event.occurred_at - now) <= BACKFILL_TOLERANCE:
        return None
    resource = BACKFILL_RESOURCE.replace("{ACCT}", event.account_id)
    return Permission(BACKFILL_ACTION, resource, {**time_keys(now), "ledger:OccurredAt": iso(event.occurred_at)})


def denial(
    target: ev.LedgerEvent, actor: str, refused: Permission, reason: str, recorded_at: datetime
) -> ev.CommandDenied:
    """The one fact a refused command records, in the stream of the account it targeted."""
    return ev.CommandDenied(
        originator_id=target.originator_id,
        originator_version=0,
        occurred_at=target.occurred_at,
        recorded_at=recorded_at,
        actor=actor,
        source="api",
        account_id=target.account_id,
        action=refused.action,
        resource=refused.resource,
        reason=reason,
    )


def access_denied(actor: str, refused: Permission, reason: str) -> AccessDeniedError:
    return AccessDeniedError(
        f"{actor} is not authorized to perform {refused.action} on {refused.resource} ({reason})",
        actor=actor,
        action=refused.action,
        resource=refused.resource,
        decision=reason,
    )

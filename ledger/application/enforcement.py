"""Enforcing mode's rules: which IAM permissions (action, resource, request context) each write
command needs, read off the events the command would record.

Pure tables and functions: they never ask the read side, record a denial or raise one; the
facade does that with what `required_permissions`, `denial` and `access_denied` return.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.domain import events as ev
from ledger.domain.handlers import AWS_ACCOUNT
from ledger.errors import AccessDeniedError

# Which IAM action (and resource) each write command needs in enforcing mode.
# {ACCT} = the target account, {PATH}/{NAME} the entity's path and name, {POLICY} a policy ARN.
COMMAND_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    "create_account": [("organizations:CreateAccount", "*")],
    "attach_scp": [("organizations:AttachPolicy", "*")],
    "detach_scp": [("organizations:DetachPolicy", "*")],
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

# The request context a command's permission is asked with: command -> action -> the context
# keys, built from the fields of the event the command would record. Absent means no keys.
ContextRule = Callable[[Mapping[str, Any]], dict[str, Any]]
COMMAND_CONTEXT: dict[str, dict[str, ContextRule]] = {
    "create_job": {"iam:PassRole": lambda fields: {"iam:PassedToService": "mediaconvert.amazonaws.com"}},
    "write_output": {"s3:PutObject": lambda fields: {"s3:x-amz-acl": fields["acl"]} if fields.get("acl") else {}},
}

# Account bootstrap and organisation SCPs are decided by AWS Organizations' management account,
# which the ledger does not model; AWS-managed policies belong to AWS.
OUTSIDE_IAM = frozenset({"create_account", "attach_scp", "detach_scp", "register_aws_managed_policy"})


@dataclass(frozen=True)
class Permission:
    """One authorisation a command needs: may the actor perform `action` on `resource`?"""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)


def required_permissions(command: str, events: Sequence[ev.LedgerEvent]) -> list[Permission]:
    """The permissions `command` needs, in the order to check them, given the events it would
    record (the first one names the target); none for commands decided outside IAM."""
    required = COMMAND_PERMISSIONS.get(command)
    if not required or not events or command in OUTSIDE_IAM or events[0].account_id == AWS_ACCOUNT:
        return []
    fields = events[0].model_dump()
    context_rules = COMMAND_CONTEXT.get(command, {})
    permissions = []
    for action_spec, template in required:
        resource = required_resource(template, fields)
        action = action_spec.split("|")[1 if "oidc-provider" in resource else 0]
        rule = context_rules.get(action)
        permissions.append(Permission(action, resource, rule(fields) if rule else {}))
    return permissions


def required_resource(template: str, fields: Mapping[str, Any]) -> str:
    """The ARN a command's permission applies to, taken from the event the command would record."""
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

"""Audit queries mixed into `Ledger`: point-in-time `can`, `who_can`, `timeline`, ownership...

The read side (temporal projection tables, migrated by Alembic) is created lazily on first use;
on every query it first catches up with the log, so a caller always reads its own writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from projections.assemble import AuditDecision
    from projections.queries import ReadSide
    from projections.results import (
        DiffResult,
        LineageResult,
        OwnerResult,
        TimelineResult,
        WhatCanResult,
        WhoCanResult,
    )
    from projections.runner import ProjectionProgress

Time = datetime | str | None

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
        ("iam:PassRole", "{ROLE}"),  # with context iam:PassedToService = mediaconvert.amazonaws.com
    ],
    "write_output": [("s3:PutObject", "arn:aws:s3:::{BUCKET}/{KEY}")],  # checked for the writer session
}


class AuditQueries:
    """Point-in-time audit queries; `at` is valid time (datetime, ISO-8601 or "@POSITION" = the
    occurred_at of that event), `known_at="@P"` restricts to what was recorded by position P."""

    store: Any
    _read_side_instance: ReadSide | None = None

    def read_side(self) -> ReadSide:
        """The lazily created read side (migrates its tables on first use)."""
        rs = self.__dict__.get("_read_side_instance")
        if rs is None:
            from projections.queries import ReadSide

            rs = ReadSide(self.store)
            self.__dict__["_read_side_instance"] = rs
        return rs

    def can(self, principal: str, action: str, resource: str, context: dict[str, Any] | None = None,
            at: Time = None, known_at: str | int | None = None) -> AuditDecision:
        """Could `principal` perform `action` on `resource` at `at`? The engine's decision with
        MatchedStatements whose Origin names the events that put each policy in place."""
        return self.read_side().can(principal, action, resource, context, at, known_at)

    def authorize(self, actor_arn: str, action: str, resource: str,
                  context: dict[str, Any] | None = None) -> AuditDecision:
        """Enforcing mode: decide for the actor against the state as of now (after catching up)."""
        return self.read_side().authorize(actor_arn, action, resource, context)

    def who_can(self, action: str, resource: str, at: Time = None, paths: bool = False,
                max_depth: int = 3, context: dict[str, Any] | None = None,
                known_at: str | int | None = None) -> WhoCanResult:
        """Every user, role and account root allowed (conditional ones with missing keys);
        with `paths`, also those reaching it through role chains or PassRole to MediaConvert."""
        return self.read_side().who_can(action, resource, at, paths, max_depth, context, known_at)

    def what_can(self, principal: str, at: Time = None, known_at: str | int | None = None) -> WhatCanResult:
        return self.read_side().what_can(principal, at, known_at)

    def timeline(self, principal: str, action: str, resource: str, start: Time = None, end: Time = None,
                 context: dict[str, Any] | None = None, known_at: str | int | None = None) -> TimelineResult:
        return self.read_side().timeline(principal, action, resource, start, end, context, known_at)

    def diff(self, t1: datetime | str, t2: datetime | str, principals: Any = None, pairs: Any = None,
             known_at: str | int | None = None) -> DiffResult:
        return self.read_side().diff(t1, t2, principals, pairs, known_at)

    def owner_of(self, resource: str, at: Time = None, known_at: str | int | None = None) -> OwnerResult:
        return self.read_side().owner_of(resource, at, known_at)

    def lineage(self, object_arn: str, at: Time = None, known_at: str | int | None = None) -> LineageResult:
        return self.read_side().lineage(object_arn, at, known_at)

    def project(self, progress: ProjectionProgress | None = None) -> int:
        """Catch the read side up with the log; returns the number of events folded."""
        return self.read_side().catch_up(progress)

    def rebuild(self, progress: ProjectionProgress | None = None) -> int:
        """Drop and rebuild the read side from the whole log."""
        return self.read_side().rebuild(progress)

"""Enforcing mode: when the ledger is the system of record, each command is authorised for its
actor against the state it changes, with the request context IAM sends for that action; a denied
command records only `CommandDenied`, and no caller parameter gets around it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger import Ledger
from ledger.application.enforcement import COMMAND_CONTEXT, COMMAND_PERMISSIONS
from ledger.errors import AccessDeniedError, InvalidArnError

A = "111122223333"
B = "444455556666"
MGMT = "999988887777"
IAM_ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}
TRUST_MC = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "mediaconvert.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
ROOT = f"arn:aws:iam::{A}:root"
ADMIN = f"arn:aws:iam::{A}:user/admin"
ALICE = f"arn:aws:iam::{A}:user/alice"
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str, resource: str = "*", condition: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **({"Condition": condition} if condition else {})}


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    with Ledger.open(store_url, enforcing=True, management_account=MGMT) as opened:
        opened.create_account(A, "alpha")
        opened.create_user(A, "admin")  # the root user needs no grant
        opened.put_user_policy(A, "admin", "iam-admin", IAM_ADMIN)
        opened.create_user(A, "alice", actor=ADMIN)
        yield opened


def event_types(ledger: Ledger) -> list[str]:
    return [e.event_type for e in ledger.events()]


def refused(ledger: Ledger, command: Any, *args: Any, **kwargs: Any) -> AccessDeniedError:
    """Run a command that must be refused; the log gains exactly one CommandDenied."""
    before = event_types(ledger)
    with pytest.raises(AccessDeniedError) as denied:
        command(*args, **kwargs)
    assert [*before, "CommandDenied"] == event_types(ledger)
    return denied.value


class TestEnforcingMode:
    def test_an_administrator_with_iam_permissions_may_create_users(self, ledger: Ledger) -> None:
        """An actor allowed iam:CreateUser on the target records the command."""
        recorded = ledger.create_user(A, "bob", actor=ADMIN)
        assert ["UserCreated"] == [e.event_type for e in recorded]

    def test_a_denied_command_records_only_command_denied(self, ledger: Ledger) -> None:
        """A user without iam:CreateUser is refused; the log gains just the CommandDenied fact."""
        denied = refused(ledger, ledger.create_user, A, "mallory", actor=ALICE)
        assert "iam:CreateUser" == denied.details["action"]
        assert ledger.account_state(A).user_by_name("mallory") is None

    def test_revoking_a_grant_changes_answers_from_that_moment_on(self, ledger: Ledger) -> None:
        """After the admin's policy is deleted, its next command is denied."""
        ledger.create_user(A, "bob", actor=ADMIN)
        ledger.delete_user_policy(A, "admin", "iam-admin")
        refused(ledger, ledger.create_user, A, "carol", actor=ADMIN)

    def test_create_job_needs_create_job_and_pass_role_to_mediaconvert(self, ledger: Ledger) -> None:
        """CreateJob alone is not enough: the creator must also pass the role to MediaConvert."""
        role = f"arn:aws:iam::{A}:role/MC"
        ledger.create_role(A, "MC", TRUST_MC, actor=ADMIN)
        ledger.put_user_policy(A, "alice", "jobs", doc(allow("mediaconvert:CreateJob")), actor=ADMIN)
        denied = refused(ledger, ledger.create_job, A, ALICE, role, outputs=["s3://out/"])
        assert "iam:PassRole" == denied.details["action"]
        ledger.put_user_policy(A, "alice", "pass", doc(allow("iam:PassRole", role, {
            "StringEquals": {"iam:PassedToService": "mediaconvert.amazonaws.com"},
            "StringLike": {"iam:AssociatedResourceArn": f"arn:aws:mediaconvert:us-east-1:{A}:jobs/*"}})),
            actor=ADMIN)
        job = ledger.create_job(A, ALICE, role, outputs=["s3://out/"])
        assert ["JobCreated"] == [e.event_type for e in job]

    def test_the_root_user_may_do_anything_in_its_account(self, ledger: Ledger) -> None:
        """The account's root user needs no policy."""
        recorded = ledger.create_group(A, "editors", actor=ROOT)
        assert "GroupCreated" == recorded[0].event_type

    def test_another_accounts_root_may_not_change_this_account(self, ledger: Ledger) -> None:
        """Root of a different account has no authority here."""
        ledger.create_account(B, "beta")
        refused(ledger, ledger.create_group, A, "editors", actor=f"arn:aws:iam::{B}:root")


class TestRequestContext:
    """The keys IAM sends with each request are supplied, so conditions on them hold or fail as
    in AWS (Service Authorization Reference, condition keys of each action)."""

    def test_a_deny_on_the_policy_arn_stops_attaching_administrator_access_to_oneself(self, ledger: Ledger) -> None:
        """AttachUserPolicy carries iam:PolicyARN: "Filters access based on the ARN of an IAM policy"."""
        ledger.register_aws_managed_policy("AdministratorAccess", doc(allow("*")))
        ledger.register_aws_managed_policy("ReadOnlyAccess", doc(allow("s3:Get*")))
        ledger.put_user_policy(A, "alice", "self", doc(
            allow("iam:AttachUserPolicy", ALICE),
            {"Effect": "Deny", "Action": "iam:AttachUserPolicy", "Resource": "*",
             "Condition": {"ArnEquals": {"iam:PolicyARN": ADMINISTRATOR_ACCESS}}}), actor=ADMIN)
        denied = refused(ledger, ledger.attach_user_policy, A, "alice", ADMINISTRATOR_ACCESS, actor=ALICE)
        assert ("iam:AttachUserPolicy", "explicitDeny") == (denied.details["action"], denied.details["decision"])
        assert ["PolicyAttached"] == [e.event_type for e in
                                      ledger.attach_user_policy(A, "alice", READ_ONLY, actor=ALICE)]

    def test_a_resource_tag_condition_protects_a_tagged_user(self, ledger: Ledger) -> None:
        """CreateAccessKey on a user carries aws:ResourceTag/${TagKey} of that user."""
        ledger.create_user(A, "vip", actor=ADMIN)
        ledger.create_user(A, "intern", actor=ADMIN)
        ledger.tag_user(A, "vip", {"protected": "true"}, actor=ADMIN)
        ledger.put_user_policy(A, "alice", "keys", doc(allow("iam:CreateAccessKey", "*", {
            "StringNotEquals": {"aws:ResourceTag/protected": "true"}})), actor=ADMIN)
        refused(ledger, ledger.create_access_key, A, "vip", actor=ALICE)
        assert ["AccessKeyCreated"] == [e.event_type for e in ledger.create_access_key(A, "intern", actor=ALICE)]

    def test_iam_resource_tag_is_supplied_as_well(self, ledger: Ledger) -> None:
        """IAM users and roles carry iam:ResourceTag/${TagKey} next to aws:ResourceTag."""
        ledger.create_user(A, "vip", actor=ADMIN)
        ledger.tag_user(A, "vip", {"protected": "true"}, actor=ADMIN)
        ledger.put_user_policy(A, "alice", "keys", doc(allow("iam:CreateAccessKey", "*", {
            "StringEquals": {"iam:ResourceTag/protected": "true"}})), actor=ADMIN)
        assert ["AccessKeyCreated"] == [e.event_type for e in ledger.create_access_key(A, "vip", actor=ALICE)]

    def test_request_tags_and_tag_keys_limit_what_may_be_tagged(self, ledger: Ledger) -> None:
        """TagUser carries aws:RequestTag/${TagKey} and aws:TagKeys of the tags in the request."""
        ledger.put_user_policy(A, "alice", "tags", doc(allow("iam:TagUser", "*", {
            "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]},
            "StringEquals": {"aws:RequestTag/team": "media"}})), actor=ADMIN)
        assert ["PrincipalTagged"] == [e.event_type for e in ledger.tag_user(A, "alice", {"team": "media"}, actor=ALICE)]
        refused(ledger, ledger.tag_user, A, "alice", {"team": "finance"}, actor=ALICE)
        refused(ledger, ledger.tag_user, A, "alice", {"admin": "yes"}, actor=ALICE)

    def test_a_boundary_condition_names_the_boundary_being_set(self, ledger: Ledger) -> None:
        """PutUserPermissionsBoundary carries iam:PermissionsBoundary, the policy being set."""
        ledger.create_policy(A, "Fence", doc(allow("s3:*")), actor=ADMIN)
        ledger.create_policy(A, "Open", doc(allow("*")), actor=ADMIN)
        fence = f"arn:aws:iam::{A}:policy/Fence"
        ledger.put_user_policy(A, "alice", "bounds", doc(allow("iam:PutUserPermissionsBoundary", "*", {
            "StringEquals": {"iam:PermissionsBoundary": fence}})), actor=ADMIN)
        refused(ledger, ledger.put_user_permissions_boundary, A, "alice", f"arn:aws:iam::{A}:policy/Open", actor=ALICE)
        recorded = ledger.put_user_permissions_boundary(A, "alice", fence, actor=ALICE)
        assert ["PermissionsBoundarySet"] == [e.event_type for e in recorded]

    def test_a_boundary_in_place_is_the_context_of_a_put_user_policy(self, ledger: Ledger) -> None:
        """PutUserPolicy carries iam:PermissionsBoundary, the boundary the user has now."""
        ledger.create_policy(A, "Fence", doc(allow("s3:*")), actor=ADMIN)
        fence = f"arn:aws:iam::{A}:policy/Fence"
        ledger.create_user(A, "bob", actor=ADMIN)
        ledger.put_user_permissions_boundary(A, "bob", fence, actor=ADMIN)
        ledger.put_user_policy(A, "alice", "inline", doc(allow("iam:PutUserPolicy", "*", {
            "StringEquals": {"iam:PermissionsBoundary": fence}})), actor=ADMIN)
        assert ["InlinePolicyPut"] == [e.event_type for e in
                                       ledger.put_user_policy(A, "bob", "p", doc(allow("s3:GetObject")), actor=ALICE)]
        refused(ledger, ledger.put_user_policy, A, "alice", "p", doc(allow("*")), actor=ALICE)

    def test_the_current_time_is_the_time_of_the_command(self, ledger: Ledger) -> None:
        """aws:CurrentTime is supplied: a grant that expired in 2020 grants nothing now."""
        ledger.put_user_policy(A, "alice", "old", doc(allow("iam:CreateGroup", "*", {
            "DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})), actor=ADMIN)
        refused(ledger, ledger.create_group, A, "g1", actor=ALICE)

    def test_a_key_the_table_does_not_supply_is_missing_not_allowed(self, ledger: Ledger) -> None:
        """A condition on a key no command supplies (here MFA) is evaluated as absent: an Allow
        needing it does not apply; it is never treated as unknown-and-so-allowed."""
        ledger.put_user_policy(A, "alice", "mfa", doc(allow("iam:CreateGroup", "*", {
            "Bool": {"aws:MultiFactorAuthPresent": "true"}})), actor=ADMIN)
        denied = refused(ledger, ledger.create_group, A, "g1", actor=ALICE)
        assert "implicitDeny" == denied.details["decision"]

    def test_every_context_rule_belongs_to_a_permission_its_command_needs(self) -> None:
        """The context table names only commands and actions of the permissions table."""
        stray = [(command, action) for command, actions in COMMAND_CONTEXT.items() for action in actions
                 if action not in {a for spec, _ in COMMAND_PERMISSIONS.get(command, []) for a in spec.split("|")}]
        assert [] == stray


class TestNoParameterBypassesIt:
    def test_a_back_dated_command_needs_the_backfill_permission(self, ledger: Ledger) -> None:
        """An administrator allowed iam:* but not ledger:Backfill cannot record last year."""
        a_year_ago = datetime.now(UTC) - timedelta(days=365)
        denied = refused(ledger, ledger.create_user, A, "bob", actor=ADMIN, at=a_year_ago)
        assert "ledger:Backfill" == denied.details["action"]

    def test_a_future_dated_command_needs_the_backfill_permission(self, ledger: Ledger) -> None:
        """A command dated a day ahead is a backfill too."""
        refused(ledger, ledger.create_user, A, "bob", actor=ADMIN, at=datetime.now(UTC) + timedelta(days=1))

    def test_a_command_dated_within_clock_skew_is_not_a_backfill(self, ledger: Ledger) -> None:
        """A minute from now is within the five minutes AWS itself tolerates."""
        recorded = ledger.create_user(A, "bob", actor=ADMIN, at=datetime.now(UTC) - timedelta(minutes=1))
        assert ["UserCreated"] == [e.event_type for e in recorded]

    def test_an_actor_allowed_to_backfill_may_record_the_past(self, ledger: Ledger) -> None:
        """ledger:Backfill on the account, with ledger:OccurredAt bounding how far back."""
        ledger.put_user_policy(A, "admin", "backfill", doc(allow("ledger:Backfill", f"arn:aws:ledger::{A}:backfill", {
            "DateGreaterThan": {"ledger:OccurredAt": "2020-01-01T00:00:00Z"}})))
        recorded = ledger.create_user(A, "bob", actor=ADMIN, at="2024-01-02T00:00:00Z")
        assert ["UserCreated"] == [e.event_type for e in recorded]
        refused(ledger, ledger.create_user, A, "carol", actor=ADMIN, at="2019-01-02T00:00:00Z")

    def test_a_back_dated_command_is_authorised_against_the_state_it_changes(self, ledger: Ledger) -> None:
        """A grant revoked now cannot be used by dating a command back to when it was in force:
        the command changes today's state, so today's grants decide."""
        now = datetime.now(UTC)
        ledger.create_user(A, "ops", at=now - timedelta(days=90))
        ledger.put_user_policy(A, "ops", "iam", IAM_ADMIN, at=now - timedelta(days=60))
        ledger.put_user_policy(A, "ops", "backfill", doc(allow("ledger:Backfill")), at=now - timedelta(days=60))
        ledger.delete_user_policy(A, "ops", "iam")
        denied = refused(ledger, ledger.create_user, A, "bob", actor=f"arn:aws:iam::{A}:user/ops",
                         at=now - timedelta(days=30))
        assert "iam:CreateUser" == denied.details["action"]

    def test_a_cloudtrail_source_does_not_skip_authorisation(self, ledger: Ledger) -> None:
        """`source='cloudtrail'` on a command is authorised like any other command."""
        refused(ledger, ledger.create_user, A, "mallory", actor=ALICE, source="cloudtrail", source_id="evt-1")

    def test_another_partitions_root_is_not_this_accounts_root(self, ledger: Ledger) -> None:
        """arn:aws-cn:iam::A:root is a different principal from arn:aws:iam::A:root."""
        denied = refused(ledger, ledger.create_group, A, "editors", actor=f"arn:aws-cn:iam::{A}:root")
        assert "partition" in denied.details["decision"]

    def test_another_partitions_caller_cannot_assume_a_role(self, ledger: Ledger) -> None:
        """A caller ARN of aws-cn is rejected before any state is read."""
        ledger.create_role(A, "R", TRUST_MC)
        with pytest.raises(InvalidArnError, match="partition"):
            ledger.assume_role(f"arn:aws-cn:iam::{A}:root", f"arn:aws:iam::{A}:role/R", "s1")


class TestServiceControlPolicies:
    SCP = doc({"Effect": "Deny", "Action": "s3:*", "Resource": "*"})

    def test_without_a_management_account_no_one_may_attach_an_scp(self, store_url: str) -> None:
        """Fail closed: with no management account configured, even the member's root is refused."""
        with Ledger.open(store_url, enforcing=True) as ledger:
            ledger.create_account(A, "alpha")
            refused(ledger, ledger.attach_scp, A, "deny-s3", self.SCP, actor=ROOT)

    def test_a_member_accounts_root_may_not_attach_an_scp(self, ledger: Ledger) -> None:
        """organizations:AttachPolicy is the management account's, not the member's."""
        denied = refused(ledger, ledger.attach_scp, A, "deny-s3", self.SCP, actor=ROOT)
        assert "organizations:AttachPolicy" == denied.details["action"]

    def test_the_management_accounts_principals_attach_and_detach_scps(self, ledger: Ledger) -> None:
        """Its root may; its user needs organizations:AttachPolicy/DetachPolicy."""
        ledger.create_account(MGMT, "management")
        ledger.create_user(MGMT, "ops", actor=f"arn:aws:iam::{MGMT}:root")
        ops = f"arn:aws:iam::{MGMT}:user/ops"
        refused(ledger, ledger.attach_scp, A, "deny-s3", self.SCP, actor=ops)
        assert ["ServiceControlPolicyAttached"] == [
            e.event_type for e in ledger.attach_scp(A, "deny-s3", self.SCP, actor=f"arn:aws:iam::{MGMT}:root")]
        ledger.put_user_policy(MGMT, "ops", "org", doc(allow("organizations:DetachPolicy", "*", {
            "StringEquals": {"organizations:PolicyType": "SERVICE_CONTROL_POLICY"}})),
            actor=f"arn:aws:iam::{MGMT}:root")
        assert ["ServiceControlPolicyDetached"] == [e.event_type for e in ledger.detach_scp(A, "deny-s3", actor=ops)]

"""SCPs through the real organisation tree and RCPs on member accounts' resources, decided as AWS
documents it (AWS Organizations User Guide, quoted per test), on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import Ledger
from ledger.domain import events as ev
from ledger.domain.organization import FULL_AWS_ACCESS, FULL_AWS_ACCESS_DOCUMENT, RCP, SCP

M, A, B, X = "111111111111", "222222222222", "333333333333", "444444444444"
ROOT, OU = "r-ab12", "ou-ab12-prod"
BEFORE, T0, T1, AFTER = "2023-12-01T00:00:00Z", "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
DENY_DELETE = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}
ALLOW_S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
RCP_OUTSIDERS = {"Version": "2012-10-17", "Statement": [{
    "Sid": "EnforceOrgIdentities", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
    "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-abc"}}}]}


def fact(cls: type[ev.LedgerEvent], at: str = T0, **fields: Any) -> ev.LedgerEvent:
    return cls(originator_id=ev.account_stream_id(M), originator_version=0, occurred_at=at, recorded_at=at,
               account_id=M, source="snapshot", source_id=f"test-{cls.__name__}-{at}-{sorted(fields.items())}",
               **fields)


def organisation(types: tuple[str, ...] = (SCP,)) -> list[ev.LedgerEvent]:
    """M manages root r-ab12; A sits in OU ou-ab12-prod, B directly under the root; FullAWSAccess
    on every level; an SCP denying s3:DeleteBucket on the OU."""
    out = [fact(ev.OrganizationCreated, organization_id="o-abc", root_id=ROOT, enabled_policy_types=types),
           fact(ev.OrganizationalUnitCreated, ou_id=OU, ou_name="Prod", parent_id=ROOT)]
    out += [fact(ev.AccountJoinedOrganization, member_account_id=acct, parent_id=parent, organization_id="o-abc")
            for acct, parent in ((M, ROOT), (A, OU), (B, ROOT))]
    out += [fact(ev.OrganizationPolicyCreated, policy_id=FULL_AWS_ACCESS, policy_name="FullAWSAccess",
                 policy_type=SCP, document=FULL_AWS_ACCESS_DOCUMENT, aws_managed=True),
            fact(ev.OrganizationPolicyCreated, policy_id="p-deny", policy_name="DenyDelete", policy_type=SCP,
                 document=DENY_DELETE)]
    out += [fact(ev.OrganizationPolicyAttached, policy_id=FULL_AWS_ACCESS, policy_type=SCP, target_id=t,
                 target_type=tt) for t, tt in ((ROOT, "ROOT"), (OU, "ORGANIZATIONAL_UNIT"), (M, "ACCOUNT"),
                                               (A, "ACCOUNT"), (B, "ACCOUNT"))]
    out.append(fact(ev.OrganizationPolicyAttached, policy_id="p-deny", policy_type=SCP, target_id=OU,
                    target_type="ORGANIZATIONAL_UNIT"))
    return out


@pytest.fixture
def org(ledger: Ledger) -> Ledger:
    for account in (M, A, B, X):
        ledger.create_account(account, at=BEFORE)
        ledger.create_user(account, "admin", at=BEFORE)
        ledger.put_user_policy(account, "admin", "all", ALLOW_ALL, at=BEFORE)
        ledger.create_bucket(account, f"bucket-{account}", at=BEFORE)
    ledger.record(organisation())
    return ledger


def can(ledger: Ledger, account: str, action: str, resource: str, at: str = T1) -> Any:
    return ledger.can(f"arn:aws:iam::{account}:user/admin", action, resource, at=at)


class TestServiceControlPoliciesFollowTheTree:
    def test_a_deny_on_an_ou_denies_its_member_accounts(self, org: Ledger) -> None:
        """AWS: "For a permission to be denied for a specific account, any SCP from the root through
        each OU in the direct path to the account (including the target account itself) can deny
        that permission." A (in the OU) may not delete its bucket."""
        decision = can(org, A, "s3:DeleteBucket", f"arn:aws:s3:::bucket-{A}")
        assert "explicitDeny" == decision.eval_decision
        [matched] = decision.to_dict()["MatchedStatements"]
        assert ("p-deny", "scp", OU) == (matched["SourcePolicyId"], matched["SourcePolicyType"],
                                        matched["Origin"]["target"])

    def test_an_account_outside_that_ou_is_not_denied(self, org: Ledger) -> None:
        """B hangs directly under the root, outside the OU: its admin may delete its bucket."""
        assert "allowed" == can(org, B, "s3:DeleteBucket", f"arn:aws:s3:::bucket-{B}").eval_decision

    def test_before_the_organisation_nothing_restricts(self, org: Ledger) -> None:
        """Before the organisation was recorded, A's admin could delete the bucket."""
        assert "allowed" == can(org, A, "s3:DeleteBucket", f"arn:aws:s3:::bucket-{A}", at=BEFORE).eval_decision

    def test_the_management_account_is_never_restricted(self, org: Ledger) -> None:
        """AWS: "SCPs do not restrict users or roles in the management account" (even a deny on the root)."""
        org.record([fact(ev.OrganizationPolicyAttached, at=T0, policy_id="p-deny", policy_type=SCP, target_id=ROOT,
                         target_type="ROOT")])
        assert "allowed" == can(org, M, "s3:DeleteBucket", f"arn:aws:s3:::bucket-{M}").eval_decision
        assert "explicitDeny" == can(org, B, "s3:DeleteBucket", f"arn:aws:s3:::bucket-{B}").eval_decision

    def test_an_allow_is_needed_at_every_level(self, org: Ledger) -> None:
        """AWS: "there must be an explicit Allow statement at every level from the root through each
        OU in the direct path to the account (including the target account itself)." With the OU's
        FullAWSAccess replaced by an allow-list of S3, A may use S3 but not IAM."""
        org.record([fact(ev.OrganizationPolicyCreated, at=T0, policy_id="p-s3", policy_name="S3Only", policy_type=SCP,
                         document=ALLOW_S3),
                    fact(ev.OrganizationPolicyAttached, at=T0, policy_id="p-s3", policy_type=SCP, target_id=OU,
                         target_type="ORGANIZATIONAL_UNIT"),
                    fact(ev.OrganizationPolicyDetached, at=T0, policy_id=FULL_AWS_ACCESS, policy_type=SCP,
                         target_id=OU)])
        assert "allowed" == can(org, A, "s3:GetObject", f"arn:aws:s3:::bucket-{A}/k").eval_decision
        denied = can(org, A, "iam:CreateUser", "*")
        assert ("implicitDeny", {"AllowedByOrganizations": False}) == (
            denied.eval_decision, denied.to_dict()["OrganizationsDecisionDetail"])
        assert "allowed" == can(org, B, "iam:CreateUser", "*").eval_decision

    def test_every_level_is_named_in_an_allowed_answer(self, org: Ledger) -> None:
        """An allowed decision lists FullAWSAccess at the root, the OU and the account, each with
        the event that attached it there."""
        matched = can(org, A, "iam:ListUsers", "*").to_dict()["MatchedStatements"]
        assert [ROOT, OU, A] == [m["Origin"]["target"] for m in matched if m["SourcePolicyType"] == "scp"]
        assert all("OrganizationPolicyAttached" == m["Origin"]["event_type"] for m in matched
                   if m["SourcePolicyType"] == "scp")

    def test_moving_the_account_changes_its_scps_from_then(self, org: Ledger) -> None:
        """A moved from the OU to the root at T1: denied before, allowed after."""
        moved = "2024-01-15T00:00:00Z"
        org.record([fact(ev.AccountMoved, at=moved, member_account_id=A, source_parent_id=OU, parent_id=ROOT)])
        assert "explicitDeny" == can(org, A, "s3:DeleteBucket", f"arn:aws:s3:::bucket-{A}",
                                     at="2024-01-10T00:00:00Z").eval_decision
        assert "allowed" == can(org, A, "s3:DeleteBucket", f"arn:aws:s3:::bucket-{A}").eval_decision

    def test_an_unrecorded_level_fails_closed_with_the_reason(self, org: Ledger) -> None:
        """AWS: "Every root, OU, and account must have at least one SCP attached": a level with none
        recorded means the organisation is incomplete; the answer says so and denies."""
        org.record([fact(ev.OrganizationPolicyDetached, at=T0, policy_id=FULL_AWS_ACCESS, policy_type=SCP,
                         target_id=B)])
        decision = can(org, B, "iam:ListUsers", "*")
        assert "implicitDeny" == decision.eval_decision
        assert any(f"no SCP is recorded as attached to {B}" in e for e in decision.to_dict()["Errors"])

    def test_scps_apply_only_while_the_policy_type_is_enabled(self, org: Ledger) -> None:
        """Disabling SERVICE_CONTROL_POLICY on the root lifts every SCP."""
        org.record([fact(ev.OrganizationPolicyTypeDisabled, at="2024-01-15T00:00:00Z", policy_type=SCP,
                         root_id=ROOT)])
        assert "allowed" == can(org, A, "s3:DeleteBucket", f"arn:aws:s3:::bucket-{A}").eval_decision

    def test_the_shorthand_attach_scp_still_works(self, ledger: Ledger) -> None:
        """attach_scp(account, id, document, level) keeps restricting an account outside any tree."""
        ledger.create_account(X, at=BEFORE)
        ledger.create_user(X, "admin", at=BEFORE)
        ledger.put_user_policy(X, "admin", "all", ALLOW_ALL, at=BEFORE)
        ledger.attach_scp(X, "deny", DENY_DELETE, 0, at=BEFORE)
        ledger.attach_scp(X, "full", ALLOW_ALL, 0, at=BEFORE)
        assert "explicitDeny" == can(ledger, X, "s3:DeleteBucket", "arn:aws:s3:::anything").eval_decision
        assert "allowed" == can(ledger, X, "iam:ListUsers", "*").eval_decision


class TestResourceControlPolicies:
    @pytest.fixture
    def rcp(self, ledger: Ledger) -> Ledger:
        for account in (M, A, X):
            ledger.create_account(account, at=BEFORE)
            ledger.create_user(account, "admin", at=BEFORE)
            ledger.put_user_policy(account, "admin", "all", ALLOW_ALL, at=BEFORE)
        ledger.create_bucket(A, "member-bucket", at=BEFORE)
        ledger.create_bucket(M, "management-bucket", at=BEFORE)
        everyone = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"}]}
        ledger.put_bucket_policy("member-bucket", everyone, at=BEFORE)
        ledger.put_bucket_policy("management-bucket", everyone, at=BEFORE)
        events = organisation((SCP, RCP))
        events.append(fact(ev.OrganizationPolicyCreated, policy_id="p-rcp", policy_name="OrgOnly", policy_type=RCP,
                           document=RCP_OUTSIDERS))
        events.append(fact(ev.OrganizationPolicyAttached, policy_id="p-rcp", policy_type=RCP, target_id=ROOT,
                           target_type="ROOT"))
        ledger.record(events)
        return ledger

    def test_an_rcp_denies_outsiders_access_to_member_resources(self, rcp: Ledger) -> None:
        """AWS: "For a permission to be denied for a resource in a specific account, any RCP from the
        root through each OU in the direct path to the account ... can deny that permission"; RCPs
        apply "regardless of whether the principals belong to the same organizations or not"."""
        outsider = can(rcp, X, "s3:GetObject", "arn:aws:s3:::member-bucket/k")
        assert "explicitDeny" == outsider.eval_decision
        assert ["p-rcp"] == [m["SourcePolicyId"] for m in outsider.to_dict()["MatchedStatements"]]

    def test_principals_of_the_organisation_pass(self, rcp: Ledger) -> None:
        """The member's own admin carries aws:PrincipalOrgID o-abc, so the RCP's deny does not match."""
        assert "allowed" == can(rcp, A, "s3:GetObject", "arn:aws:s3:::member-bucket/k").eval_decision

    def test_resources_of_the_management_account_are_not_affected(self, rcp: Ledger) -> None:
        """AWS: "RCPs don't affect resources in the management account"."""
        assert "allowed" == can(rcp, X, "s3:GetObject", "arn:aws:s3:::management-bucket/k").eval_decision

    def test_rcps_bear_only_on_the_services_they_support(self, rcp: Ledger) -> None:
        """The RCP's deny names s3:*; an IAM call against the member account is not an RCP matter."""
        assert "allowed" == can(rcp, A, "iam:ListUsers", "*").eval_decision

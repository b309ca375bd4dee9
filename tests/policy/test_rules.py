"""Rules AWS applies over the policies (GetCallerIdentity, service-linked roles, the bucket owner's
root user) and how every decision explains itself (EvalDecisionDetails, notes)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.policy import PolicySet, Request, RequestPrincipal, evaluate, principal_from_arn
from ledger.policy.arn import PrincipalKind
from tests.policy._helpers import ALICE, A, B, allow, decide, deny, doc, entry

SLR = f"arn:aws:iam::{A}:role/aws-service-role/ops.apigateway.amazonaws.com/AWSServiceRoleForAPIGateway"
SLR_SESSION = f"arn:aws:sts::{A}:assumed-role/AWSServiceRoleForAPIGateway/apigw"
DENY_ALL_SCPS = [[doc(allow())], [doc(deny(Sid="DenyAll"))]]
OBJ = "arn:aws:s3:::bucket/key"


class TestGetCallerIdentity:
    """sts:GetCallerIdentity: "No permissions are required to perform this operation." (STS API Reference)."""

    @pytest.mark.parametrize("principal", [ALICE, f"arn:aws:iam::{A}:root", f"arn:aws:iam::{A}:role/R",
                                           f"arn:aws:sts::{A}:assumed-role/R/s", f"arn:aws:sts::{A}:federated-user/f"])
    def test_every_identity_may_call_it_whatever_denies(self, principal: str) -> None:
        """Identity, boundary, session and SCP denies all leave it allowed, with no statement."""
        d = decide(principal=principal, action="sts:GetCallerIdentity", resource="*", identity=[doc(deny())],
                   boundaries=[doc(deny())], session=[doc(deny())], scps=DENY_ALL_SCPS)
        assert ("allowed", (), 1) == (d.eval_decision, d.matched_statements, len(d.notes))

    def test_action_name_is_case_insensitive(self) -> None:
        """Action names compare case-insensitively, this one too."""
        assert "allowed" == decide(action="STS:getcalleridentity", resource="*").eval_decision

    @pytest.mark.parametrize("principal", ["mediaconvert.amazonaws.com", "anonymous"])
    def test_callers_without_credentials_are_evaluated_as_usual(self, principal: str) -> None:
        """A service principal or an anonymous caller has no identity to ask about."""
        assert "implicitDeny" == decide(principal=principal, action="sts:GetCallerIdentity",
                                        resource="*").eval_decision


class TestServiceLinkedRoles:
    """"SCPs do not affect any service-linked role" (Organizations User Guide)."""

    def test_role_with_the_service_role_path_ignores_scps(self) -> None:
        """The role itself: allowed by its own policy, SCP deny or not."""
        d = decide(principal=SLR, action="apigateway:GET", resource="*", identity=[doc(allow())],
                   scps=DENY_ALL_SCPS)
        assert ("allowed", {"AllowedByOrganizations": True}) == (
            d.eval_decision, d.organizations_decision_detail)
        assert any("service-linked role" in n for n in d.notes)

    def test_session_with_the_role_path_ignores_scps(self) -> None:
        """A session of the role, given the role's ARN with its path, is not limited either."""
        p = principal_from_arn(SLR_SESSION, role_arn=SLR)
        ps = PolicySet(identity=[entry(doc(allow()), "identity", "p", "role")],
                       scps=[[entry(level[0], "scp", f"scp{i}", "scp")] for i, level in enumerate(DENY_ALL_SCPS)])
        assert "allowed" == evaluate(Request(p, "apigateway:GET"), ps).eval_decision

    def test_session_without_the_path_is_not_assumed_service_linked(self) -> None:
        """A session ARN carries no role path: without it the SCPs apply (fail closed)."""
        d = decide(principal=SLR_SESSION, action="apigateway:GET", resource="*", identity=[doc(allow())],
                   scps=DENY_ALL_SCPS)
        assert "explicitDeny" == d.eval_decision

    @pytest.mark.parametrize("path", ["service-role/", "aws-service-roles/", "x/aws-service-role/", ""])
    def test_other_paths_are_limited(self, path: str) -> None:
        """Only the /aws-service-role/ path (first, exactly) marks a service-linked role."""
        d = decide(principal=f"arn:aws:iam::{A}:role/{path}R", action="apigateway:GET", resource="*",
                   identity=[doc(allow())], scps=DENY_ALL_SCPS)
        assert "explicitDeny" == d.eval_decision

    def test_a_role_principal_without_role_arn_uses_its_own_arn(self) -> None:
        """A RequestPrincipal of kind ROLE built by hand is judged by its ARN."""
        p = RequestPrincipal(SLR, PrincipalKind.ROLE, A)
        ps = PolicySet(identity=[entry(doc(allow()), "identity", "p", "role")],
                       scps=[[entry(doc(deny()), "scp", "s", "scp")]])
        assert "allowed" == evaluate(Request(p, "apigateway:GET"), ps).eval_decision


class TestBucketOwnerRoot:
    """The bucket owner's root keeps Get/Put/DeleteBucketPolicy (S3 API Reference, PutBucketPolicy)."""

    LOCKOUT = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"})

    @pytest.mark.parametrize("action, expected", [
        ("s3:PutBucketPolicy", "allowed"), ("s3:getbucketpolicy", "allowed"), ("s3:DeleteBucketPolicy", "allowed"),
        ("s3:PutBucketAcl", "explicitDeny"), ("s3:GetObject", "explicitDeny")])
    def test_only_the_three_policy_actions(self, action: str, expected: str) -> None:
        """The bucket policy's deny is set aside for the three policy actions only."""
        d = decide(principal=f"arn:aws:iam::{A}:root", action=action, resource="arn:aws:s3:::bucket",
                   resource_account=A, resource_policy=self.LOCKOUT)
        assert expected == d.eval_decision

    def test_scp_deny_still_blocks(self) -> None:
        """"Bucket owner root principals can only be blocked ... by ... AWS Organizations policies"."""
        d = decide(principal=f"arn:aws:iam::{A}:root", action="s3:PutBucketPolicy", resource="arn:aws:s3:::bucket",
                   resource_account=A, resource_policy=self.LOCKOUT, scps=DENY_ALL_SCPS)
        assert ("explicitDeny", ["DenyAll"]) == (d.eval_decision, [m.sid for m in d.matched_statements])

    def test_not_the_owner(self) -> None:
        """Another account's root is not the bucket owner."""
        d = decide(principal=f"arn:aws:iam::{B}:root", action="s3:PutBucketPolicy", resource="arn:aws:s3:::bucket",
                   resource_account=A, resource_policy=self.LOCKOUT)
        assert "explicitDeny" == d.eval_decision


SAME_OBJ: dict[str, Any] = {"resource": OBJ, "resource_account": A}


class TestEvalDecisionDetails:
    """AWS's EvalDecisionDetails shape: None for "*", {} same account, both sides across accounts."""

    @pytest.mark.parametrize("kwargs, expected", [
        ({"resource": "*"}, None),
        (SAME_OBJ, {}),
        ({"resource": OBJ, "resource_account": B}, {"IdentityPolicy": "allowed", "ResourcePolicy": "implicitDeny"}),
        ({"resource": OBJ, "resource_account": B, "resource_policy": doc(
            {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"})},
         {"IdentityPolicy": "allowed", "ResourcePolicy": "explicitDeny"}),
        ({"resource": OBJ, "resource_account": B, "boundaries": [doc(allow("ec2:*"))],
          "resource_policy": doc({"Effect": "Allow", "Principal": {"AWS": A}, "Action": "*", "Resource": "*"})},
         {"IdentityPolicy": "implicitDeny", "ResourcePolicy": "allowed"}),
        ({"resource": OBJ, "resource_account": B, "scps": DENY_ALL_SCPS}, None),
    ], ids=["star", "same-account", "cross-silent-bucket", "cross-bucket-deny", "cross-boundary", "scp-deny"])
    def test_shape(self, kwargs: dict[str, Any], expected: dict[str, str] | None) -> None:
        """The documented presence and keys."""
        d = decide(identity=[doc(allow())], **kwargs)
        assert expected == d.eval_decision_details
        assert expected == d.to_dict()["EvalDecisionDetails"]

    def test_service_principal_has_only_the_resource_side(self) -> None:
        """A service has no identity policies of its own."""
        d = decide(principal="mediaconvert.amazonaws.com", resource=OBJ, resource_account=B)
        assert {"ResourcePolicy": "implicitDeny"} == d.eval_decision_details


class TestEveryDenyExplainsItself:
    """An implicitDeny always carries at least one note saying what failed to allow."""

    @pytest.mark.parametrize("kwargs, fragment", [
        ({"scps": [[doc(allow("ec2:*"))]]}, "no SCP at organisation level 0"),
        ({"principal": f"arn:aws:iam::{A}:root", "action": "sts:AssumeRole",
          "resource": f"arn:aws:iam::{A}:role/R"}, "root user cannot call sts:AssumeRole"),
        ({"action": "sts:AssumeRole", "resource": f"arn:aws:iam::{A}:role/R"}, "trust policy names neither"),
        ({"boundaries": [doc(allow("ec2:*"))]}, "permissions boundary does not allow"),
        ({"principal": f"arn:aws:sts::{A}:federated-user/f"}, "session policy does not allow"),
        ({"identity": []}, "no identity-based or resource-based policy statement allows"),
        ({"resource_account": B}, "cross-account request: both sides must allow"),
        ({"principal": "mediaconvert.amazonaws.com"}, "no resource-based policy statement names"),
        ({"principal": f"arn:aws:iam::{A}:root", "resource_account": B}, "root user (it needs no identity-based"),
    ], ids=["scp", "root-assume", "trust", "boundary", "federated", "nothing", "cross", "service", "root-cross"])
    def test_the_note_names_the_failing_part(self, kwargs: dict[str, Any], fragment: str) -> None:
        """Each way of failing to allow has its own words."""
        args: dict[str, Any] = {"identity": [doc(allow())], "resource_account": A, **kwargs}
        d = decide(**args)
        assert "implicitDeny" == d.eval_decision
        assert any(fragment in n for n in d.notes), d.notes

    @settings(max_examples=200)
    @given(st.lists(st.sampled_from([allow(), allow("ec2:*"), deny("ec2:*"), allow("s3:GetObject", OBJ)]), max_size=3),
           st.sampled_from([None, [doc(allow("s3:*"))], [doc(allow("ec2:*"))]]),
           st.sampled_from([None, [[doc(allow())]], [[doc(allow("ec2:*"))]]]),
           st.sampled_from([A, B]),
           st.sampled_from([None, doc({"Effect": "Allow", "Principal": {"AWS": A}, "Action": "*", "Resource": "*"})]))
    def test_no_silent_implicit_deny(self, stmts: list[dict[str, Any]], boundaries: Any, scps: Any,
                                     owner: str, bucket: Any) -> None:
        """Random policy sets: whenever the answer is implicitDeny, a note says why."""
        d = decide(identity=[doc(*stmts)] if stmts else [], boundaries=boundaries, scps=scps,
                   resource_account=owner, resource_policy=bucket)
        if d.eval_decision == "implicitDeny":
            assert d.notes
        assert {"EvalDecisionDetails", "Notes", "EvalDecision", "MatchedStatements", "MissingContextValues",
                "PermissionsBoundaryDecisionDetail", "OrganizationsDecisionDetail", "Conditional", "Errors",
                "EvalActionName", "EvalResourceName"} == set(d.to_dict())

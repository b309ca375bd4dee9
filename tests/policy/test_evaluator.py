"""Evaluation logic: deny wins, SCPs, resource vs identity policies, boundaries, sessions."""

from __future__ import annotations

import pytest

from ledger.policy import PolicySet, Request, evaluate, principal_from_arn
from tests.policy._helpers import ALICE, A, B, allow, decide, deny, doc, entry, trust

OBJ = "arn:aws:s3:::bucket/key"
ROLE = f"arn:aws:iam::{A}:role/Target"
SESSION = f"arn:aws:sts::{A}:assumed-role/Dev/sess"
DEV_ROLE = f"arn:aws:iam::{A}:role/Dev"
GET = allow("s3:GetObject", "arn:aws:s3:::bucket/*")


def bucket(principal: object, effect: str = "Allow") -> dict:
    return doc({"Effect": effect, "Principal": principal, "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::bucket/*"})


class TestBasicRules:
    """Default deny, explicit allow, explicit deny wins."""

    def test_default_is_implicit_deny(self) -> None:
        """With no policy at all the request is implicitly denied."""
        assert "implicitDeny" == decide(resource_account=A).eval_decision

    def test_identity_allow(self) -> None:
        """An identity-based allow allows, and names the statement."""
        d = decide(resource_account=A, identity=[doc(dict(GET, Sid="G"))])
        assert ("allowed", ["G"]) == (d.eval_decision, [m.sid for m in d.matched_statements])

    @pytest.mark.parametrize("where", ["identity", "resource", "boundary", "session", "scp"])
    def test_deny_anywhere_wins(self, where: str) -> None:
        """An explicit deny in any policy type overrides every allow."""
        full = doc(allow(), dict(deny("s3:GetObject", OBJ), Sid="D")) if where != "resource" \
            else doc(allow())
        kw: dict = {"identity": [doc(allow())], "resource_account": A,
                    "resource_policy": bucket({"AWS": ALICE})}
        if where == "identity":
            kw["identity"] = [full]
        elif where == "resource":
            kw["resource_policy"] = doc(
                {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
                {"Sid": "D", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": OBJ})
        elif where == "boundary":
            kw["boundaries"] = [full]
        elif where == "session":
            kw["principal"] = SESSION
            kw["session"] = [full]
        else:
            kw["scps"] = [[full]]
        d = decide(**kw)
        assert ("explicitDeny", ["D"]) == (d.eval_decision, [m.sid for m in d.matched_statements])

    def test_origin_is_echoed(self) -> None:
        """MatchedStatements carry the caller's origin for the policy (e.g. an event id)."""
        ps = PolicySet(identity=[entry(doc(GET), "identity", "pol-1", "user-managed",
                                       origin={"event": 42})])
        d = evaluate(Request(principal_from_arn(ALICE), "s3:GetObject", OBJ, A), ps)
        m = d.matched_statements[0]
        assert ("pol-1", "user-managed", 0, {"event": 42}) == (
            m.source_policy_id, m.source_policy_type, m.statement_index, m.origin)

    def test_to_dict_uses_aws_key_names(self) -> None:
        """to_dict() speaks SimulatePrincipalPolicy's vocabulary."""
        d = decide(resource_account=A, identity=[doc(GET)], boundaries=[doc(allow())]).to_dict()
        assert {"EvalDecision": "allowed",
                "PermissionsBoundaryDecisionDetail": {"AllowedByPermissionsBoundary": True},
                "OrganizationsDecisionDetail": None} == {
            k: d[k] for k in ("EvalDecision", "PermissionsBoundaryDecisionDetail",
                              "OrganizationsDecisionDetail")}


class TestOrganizations:
    """Every SCP level must allow; SCPs grant nothing themselves."""

    def test_scp_must_allow_at_every_level(self) -> None:
        """An action allowed at the root but not at the OU level is implicitly denied."""
        d = decide(resource_account=A, identity=[doc(allow())],
                   scps=[[doc(allow())], [doc(allow("ec2:*"))]])
        assert ("implicitDeny", {"AllowedByOrganizations": False}) == (
            d.eval_decision, d.organizations_decision_detail)

    def test_scp_allow_alone_grants_nothing(self) -> None:
        """FullAWSAccess SCP without an identity allow is still an implicit deny."""
        assert "implicitDeny" == decide(resource_account=A, scps=[[doc(allow())]]).eval_decision

    def test_scp_limits_root_user(self) -> None:
        """SCPs restrict the root user of a member account too."""
        root = f"arn:aws:iam::{A}:root"
        d = decide(principal=root, resource_account=A, scps=[[doc(allow("ec2:*"))]])
        assert "implicitDeny" == d.eval_decision


class TestSameAccountResourcePolicies:
    """Within one account, identity ∪ resource, depending on which principal is named."""

    def test_user_arn_named_needs_no_identity_allow(self) -> None:
        """A bucket policy naming the user grants even with no identity policy."""
        assert "allowed" == decide(resource_account=A, resource_policy=bucket(
            {"AWS": ALICE})).eval_decision

    def test_user_arn_named_not_limited_by_boundary(self) -> None:
        """An implicit deny in the user's boundary does not limit a grant naming the user."""
        d = decide(resource_account=A, resource_policy=bucket({"AWS": ALICE}),
                   boundaries=[doc(allow("ec2:*"))])
        assert "allowed" == d.eval_decision

    def test_account_named_needs_identity_allow(self) -> None:
        """Naming the account delegates to the identity policies."""
        no_id = decide(resource_account=A, resource_policy=bucket({"AWS": A}))
        with_id = decide(resource_account=A, resource_policy=bucket({"AWS": A}),
                         identity=[doc(GET)])
        assert ("implicitDeny", "allowed") == (no_id.eval_decision, with_id.eval_decision)

    def test_role_arn_named_limited_by_boundary_and_session(self) -> None:
        """A grant to the role ARN is limited by the session's boundary and session policy."""
        plain = decide(principal=SESSION, resource_account=A,
                       resource_policy=bucket({"AWS": DEV_ROLE}))
        bounded = decide(principal=SESSION, resource_account=A,
                         resource_policy=bucket({"AWS": DEV_ROLE}),
                         boundaries=[doc(allow("ec2:*"))])
        scoped = decide(principal=SESSION, resource_account=A,
                        resource_policy=bucket({"AWS": DEV_ROLE}), session=[doc(allow("ec2:*"))])
        assert ("allowed", "implicitDeny", "implicitDeny") == (
            plain.eval_decision, bounded.eval_decision, scoped.eval_decision)

    def test_session_arn_named_not_limited(self) -> None:
        """A grant to the session ARN is not limited by boundary or session policy."""
        d = decide(principal=SESSION, resource_account=A, resource_policy=bucket({"AWS": SESSION}),
                   boundaries=[doc(allow("ec2:*"))], session=[doc(allow("ec2:*"))])
        assert "allowed" == d.eval_decision

    def test_identity_allow_limited_by_boundary(self) -> None:
        """Identity allow outside the boundary is implicitly denied."""
        d = decide(resource_account=A, identity=[doc(GET)], boundaries=[doc(allow("ec2:*"))])
        assert ("implicitDeny", {"AllowedByPermissionsBoundary": False}) == (
            d.eval_decision, d.permissions_boundary_decision_detail)

    def test_session_policy_limits_identity(self) -> None:
        """Session permissions are the intersection of identity and session policies."""
        d = decide(principal=SESSION, resource_account=A, identity=[doc(GET)],
                   session=[doc(allow("ec2:*"))])
        assert "implicitDeny" == d.eval_decision

    def test_deny_not_principal_always_hits_bounded_principal(self) -> None:
        """Deny+NotPrincipal denies a principal with a boundary even if it is listed."""
        pol = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                   "Resource": "*"},
                  {"Effect": "Deny", "NotPrincipal": {"AWS": [ALICE, f"arn:aws:iam::{A}:root"]},
                   "Action": "s3:GetObject", "Resource": "*"})
        free = decide(resource_account=A, resource_policy=pol)
        bounded = decide(resource_account=A, resource_policy=pol, boundaries=[doc(allow())])
        assert ("allowed", "explicitDeny") == (free.eval_decision, bounded.eval_decision)

    def test_not_principal_needs_account_too(self) -> None:
        """NotPrincipal naming only the user (not its account) still applies to that user."""
        pol = doc({"Effect": "Deny", "NotPrincipal": {"AWS": ALICE}, "Action": "s3:GetObject",
                   "Resource": "*"})
        assert "explicitDeny" == decide(resource_account=A, identity=[doc(allow())],
                                        resource_policy=pol).eval_decision


class TestCrossAccount:
    """Across accounts both the caller's identity policy and the resource policy must allow."""

    @pytest.mark.parametrize(
        ("expected", "identity", "named"),
        [
            ("allowed", True, {"AWS": ALICE}),
            ("allowed", True, {"AWS": A}),
            ("implicitDeny", False, {"AWS": ALICE}),
            ("implicitDeny", True, None),
            ("implicitDeny", True, {"AWS": B}),
        ],
    )
    def test_both_sides(self, expected: str, identity: bool, named: object) -> None:
        """Cross-account needs an identity allow and a resource allow naming the caller."""
        d = decide(resource_account=B, identity=[doc(GET)] if identity else None,
                   resource_policy=bucket(named) if named else None)
        assert expected == d.eval_decision

    def test_boundary_applies_cross_account(self) -> None:
        """The caller's boundary still limits a cross-account request."""
        d = decide(resource_account=B, identity=[doc(GET)], resource_policy=bucket({"AWS": A}),
                   boundaries=[doc(allow("ec2:*"))])
        assert "implicitDeny" == d.eval_decision


class TestAssumeRole:
    """Trust policies: naming the account vs naming the user; service principals."""

    def test_trust_naming_account_root_needs_identity_allow(self) -> None:
        """Same account, trust names :root -> the user also needs sts:AssumeRole allowed."""
        t = doc(trust({"AWS": f"arn:aws:iam::{A}:root"}))
        without = decide(action="sts:AssumeRole", resource=ROLE, resource_policy=t)
        with_id = decide(action="sts:AssumeRole", resource=ROLE, resource_policy=t,
                         identity=[doc(allow("sts:AssumeRole", ROLE))])
        assert ("implicitDeny", "allowed") == (without.eval_decision, with_id.eval_decision)

    def test_trust_naming_user_directly(self) -> None:
        """Same account, trust names the user ARN -> no identity allow needed."""
        d = decide(action="sts:AssumeRole", resource=ROLE, resource_policy=doc(trust({"AWS": ALICE})))
        assert "allowed" == d.eval_decision

    def test_identity_allow_without_trust_is_denied(self) -> None:
        """A role must trust the caller: an identity allow alone is not enough."""
        d = decide(action="sts:AssumeRole", resource=ROLE, identity=[doc(allow())],
                   resource_policy=doc(trust({"AWS": f"arn:aws:iam::{B}:root"})))
        assert "implicitDeny" == d.eval_decision

    def test_service_principal_only_trust_counts(self) -> None:
        """mediaconvert.amazonaws.com may assume a role that trusts it, with its conditions."""
        t = doc(trust({"Service": "mediaconvert.amazonaws.com"},
                      Condition={"StringEquals": {"aws:SourceAccount": A}}))
        ok = decide(principal="mediaconvert.amazonaws.com", action="sts:AssumeRole",
                    resource=ROLE, resource_policy=t, context={"aws:SourceAccount": A})
        other = decide(principal="mediaconvert.amazonaws.com", action="sts:AssumeRole",
                       resource=ROLE, resource_policy=t, context={"aws:SourceAccount": B})
        untrusted = decide(principal="ec2.amazonaws.com", action="sts:AssumeRole",
                           resource=ROLE, resource_policy=t, context={"aws:SourceAccount": A})
        assert ("allowed", "implicitDeny", "implicitDeny") == (
            ok.eval_decision, other.eval_decision, untrusted.eval_decision)

    def test_pass_role_with_passed_to_service(self) -> None:
        """iam:PassRole is allowed only to the service named by iam:PassedToService."""
        pol = doc(allow("iam:PassRole", ROLE,
                        Condition={"StringEquals": {"iam:PassedToService":
                                                    "mediaconvert.amazonaws.com"}}))
        ok = decide(action="iam:PassRole", resource=ROLE, identity=[pol],
                    context={"iam:PassedToService": "mediaconvert.amazonaws.com"})
        bad = decide(action="iam:PassRole", resource=ROLE, identity=[pol],
                     context={"iam:PassedToService": "ec2.amazonaws.com"})
        assert ("allowed", "implicitDeny") == (ok.eval_decision, bad.eval_decision)


class TestRootUser:
    """The root user has full access to its own account."""

    ROOT = f"arn:aws:iam::{A}:root"

    def test_root_allowed_in_own_account(self) -> None:
        """No identity policy needed for the root user in its account."""
        assert "allowed" == decide(principal=self.ROOT, resource_account=A).eval_decision

    def test_resource_policy_deny_applies_to_root(self) -> None:
        """An explicit deny in a resource policy still denies the root user."""
        d = decide(principal=self.ROOT, resource_account=A, resource_policy=bucket("*", "Deny"))
        assert "explicitDeny" == d.eval_decision

    def test_root_cross_account_needs_resource_grant(self) -> None:
        """In another account's bucket the root user needs that bucket's grant."""
        assert ("implicitDeny", "allowed") == (
            decide(principal=self.ROOT, resource_account=B).eval_decision,
            decide(principal=self.ROOT, resource_account=B,
                   resource_policy=bucket({"AWS": A})).eval_decision)


class TestContextReporting:
    """MissingContextValues and the unknown-context audit mode."""

    POL = doc(allow("s3:GetObject", "*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))

    def test_missing_context_values(self) -> None:
        """Keys of otherwise-matching statements absent from the context are listed."""
        d = decide(resource_account=A, identity=[self.POL])
        assert ("implicitDeny", ("aws:SourceIp",)) == (d.eval_decision, d.missing_context_values)

    def test_unmatched_statements_do_not_report_keys(self) -> None:
        """A statement for another action does not contribute missing keys."""
        d = decide(action="s3:PutObject", resource_account=A, identity=[self.POL])
        assert () == d.missing_context_values

    def test_unknown_mode_is_conditional_allow(self) -> None:
        """With unknown_context a missing key makes the allow conditional."""
        d = decide(resource_account=A, identity=[self.POL], unknown_context=True)
        assert ("allowed", True) == (d.eval_decision, d.conditional)

    def test_unknown_mode_definite_when_context_present(self) -> None:
        """With the key present the answer is definite."""
        d = decide(resource_account=A, identity=[self.POL], unknown_context=True,
                   context={"aws:SourceIp": "10.1.2.3"})
        assert ("allowed", False) == (d.eval_decision, d.conditional)

    def test_unknown_deny_makes_allow_conditional(self) -> None:
        """An unknown-condition deny over an allow leaves the allow conditional."""
        pol = doc(allow(), deny(Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}))
        d = decide(resource_account=A, identity=[pol], unknown_context=True)
        assert ("allowed", True) == (d.eval_decision, d.conditional)


class TestFailClosed:
    """Errors never become an allow."""

    def test_error_is_reported_and_denied(self) -> None:
        """A broken policy set yields implicitDeny with the error listed."""
        ps = PolicySet(identity=[object()])  # type: ignore[list-item]
        d = evaluate(Request(principal_from_arn(ALICE), "s3:GetObject", OBJ, A), ps)
        assert ("implicitDeny", True) == (d.eval_decision, bool(d.errors))

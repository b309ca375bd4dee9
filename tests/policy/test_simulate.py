"""`simulate_lines` / `run_simulate`: JSON lines in, one JSON line out per scenario."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from ledger.policy import run_simulate, simulate_lines
from tests.policy._helpers import ALICE, A, B, allow, doc, trust

OBJ = "arn:aws:s3:::bucket/k"


def sim(**scenario: Any) -> dict[str, Any]:
    return json.loads(next(simulate_lines([json.dumps(scenario)])))


class TestOutputShape:
    """Output lines carry id, decision, matched statements, missing keys and error."""

    def test_allowed_line(self) -> None:
        """An allowed scenario names the policy and statement that allowed it."""
        out = sim(id=7, principal=ALICE, principal_account=A, action="s3:GetObject",
                  resource=OBJ, resource_account=A,
                  identity_policies=[doc(dict(allow("s3:*", "*"), Sid="All"))])
        assert (7, "allowed", None) == (out["id"], out["EvalDecision"], out["error"])
        assert {"SourcePolicyId": "identity_policies[0]", "SourcePolicyType": "user",
                "StatementIndex": 0, "Sid": "All", "Effect": "Allow"} == out["MatchedStatements"][0]

    def test_policy_ids_for_each_slot(self) -> None:
        """Deny statements are reported with their slot ids (scps[i][j], session_policy...)."""
        d = doc(dict(allow(), Sid="A"), {"Sid": "D", "Effect": "Deny", "Action": "s3:*",
                                         "Resource": "*"})
        out = sim(principal=f"arn:aws:sts::{A}:assumed-role/R/s", action="s3:GetObject",
                  resource=OBJ, resource_account=A, identity_policies=[json.dumps(d)],
                  permission_boundaries=[d], session_policy=d, scps=[[doc(allow())], [d]])
        ids = sorted(m["SourcePolicyId"] for m in out["MatchedStatements"])
        assert ["identity_policies[0]", "permission_boundaries[0]", "scps[1][0]",
                "session_policy"] == ids

    def test_order_and_blank_lines(self) -> None:
        """One output per non-blank input line, in input order."""
        lines = [json.dumps({"id": i, "principal": ALICE, "action": "s3:GetObject",
                             "resource": "*"}) for i in range(5)]
        outs = [json.loads(x)["id"] for x in simulate_lines([*lines[:2], "", "  ", *lines[2:]])]
        assert [0, 1, 2, 3, 4] == outs

    def test_run_simulate_streams(self) -> None:
        """run_simulate writes one line per scenario and returns 0 when none erred."""
        inp = io.StringIO(json.dumps({"id": "a", "principal": ALICE, "action": "s3:GetObject",
                                      "resource": "*"}) + "\n")
        out = io.StringIO()
        assert 0 == run_simulate(inp, out)
        assert "implicitDeny" == json.loads(out.getvalue())["EvalDecision"]


class TestBadScenarios:
    """Bad scenarios give an error line and the batch goes on."""

    def test_batch_continues(self) -> None:
        """A malformed line between good ones yields an error line in its place."""
        good = json.dumps({"id": 1, "principal": ALICE, "action": "s3:GetObject",
                           "resource": "*"})
        outs = [json.loads(x) for x in simulate_lines([good, "{nope", good])]
        assert [None, "InvalidScenario", None] == [
            o["error"].split(":")[0] if o["error"] else None for o in outs]

    def test_error_line_shape(self) -> None:
        """Error lines have null decision, empty lists and a typed message."""
        out = sim(id="x", principal=ALICE, action="s3:GetObject",
                  identity_policies=[{"Statement": {"Effect": "Maybe", "Action": "*",
                                                    "Resource": "*"}}])
        assert ("x", None, [], []) == (out["id"], out["EvalDecision"],
                                       out["MatchedStatements"], out["MissingContextValues"])
        assert out["error"].startswith(
            "MalformedPolicyDocument: identity_policies[0].Statement.Effect")

    def test_s3_resource_without_owner_is_assumed_the_callers(self) -> None:
        """An ARN without an account field is owned by the caller's account, and the answer says so."""
        out = sim(principal=ALICE, action="s3:GetObject", resource=OBJ)
        assert out["error"] is None
        assert any(n.startswith("assumed: ") and "owned by the caller's account" in n for n in out["Notes"])

    def test_resource_owner_and_resource_account_must_agree(self) -> None:
        """The two names of ResourceOwner given with different accounts is a typed error."""
        out = sim(principal=ALICE, action="s3:GetObject", resource=OBJ,
                  resource_owner="444455556666", resource_account="111122223333")
        assert "disagree" in out["error"]

    def test_bad_principal(self) -> None:
        """An unrecognisable principal is a typed error."""
        assert sim(principal="bob", action="s3:GetObject")["error"].startswith("InvalidArn")

    def test_run_simulate_status_on_error(self) -> None:
        """run_simulate returns 1 when some line erred."""
        assert 1 == run_simulate(io.StringIO("[]\n"), io.StringIO())


class TestDerivedContext:
    """Keys derived from the principal, overridable by the context."""

    def test_principal_account_condition_cross_account_trust(self) -> None:
        """aws:PrincipalAccount is derived, so a trust condition on it can be met."""
        t = doc(trust({"AWS": B}, Condition={"StringEquals": {"aws:PrincipalAccount": B}}))
        out = sim(principal=f"arn:aws:iam::{B}:user/bob", action="sts:AssumeRole",
                  resource=f"arn:aws:iam::{A}:role/R", resource_policy=t,
                  identity_policies=[doc(allow("sts:AssumeRole", "*"))])
        assert ("allowed", []) == (out["EvalDecision"], out["MissingContextValues"])

    def test_principal_arn_of_session_is_role_arn(self) -> None:
        """For a role session aws:PrincipalArn is the role's ARN."""
        cond = {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/R"}}
        out = sim(principal=f"arn:aws:sts::{A}:assumed-role/R/s", action="s3:GetObject",
                  resource=OBJ, resource_account=A,
                  identity_policies=[doc(allow(Condition=cond))])
        assert "allowed" == out["EvalDecision"]

    def test_principal_role_arn_gives_the_session_its_role_path(self) -> None:
        """principal_role_arn: aws:PrincipalArn of the session is the role ARN with its path."""
        role = f"arn:aws:iam::{A}:role/service-role/R"
        cond = {"ArnEquals": {"aws:PrincipalArn": role}}
        out = sim(principal=f"arn:aws:sts::{A}:assumed-role/R/s", principal_role_arn=role, action="s3:GetObject",
                  resource=OBJ, resource_account=A, identity_policies=[doc(allow(Condition=cond))])
        assert "allowed" == out["EvalDecision"]

    @pytest.mark.parametrize("principal, role", [
        (f"arn:aws:sts::{A}:assumed-role/R/s", f"arn:aws:iam::{A}:role/path/Other"),
        (f"arn:aws:sts::{A}:assumed-role/R/s", f"arn:aws:iam::{B}:role/R"),
        (f"arn:aws:sts::{A}:assumed-role/R/s", f"arn:aws:iam::{A}:user/R"),
        (ALICE, f"arn:aws:iam::{A}:role/R"),
    ], ids=["other-role", "other-account", "not-a-role", "not-a-session"])
    def test_principal_role_arn_must_be_the_sessions_role(self, principal: str, role: str) -> None:
        """A role ARN that is not the session's own role is a typed error."""
        out = sim(principal=principal, principal_role_arn=role, action="s3:GetObject", resource="*")
        assert out["error"].startswith("InvalidScenario: principal_role_arn")


GET_ANY = [doc(allow("s3:GetObject", "arn:aws:s3:::bucket/*", Sid="Get"))]


class TestSeveralResources:
    """`resource` as a list (AWS's ResourceArns): one ResourceSpecificResults entry per resource."""

    def test_every_resource_must_be_allowed(self) -> None:
        """The overall decision is allowed only if each resource is; each gets its entry."""
        out = sim(principal=ALICE, action="s3:GetObject", resource_account=A, identity_policies=GET_ANY,
                  resource=["arn:aws:s3:::bucket/a", "arn:aws:s3:::other/b"])
        assert ("implicitDeny", [("arn:aws:s3:::bucket/a", "allowed"), ("arn:aws:s3:::other/b", "implicitDeny")]) == (
            out["EvalDecision"], [(r["EvalResourceName"], r["EvalResourceDecision"])
                                  for r in out["ResourceSpecificResults"]])

    def test_each_resource_has_its_own_account(self) -> None:
        """Each resource's owner is the account in its ARN."""
        out = sim(principal=ALICE, action="sqs:SendMessage", identity_policies=[doc(allow("sqs:SendMessage"))],
                  resource=[f"arn:aws:sqs:us-east-1:{A}:q", f"arn:aws:sqs:us-east-1:{B}:q"])
        assert [{}, {"IdentityPolicy": "allowed", "ResourcePolicy": "implicitDeny"}] == [
            r["EvalDecisionDetails"] for r in out["ResourceSpecificResults"]]

    def test_a_string_resource_keeps_the_old_shape(self) -> None:
        """One resource as a string: no ResourceSpecificResults, the earlier keys unchanged."""
        out = sim(principal=ALICE, action="s3:GetObject", resource="arn:aws:s3:::bucket/a", resource_account=A,
                  identity_policies=GET_ANY)
        assert "ResourceSpecificResults" not in out
        assert {"id", "EvalDecision", "MatchedStatements", "MissingContextValues", "PermissionsBoundaryDecisionDetail",
                "OrganizationsDecisionDetail", "error"} <= set(out)

    @pytest.mark.parametrize("resource", [[], ["arn:aws:s3:::b/k", ""], ["arn:aws:s3:::b/k", 5], {"a": 1}])
    def test_bad_lists_are_errors(self, resource: Any) -> None:
        """An empty list, or one holding a non-ARN, is a typed error."""
        out = sim(principal=ALICE, action="s3:GetObject", resource_account=A, resource=resource)
        assert out["error"].startswith("InvalidScenario: resource")

    def test_one_contradicting_account_fails_the_scenario(self) -> None:
        """resource_account contradicting one listed ARN's account is an error."""
        out = sim(principal=ALICE, action="sqs:SendMessage", resource_account=A,
                  resource=[f"arn:aws:sqs:us-east-1:{A}:q", f"arn:aws:sqs:us-east-1:{B}:q"])
        assert "contradicts" in out["error"]


class TestRangesAndRepeats:
    """A context range {"low", "high"}; documents repeated across scenarios decide the same."""

    def test_range_context(self) -> None:
        """A date range settles a condition that holds for every value of it."""
        cond = {"DateGreaterThan": {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}}
        out = sim(principal=f"arn:aws:sts::{A}:assumed-role/R/s", action="s3:GetObject", resource=OBJ,
                  resource_account=A, identity_policies=[doc(allow(Condition=cond))],
                  context={"aws:TokenIssueTime": {"low": "2024-03-01T02:00:00", "high": "2024-03-01T14:00:00Z"}})
        assert ("allowed", False, []) == (out["EvalDecision"], out["Conditional"], out["MissingContextValues"])

    @pytest.mark.parametrize("value", [{"low": 1}, {"low": "2024-01-01", "high": 5}, {"low": "x", "high": "y"},
                                       {"low": 5, "high": 1}, {"low": 1, "high": 2, "extra": 3}])
    def test_bad_ranges_are_errors(self, value: dict[str, Any]) -> None:
        """A malformed range is a typed error naming the key."""
        out = sim(principal=ALICE, action="s3:GetObject", resource="*", context={"k": value})
        assert out["error"].startswith("InvalidScenario: context.k")

    def test_repeated_documents_decide_alike_and_keep_their_paths(self) -> None:
        """The same (cached) bad document names its own slot in each scenario."""
        bad = {"Statement": {"Effect": "Maybe", "Action": "*", "Resource": "*"}}
        first = sim(principal=ALICE, action="s3:GetObject", identity_policies=[bad])
        second = sim(principal=ALICE, action="s3:GetObject", permission_boundaries=[bad])
        assert ("MalformedPolicyDocument: identity_policies[0].Statement.Effect",
                "MalformedPolicyDocument: permission_boundaries[0].Statement.Effect") == (
            first["error"].split(":", 2)[0] + ":" + first["error"].split(":", 2)[1],
            second["error"].split(":", 2)[0] + ":" + second["error"].split(":", 2)[1])
        good = [json.dumps(doc(allow()))]
        runs = [sim(principal=ALICE, action="s3:GetObject", resource="*", identity_policies=good) for _ in range(3)]
        assert 1 == len({json.dumps(r) for r in runs})

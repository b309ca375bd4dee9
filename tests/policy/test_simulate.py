"""`simulate_lines` / `run_simulate`: JSON lines in, one JSON line out per scenario."""

from __future__ import annotations

import io
import json
from typing import Any

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

    def test_s3_resource_needs_resource_account(self) -> None:
        """An ARN without an account field needs resource_account."""
        out = sim(principal=ALICE, action="s3:GetObject", resource=OBJ)
        assert "resource_account" in out["error"]

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

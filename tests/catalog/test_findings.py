"""Policy validation against the catalogue: unknown actions and condition keys are WARNINGS, as IAM
Access Analyzer's policy checks report them; `ledger simulate` lists them per scenario.

Documented cases for actions with no resource type live in tests/policy/cases/no_resource_type.json.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.catalog import CatalogAdvisor, policy_findings
from ledger.policy import parse_policy, run_simulate, simulate_lines

CASES = json.loads((Path(__file__).resolve().parents[1] / "policy" / "cases" / "no_resource_type.json")
                   .read_text(encoding="utf-8"))
ALICE = "arn:aws:iam::111122223333:user/alice"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def simulate(*scenarios: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in simulate_lines((json.dumps(s) for s in scenarios), CatalogAdvisor())]


class TestPolicyFindings:
    """Each finding names its place in the document, an Access Analyzer-style code and the fix."""

    def test_findings_table(self) -> None:
        """Unknown service, unknown action (with the nearest), a pattern matching nothing, unknown keys."""
        doc = parse_policy(policy(
            {"Effect": "Allow", "Action": ["mediaconvert:CreatJob", "s3:GetObject", "s3:Get*", "s3:Zzz*",
                                           "mediaconvrt:ListJobs", "*"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceIpp": "x", "s3:x-amz-acl": "private", "s3:bogus": "1"}}},
            {"Effect": "Deny", "NotAction": "iam:Pass*", "Resource": "*"}))
        got = [(f.path, f.code) for f in policy_findings(doc)]
        assert [("Statement[0].Action[0]", "UNKNOWN_ACTION"),
                ("Statement[0].Action[3]", "NO_MATCHING_ACTION"),
                ("Statement[0].Action[4]", "UNKNOWN_SERVICE"),
                ("Statement[0].Condition.StringEquals.aws:SourceIpp", "UNKNOWN_GLOBAL_CONDITION_KEY"),
                ("Statement[0].Condition.StringEquals.s3:bogus", "UNKNOWN_CONDITION_KEY")] == got

    def test_the_nearest_action_is_named(self) -> None:
        """The typo's finding says what was probably meant."""
        doc = parse_policy(policy({"Effect": "Allow", "Action": "mediaconvert:CreatJob", "Resource": "*"}))
        assert ['Statement[0].Action: "mediaconvert:CreatJob" is not an action of mediaconvert: '
                'did you mean "mediaconvert:CreateJob"?'] == [str(f) for f in policy_findings(doc)]

    def test_warnings_never_reject(self) -> None:
        """A policy full of unknown names still parses and evaluates (IAM accepts it too)."""
        doc = parse_policy(policy({"Effect": "Allow", "Action": "nosuch:Thing", "Resource": "*",
                                   "Condition": {"Bool": {"nosuch:Key": "true"}}}))
        assert 2 == len(policy_findings(doc))

    def test_policy_variables_in_keys_are_not_flagged(self) -> None:
        """A correct policy, trust conditions included, has no finding."""
        doc = parse_policy(policy(
            {"Effect": "Allow", "Action": ["s3:ListBucket", "iam:PassRole"], "Resource": "*",
             "Condition": {"StringLike": {"s3:prefix": "home/${aws:username}/*"},
                           "StringEquals": {"iam:PassedToService": "mediaconvert.amazonaws.com",
                                            "aws:PrincipalTag/team": "media"}}}))
        assert [] == policy_findings(doc)


class TestSimulateWarnings:
    """`ledger simulate` (with the catalogue) lists a `Warnings` array per scenario."""

    def test_warnings_per_scenario(self) -> None:
        """Request notes first, then each policy's findings prefixed with its place in the scenario."""
        out = simulate({"id": 1, "principal": ALICE, "action": "mediaconvert:CreatJob",
                        "identity_policies": [policy({"Effect": "Allow", "Action": "s3:PutObjekt", "Resource": "*"})]})
        assert 2 == len(out[0]["Warnings"])
        assert 'did you mean "mediaconvert:CreateJob"?' in out[0]["Warnings"][0]
        assert out[0]["Warnings"][1].startswith("identity_policies[0].Statement[0].Action:")

    def test_clean_scenario_has_an_empty_list_and_error_stays_last(self) -> None:
        """`Warnings` is always present; `error` stays the last key (run_simulate's exit status reads it)."""
        out = io.StringIO()
        line = json.dumps({"id": 1, "principal": ALICE, "action": "s3:GetObject", "resource": "arn:aws:s3:::b/k", "resource_account": "111122223333",
                           "identity_policies": [policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})]})
        status = run_simulate(io.StringIO(line + "\n"), out, CatalogAdvisor())
        body = json.loads(out.getvalue())
        assert (0, [], "error") == (status, body["Warnings"], list(body)[-1])

    def test_without_the_catalogue_the_engine_alone_answers(self) -> None:
        """The pure engine's simulate still works with no advisor: no mapping, empty warnings."""
        out = [json.loads(x) for x in simulate_lines([json.dumps({"principal": ALICE, "action": "s3:ListAllMyBuckets",
               "identity_policies": [policy({"Effect": "Allow", "Action": "s3:ListAllMyBuckets",
                                             "Resource": "arn:aws:s3:::*"})]})])]
        assert ("implicitDeny", []) == (out[0]["EvalDecision"], out[0]["Warnings"])


class TestNoResourceTypeCases:
    """Documented cases: an action with no resource type is authorised against all resources."""

    @pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
    def test_case(self, case: dict[str, Any]) -> None:
        """The documented decision, through simulate with the catalogue."""
        result = simulate(dict(case["scenario"], id=case["id"]))[0]
        where = f"{case['id']}: {case['rule']} — “{case['quote']}”"
        assert (case["expected"]["EvalDecision"], None) == (result["EvalDecision"], result["error"]), where
        sids = {m.get("Sid") for m in result["MatchedStatements"]}
        assert set(case.get("expected_matched_sids", ())) <= sids, where

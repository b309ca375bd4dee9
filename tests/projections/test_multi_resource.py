"""`can` with several resources, as AWS's ResourceArns (issue 10, item 15, read side): one result per
resource (ResourceSpecificResults) and an aggregate decision, the most restrictive of them."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

import ledger.cli.registry  # noqa: F401  (registers the commands)
from ledger import Ledger
from ledger.cli.app import app
from projections.assemble import combine_resource_decisions
from tests.projections._support import A, doc, t

runner = CliRunner()
USER = f"arn:aws:iam::{A}:user/mediaconvert-user"
MC = f"arn:aws:mediaconvert:us-west-2:{A}"
QUEUE, PRESET, TEMPLATE = f"{MC}:queues/myQueue", f"{MC}:presets/allowHD", f"{MC}:jobTemplates/t1"
BAD_PRESET = f"{MC}:presets/denyHD"

# MediaConvert User Guide, "Example policy: Resource-level access control".
GUIDE_QUOTE = ("Create a job and submit it to the queue \"myQueue\", referencing any presets with names that start "
               "with \"allow\" and referencing any job template.")
# IAM API Reference, EvaluationResult.
AGGREGATE_QUOTE = ("The top-level fields (EvalDecision, MatchedStatements, MissingContextValues, EvalDecisionDetails) "
                   "now represent the aggregate decision across all requested resources. The top-level EvalDecision "
                   "reflects the most restrictive decision across all resources (for example, if any resource "
                   "produces explicitDeny, the top-level decision is explicitDeny).")
GUIDE_POLICY = doc({
    "Sid": "AllowCreateLimitedJobs", "Effect": "Allow",
    "Action": ["mediaconvert:CreateJob", "mediaconvert:CreateJobTemplate"],
    "Resource": [f"arn:*:mediaconvert:*:{A}:queues/myQueue", f"arn:*:mediaconvert:*:{A}:presets/allow*",
                 f"arn:*:mediaconvert:*:{A}:jobTemplates/*"]})


def _guide(ledger: Ledger) -> None:
    ledger.create_account(A, "media", at=t(1))
    ledger.create_user(A, "mediaconvert-user", at=t(1))
    ledger.put_user_policy(A, "mediaconvert-user", "ResourceLevelMediaConvertPolicy", GUIDE_POLICY, at=t(2))


class TestSeveralResources:
    def test_a_job_naming_its_queue_preset_and_template_is_allowed(self, ledger: Ledger) -> None:
        """The guide's CreateJob on myQueue with an allow* preset and a job template: every resource allowed."""
        _guide(ledger)
        assert GUIDE_QUOTE
        d = ledger.can(USER, "mediaconvert:CreateJob", [QUEUE, PRESET, TEMPLATE], at=t(3))
        assert d.allowed
        body = d.to_dict()
        assert [QUEUE, PRESET, TEMPLATE] == [r["EvalResourceName"] for r in body["ResourceSpecificResults"]]
        assert ["allowed"] * 3 == [r["EvalResourceDecision"] for r in body["ResourceSpecificResults"]]
        assert {"EvalResourceName", "EvalResourceDecision", "MatchedStatements", "MissingContextValues",
                "EvalDecisionDetails", "PermissionsBoundaryDecisionDetail"} <= set(body["ResourceSpecificResults"][0])

    def test_one_resource_not_allowed_denies_the_request(self, ledger: Ledger) -> None:
        """A preset outside allow*: the aggregate is the most restrictive decision, implicitDeny."""
        _guide(ledger)
        assert AGGREGATE_QUOTE
        d = ledger.can(USER, "mediaconvert:CreateJob", [QUEUE, BAD_PRESET], at=t(3))
        assert ("implicitDeny", False) == (d.eval_decision, d.allowed)
        assert ["allowed", "implicitDeny"] == [r.eval_decision for r in d.resource_results]

    def test_an_explicit_deny_on_any_resource_is_the_aggregate(self, ledger: Ledger) -> None:
        """explicitDeny on one resource outranks an implicitDeny on another."""
        _guide(ledger)
        ledger.put_user_policy(A, "mediaconvert-user", "no", doc(
            {"Effect": "Deny", "Action": "mediaconvert:CreateJob", "Resource": TEMPLATE}), at=t(2))
        d = ledger.can(USER, "mediaconvert:CreateJob", [BAD_PRESET, TEMPLATE, QUEUE], at=t(3))
        assert "explicitDeny" == d.eval_decision
        assert ["no"] == [m.source_policy_id for m in d.decision.matched_statements]

    def test_one_resource_keeps_the_single_shape(self, ledger: Ledger) -> None:
        """A single resource (string or one-item list) answers exactly as before: no per-resource list."""
        _guide(ledger)
        one = ledger.can(USER, "mediaconvert:CreateJob", QUEUE, at=t(3)).to_dict()
        assert "ResourceSpecificResults" not in one and QUEUE == one["EvalResourceName"]


class TestCombination:
    def test_the_aggregate_is_the_most_restrictive_decision(self, ledger: Ledger) -> None:
        """explicitDeny > implicitDeny > allowed, whatever the order."""
        _guide(ledger)
        rs = ledger.read_side()
        allowed = rs.can(USER, "mediaconvert:CreateJob", QUEUE, at=t(3)).decision
        implicit = rs.can(USER, "mediaconvert:CreateJob", BAD_PRESET, at=t(3)).decision
        assert "allowed" == combine_resource_decisions([allowed, allowed]).eval_decision
        assert "implicitDeny" == combine_resource_decisions([allowed, implicit]).eval_decision
        assert "implicitDeny" == combine_resource_decisions([implicit, allowed]).eval_decision


def _cli(ledger: Ledger, *args: str) -> Any:
    return runner.invoke(app, ["--db", str(ledger.store.url.url), *args])


class TestCommandLine:
    def test_can_takes_several_resources(self, ledger: Ledger) -> None:
        """`ledger can PRINCIPAL ACTION RES [RES...]`: exit 0 only if every resource is allowed."""
        _guide(ledger)
        at = t(3).isoformat()
        ok = _cli(ledger, "can", USER, "mediaconvert:CreateJob", QUEUE, PRESET, TEMPLATE, "--at", at, "--json")
        assert 0 == ok.exit_code, ok.output
        assert 3 == len(json.loads(ok.stdout)["ResourceSpecificResults"])
        bad = _cli(ledger, "can", USER, "mediaconvert:CreateJob", QUEUE, BAD_PRESET, "--at", at)
        assert 1 == bad.exit_code and BAD_PRESET in bad.output

"""Disagreements between sources are reported with both sides (import summaries and
`drift --sources`), and every fact of an answer names its source (provenance)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import ledger.cli.registry  # noqa: F401  (registers every command)
from ledger import Ledger
from ledger.application.importing import import_snapshot
from ledger.application.importing.config import import_config
from ledger.application.importing.drift import source_conflicts
from ledger.application.importing.provenance import annotate
from ledger.cli.app import app

A = "444444444444"
POLICY = f"arn:aws:iam::{A}:policy/ReadReports"
DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}


def _user_item(at: str, state: int, attached: bool) -> dict[str, Any]:
    managed = [{"policyName": "ReadReports", "policyArn": POLICY}] if attached else []
    return {"configurationItemVersion": "1.3", "configurationItemCaptureTime": at, "configurationStateId": state,
            "awsAccountId": A, "configurationItemStatus": "OK", "resourceType": "AWS::IAM::User",
            "resourceId": "AIDAEXAMPLEDEV000001", "resourceName": "dev", "ARN": f"arn:aws:iam::{A}:user/dev",
            "awsRegion": "global", "tags": {}, "supplementaryConfiguration": {},
            "configuration": {"path": "/", "userName": "dev", "userId": "AIDAEXAMPLEDEV000001",
                              "arn": f"arn:aws:iam::{A}:user/dev", "groupList": [], "userPolicyList": [],
                              "attachedManagedPolicies": managed, "tags": []}}


def _gaad() -> dict[str, Any]:
    return {"UserDetailList": [{"UserName": "dev", "UserId": "AIDAEXAMPLEDEV000001", "Path": "/",
                                "Arn": f"arn:aws:iam::{A}:user/dev", "GroupList": [],
                                "AttachedManagedPolicies": [{"PolicyName": "ReadReports", "PolicyArn": POLICY}]}],
            "GroupDetailList": [], "RoleDetailList": [],
            "Policies": [{"PolicyName": "ReadReports", "PolicyId": "ANPAEXAMPLEREPORTS01", "Arn": POLICY, "Path": "/",
                          "DefaultVersionId": "v1", "PolicyVersionList": [
                              {"VersionId": "v1", "IsDefaultVersion": True, "Document": DOC}]}]}


def _policy_item() -> dict[str, Any]:
    return {"configurationItemVersion": "1.3", "configurationItemCaptureTime": "2024-03-01T08:00:00Z",
            "configurationStateId": 7, "awsAccountId": A, "configurationItemStatus": "ResourceDiscovered",
            "resourceType": "AWS::IAM::Policy", "resourceId": "ANPAEXAMPLEREPORTS01", "resourceName": "ReadReports",
            "ARN": POLICY, "awsRegion": "global", "tags": {}, "supplementaryConfiguration": {},
            "configuration": {"policyName": "ReadReports", "policyId": "ANPAEXAMPLEREPORTS01", "arn": POLICY,
                              "path": "/", "defaultVersionId": "v1", "policyVersionList": [
                                  {"versionId": "v1", "isDefaultVersion": True, "document": json.dumps(DOC)}]}}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Config: the policy ReadReports from 08:00; dev has it at 09:00, not at 10:00. Snapshot at
    11:00: attached again."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"configurationItems": [
        _policy_item(), _user_item("2024-03-01T09:00:00Z", 1, True), _user_item("2024-03-01T10:00:00Z", 2, False)]}))
    snapshot = tmp_path / "gaad.json"
    snapshot.write_text(json.dumps(_gaad()))
    return {"config": config, "snapshot": snapshot}


class TestConflictsAreReported:
    def test_the_snapshot_import_lists_its_disagreement_with_config(self, ledger: Ledger,
                                                                    files: dict[str, Path]) -> None:
        """Config detached ReadReports at 10:00; the 11:00 snapshot says attached: both are listed."""
        import_config(ledger, [files["config"]])
        summary = import_snapshot(ledger, [files["snapshot"]], at="2024-03-01T11:00:00Z")
        [conflict] = [c for c in summary.conflicts if c["fact"].startswith("attach:")]
        assert ("snapshot", "present") == (conflict["this"]["source"], conflict["this"]["says"])
        assert ("config", "absent", "2024-03-01T10:00:00Z") == (
            conflict["other"]["source"], conflict["other"]["says"], conflict["other"]["at"])
        assert conflict["other"]["source_id"].endswith("/2")

    def test_the_reverse_order_reports_the_same_disagreement(self, ledger: Ledger, files: dict[str, Path]) -> None:
        """Snapshot first, Config after: the re-asserted snapshot and the Config item disagree."""
        import_snapshot(ledger, [files["snapshot"]], at="2024-03-01T11:00:00Z")
        summary = import_config(ledger, [files["config"]])
        assert any(c["fact"].startswith("attach:") and {c["this"]["source"], c["other"]["source"]} ==
                   {"snapshot", "config"} for c in summary.conflicts)

    def test_drift_sources_lists_it_from_the_log(self, ledger: Ledger, files: dict[str, Path]) -> None:
        """`drift --sources` finds the same disagreement in the recorded log, after the fact."""
        import_config(ledger, [files["config"]])
        import_snapshot(ledger, [files["snapshot"]], at="2024-03-01T11:00:00Z")
        found = source_conflicts(ledger)["conflicts"]
        assert [("snapshot", "config")] == [(c["this"]["source"], c["other"]["source"]) for c in found
                                            if c["fact"].startswith("attach:")]

    def test_the_cli_shows_both_sources(self, store_url: str, files: dict[str, Path]) -> None:
        """`ledger import snapshot` prints the disagreement; `ledger drift --sources --json` returns it."""
        runner = CliRunner()
        base = ["--db", store_url]
        assert 0 == runner.invoke(app, [*base, "import", "config", str(files["config"])]).exit_code
        shown = runner.invoke(app, [*base, "import", "snapshot", str(files["snapshot"]),
                                    "--at", "2024-03-01T11:00:00Z"])
        assert 0 == shown.exit_code and "sources disagree" in shown.output and "config" in shown.output
        drift = runner.invoke(app, [*base, "drift", "--sources", "--json"])
        assert any(c["fact"].startswith("attach:") for c in json.loads(drift.output)["conflicts"])


class TestProvenance:
    def test_each_matched_statement_names_its_source(self, ledger: Ledger, files: dict[str, Path]) -> None:
        """At 09:30 the allow came from the Config item (resource, state id); at 11:30 from the
        snapshot (its file and --at)."""
        import_config(ledger, [files["config"]])
        import_snapshot(ledger, [files["snapshot"]], at="2024-03-01T11:00:00Z")
        early = annotate(ledger, ledger.can(f"arn:aws:iam::{A}:user/dev", "s3:ListAllMyBuckets", "*",
                                            at="2024-03-01T09:30:00Z").to_dict())
        [statement] = early["MatchedStatements"]
        assert {"resourceType": "AWS::IAM::User", "resourceId": "AIDAEXAMPLEDEV000001",
                "configurationStateId": "1"} == statement["Origin"]["provenance"]["config"]
        assert {"resourceType": "AWS::IAM::Policy", "resourceId": "ANPAEXAMPLEREPORTS01",
                "configurationStateId": "7"} == statement["Origin"]["document"]["provenance"]["config"]
        late = annotate(ledger, ledger.can(f"arn:aws:iam::{A}:user/dev", "s3:ListAllMyBuckets", "*",
                                           at="2024-03-01T11:30:00Z").to_dict())
        [statement] = late["MatchedStatements"]
        snapshot = statement["Origin"]["provenance"]["snapshot"]
        assert (["gaad.json"], "2024-03-01T11:00:00Z") == (snapshot["files"], snapshot["observed_at"])

    def test_annotating_leaves_the_answer_itself_unchanged(self, ledger: Ledger, files: dict[str, Path]) -> None:
        """Provenance is added to a copy: the decision's own Origins stay as the read side made them."""
        import_config(ledger, [files["config"]])
        decision = ledger.can(f"arn:aws:iam::{A}:user/dev", "s3:ListAllMyBuckets", "*", at="2024-03-01T09:30:00Z")
        annotate(ledger, decision.to_dict())
        assert "provenance" not in decision.to_dict()["MatchedStatements"][0]["Origin"]

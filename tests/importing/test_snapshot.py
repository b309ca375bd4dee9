"""IAM snapshot (get-account-authorization-details) imports: baselines, diffs, dangling references."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ledger import Ledger
from ledger.application.importing import import_snapshot
from tests.importing.conftest import GAAD

GAAD_FILES = sorted(p.name for p in GAAD.glob("*.json"))


class TestEveryRealDumpImports:
    @pytest.mark.parametrize("name", GAAD_FILES)
    def test_dump_imports_and_reimports_nothing(self, ledger: Ledger, name: str) -> None:
        """Each dump imports without errors; the same dump again records nothing, and a day later
        only the observation itself (a `StateObserved` marker, which changes no fact)."""
        first = import_snapshot(ledger, [GAAD / name], at="2024-01-01T00:00:00Z")
        assert [] == first.errors and first.events > 0
        position = ledger.store.max_position()
        assert 0 == import_snapshot(ledger, [GAAD / name], at="2024-01-01T00:00:00Z").events
        assert position == ledger.store.max_position()
        assert 1 == import_snapshot(ledger, [GAAD / name], at="2024-01-02T00:00:00Z").events
        assert ["StateObserved"] == [e.event_type for e in ledger.events(after=position)]


class TestRealDumpStates:
    def test_lab_account_is_complete(self, ledger: Ledger) -> None:
        """The cloudsplaining lab account has its 41 users, 3 groups, 75 roles and 56 local policies."""
        import_snapshot(ledger, [GAAD / "cloudsplaining_lab_account_gaad.json"], at="2024-01-01T00:00:00Z")
        state = ledger.account_state("200611803367")
        assert (41, 3, 75) == (len(state.users), len(state.groups), len(state.roles))
        arns = [p["Arn"] for p in json.loads((GAAD / "cloudsplaining_lab_account_gaad.json").read_text())["Policies"]]
        assert 56 == len(arns)
        aws = ledger.account_state("aws")
        assert all(state.policy_by_arn(a) or aws.policy_by_arn(a) for a in arns)

    def test_aws_cli_sample_reports_its_dangling_references(self, ledger: Ledger) -> None:
        """The AWS CLI sample's four absent AWS-managed policies and its reused id are reported."""
        summary = import_snapshot(ledger, [GAAD / "awscli_doc_example_gaad.json"], at="2024-01-01T00:00:00Z")
        dangling = sorted(w.rsplit(" is attached to ", 1)[1].split(",")[0] for w in summary.warnings
                          if w.startswith("dangling reference"))
        assert [f"arn:aws:iam::aws:policy/{n}" for n in (
            "AdministratorAccess", "AmazonDynamoDBFullAccess", "AmazonS3FullAccess", "PowerUserAccess")] == dangling
        assert any("AIDA1234567890EXAMPLE" in w for w in summary.warnings)
        assert any("truncated" in w for w in summary.warnings)
        state = ledger.account_state("123456789012")
        assert {"Alice", "Bob", "Charlie"} == {u.name for u in state.users.values()}
        admins = state.group_by_name("Admins")
        assert admins is not None and ["arn:aws:iam::aws:policy/AdministratorAccess"] == list(admins.managed.values())

    def test_policy_mismatch_reports_the_absent_policy(self, ledger: Ledger) -> None:
        """The group attached to AWSLambdaReadOnlyAccess (absent) is reported, not fatal."""
        summary = import_snapshot(ledger, [GAAD / "cloudsplaining_managed_policy_mismatch.json"],
                                  at="2024-01-01T00:00:00Z")
        assert any("AWSLambdaReadOnlyAccess" in w for w in summary.warnings)
        aws = ledger.account_state("aws")
        assert aws.policy_by_arn("arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess") is not None
        assert "v2" == aws.policy_by_arn("arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess").default_version

    def test_cloudmapper_bad_role_trusts_everyone(self, ledger: Ledger) -> None:
        """The demo's bad_role keeps its {"AWS": "*"} trust policy; ARNs are rebuilt for the account."""
        summary = import_snapshot(ledger, [GAAD / "cloudmapper_demo_gaad.json"], at="2024-01-01T00:00:00Z")
        role = ledger.account_state("123456789012").role_by_name("bad_role")
        assert role is not None
        assert {"AWS": "*"} in [s.get("Principal") for s in role.trust_policy["Statement"]]
        assert any("does not belong to account" in w for w in summary.warnings)

    def test_teaching_dump_has_aws_managed_documents(self, ledger: Ledger) -> None:
        """AWS-managed policies go to the `aws` pseudo-account with their versions and default."""
        import_snapshot(ledger, [GAAD / "cloudsplaining_teaching_gaad.json"], at="2024-01-01T00:00:00Z")
        admin = ledger.account_state("aws").policy_by_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        assert admin is not None and admin.aws_managed
        obama = ledger.account_state("012345678901").user_by_name("obama")
        assert obama is not None and 1 == len(obama.groups)


class TestSnapshotHistory:
    def test_later_snapshot_records_only_the_differences(self, ledger: Ledger, tmp_path: Path) -> None:
        """A second dump with a removed user and a changed trust policy records just those changes."""
        dump = json.loads((GAAD / "cloudsplaining_teaching_gaad.json").read_text())
        import_snapshot(ledger, [GAAD / "cloudsplaining_teaching_gaad.json"], at="2024-01-01T00:00:00Z")
        later = copy.deepcopy(dump)
        removed = later["UserDetailList"].pop()
        later["RoleDetailList"][0]["AssumeRolePolicyDocument"] = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}]}
        (tmp_path / "later.json").write_text(json.dumps(later))
        position = ledger.store.max_position()
        summary = import_snapshot(ledger, [tmp_path / "later.json"], at="2024-01-02T00:00:00Z")
        new = list(ledger.events(after=position))
        assert summary.events == len(new)
        kinds = {e.event_type for e in new}
        assert {"UserDeleted", "TrustPolicyUpdated"} <= kinds
        assert kinds <= {"UserDeleted", "TrustPolicyUpdated", "UserRemovedFromGroup", "PolicyDetached",
                         "InlinePolicyDeleted", "PermissionsBoundaryRemoved", "StateObserved"}
        assert all(e.source == "snapshot" and e.occurred_at.isoformat().startswith("2024-01-02") for e in new)
        assert ledger.account_state("012345678901").user_by_name(removed["UserName"]) is None

    def test_paginated_pages_make_one_snapshot(self, ledger: Ledger, tmp_path: Path) -> None:
        """Two pages (IsTruncated then final) import as one complete dump."""
        dump = json.loads((GAAD / "cloudsplaining_teaching_gaad.json").read_text())
        first = {"UserDetailList": dump["UserDetailList"], "GroupDetailList": dump["GroupDetailList"],
                 "IsTruncated": True, "Marker": "page2"}
        second = {"RoleDetailList": dump["RoleDetailList"], "Policies": dump["Policies"], "IsTruncated": False}
        (tmp_path / "p1.json").write_text(json.dumps(first))
        (tmp_path / "p2.json").write_text(json.dumps(second))
        summary = import_snapshot(ledger, [tmp_path / "p1.json", tmp_path / "p2.json"], at="2024-01-01T00:00:00Z")
        assert [] == summary.errors and not any("truncated" in w for w in summary.warnings)
        state = ledger.account_state("012345678901")
        assert (3, 2, 3) == (len(state.users), len(state.groups), len(state.roles))

    def test_malformed_snapshot_writes_nothing(self, ledger: Ledger, tmp_path: Path) -> None:
        """An invalid page is reported with its path and no part of the snapshot is written."""
        (tmp_path / "bad.json").write_text('{"UserDetailList": [')
        summary = import_snapshot(ledger, [GAAD / "cloudsplaining_teaching_gaad.json", tmp_path / "bad.json"],
                                  at="2024-01-01T00:00:00Z")
        assert ["bad.json"] == [Path(e["path"]).name for e in summary.errors]
        assert 0 == ledger.store.max_position()

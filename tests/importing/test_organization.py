"""`import organization`: AWS's documented CLI outputs, bad organisations refused whole, history at
each import's own time, and CloudTrail's Organizations events mapped to the same facts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ledger import Ledger
from ledger.application.importing import import_cloudtrail
from ledger.application.importing.organization import import_organization
from tests.importing.conftest import FIXTURES

ORG = FIXTURES / "organizations"
AWSCLI, TWO = ORG / "awscli", ORG / "synthetic" / "two_accounts"
M, A = "111111111111", "222222222222"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def bundle(directory: Path) -> dict[str, Any]:
    """A directory's outputs as one bundled object keyed by file name."""
    return {p.name.removesuffix(".json"): json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def admin(ledger: Ledger, account: str) -> None:
    if not ledger.account_state(account).exists:
        ledger.create_account(account, at="2023-01-01T00:00:00Z")
    ledger.create_user(account, "admin", at="2023-01-01T00:00:00Z")
    ledger.put_user_policy(account, "admin", "all", ALLOW_ALL, at="2023-01-01T00:00:00Z")


def org_state(ledger: Ledger) -> Any:
    org = ledger.account_state(M).organization
    assert org is not None
    return org


class TestAwsDocumentedOutputs:
    def test_the_cli_examples_import_as_an_incomplete_organisation(self, ledger: Ledger) -> None:
        """The aws-cli examples give a root, two OUs, two accounts and the policies; what they leave
        out is reported, never guessed."""
        summary = import_organization(ledger, AWSCLI, at="2024-01-01T00:00:00Z")
        assert [] == summary.errors
        org = org_state(ledger)
        assert ("r-examplerootid111", "o-exampleorgid") == (org.root_id, org.organization_id)
        assert {"ou-examplerootid111-exampleouid111", "ou-examplerootid111-exampleouid222"} == set(org.units)
        assert {"333333333333": "ou-examplerootid111-exampleouid111",
                "444444444444": "ou-examplerootid111-exampleouid111"} == org.accounts
        assert any("p-examplepolicyid222" in w and "unknown" in w for w in summary.warnings)
        assert any("do not cover" in w for w in summary.warnings)

    def test_an_account_with_no_scp_recorded_fails_closed_with_the_reason(self, ledger: Ledger) -> None:
        """333333333333 has FullAWSAccess on every level (allowed); 444444444444 has none on its own
        level in the examples: its answer says the organisation is incomplete."""
        import_organization(ledger, AWSCLI, at="2024-01-01T00:00:00Z")
        admin(ledger, "333333333333")
        admin(ledger, "444444444444")
        assert "allowed" == ledger.can("arn:aws:iam::333333333333:user/admin", "iam:ListUsers", "*",
                                       at="2024-02-01T00:00:00Z").eval_decision
        denied = ledger.can("arn:aws:iam::444444444444:user/admin", "iam:ListUsers", "*", at="2024-02-01T00:00:00Z")
        assert "implicitDeny" == denied.eval_decision
        assert any("no SCP is recorded as attached to 444444444444" in e for e in denied.to_dict()["Errors"])

    @pytest.mark.parametrize("name", ["describe-organization.json",
                                      "list-accounts-for-parent.ou-examplerootid111-exampleouid111.json"])
    def test_the_examples_as_published_are_refused_with_their_file(self, ledger: Ledger, tmp_path: Path,
                                                                   name: str) -> None:
        """As AWS published them two examples are not JSON: the import names the file, writes nothing."""
        shutil.copytree(AWSCLI, tmp_path / "org")
        shutil.copy(ORG / "awscli_as_published" / name, tmp_path / "org" / name)
        summary = import_organization(ledger, tmp_path / "org", at="2024-01-01T00:00:00Z")
        assert [name] == [Path(e["path"]).name for e in summary.errors]
        assert 0 == ledger.store.max_position()

    def test_a_bundled_file_is_the_same_as_the_directory(self, ledger: Ledger, tmp_path: Path) -> None:
        """One JSON object keyed by the expected file names imports like the directory."""
        (tmp_path / "org.json").write_text(json.dumps(bundle(TWO)))
        assert [] == import_organization(ledger, tmp_path / "org.json", at="2024-01-01T00:00:00Z").errors
        org = org_state(ledger)
        assert {M: "r-ex01", A: "ou-ex01-workloads"} == org.accounts
        assert {"p-FullAWSAccess", "p-denydeletebucket"} == set(org.policies)
        assert {"r-ex01", "ou-ex01-workloads", M, A} == {t for t, ids in org.attachments.items()
                                                         if "p-FullAWSAccess" in ids}


def _broken(tmp_path: Path, change: dict[str, Any]) -> Path:
    data = bundle(TWO)
    data.update(change)
    path = tmp_path / "org.json"
    path.write_text(json.dumps(data))
    return path


class TestBadOrganisationsWriteNothing:
    @pytest.mark.parametrize(("change", "reason"), [
        ({"list-organizational-units-for-parent.ou-ex01-workloads": {"OrganizationalUnits": [
            {"Id": "ou-ex01-inner", "Name": "Inner"}]},
          "list-organizational-units-for-parent.ou-ex01-inner": {"OrganizationalUnits": [
              {"Id": "ou-ex01-workloads", "Name": "Loop"}]}}, "listed under two parents"),
        ({"list-accounts-for-parent.r-ex01": {"Accounts": [{"Id": M}, {"Id": A}]}}, "listed under two parents"),
        ({"list-accounts-for-parent.ou-ex01-workloads": {"Accounts": [{"Id": A}]},
          "list-organizational-units-for-parent.r-ex01": {"OrganizationalUnits": []}}, "neither the root nor"),
        ({"describe-policy.p-denydeletebucket": {"Policy": {"PolicySummary": {
            "Id": "p-denydeletebucket", "Type": "SERVICE_CONTROL_POLICY", "Name": "DenyDeleteBucket"},
            "Content": json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": "*"}]})}}},
         "not a valid SERVICE_CONTROL_POLICY"),
        ({"list-targets-for-policy.p-denydeletebucket": {"Targets": [{"TargetId": "ou-ex01-nowhere"}]}},
         "no listing of the organisation names"),
    ], ids=["ou-cycle", "account-in-two-parents", "unknown-parent", "scp-grammar", "unknown-target"])
    def test_an_impossible_organisation_is_a_typed_error(self, ledger: Ledger, tmp_path: Path,
                                                         change: dict[str, Any], reason: str) -> None:
        """An OU cycle, an account in two OUs, an unknown parent, an SCP outside the SCP grammar or a
        target no listing names: one error naming the reason, and nothing is written."""
        summary = import_organization(ledger, _broken(tmp_path, change), at="2024-01-01T00:00:00Z")
        assert 1 == len(summary.errors) and reason in summary.errors[0]["reason"]
        assert 0 == ledger.store.max_position()

    def test_an_rcp_that_allows_is_refused(self, ledger: Ledger, tmp_path: Path) -> None:
        """AWS: "The effect of Allow is only supported for the RCPFullAWSAccess policy"."""
        allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                                                        "Resource": "*"}]}
        change = {"list-policies.RESOURCE_CONTROL_POLICY": {"Policies": [
            {"Id": "p-rcp1", "Name": "Open", "Type": "RESOURCE_CONTROL_POLICY", "AwsManaged": False}]},
            "describe-policy.p-rcp1": {"Policy": {"PolicySummary": {"Id": "p-rcp1", "Name": "Open",
                                                                    "Type": "RESOURCE_CONTROL_POLICY"},
                                                  "Content": json.dumps(allow)}}}
        summary = import_organization(ledger, _broken(tmp_path, change), at="2024-01-01T00:00:00Z")
        assert 1 == len(summary.errors) and "only RCPFullAWSAccess may use Allow" in summary.errors[0]["reason"]


class TestOrganisationHistory:
    def test_a_later_import_records_the_move_and_the_detach(self, ledger: Ledger, tmp_path: Path) -> None:
        """A month later A sits under the root and the deny SCP is gone: exactly those changes, then."""
        import_organization(ledger, TWO, at="2024-01-01T00:00:00Z")
        later = bundle(TWO)
        later["list-accounts-for-parent.r-ex01"]["Accounts"].append({"Id": A})
        later["list-accounts-for-parent.ou-ex01-workloads"]["Accounts"] = []
        later["list-targets-for-policy.p-denydeletebucket"]["Targets"] = []
        (tmp_path / "later.json").write_text(json.dumps(later))
        position = ledger.store.max_position()
        summary = import_organization(ledger, tmp_path / "later.json", at="2024-02-01T00:00:00Z")
        assert [] == summary.errors
        assert ["AccountMoved", "OrganizationPolicyDetached", "StateObserved"] == [
            e.event_type for e in ledger.events(after=position)]

    def test_importing_the_older_one_last_gives_the_same_answers(self, store_url: str, tmp_path: Path) -> None:
        """The two imports in either order: the same SCP answers for A before, between and after."""
        later = bundle(TWO)
        later["list-targets-for-policy.p-denydeletebucket"]["Targets"] = []
        (tmp_path / "later.json").write_text(json.dumps(later))
        answers = []
        for name, sequence in (("a", [(TWO, "2024-01-01"), (tmp_path / "later.json", "2024-02-01")]),
                               ("b", [(tmp_path / "later.json", "2024-02-01"), (TWO, "2024-01-01")])):
            with Ledger.open(f"sqlite:///{tmp_path}/{name}.db") as ledger:
                admin(ledger, A)
                ledger.create_bucket(A, "bucket-a", at="2023-01-01T00:00:00Z")
                for source, day in sequence:
                    import_organization(ledger, source, at=f"{day}T00:00:00Z")
                answers.append([ledger.can(f"arn:aws:iam::{A}:user/admin", "s3:DeleteBucket", "arn:aws:s3:::bucket-a",
                                           at=f"2024-{when}T00:00:00Z").eval_decision
                                for when in ("01-01", "01-15", "02-01", "02-15")])
        assert ["explicitDeny", "explicitDeny", "allowed", "allowed"] == answers[0] == answers[1]

    def test_the_same_outputs_again_record_nothing(self, ledger: Ledger) -> None:
        """Re-importing the same directory at the same time is a duplicate."""
        import_organization(ledger, TWO, at="2024-01-01T00:00:00Z")
        position = ledger.store.max_position()
        assert 0 == import_organization(ledger, TWO, at="2024-01-01T00:00:00Z").events
        assert position == ledger.store.max_position()


def _record(name: str, at: str, params: dict[str, Any], response: dict[str, Any] | None = None,
            **extra: Any) -> dict[str, Any]:
    return {"eventVersion": "1.08", "eventTime": at, "eventSource": "organizations.amazonaws.com", "eventName": name,
            "awsRegion": "us-east-1", "eventID": f"org-{name}-{at}", "recipientAccountId": M,
            "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEADMIN0001", "userName": "admin",
                             "arn": f"arn:aws:iam::{M}:user/admin", "accountId": M},
            "requestParameters": params, "responseElements": response, **extra}


class TestCloudTrailOrganisationEvents:
    def test_calls_record_the_same_facts_as_the_import(self, ledger: Ledger, tmp_path: Path) -> None:
        """After an import at T0, CloudTrail's CreatePolicy, AttachPolicy, MoveAccount and
        DetachPolicy change the organisation exactly as a later import would see it."""
        import_organization(ledger, TWO, at="2024-01-01T00:00:00Z")
        content = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}]})
        records = [
            _record("CreatePolicy", "2024-01-02T00:00:00Z", {"content": content, "name": "NoUsers",
                                                             "type": "SERVICE_CONTROL_POLICY"},
                    {"policy": {"policySummary": {"id": "p-nousers", "name": "NoUsers",
                                                  "type": "SERVICE_CONTROL_POLICY", "awsManaged": False},
                                "content": content}}),
            _record("AttachPolicy", "2024-01-03T00:00:00Z", {"policyId": "p-nousers", "targetId": "ou-ex01-workloads"}),
            _record("MoveAccount", "2024-01-04T00:00:00Z", {"accountId": A, "sourceParentId": "ou-ex01-workloads",
                                                            "destinationParentId": "r-ex01"}),
            _record("DetachPolicy", "2024-01-05T00:00:00Z", {"policyId": "p-denydeletebucket", "targetId": A}),
        ]
        (tmp_path / "trail.json").write_text(json.dumps({"Records": records}))
        summary = import_cloudtrail(ledger, [tmp_path / "trail.json"])
        assert (4, {}) == (summary.imported, dict(summary.skipped))
        org = org_state(ledger)
        assert "r-ex01" == org.accounts[A]
        assert "p-nousers" in org.attachments["ou-ex01-workloads"] and "p-denydeletebucket" not in org.attachments[A]
        admin(ledger, A)
        assert "explicitDeny" == ledger.can(f"arn:aws:iam::{A}:user/admin", "iam:CreateUser", "*",
                                            at="2024-01-03T12:00:00Z").eval_decision
        assert "allowed" == ledger.can(f"arn:aws:iam::{A}:user/admin", "iam:CreateUser", "*",
                                       at="2024-01-04T12:00:00Z").eval_decision

    def test_the_organizations_guide_examples_import(self, ledger: Ledger) -> None:
        """The Organizations user guide's records: the OU creation is kept (its root learnt from the
        record), the failed AttachPolicy changes nothing, the reused eventID counts as duplicates."""
        summary = import_cloudtrail(ledger, [ORG / "cloudtrail"])
        assert ([], 6, 4) == (summary.errors, summary.records, summary.duplicates)
        org = org_state(ledger)
        assert {"ou-examplerootid111-exampleouid111": ("test-cloud-trail", "r-a1b2")} == org.units

    def test_an_attach_of_an_unknown_policy_is_counted_not_guessed(self, ledger: Ledger, tmp_path: Path) -> None:
        """AttachPolicy of a policy the ledger never saw: its type and document are unknown, so the
        record is counted as not understood."""
        record = _record("AttachPolicy", "2024-01-03T00:00:00Z", {"policyId": "p-mystery", "targetId": A})
        (tmp_path / "trail.json").write_text(json.dumps({"Records": [record]}))
        summary = import_cloudtrail(ledger, [tmp_path / "trail.json"])
        assert {"organizations.amazonaws.com:AttachPolicy": 1} == dict(summary.skipped)

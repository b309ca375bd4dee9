"""`import buckets`: S3 state as the AWS CLI prints it, with Object Ownership, at the file's own time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger import Ledger
from ledger.application.importing.buckets import import_buckets
from tests.importing.conftest import FIXTURES

BUCKETS = FIXTURES / "buckets"
MEDIA = BUCKETS / "synthetic" / "media_out_111111111111.json"
M = "111111111111"


def write(tmp_path: Path, data: dict[str, Any], name: str = "buckets.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def awscli_bundle() -> dict[str, Any]:
    """AWS's two documented outputs, unchanged, for one listed bucket."""
    policy = json.loads((BUCKETS / "awscli" / "get-bucket-policy.my-bucket.json").read_text())
    ownership = json.loads((BUCKETS / "awscli" / "get-bucket-ownership-controls.DOC-EXAMPLE-BUCKET.json").read_text())
    return {"Account": "123456789012", "list-buckets": {"Buckets": [{"Name": "my-bucket"}]},
            "buckets": {"my-bucket": {"get-bucket-policy": policy, "get-bucket-ownership-controls": ownership}}}


class TestDocumentedOutputs:
    def test_the_cli_outputs_record_the_policy_and_ownership(self, ledger: Ledger, tmp_path: Path) -> None:
        """get-bucket-policy (a JSON string, Version 2008-10-17) and get-bucket-ownership-controls as
        AWS documents them become the bucket's policy and BucketOwnerEnforced."""
        summary = import_buckets(ledger, write(tmp_path, awscli_bundle()), at="2024-01-01T00:00:00Z")
        assert [] == summary.errors
        bucket = ledger.account_state("123456789012").buckets["my-bucket"]
        assert "BucketOwnerEnforced" == bucket.object_ownership
        assert bucket.policy is not None and "2008-10-17" == bucket.policy["Version"]

    def test_the_documented_policy_decides_as_written(self, ledger: Ledger, tmp_path: Path) -> None:
        """Anyone may get my-bucket's objects except under secret/ (an explicit deny)."""
        import_buckets(ledger, write(tmp_path, awscli_bundle()), at="2024-01-01T00:00:00Z")
        anyone = "arn:aws:iam::123456789012:root"
        assert "allowed" == ledger.can(anyone, "s3:GetObject", "arn:aws:s3:::my-bucket/a",
                                       at="2024-02-01T00:00:00Z").eval_decision
        assert "explicitDeny" == ledger.can(anyone, "s3:GetObject", "arn:aws:s3:::my-bucket/secret/a",
                                            at="2024-02-01T00:00:00Z").eval_decision


class TestBucketHistory:
    def test_a_later_listing_records_only_changes(self, ledger: Ledger, tmp_path: Path) -> None:
        """A month later the policy is gone and ownership is ObjectWriter: just those two facts."""
        import_buckets(ledger, MEDIA, at="2024-03-01T00:00:00Z")
        later = json.loads(MEDIA.read_text())
        calls = later["buckets"]["media-out"]
        calls["get-bucket-policy"] = {"Error": {"Code": "NoSuchBucketPolicy"}}
        calls["get-bucket-ownership-controls"] = {"Error": {"Code": "OwnershipControlsNotFoundError"}}
        position = ledger.store.max_position()
        import_buckets(ledger, write(tmp_path, later), at="2024-04-01T00:00:00Z")
        assert ["BucketOwnershipChanged", "BucketPolicyDeleted", "StateObserved"] == [
            e.event_type for e in ledger.events(after=position)]

    def test_a_bucket_missing_from_the_listing_was_deleted(self, ledger: Ledger, tmp_path: Path) -> None:
        """list-buckets lists every bucket of the account: one it no longer lists is deleted then."""
        import_buckets(ledger, MEDIA, at="2024-03-01T00:00:00Z")
        import_buckets(ledger, write(tmp_path, {"Account": M, "list-buckets": {"Buckets": []}}),
                       at="2024-04-01T00:00:00Z")
        assert "media-out" not in ledger.account_state(M).buckets

    def test_an_older_listing_imported_last_changes_only_its_own_past(self, ledger: Ledger, tmp_path: Path) -> None:
        """An older listing without the policy, imported after the newer one: no policy before, the
        policy again from the newer listing's time."""
        import_buckets(ledger, MEDIA, at="2024-03-01T00:00:00Z")
        older = json.loads(MEDIA.read_text())
        older["buckets"]["media-out"]["get-bucket-policy"] = {"Error": {"Code": "NoSuchBucketPolicy"}}
        import_buckets(ledger, write(tmp_path, older), at="2024-02-01T00:00:00Z")
        role = "arn:aws:iam::222222222222:role/ReportsRole"
        ledger.create_account("222222222222", at="2024-01-01T00:00:00Z")
        ledger.create_role("222222222222", "ReportsRole", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            at="2024-01-01T00:00:00Z")
        ledger.put_role_policy("222222222222", "ReportsRole", "get", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}, at="2024-01-01T00:00:00Z")
        answers = [ledger.can(role, "s3:GetObject", "arn:aws:s3:::media-out/k", at=at).eval_decision
                   for at in ("2024-02-15T00:00:00Z", "2024-03-15T00:00:00Z")]
        assert ["implicitDeny", "allowed"] == answers


class TestBadBucketInput:
    def test_details_of_a_bucket_no_listing_mentions_are_skipped_and_reported(
            self, ledger: Ledger, tmp_path: Path) -> None:
        """A bucket policy for a bucket list-buckets does not list is a counted, reported skip."""
        data = json.loads(MEDIA.read_text())
        data["buckets"]["ghost-bucket"] = {"get-bucket-policy": {"Policy": "{}"}}
        summary = import_buckets(ledger, write(tmp_path, data), at="2024-03-01T00:00:00Z")
        assert ([], 1) == (summary.errors, summary.to_dict()["skipped_total"])
        assert any("ghost-bucket" in w for w in summary.warnings)
        assert {"media-out"} == set(ledger.account_state(M).buckets)

    @pytest.mark.parametrize(("calls", "reason"), [
        ({"get-bucket-policy": {"Policy": '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}'}},
         "Principal is required"),
        ({"get-bucket-ownership-controls": {"OwnershipControls": {"Rules": [{"ObjectOwnership": "Whoever"}]}}},
         "ObjectOwnership must be one of"),
    ], ids=["policy-grammar", "ownership-setting"])
    def test_a_malformed_output_writes_nothing(self, ledger: Ledger, tmp_path: Path, calls: dict[str, Any],
                                               reason: str) -> None:
        """A bucket policy outside the grammar or an unknown ownership setting: an error, nothing written."""
        data = json.loads(MEDIA.read_text())
        data["buckets"]["media-out"].update(calls)
        summary = import_buckets(ledger, write(tmp_path, data), at="2024-03-01T00:00:00Z")
        assert 1 == len(summary.errors) and reason in summary.errors[0]["reason"]
        assert 0 == ledger.store.max_position()

    def test_the_account_must_be_known(self, ledger: Ledger, tmp_path: Path) -> None:
        """S3's outputs do not name the account: without "Account" or --account it is an error."""
        data = json.loads(MEDIA.read_text())
        data.pop("Account")
        summary = import_buckets(ledger, write(tmp_path, data), at="2024-03-01T00:00:00Z")
        assert 1 == len(summary.errors) and "--account" in summary.errors[0]["reason"]
        assert [] == import_buckets(ledger, write(tmp_path, data), at="2024-03-01T00:00:00Z", account=M).errors

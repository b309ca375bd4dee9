"""Enforcing mode: when the ledger is the system of record, each command is authorised for its
actor against the state at that moment; a denied command records only `CommandDenied`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import Ledger
from ledger.errors import AccessDeniedError

A = "111122223333"
IAM_ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}
TRUST_MC = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "mediaconvert.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
ADMIN = f"arn:aws:iam::{A}:user/admin"
ALICE = f"arn:aws:iam::{A}:user/alice"


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    with Ledger.open(store_url, enforcing=True) as opened:
        opened.create_account(A, "alpha", at="2024-01-01T00:00:00Z")
        opened.create_user(A, "admin", at="2024-01-01T00:01:00Z")  # the root user needs no grant
        opened.put_user_policy(A, "admin", "iam-admin", IAM_ADMIN, at="2024-01-01T00:02:00Z")
        opened.create_user(A, "alice", actor=ADMIN, at="2024-01-01T00:03:00Z")
        yield opened


def event_types(ledger: Ledger) -> list[str]:
    return [e.event_type for e in ledger.events()]


class TestEnforcingMode:
    def test_an_administrator_with_iam_permissions_may_create_users(self, ledger: Ledger) -> None:
        """An actor allowed iam:CreateUser on the target records the command."""
        recorded = ledger.create_user(A, "bob", actor=ADMIN, at="2024-01-02T00:00:00Z")
        assert [e.event_type for e in recorded] == ["UserCreated"]

    def test_a_denied_command_records_only_command_denied(self, ledger: Ledger) -> None:
        """A user without iam:CreateUser is refused; the log gains just the CommandDenied fact."""
        before = event_types(ledger)
        with pytest.raises(AccessDeniedError) as denied:
            ledger.create_user(A, "mallory", actor=ALICE, at="2024-01-02T00:00:00Z")
        assert denied.value.details["action"] == "iam:CreateUser"
        assert event_types(ledger) == [*before, "CommandDenied"]
        assert ledger.account_state(A).user_by_name("mallory") is None

    def test_revoking_a_grant_changes_answers_from_that_moment_on(self, ledger: Ledger) -> None:
        """After the admin's policy is deleted, its next command is denied."""
        ledger.create_user(A, "bob", actor=ADMIN, at="2024-01-02T00:00:00Z")
        ledger.delete_user_policy(A, "admin", "iam-admin", at="2024-01-03T00:00:00Z")
        with pytest.raises(AccessDeniedError):
            ledger.create_user(A, "carol", actor=ADMIN, at="2024-01-04T00:00:00Z")

    def test_create_job_needs_create_job_and_pass_role_to_mediaconvert(self, ledger: Ledger) -> None:
        """CreateJob alone is not enough: the creator must also pass the role to MediaConvert."""
        role = f"arn:aws:iam::{A}:role/MC"
        ledger.create_role(A, "MC", TRUST_MC, actor=ADMIN, at="2024-01-02T00:00:00Z")
        ledger.put_user_policy(A, "alice", "jobs", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "mediaconvert:CreateJob", "Resource": "*"}]},
            actor=ADMIN, at="2024-01-02T00:01:00Z")
        with pytest.raises(AccessDeniedError) as denied:
            ledger.create_job(A, ALICE, role, outputs=["s3://out/"], at="2024-01-02T00:02:00Z")
        assert denied.value.details["action"] == "iam:PassRole"
        ledger.put_user_policy(A, "alice", "pass", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role,
             "Condition": {"StringEquals": {"iam:PassedToService": "mediaconvert.amazonaws.com"}}}]},
            actor=ADMIN, at="2024-01-02T00:03:00Z")
        job = ledger.create_job(A, ALICE, role, outputs=["s3://out/"], at="2024-01-02T00:04:00Z")
        assert [e.event_type for e in job] == ["JobCreated"]

    def test_the_root_user_may_do_anything_in_its_account(self, ledger: Ledger) -> None:
        """The account's root user needs no policy."""
        recorded = ledger.create_group(A, "editors", actor=f"arn:aws:iam::{A}:root", at="2024-01-02T00:00:00Z")
        assert recorded[0].event_type == "GroupCreated"

    def test_another_accounts_root_may_not_change_this_account(self, ledger: Ledger) -> None:
        """Root of a different account has no authority here."""
        ledger.create_account("444455556666", "beta", at="2024-01-01T00:00:00Z")
        with pytest.raises(AccessDeniedError):
            ledger.create_group(A, "editors", actor="arn:aws:iam::444455556666:root", at="2024-01-02T00:00:00Z")

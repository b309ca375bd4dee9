"""The write side's pure parts, without a store: which permissions enforcing mode asks for each
command, handlers that take their ids and times as arguments, and caller resolution."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.application.enforcement import Permission, required_permissions
from ledger.domain import events as ev
from ledger.domain import handlers as cmd
from ledger.domain.state import AccountState
from ledger.errors import NotFoundError, PrincipalNotFoundError

A = "111122223333"
T = datetime(2024, 3, 1, 14, 0, tzinfo=UTC)
TRUST_A = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "sts:AssumeRole"}]}
ROLE_ARN = f"arn:aws:iam::{A}:role/R"


def record(state: AccountState, drafts: list[cmd.Draft]) -> list[ev.LedgerEvent]:
    """Stamp drafts as the unit of work would and fold them into `state`."""
    events = []
    for cls, fields in drafts:
        event = cls(originator_id=ev.account_stream_id(state.account_id), originator_version=state.version + 1,
                    occurred_at=T, recorded_at=T, account_id=state.account_id, **fields)
        state.fold(event)
        events.append(event)
    return events


def account_with_user_and_role() -> AccountState:
    state = AccountState(A)
    record(state, cmd.create_account(state, "alpha"))
    record(state, cmd.create_user(state, "alice", "/", "AIDAALICE"))
    record(state, cmd.create_role(state, "R", TRUST_A, "/", 3600, None, "AROAROLE", cmd.Quotas()))
    return state


def first(command: str, drafts: list[cmd.Draft], account: str = A) -> list[Permission]:
    state = AccountState(account)
    cls, fields = drafts[0]
    event = cls(originator_id=ev.account_stream_id(account), originator_version=state.version + 1,
                occurred_at=T, recorded_at=T, account_id=account, **fields)
    return required_permissions(command, [event])


def job_drafts(state: AccountState) -> list[cmd.Draft]:
    creator = cmd.resolve_caller(state, f"arn:aws:iam::{A}:user/alice")
    request = cmd.job_request(A, f"arn:aws:iam::{A}:user/alice", creator, ROLE_ARN, ["s3://in/a"], ["s3://out/"],
                              "Default", "us-east-1")
    return cmd.create_job(state, request, "1709301600000-abcdef")


class TestRequiredPermissions:
    def test_create_job_needs_create_job_on_the_queue_then_pass_role_to_mediaconvert(self) -> None:
        """CreateJob is asked on the queue (with aws:RequestedRegion), then iam:PassRole on the role
        with iam:PassedToService and iam:AssociatedResourceArn, the job."""
        expected = [
            Permission("mediaconvert:CreateJob", f"arn:aws:mediaconvert:us-east-1:{A}:queues/Default",
                       {"aws:RequestedRegion": "us-east-1"}),
            Permission("iam:PassRole", ROLE_ARN, {
                "iam:PassedToService": "mediaconvert.amazonaws.com",
                "iam:AssociatedResourceArn": f"arn:aws:mediaconvert:us-east-1:{A}:jobs/1709301600000-abcdef"}),
        ]
        assert expected == first("create_job", job_drafts(account_with_user_and_role()))

    @pytest.mark.parametrize(("acl", "context"), [
        ("bucket-owner-full-control", {"s3:x-amz-acl": "bucket-owner-full-control"}),
        (None, {}),
    ])
    def test_an_output_is_asked_with_its_canned_acl_as_request_context(
        self, acl: str | None, context: dict[str, Any]
    ) -> None:
        """s3:PutObject is asked on the object, with s3:x-amz-acl only when the write names an ACL."""
        drafts: list[cmd.Draft] = [(ev.OutputWritten, {
            "bucket_name": "out", "bucket_arn": "arn:aws:s3:::out", "key": "k", "object_arn": "arn:aws:s3:::out/k",
            "writer_arn": "w", "writer_account": A, "acl": acl, "object_ownership": "ObjectWriter",
            "owner_account": A})]
        assert [Permission("s3:PutObject", "arn:aws:s3:::out/k", context)] == first("write_output", drafts)

    def test_deleting_a_provider_needs_the_action_of_its_kind(self) -> None:
        """An OIDC provider needs iam:DeleteOpenIDConnectProvider, a SAML one iam:DeleteSAMLProvider."""
        oidc = f"arn:aws:iam::{A}:oidc-provider/idp.example.com"
        saml = f"arn:aws:iam::{A}:saml-provider/corp"
        asked = [first("delete_identity_provider", [(ev.IdentityProviderDeleted, {"provider_arn": arn})])[0].action
                 for arn in (oidc, saml)]
        assert ["iam:DeleteOpenIDConnectProvider", "iam:DeleteSAMLProvider"] == asked

    def test_commands_decided_outside_iam_need_no_permission(self) -> None:
        """Account bootstrap and AWS's own managed policies are not authorised by IAM."""
        account = first("create_account", [(ev.AccountCreated, {"account_name": "a", "root_arn": "r"})])
        aws_policy = first("create_policy", cmd.create_policy(AccountState("aws"), "P", {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
            "/", "ANPAP"), account="aws")
        assert ([], []) == (account, aws_policy)


class TestHandlersArePure:
    def test_a_session_is_built_from_the_ids_and_time_it_is_given(self) -> None:
        """The same request, state and generated values give the same drafts, ids included."""
        state = account_with_user_and_role()
        request = cmd.role_session_request(f"arn:aws:iam::{A}:user/alice", ROLE_ARN, "s1", 900, None, None,
                                           "AssumeRole", None)
        caller = cmd.resolve_caller(state, request.caller_arn)
        new = cmd.NewSession(T, "0123456789ab", "ASIAKEY")
        drafts = [cmd.assume_role(state, request, caller, new, cmd.Quotas()) for _ in range(2)]
        fields = drafts[0][0][1]
        assert (drafts[0], "AROAROLE:s1:0123456789ab", "ASIAKEY") == (drafts[1], fields["session_id"],
                                                                    fields["access_key_id"])


class TestCallerResolution:
    def test_an_unknown_caller_user_is_a_missing_principal(self) -> None:
        """A caller ARN naming no user raises PrincipalNotFoundError, still a NotFoundError."""
        with pytest.raises(PrincipalNotFoundError) as missing:
            cmd.resolve_caller(account_with_user_and_role(), f"arn:aws:iam::{A}:user/ghost")
        assert (f"user 'ghost' does not exist in account {A}", True) == (
            missing.value.message, isinstance(missing.value, NotFoundError))

    def test_a_session_never_issued_is_a_missing_principal(self) -> None:
        """A session ARN with no recorded session raises PrincipalNotFoundError."""
        arn = f"arn:aws:sts::{A}:assumed-role/R/never"
        with pytest.raises(PrincipalNotFoundError, match="was issued"):
            cmd.resolve_caller(account_with_user_and_role(), arn)

    def test_a_chained_caller_carries_its_parent_session(self) -> None:
        """Calling from a role session makes the new session a chained one."""
        state = account_with_user_and_role()
        request = cmd.role_session_request(f"arn:aws:iam::{A}:user/alice", ROLE_ARN, "s1", 900, None, None,
                                           "AssumeRole", None)
        alice = cmd.resolve_caller(state, request.caller_arn)
        record(state, cmd.assume_role(state, request, alice, cmd.NewSession(T, "aa", "ASIA1"), cmd.Quotas()))
        assert cmd.Caller(A, "AROAROLE", "AROAROLE:s1:aa") == cmd.resolve_caller(
            state, f"arn:aws:sts::{A}:assumed-role/R/s1")

"""Behaviour of the write side on every store: events recorded, quotas enforced, nothing written
on rejection, idempotence, immutable principal ids, schema evolution, secrets never stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from ledger import Ledger, Quotas
from ledger.domain import events as ev
from ledger.errors import (
    AccountNotFoundError,
    DeleteConflictError,
    EntityAlreadyExistsError,
    InvalidArnError,
    InvalidNameError,
    LedgerError,
    LimitExceededError,
    NotFoundError,
    PolicyValidationError,
    ValidationError,
)

A = "111122223333"
B = "444455556666"
ALLOW_S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
TRUST_A = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "sts:AssumeRole"}]}
TRUST_MC = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "mediaconvert.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    with Ledger.open(store_url, quotas=Quotas(managed_policies_per_principal=3, groups_per_user=2)) as opened:
        opened.create_account(A, "alpha", at="2024-01-01T00:00:00Z")
        opened.create_account(B, "beta", at="2024-01-01T00:00:00Z")
        yield opened


def _organisation_facts() -> list[ev.LedgerEvent]:
    """One of each organisation and observation fact, as the organisation import records them."""
    scp = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    drafts: list[tuple[type[ev.LedgerEvent], dict[str, Any]]] = [
        (ev.OrganizationCreated, {"organization_id": "o-abc", "root_id": "r-ab12"}),
        (ev.OrganizationPolicyTypeEnabled, {"policy_type": "SERVICE_CONTROL_POLICY", "root_id": "r-ab12"}),
        (ev.OrganizationalUnitCreated, {"ou_id": "ou-ab12-x", "ou_name": "X", "parent_id": "r-ab12"}),
        (ev.AccountJoinedOrganization, {"member_account_id": B, "parent_id": "r-ab12"}),
        (ev.AccountMoved, {"member_account_id": B, "source_parent_id": "r-ab12", "parent_id": "ou-ab12-x"}),
        (ev.OrganizationPolicyCreated, {"policy_id": "p-all", "policy_name": "All",
                                        "policy_type": "SERVICE_CONTROL_POLICY", "document": scp}),
        (ev.OrganizationPolicyUpdated, {"policy_id": "p-all", "policy_name": "All",
                                        "policy_type": "SERVICE_CONTROL_POLICY", "document": scp}),
        (ev.OrganizationPolicyAttached, {"policy_id": "p-all", "policy_type": "SERVICE_CONTROL_POLICY",
                                         "target_id": B, "target_type": "ACCOUNT"}),
        (ev.OrganizationPolicyDetached, {"policy_id": "p-all", "policy_type": "SERVICE_CONTROL_POLICY",
                                         "target_id": B}),
        (ev.OrganizationPolicyDeleted, {"policy_id": "p-all"}),
        (ev.AccountLeftOrganization, {"member_account_id": B}),
        (ev.OrganizationalUnitDeleted, {"ou_id": "ou-ab12-x"}),
        (ev.OrganizationPolicyTypeDisabled, {"policy_type": "SERVICE_CONTROL_POLICY", "root_id": "r-ab12"}),
        (ev.StateObserved, {"scope": "organization", "files": ("describe-organization.json",)}),
    ]
    return [cls(originator_id=ev.account_stream_id(A), originator_version=0, occurred_at="2024-05-02T00:00:00Z",
                recorded_at="2024-05-02T00:00:00Z", account_id=A, source="snapshot", source_id="org-test", **fields)
            for cls, fields in drafts]


def whole_log(ledger: Ledger) -> list[tuple[int | None, str, str]]:
    return [(e.position, e.event_type, e.model_dump_json()) for e in ledger.events()]


class TestEveryMissionEventIsRecorded:
    def test_every_event_type_can_be_recorded_and_read_back_in_log_order(self, ledger: Ledger) -> None:
        """Every event of the catalogue goes through the library API and reads back in order."""
        L = ledger
        L.attach_scp(A, "deny-leave", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}]})
        L.detach_scp(A, "deny-leave")
        L.create_user(A, "alice")
        L.set_login_profile(A, "alice", "s3cret-pa55word")
        L.remove_login_profile(A, "alice")
        key = L.create_access_key(A, "alice")
        L.deactivate_access_key(A, "alice", key.access_key_id)
        L.activate_access_key(A, "alice", key.access_key_id)
        L.tag_user(A, "alice", {"team": "video"})
        L.create_group(A, "editors")
        L.add_user_to_group(A, "alice", "editors")
        L.create_policy(A, "ReadS3", ALLOW_S3)
        arn = f"arn:aws:iam::{A}:policy/ReadS3"
        L.create_policy_version(arn, ALLOW_S3, set_as_default=True)
        L.set_default_policy_version(arn, "v1")
        L.delete_policy_version(arn, "v2")
        L.attach_user_policy(A, "alice", arn)
        L.attach_group_policy(A, "editors", arn)
        L.put_user_policy(A, "alice", "inline", ALLOW_S3)
        L.put_user_permissions_boundary(A, "alice", arn)
        L.create_role(A, "Deployer", TRUST_A)
        L.create_role(A, "MediaConvertRole", TRUST_MC)
        L.update_assume_role_policy(A, "Deployer", TRUST_A)
        L.create_saml_provider(A, "Okta")
        L.create_oidc_provider(A, "https://token.actions.githubusercontent.com", ["sts.amazonaws.com"])
        L.assume_role(f"arn:aws:iam::{A}:user/alice", f"arn:aws:iam::{A}:role/Deployer", "deploy", 900,
                      session_policy=ALLOW_S3, source_identity="alice")
        L.assume_role("arn:aws:iam::123456789012:saml-user/x", f"arn:aws:iam::{A}:role/Deployer", "sso", 3600,
                      via="AssumeRoleWithSAML", provider_arn=f"arn:aws:iam::{A}:saml-provider/Okta")
        L.revoke_role_sessions(A, "Deployer")
        L.get_federation_token(A, "alice", "fed", 900)
        L.create_bucket(B, "beta-out", object_ownership="BucketOwnerPreferred")
        L.put_bucket_policy("beta-out", {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/MediaConvertRole"},
            "Action": "s3:PutObject", "Resource": "arn:aws:s3:::beta-out/*"}]})
        job = L.create_job(A, f"arn:aws:iam::{A}:user/alice", f"arn:aws:iam::{A}:role/MediaConvertRole",
                           outputs=["s3://beta-out/out/"])[0]
        L.assume_role("mediaconvert.amazonaws.com", f"arn:aws:iam::{A}:role/MediaConvertRole", "MediaConvert")
        L.write_output(job.job_arn, "beta-out", "out/a.mp4", acl="bucket-owner-full-control")  # type: ignore[attr-defined]
        L.put_bucket_ownership_controls("beta-out", "BucketOwnerEnforced")
        L.delete_bucket_policy("beta-out")
        L.record([ev.AccessObserved(
            originator_id=ev.account_stream_id(A), originator_version=0, occurred_at="2024-05-01T00:00:00Z",
            recorded_at="2024-05-01T00:00:00Z", account_id=A, source="cloudtrail", source_id="e-1",
            principal_arn=f"arn:aws:iam::{A}:user/alice", action="s3:GetObject",
            resource="arn:aws:s3:::beta-out/out/a.mp4", allowed=True,
        )], source_keys=["cloudtrail:e-1"])
        L.record([ev.CommandDenied(
            originator_id=ev.account_stream_id(A), originator_version=0, occurred_at="2024-05-01T00:00:00Z",
            recorded_at="2024-05-01T00:00:00Z", account_id=A, actor=f"arn:aws:iam::{A}:user/alice",
            action="iam:CreateUser", resource=f"arn:aws:iam::{A}:user/mallory", reason="implicitDeny",
        )])
        L.record(_organisation_facts())  # imports record these (no command of the library does)
        L.delete_bucket(B, "beta-out")
        L.delete_user_permissions_boundary(A, "alice")
        L.delete_user_policy(A, "alice", "inline")
        L.detach_user_policy(A, "alice", arn)
        L.detach_group_policy(A, "editors", arn)
        L.remove_user_from_group(A, "alice", "editors")
        L.delete_group(A, "editors")
        L.delete_access_key(A, "alice", key.access_key_id)
        L.delete_user(A, "alice")
        L.delete_policy(arn)
        L.delete_identity_provider(A, f"arn:aws:iam::{A}:saml-provider/Okta")
        L.delete_role(A, "Deployer")

        log = list(L.events())
        positions = [e.position for e in log]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        recorded_types = {e.event_type for e in log}
        missing = set(ev.EVENT_TYPES) - recorded_types - {"PrincipalUntagged", "ManagedPolicyCreated"}
        assert missing == set()
        assert "ManagedPolicyCreated" in recorded_types

    def test_a_command_returns_its_events_with_positions(self, ledger: Ledger) -> None:
        """The recorded events come back with their global positions."""
        recorded = ledger.create_user(A, "bob")
        assert [type(e) for e in recorded] == [ev.UserCreated]
        assert recorded[0].position == max(e.position or 0 for e in ledger.events())

    def test_history_lists_the_events_that_touched_an_entity(self, ledger: Ledger) -> None:
        """history(arn) returns just that entity's events, in order."""
        ledger.create_user(A, "carol")
        ledger.create_user(A, "dave")
        ledger.create_access_key(A, "carol")
        found = ledger.history(f"arn:aws:iam::{A}:user/carol")
        assert [e.event_type for e in found] == ["UserCreated", "AccessKeyCreated"]


def _prepare_full_user(ledger: Ledger) -> None:
    ledger.create_user(A, "u")
    ledger.create_group(A, "g")
    ledger.create_policy(A, "P", ALLOW_S3)


REJECTIONS: list[tuple[str, type[LedgerError], Callable[[Ledger], Any], Callable[[Ledger], Any]]] = [
    ("third access key", LimitExceededError,
     lambda L: (L.create_user(A, "u"), L.create_access_key(A, "u"), L.deactivate_access_key(
         A, "u", L.create_access_key(A, "u").access_key_id)),
     lambda L: L.create_access_key(A, "u")),
    ("sixth policy version", LimitExceededError,
     lambda L: (L.create_policy(A, "P", ALLOW_S3), [L.create_policy_version(
         f"arn:aws:iam::{A}:policy/P", ALLOW_S3) for _ in range(4)]),
     lambda L: L.create_policy_version(f"arn:aws:iam::{A}:policy/P", ALLOW_S3)),
    ("deleting the default version", DeleteConflictError,
     lambda L: L.create_policy(A, "P", ALLOW_S3),
     lambda L: L.delete_policy_version(f"arn:aws:iam::{A}:policy/P", "v1")),
    ("fourth managed policy with quota 3", LimitExceededError,
     lambda L: (L.create_user(A, "u"), [L.create_policy(A, f"P{i}", ALLOW_S3) for i in range(4)],
                [L.attach_user_policy(A, "u", f"arn:aws:iam::{A}:policy/P{i}") for i in range(3)]),
     lambda L: L.attach_user_policy(A, "u", f"arn:aws:iam::{A}:policy/P3")),
    ("third group with quota 2", LimitExceededError,
     lambda L: (L.create_user(A, "u"), [L.create_group(A, f"g{i}") for i in range(3)],
                [L.add_user_to_group(A, "u", f"g{i}") for i in range(2)]),
     lambda L: L.add_user_to_group(A, "u", "g2")),
    ("duplicate user name differing in case", EntityAlreadyExistsError,
     lambda L: L.create_user(A, "Alice"), lambda L: L.create_user(A, "alice")),
    ("duplicate role name", EntityAlreadyExistsError,
     lambda L: L.create_role(A, "R", TRUST_A), lambda L: L.create_role(A, "r", TRUST_A)),
    ("duplicate group name", EntityAlreadyExistsError,
     lambda L: L.create_group(A, "G"), lambda L: L.create_group(A, "g")),
    ("duplicate policy name", EntityAlreadyExistsError,
     lambda L: L.create_policy(A, "P", ALLOW_S3), lambda L: L.create_policy(A, "p", ALLOW_S3)),
    ("bucket names are global", EntityAlreadyExistsError,
     lambda L: L.create_bucket(A, "shared-name"), lambda L: L.create_bucket(B, "shared-name")),
    ("deleting an attached policy", DeleteConflictError,
     lambda L: (_prepare_full_user(L), L.attach_user_policy(A, "u", f"arn:aws:iam::{A}:policy/P")),
     lambda L: L.delete_policy(f"arn:aws:iam::{A}:policy/P")),
    ("deleting a boundary policy", DeleteConflictError,
     lambda L: (_prepare_full_user(L), L.put_user_permissions_boundary(A, "u", f"arn:aws:iam::{A}:policy/P")),
     lambda L: L.delete_policy(f"arn:aws:iam::{A}:policy/P")),
    ("deleting a group with members", DeleteConflictError,
     lambda L: (_prepare_full_user(L), L.add_user_to_group(A, "u", "g")),
     lambda L: L.delete_group(A, "g")),
    ("deleting a role with attached policies", DeleteConflictError,
     lambda L: (L.create_role(A, "R", TRUST_A), L.create_policy(A, "P", ALLOW_S3),
                L.attach_role_policy(A, "R", f"arn:aws:iam::{A}:policy/P")),
     lambda L: L.delete_role(A, "R")),
    ("deleting a role with inline policies", DeleteConflictError,
     lambda L: (L.create_role(A, "R", TRUST_A), L.put_role_policy(A, "R", "i", ALLOW_S3)),
     lambda L: L.delete_role(A, "R")),
    ("deleting a user with access keys", DeleteConflictError,
     lambda L: (L.create_user(A, "u"), L.create_access_key(A, "u")), lambda L: L.delete_user(A, "u")),
    ("malformed policy JSON", PolicyValidationError,
     lambda L: L.create_user(A, "u"), lambda L: L.put_user_policy(A, "u", "p", '{"Version": "2012-10-17", "Statement": [')),
    ("Principal in an identity policy", PolicyValidationError,
     lambda L: None, lambda L: L.create_policy(A, "P", {"Version": "2012-10-17", "Statement": [
         {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]})),
    ("trust policy without Principal", PolicyValidationError,
     lambda L: None, lambda L: L.create_role(A, "R", ALLOW_S3)),
    ("user inline policy over 2,048 characters", PolicyValidationError,
     lambda L: L.create_user(A, "u"), lambda L: L.put_user_policy(A, "u", "big", {
         "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": f"s3:Get{'x' * 40}{i}",
                                                 "Resource": "*"} for i in range(50)]})),
    ("unknown principal", NotFoundError,
     lambda L: None, lambda L: L.attach_user_policy(A, "nobody", f"arn:aws:iam::{A}:policy/P")),
    ("unknown account", AccountNotFoundError,
     lambda L: None, lambda L: L.create_user("999999999999", "u")),
    ("invalid account id", InvalidNameError, lambda L: None, lambda L: L.create_user("12345", "u")),
    ("invalid user name", InvalidNameError, lambda L: None, lambda L: L.create_user(A, "bad name!")),
    ("invalid ARN", InvalidArnError, lambda L: None, lambda L: L.delete_policy("not-an-arn")),
    ("session shorter than 900 s", ValidationError,
     lambda L: (L.create_user(A, "u"), L.create_role(A, "R", TRUST_A)),
     lambda L: L.assume_role(f"arn:aws:iam::{A}:user/u", f"arn:aws:iam::{A}:role/R", "s1", 899)),
    ("session longer than the role maximum", ValidationError,
     lambda L: (L.create_user(A, "u"), L.create_role(A, "R", TRUST_A)),
     lambda L: L.assume_role(f"arn:aws:iam::{A}:user/u", f"arn:aws:iam::{A}:role/R", "s1", 3601)),
    ("chained session over one hour", ValidationError,
     lambda L: (L.create_user(A, "u"), L.create_role(A, "R", TRUST_A, max_session_duration=43200),
                L.create_role(A, "R2", TRUST_A, max_session_duration=43200),
                L.assume_role(f"arn:aws:iam::{A}:user/u", f"arn:aws:iam::{A}:role/R", "s1", 7200)),
     lambda L: L.assume_role(f"arn:aws:iam::{A}:assumed-role/R/s1", f"arn:aws:iam::{A}:role/R2", "c1", 7200)),
    ("role maximum session over 12 hours", ValidationError,
     lambda L: None, lambda L: L.create_role(A, "R", TRUST_A, max_session_duration=43201)),
    ("job passing another account's role", ValidationError,
     lambda L: (L.create_user(A, "u"), L.create_role(B, "R", TRUST_MC)),
     lambda L: L.create_job(A, f"arn:aws:iam::{A}:user/u", f"arn:aws:iam::{B}:role/R", outputs=["s3://x/"])),
    ("output into a missing bucket", NotFoundError,
     lambda L: None, lambda L: L.write_output(f"arn:aws:mediaconvert:us-east-1:{A}:jobs/1", "nope", "k")),
    ("password too short", ValidationError,
     lambda L: L.create_user(A, "u"), lambda L: L.set_login_profile(A, "u", "short")),
]


class TestRejectedCommandsWriteNothing:
    @pytest.mark.parametrize(("case", "error", "prepare", "violate"), REJECTIONS, ids=[r[0] for r in REJECTIONS])
    def test_violation_raises_its_typed_error_and_leaves_the_store_unchanged(
        self, ledger: Ledger, case: str, error: type[LedgerError],
        prepare: Callable[[Ledger], Any], violate: Callable[[Ledger], Any],
    ) -> None:
        """Each quota or invariant violation raises its typed error and writes nothing."""
        prepare(ledger)
        before = whole_log(ledger)
        with pytest.raises(error):
            violate(ledger)
        assert whole_log(ledger) == before

    def test_inactive_access_keys_count_towards_the_limit(self, ledger: Ledger) -> None:
        """Two keys, both inactive, still block a third (AWS counts inactive keys)."""
        ledger.create_user(A, "u")
        for _ in range(2):
            ledger.deactivate_access_key(A, "u", ledger.create_access_key(A, "u").access_key_id)
        with pytest.raises(LimitExceededError):
            ledger.create_access_key(A, "u")


class TestIdentity:
    def test_a_recreated_role_is_a_new_principal(self, ledger: Ledger) -> None:
        """Deleting and recreating a role under the same name yields a different unique id."""
        first = ledger.create_role(A, "Deployer", TRUST_A)[0]
        ledger.delete_role(A, "Deployer")
        second = ledger.create_role(A, "Deployer", TRUST_A)[0]
        assert first.role_arn == second.role_arn  # type: ignore[attr-defined]
        assert first.role_id != second.role_id  # type: ignore[attr-defined]

    def test_resources_belong_to_the_account_whoever_created_them(self, ledger: Ledger) -> None:
        """A job created by a user is recorded in (owned by) the user's account stream."""
        ledger.create_user(A, "u")
        ledger.create_role(A, "MC", TRUST_MC)
        job = ledger.create_job(A, f"arn:aws:iam::{A}:user/u", f"arn:aws:iam::{A}:role/MC", outputs=["s3://o/"])[0]
        assert job.account_id == A
        assert job.job_arn.split(":")[4] == A  # type: ignore[attr-defined]


class TestSessions:
    def test_an_output_is_tied_to_the_latest_session_of_that_name(self, ledger: Ledger) -> None:
        """MediaConvert reuses a session name per job; the write belongs to the newest session."""
        ledger.create_user(A, "u")
        ledger.create_role(A, "MC", TRUST_MC)
        ledger.create_bucket(A, "alpha-out")
        job = ledger.create_job(A, f"arn:aws:iam::{A}:user/u", f"arn:aws:iam::{A}:role/MC",
                                outputs=["s3://alpha-out/"], at="2024-02-01T10:00:00Z")[0]
        role = f"arn:aws:iam::{A}:role/MC"
        ledger.assume_role("mediaconvert.amazonaws.com", role, "MediaConvert", at="2024-02-01T09:00:00Z")
        newer = ledger.assume_role("mediaconvert.amazonaws.com", role, "MediaConvert", at="2024-02-01T10:00:01Z")[0]
        written = ledger.write_output(job.job_arn, "alpha-out", "k.mp4", at="2024-02-01T10:05:00Z")[0]  # type: ignore[attr-defined]
        assert newer.session_id == written.writer_session_id  # type: ignore[attr-defined]


class TestObjectOwnershipAtWriteTime:
    @pytest.mark.parametrize(("setting", "acl", "owner"), [
        ("BucketOwnerEnforced", None, B),
        ("BucketOwnerEnforced", "private", B),
        ("BucketOwnerPreferred", "bucket-owner-full-control", B),
        ("BucketOwnerPreferred", None, A),
        ("ObjectWriter", "bucket-owner-full-control", A),
        ("ObjectWriter", None, A),
    ])
    def test_owner_of_a_cross_account_output_follows_the_bucket_setting(
        self, ledger: Ledger, setting: str, acl: str | None, owner: str
    ) -> None:
        """S3 Object Ownership decides who owns an object another account's role wrote."""
        ledger.create_user(A, "u")
        ledger.create_role(A, "MC", TRUST_MC)
        ledger.create_bucket(B, "beta-out", object_ownership=setting)
        job = ledger.create_job(A, f"arn:aws:iam::{A}:user/u", f"arn:aws:iam::{A}:role/MC", outputs=["s3://beta-out/"])[0]
        written = ledger.write_output(job.job_arn, "beta-out", "k.mp4", acl=acl)[0]  # type: ignore[attr-defined]
        assert written.owner_account == owner  # type: ignore[attr-defined]
        assert written.account_id == B


class TestIdempotence:
    def test_resubmitting_a_source_id_records_nothing_new(self, ledger: Ledger) -> None:
        """A command carrying an already-recorded source id writes nothing the second time."""
        first = ledger.create_user(A, "u", source_id="req-1")
        before = whole_log(ledger)
        again = ledger.create_user(A, "other", source_id="req-1")
        assert len(first) == 1 and again == []
        assert whole_log(ledger) == before

    def test_recording_a_fact_twice_by_source_key_records_it_once(self, ledger: Ledger) -> None:
        """Facts appended with an existing source key are rejected atomically."""
        fact = ev.AccessObserved(
            originator_id=ev.account_stream_id(A), originator_version=0, occurred_at="2024-05-01T00:00:00Z",
            recorded_at="2024-05-01T00:00:00Z", account_id=A, source="cloudtrail", source_id="evt",
            principal_arn=f"arn:aws:iam::{A}:root", action="s3:ListBuckets", resource="*", allowed=True,
        )
        ledger.record([fact], source_keys=["cloudtrail:evt"])
        before = whole_log(ledger)
        from ledger.errors import DuplicateSourceError

        with pytest.raises(DuplicateSourceError):
            ledger.record([fact], source_keys=["cloudtrail:evt"])
        assert whole_log(ledger) == before


class TestLargeBatches:
    def test_twenty_thousand_facts_are_recorded_in_one_atomic_batch(self, ledger: Ledger) -> None:
        """A batch far above the pipelined size is written whole, with contiguous positions."""
        facts = [ev.AccessObserved(
            originator_id=ev.account_stream_id(A), originator_version=0, occurred_at="2024-05-01T00:00:00Z",
            recorded_at="2024-05-01T00:00:00Z", account_id=A, source="cloudtrail", source_id=f"big-{i}",
            principal_arn=f"arn:aws:iam::{A}:user/u{i % 50}", action="s3:GetObject",
            resource=f"arn:aws:s3:::bucket/key-{i}", allowed=True,
        ) for i in range(20_000)]
        positions = ledger.record(facts)
        assert positions == list(range(positions[0], positions[0] + 20_000))
        from ledger.errors import DuplicateSourceError

        with pytest.raises(DuplicateSourceError):
            ledger.record(facts[-3:])


class TestSchemaEvolution:
    def test_a_stored_v1_bucket_event_loads_through_the_upcaster(self, ledger: Ledger) -> None:
        """A BucketCreated of the old shape (no object_ownership) reads back as ObjectWriter."""
        from eventsourcing.persistence import StoredEvent

        old_state = {
            "account_id": B, "actor": None, "bucket_arn": "arn:aws:s3:::legacy", "bucket_name": "legacy",
            "occurred_at": "2019-05-01T00:00:00Z", "recorded_at": "2019-05-01T00:00:00Z",
            "region": "eu-west-1", "source": "api", "source_id": None,
        }
        version = ledger.account_state(B).version + 1
        ledger.store.recorder.insert_events([StoredEvent(
            originator_id=ev.account_stream_id(B), originator_version=version,
            topic="ledger.events:BucketCreated", state=json.dumps(old_state).encode(),
        )])
        loaded = list(ledger.events())[-1]
        assert isinstance(loaded, ev.BucketCreated)
        assert loaded.object_ownership == "ObjectWriter"
        assert ledger.account_state(B).buckets["legacy"].object_ownership == "ObjectWriter"


class TestSecrets:
    def test_passwords_and_secret_keys_are_never_stored_or_logged(self, store_url: str, tmp_path: Any) -> None:
        """The password and the secret access key appear neither in the store nor in logs."""
        password = "Pa55word-NEVER-STORED-71"
        with capture_logs() as logs, Ledger.open(store_url) as ledger:
            ledger.create_account(A, "alpha")
            ledger.create_user(A, "u")
            ledger.set_login_profile(A, "u", password)
            key = ledger.create_access_key(A, "u")
            assert key.secret_access_key and key.secret_access_key not in repr(key)
            stored = b"".join(record[4] for record in ledger.store.iter_records())
        assert any(entry["event"] == "events_recorded" for entry in logs), "logs were captured"
        for secret in (password, key.secret_access_key):
            assert secret.encode() not in stored
            assert secret not in json.dumps(logs, default=str)
        if store_url.startswith("sqlite:///"):
            raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("ledger.db"))
            assert password.encode() not in raw and key.secret_access_key.encode() not in raw


class TestEventsAreImmutable:
    def test_events_are_frozen(self) -> None:
        """An event cannot be changed after it is created."""
        event = ev.AccountCreated(
            originator_id=ev.account_stream_id(A), originator_version=1, occurred_at="2024-01-01T00:00:00Z",
            recorded_at="2024-01-01T00:00:00Z", account_id=A, account_name="x", root_arn="r",
        )
        with pytest.raises(Exception):
            event.account_name = "y"  # type: ignore[misc]

    def test_mutable_arguments_are_copied_into_events(self, ledger: Ledger) -> None:
        """Changing a document after recording it does not change the recorded event."""
        document = json.loads(json.dumps(ALLOW_S3))
        recorded = ledger.create_policy(A, "P", document)[0]
        document["Statement"][0]["Action"] = "s3:*"
        assert recorded.document["Statement"][0]["Action"] == "s3:GetObject"  # type: ignore[attr-defined]

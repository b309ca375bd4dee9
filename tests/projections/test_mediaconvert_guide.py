"""The MediaConvert access-control guide's statements, as point-in-time audit answers."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import Ledger
from tests.projections._support import A, B, allow, doc, t

ALICE = f"arn:aws:iam::{A}:user/alice"
ADMIN = f"arn:aws:iam::{A}:user/admin"
ROLE = f"arn:aws:iam::{A}:role/MCRole"
CAROL = f"arn:aws:iam::{B}:user/carol"
OBJ = "arn:aws:s3:::media-out/out/a.mp4"


def story(ledger: Ledger, ownership: str = "BucketOwnerEnforced", acl: str | None = None) -> dict[str, Any]:
    """Two accounts; an admin grants (and later revokes); a group; a service role passed to a job
    whose output lands in the other account's bucket under its bucket policy."""
    ledger.create_account(A, "media", at=t(1))
    ledger.create_account(B, "partner", at=t(1))
    ledger.create_user(A, "admin", at=t(2))
    ledger.put_user_policy(A, "admin", "admin", doc(allow("*")), at=t(2))
    ledger.create_user(A, "alice", at=t(3))
    ledger.create_group(A, "editors", at=t(3))
    ledger.add_user_to_group(A, "alice", "editors", at=t(4), actor=ADMIN)
    ledger.create_policy(A, "MC", doc(
        allow(["mediaconvert:CreateJob", "mediaconvert:GetJob"]),
        allow("iam:PassRole", ROLE, Condition={"StringEquals": {"iam:PassedToService": "mediaconvert.amazonaws.com"}}),
    ), at=t(4))
    ledger.attach_group_policy(A, "editors", f"arn:aws:iam::{A}:policy/MC", at=t(5), actor=ADMIN)
    ledger.create_role(A, "MCRole", doc({"Effect": "Allow", "Principal": {"Service": "mediaconvert.amazonaws.com"},
                                         "Action": "sts:AssumeRole"}), at=t(5))
    ledger.put_role_policy(A, "MCRole", "write", doc(allow(["s3:PutObject", "s3:GetObject"], "arn:aws:s3:::media-out/*")), at=t(5))
    ledger.create_user(B, "carol", at=t(5))
    ledger.put_user_policy(B, "carol", "read", doc(allow("s3:GetObject", "arn:aws:s3:::media-out/*")), at=t(5))
    ledger.create_user(B, "dave", at=t(5))
    ledger.put_user_policy(B, "dave", "mc", doc(allow("mediaconvert:*")), at=t(5))
    ledger.create_bucket(B, "media-out", object_ownership=ownership, at=t(6))
    ledger.put_bucket_policy("media-out", doc({"Effect": "Allow", "Principal": {"AWS": ROLE},
                                               "Action": "s3:PutObject", "Resource": "arn:aws:s3:::media-out/*"}), at=t(6))
    ledger.assume_role("mediaconvert.amazonaws.com", ROLE, "MediaConvert", at=t(7))
    job = ledger.create_job(A, ALICE, ROLE, outputs=["s3://media-out/out/"], at=t(7))[0]
    ledger.write_output(job.job_arn, "media-out", "out/a.mp4", acl=acl, at=t(8))
    ledger.detach_group_policy(A, "editors", f"arn:aws:iam::{A}:policy/MC", at=t(10), actor=ADMIN)
    return {"job": job.job_arn}


class TestResourcesBelongToTheirAccount:
    def test_job_and_bucket_belong_to_the_account_not_the_creator(self, ledger: Ledger) -> None:
        """Resources belong to the account, whoever created them."""
        s = story(ledger)
        assert A == ledger.owner_of(s["job"])["owner_account"]
        assert B == ledger.owner_of("arn:aws:s3:::media-out")["owner_account"]
        assert A == ledger.owner_of(ROLE)["owner_account"]

    def test_creating_a_resource_grants_the_creator_no_access(self, ledger: Ledger) -> None:
        """Alice created the job but may not delete it or touch its role's policies."""
        s = story(ledger)
        assert "implicitDeny" == ledger.can(ALICE, "mediaconvert:CancelJob", s["job"], at=t(9)).eval_decision
        assert "implicitDeny" == ledger.can(ALICE, "s3:GetObject", OBJ, at=t(9)).eval_decision


class TestJobsAdmitOnlyTheirAccount:
    def test_no_principal_of_another_account_is_ever_allowed_on_a_job(self, ledger: Ledger) -> None:
        """MediaConvert has no resource-based policies: only the job's account's principals."""
        s = story(ledger)
        for at in (t(7.5), t(9), t(11)):
            result = ledger.who_can("mediaconvert:GetJob", s["job"], at=at, paths=True)
            accounts = {p["principal"].split(":")[4] for p in result["principals"]}
            assert accounts <= {A}
        assert "implicitDeny" == ledger.can(f"arn:aws:iam::{B}:user/dave", "mediaconvert:GetJob", s["job"], at=t(9)).eval_decision


class TestOutputsFollowTheBucket:
    def test_any_principal_allowed_on_the_bucket_objects_can_read_outputs(self, ledger: Ledger) -> None:
        """Carol (bucket account, allowed on media-out/*) can read the job's output."""
        story(ledger)
        assert ledger.can(CAROL, "s3:GetObject", OBJ, at=t(9)).allowed
        who = {p["principal"] for p in ledger.who_can("s3:GetObject", OBJ, at=t(9))["principals"]}
        assert {CAROL, f"arn:aws:iam::{B}:root"} <= who

    @pytest.mark.parametrize(("ownership", "acl", "owner"), [
        ("BucketOwnerEnforced", None, B), ("ObjectWriter", None, A),
        ("BucketOwnerPreferred", "bucket-owner-full-control", B), ("BucketOwnerPreferred", "private", A),
    ])
    def test_cross_account_output_owner_follows_the_ownership_setting(self, ledger: Ledger, ownership: str,
                                                                      acl: str | None, owner: str) -> None:
        """The job's account owns the job; the output belongs to whom the bucket setting says."""
        s = story(ledger, ownership, acl)
        assert A == ledger.owner_of(s["job"])["owner_account"]
        answer = ledger.owner_of(OBJ, at=t(9))
        assert owner == answer["owner_account"]
        lineage = ledger.lineage(OBJ)
        assert (s["job"], ALICE, ROLE) == (lineage["job"]["arn"], lineage["job"]["creator"], lineage["job"]["passed_role"])

    def test_enforcing_bucket_owner_takes_existing_objects_while_in_force(self, ledger: Ledger) -> None:
        """Switching to BucketOwnerEnforced gives the bucket owner existing objects, from that moment."""
        story(ledger, "ObjectWriter")
        ledger.put_bucket_ownership_controls("media-out", "BucketOwnerEnforced", at=t(20))
        ledger.put_bucket_ownership_controls("media-out", "ObjectWriter", at=t(30))
        assert [A, B, A] == [ledger.owner_of(OBJ, at=t(m))["owner_account"] for m in (15, 25, 35)]


class TestRevocationTakesEffectAtItsTime:
    def test_detaching_changes_answers_from_that_moment(self, ledger: Ledger) -> None:
        """An administrator can revoke at any time; answers change from that moment on."""
        s = story(ledger)
        assert ledger.can(ALICE, "mediaconvert:CreateJob", "*", at=t(9.99)).allowed
        assert not ledger.can(ALICE, "mediaconvert:CreateJob", "*", at=t(10)).allowed
        tl = ledger.timeline(ALICE, "mediaconvert:CreateJob", "*", start=t(0), end=t(20))
        assert ["implicitDeny", "allowed", "implicitDeny"] == [iv["EvalDecision"] for iv in tl["intervals"]]
        assert ["PolicyAttached"] == [c["event_type"] for c in tl["intervals"][1]["started_by"]]
        assert ["PolicyDetached"] == [c["event_type"] for c in tl["intervals"][2]["started_by"]]
        lost = ledger.diff(t(9), t(11))["lost"]
        assert (ALICE, "mediaconvert:CreateJob") in {(i["principal"], i["action"]) for i in lost}
        assert s["job"]

    def test_matched_statements_name_the_events_that_put_the_policy_there(self, ledger: Ledger) -> None:
        """The decisive statement's origin is the attachment event (position, type, time)."""
        story(ledger)
        d = ledger.can(ALICE, "mediaconvert:CreateJob", "*", at=t(9))
        origin = d.decision.matched_statements[0].origin
        assert ("PolicyAttached", "2024-03-01T00:05:00+00:00") == (origin["event_type"], origin["occurred_at"])
        assert "UserAddedToGroup" == origin["membership"]["event_type"]
        assert {"EvalDecision", "MatchedStatements", "MissingContextValues", "as_of"} <= set(d.to_dict())

    def test_passrole_path_reaches_the_output_bucket(self, ledger: Ledger) -> None:
        """Alice reaches s3:PutObject on the output through PassRole to MediaConvert, until revoked."""
        story(ledger)
        found = {p["principal"]: p for p in ledger.who_can("s3:PutObject", OBJ, at=t(9), paths=True)["principals"]}
        assert ["iam:PassRole", "mediaconvert:CreateJob", "sts:AssumeRole", "s3:PutObject"] == \
            [s["action"] for s in found[ALICE]["path"]]
        later = {p["principal"] for p in ledger.who_can("s3:PutObject", OBJ, at=t(11), paths=True)["principals"]}
        assert ALICE not in later


class TestSessionsAndChains:
    def test_session_expiry_revocation_and_role_chain(self, ledger: Ledger) -> None:
        """Sessions end at expiry or revocation; who_can follows trust chains to the role."""
        ledger.create_account(A, "media", at=t(1))
        ledger.create_user(A, "alice", at=t(1))
        ledger.put_user_policy(A, "alice", "assume", doc(allow("sts:AssumeRole")), at=t(1))
        ledger.create_role(A, "Hop", doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:user/alice"},
                                          "Action": "sts:AssumeRole"}), at=t(2))
        ledger.put_role_policy(A, "Hop", "hop", doc(allow("sts:AssumeRole")), at=t(2))
        ledger.create_role(A, "Target", doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/Hop"},
                                             "Action": "sts:AssumeRole"}), at=t(2))
        ledger.put_role_policy(A, "Target", "s3", doc(allow("sqs:SendMessage")), at=t(2))
        ledger.assume_role(f"arn:aws:iam::{A}:user/alice", f"arn:aws:iam::{A}:role/Hop", "s1", 900, at=t(3))
        session = f"arn:aws:sts::{A}:assumed-role/Hop/s1"
        assert ledger.can(session, "sts:AssumeRole", f"arn:aws:iam::{A}:role/Target", at=t(4)).allowed
        assert not ledger.can(session, "sts:AssumeRole", f"arn:aws:iam::{A}:role/Target", at=t(19)).allowed
        ledger.assume_role(f"arn:aws:iam::{A}:user/alice", f"arn:aws:iam::{A}:role/Hop", "s1", 900, at=t(20))
        ledger.revoke_role_sessions(A, "Hop", at=t(22))
        assert not ledger.can(session, "sts:AssumeRole", f"arn:aws:iam::{A}:role/Target", at=t(23)).allowed
        found = {p["principal"]: p for p in ledger.who_can("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{A}:q", at=t(4), paths=True)["principals"]}
        assert [f"arn:aws:iam::{A}:role/Hop", f"arn:aws:iam::{A}:role/Target"] == \
            [s["resource"] for s in found[f"arn:aws:iam::{A}:user/alice"]["path"][:2]]

    def test_unknown_managed_policy_is_reported_not_allowed(self, ledger: Ledger) -> None:
        """An attached policy whose document the ledger never saw is reported, never an allow."""
        from ledger.domain import events as ev
        from ledger.domain.events import account_stream_id
        ledger.create_account(A, "media", at=t(1))
        user = ledger.create_user(A, "alice", at=t(1))[0]
        ledger.record([ev.PolicyAttached(
            originator_id=account_stream_id(A), originator_version=1, occurred_at=t(2), recorded_at=t(2),
            account_id=A, source="cloudtrail", principal_kind="user", principal_id=user.user_id,
            principal_arn=ALICE, policy_id="ANPAUNKNOWN", policy_arn="arn:aws:iam::aws:policy/AdministratorAccess")])
        d = ledger.can(ALICE, "s3:GetObject", "*", at=t(3))
        assert "implicitDeny" == d.eval_decision
        assert ["arn:aws:iam::aws:policy/AdministratorAccess"] == [u["policy_arn"] for u in d.unknown_policies]

    def test_conditional_principals_list_missing_keys(self, ledger: Ledger) -> None:
        """who_can marks answers that hinge on unknown context as conditional with the keys."""
        ledger.create_account(A, "media", at=t(1))
        ledger.create_user(A, "alice", at=t(1))
        ledger.put_user_policy(A, "alice", "ip", doc(allow("s3:GetObject", "*", Condition={
            "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})), at=t(1))
        result = ledger.who_can("s3:GetObject", "arn:aws:iam::111111111111:x", at=t(2))
        alice = next(p for p in result["principals"] if p["principal"] == ALICE)
        assert (True, ["aws:SourceIp"]) == (alice["conditional"], alice["missing_context"])

    def test_known_at_answers_what_was_recorded_then(self, ledger: Ledger) -> None:
        """A late, backdated revocation changes `at=` answers but not `known_at=` before it."""
        ledger.create_account(A, "media", at=t(1))
        ledger.create_user(A, "alice", at=t(1))
        ledger.put_user_policy(A, "alice", "p", doc(allow("s3:GetObject")), at=t(2))
        before = ledger.store.max_position()
        ledger.delete_user_policy(A, "alice", "p", at=t(3))
        assert ledger.can(ALICE, "s3:GetObject", "*", at=t(5), known_at=f"@{before}").allowed
        assert not ledger.can(ALICE, "s3:GetObject", "*", at=t(5)).allowed
        assert ledger.can(ALICE, "s3:GetObject", "*", at=f"@{before}").allowed

    def test_what_can_lists_effective_grants_and_cuts(self, ledger: Ledger) -> None:
        """what_can reports allow statements with their effective decision after denies."""
        ledger.create_account(A, "media", at=t(1))
        ledger.create_user(A, "alice", at=t(1))
        ledger.put_user_policy(A, "alice", "p", doc(allow(["s3:GetObject", "s3:DeleteObject"]),
                                                    {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}), at=t(2))
        result = ledger.what_can(ALICE, at=t(3))
        eff = {e["action"]: e["EvalDecision"] for g in result["allows"] for e in g["effective"]}
        assert {"s3:GetObject": "allowed", "s3:DeleteObject": "explicitDeny"} == eff

"""who-can paths (issue 10, items 8, 9, 10): PassRole to MediaConvert through any queue of the role's
account in any region, session principals keep the role's path, and a path is no stronger than
its weakest hop."""

from __future__ import annotations

from typing import Any

from ledger import Ledger
from ledger.application.demo import ARCHIVE, MEDIA, ROLE_ARN, record_story
from projections.assemble import build_inputs
from tests.projections._support import A, B, allow, doc, t

MC = "mediaconvert.amazonaws.com"
ROLE = f"arn:aws:iam::{A}:role/service-role/MCRole"
OBJ = "arn:aws:s3:::media-out/out/a.mp4"
USER = f"arn:aws:iam::{A}:user/" + "{}"
PASS = allow("iam:PassRole", ROLE, Condition={"StringEquals": {"iam:PassedToService": MC}})

# IAM User Guide, global condition keys, aws:PrincipalArn ("IAM role" example value).
PRINCIPAL_ARN_QUOTE = ("IAM role – The request context contains the following value for condition key "
                       "aws:PrincipalArn. Do not specify the assumed role session ARN as a value for this condition "
                       "key. arn:aws:iam::123456789012:role/role-name")
# MediaConvert API Reference, queues: a queue ARN names its Region and account.
QUEUE_ARN_QUOTE = "arn:${Partition}:mediaconvert:${Region}:${Account}:queues/${QueueName}"


def _media(ledger: Ledger, role_write: dict[str, Any] | None = None) -> None:
    """A service role (path /service-role/) MediaConvert may assume, allowed to write the bucket."""
    ledger.create_account(A, "media", at=t(1))
    ledger.create_bucket(A, "media-out", at=t(1))
    ledger.create_role(A, "MCRole", doc({"Effect": "Allow", "Principal": {"Service": MC},
                                         "Action": "sts:AssumeRole"}), path="/service-role/", at=t(1))
    ledger.put_role_policy(A, "MCRole", "write", doc(role_write or allow("s3:PutObject", "arn:aws:s3:::media-out/*")),
                           at=t(1))


def _user(ledger: Ledger, name: str, *statements: dict[str, Any]) -> str:
    ledger.create_user(A, name, at=t(2))
    ledger.put_user_policy(A, name, "p", doc(*statements), at=t(2))
    return USER.format(name)


def _paths(ledger: Ledger, at: Any = None) -> dict[str, Any]:
    result = ledger.who_can("s3:PutObject", OBJ, at=at or t(5), paths=True)
    return {p.principal: p for p in result.principals}


class TestPassRoleInEveryRegionAndQueue:
    def test_a_creator_allowed_only_in_another_region_reaches_the_bucket(self, ledger: Ledger) -> None:
        """CreateJob only on eu-west-1 queues is still CreateJob on a queue of the role's account."""
        _media(ledger)
        queues = f"arn:aws:mediaconvert:eu-west-1:{A}:queues/*"
        eu = _user(ledger, "eu", PASS, allow("mediaconvert:CreateJob", queues))
        assert QUEUE_ARN_QUOTE
        path = _paths(ledger)[eu].path
        assert ["iam:PassRole", "mediaconvert:CreateJob", "sts:AssumeRole", "s3:PutObject"] == [s.action for s in path]
        assert queues == path[1].resource

    def test_a_recorded_job_queue_is_tried_first(self, ledger: Ledger) -> None:
        """A creator allowed exactly the queue a recorded job used reaches the bucket through it."""
        _media(ledger)
        fast = f"arn:aws:mediaconvert:ap-south-1:{A}:queues/Fast"
        ledger.create_job(A, f"arn:aws:iam::{A}:root", ROLE, outputs=["s3://media-out/x/"], queue="Fast",
                          region="ap-south-1", at=t(3))
        exact = _user(ledger, "exact", PASS, allow("mediaconvert:CreateJob", fast))
        assert fast == _paths(ledger)[exact].path[1].resource

    def test_queues_of_another_account_give_no_path(self, ledger: Ledger) -> None:
        """The job runs in the role's account: CreateJob on B's queues passes nothing."""
        _media(ledger)
        other = _user(ledger, "other", PASS, allow("mediaconvert:CreateJob", f"arn:aws:mediaconvert:*:{B}:queues/*"))
        assert other not in _paths(ledger)

    def test_a_deny_on_one_region_leaves_the_others(self, ledger: Ledger) -> None:
        """Allowed everywhere but denied in us-east-1: some queue elsewhere still takes the job."""
        _media(ledger)
        some = _user(ledger, "some", PASS, allow("mediaconvert:CreateJob"),
                     {"Effect": "Deny", "Action": "mediaconvert:CreateJob",
                      "Resource": f"arn:aws:mediaconvert:us-east-1:{A}:queues/*"})
        denied = _user(ledger, "none", PASS, allow("mediaconvert:CreateJob"),
                       {"Effect": "Deny", "Action": "mediaconvert:CreateJob", "Resource": "*"})
        found = _paths(ledger)
        assert some in found and denied not in found


class TestSessionsKeepTheRolePath:
    def test_principal_arn_of_a_recorded_session_is_the_role_arn_with_its_path(self, ledger: Ledger) -> None:
        """aws:PrincipalArn of a session of role/service-role/MCRole names the path, and so does role_arn."""
        _media(ledger, allow("sqs:SendMessage", "*", Condition={"ArnEquals": {"aws:PrincipalArn": ROLE}}))
        ledger.assume_role(MC, ROLE, "job", 900, at=t(3))
        session = f"arn:aws:sts::{A}:assumed-role/MCRole/job"
        assert PRINCIPAL_ARN_QUOTE
        assert ledger.can(session, "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{A}:q", at=t(4)).allowed
        snap, _ = ledger.read_side().snapshot(t(4))
        request = build_inputs(snap, session, "sqs:SendMessage", "*").request
        assert request is not None and ROLE == request.principal.role_arn
        assert ROLE == request.ctx["aws:principalarn"][0]


class TestWeakestHop:
    def test_the_demo_editors_are_conditional_on_the_roles_acl_condition(self, tmp_path: Any) -> None:
        """In the demo, alice, bob and admin reach the bucket only through the role, whose write needs
        s3:x-amz-acl: each is conditional with that key."""
        with Ledger.open(f"sqlite:///{tmp_path}/demo.db") as ledger:
            facts = record_story(ledger)
            found = {p.principal: p for p in ledger.who_can("s3:PutObject", facts.first_output,
                                                            at=facts.while_granted, paths=True).principals}
        for who in ("alice", "bob", "admin"):
            entry = found[f"arn:aws:iam::{MEDIA}:user/{who}"]
            assert (True, ("s3:x-amz-acl",)) == (entry.conditional, entry.missing_context), who
        assert (True, ("s3:x-amz-acl",)) == (found[ROLE_ARN].conditional, found[ROLE_ARN].missing_context)
        assert found[f"arn:aws:iam::{ARCHIVE}:root"].conditional is False

    def test_missing_keys_of_every_hop_are_united(self, ledger: Ledger) -> None:
        """A conditional PassRole and a conditional write: the entry lists both keys."""
        _media(ledger, allow("s3:PutObject", "arn:aws:s3:::media-out/*",
                             Condition={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}))
        region = allow("iam:PassRole", ROLE, Condition={"StringEquals": {"iam:PassedToService": MC,
                                                                         "aws:RequestedRegion": "eu-west-1"}})
        user = _user(ledger, "u", region, allow("mediaconvert:CreateJob"))
        entry = _paths(ledger)[user]
        assert (True, ("aws:RequestedRegion", "s3:x-amz-acl")) == (entry.conditional, entry.missing_context)

    def test_a_chain_through_a_conditional_role_is_conditional(self, ledger: Ledger) -> None:
        """user → AssumeRole Hop (unconditional) → Hop's conditional write: conditional, with the key."""
        _media(ledger)
        ledger.create_role(A, "Hop", doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                                          "Action": "sts:AssumeRole"}), at=t(2))
        ledger.put_role_policy(A, "Hop", "w", doc(allow("s3:PutObject", "*", Condition={
            "StringEquals": {"s3:x-amz-acl": "private"}})), at=t(2))
        user = _user(ledger, "chain", allow("sts:AssumeRole", f"arn:aws:iam::{A}:role/Hop"))
        entry = _paths(ledger)[user]
        assert ["sts:AssumeRole", "s3:PutObject"] == [s.action for s in entry.path]
        assert (True, ("s3:x-amz-acl",)) == (entry.conditional, entry.missing_context)

    def test_an_unconditional_path_beats_a_conditional_one(self, ledger: Ledger) -> None:
        """When one path needs a key and another needs none, the caller is allowed unconditionally."""
        _media(ledger)
        ledger.create_role(A, "Iffy", doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                                           "Action": "sts:AssumeRole"}), at=t(2))
        ledger.put_role_policy(A, "Iffy", "w", doc(allow("s3:PutObject", "*", Condition={
            "StringEquals": {"s3:x-amz-acl": "private"}})), at=t(2))
        user = _user(ledger, "both", allow("sts:AssumeRole", f"arn:aws:iam::{A}:role/Iffy"), PASS,
                     allow("mediaconvert:CreateJob"))
        entry = _paths(ledger)[user]
        assert (False, ()) == (entry.conditional, entry.missing_context)
        assert "iam:PassRole" == entry.path[0].action

    def test_a_caller_allowed_directly_is_answered_by_its_own_request(self, ledger: Ledger) -> None:
        """A direct (if conditional) allow is the caller's answer; paths are for the others."""
        _media(ledger)
        user = _user(ledger, "direct", PASS, allow("mediaconvert:CreateJob"),
                     allow("s3:PutObject", "*", Condition={"StringEquals": {"s3:x-amz-acl": "private"}}))
        entry = _paths(ledger)[user]
        assert (["s3:PutObject"], True, ("s3:x-amz-acl",)) == \
            ([s.action for s in entry.path], entry.conditional, entry.missing_context)

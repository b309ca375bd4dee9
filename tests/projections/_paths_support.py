"""A random history for path questions: role chains, cross-account trust, PassRole to MediaConvert
in random Regions and queues, time conditions, unknown policies and buckets never recorded."""

from __future__ import annotations

from typing import Any

from ledger import Ledger
from ledger.domain import events as ev
from tests.projections._support import A, B, allow, deny, doc, t, try_

MC = "mediaconvert.amazonaws.com"
R = f"arn:aws:iam::{A}:role/R"
HOP = f"arn:aws:iam::{A}:role/Hop"
X = f"arn:aws:iam::{A}:role/X"
MCROLE = f"arn:aws:iam::{A}:role/service-role/MC"
ROOT_A, ROOT_B = f"arn:aws:iam::{A}:root", f"arn:aws:iam::{B}:root"
USERS = ("alice", "bob")
REGIONS = ("us-east-1", "eu-west-1", "ap-south-1", "*")
QUEUES = ("Default", "Fast", "*")
PUT_B = allow("s3:PutObject", "arn:aws:s3:::data-b/*")
ACL = {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}
TIME = [{"DateLessThan": {"aws:TokenIssueTime": "2019-01-01T00:00:00Z"}},
        {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
        {"Null": {"aws:TokenIssueTime": "false"}}]
TRUSTS = {
    "R": [ROOT_A, HOP, f"arn:aws:iam::{A}:user/alice", ROOT_B],
    "X": [ROOT_B, R, f"arn:aws:iam::{B}:user/carol"],
}
ROLE_DOCS = {
    "R": [doc(PUT_B), doc(allow("sts:AssumeRole", X)), doc(allow("s3:*")),
          doc(allow("iam:PassRole", MCROLE), allow("mediaconvert:CreateJob"))],
    "Hop": [doc(allow("sts:AssumeRole", R)), doc(allow("s3:PutObject", "*", Condition=ACL))],
    "X": [doc(PUT_B), doc(allow("s3:GetObject", "arn:aws:s3:::data-a/*"))],
    "MC": [doc(PUT_B), doc(allow("s3:PutObject", "arn:aws:s3:::data-b/*", Condition=ACL)),
           doc(allow("s3:PutObject", "arn:aws:s3:::never-seen/*")), doc(allow("s3:GetObject"))],
}
QUESTIONS = [
    ("s3:PutObject", "arn:aws:s3:::data-b/k"),
    ("s3:PutObject", "arn:aws:s3:::never-seen/k"),
    ("s3:GetObject", "arn:aws:s3:::data-a/k"),
    ("sts:AssumeRole", R),
]


def _trust(principal: str) -> dict[str, Any]:
    return doc({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"})


def setup(ledger: Ledger) -> int:
    """The fixed opening; returns the minute counter after it."""
    ledger.create_account(A, "media", at=t(1))
    ledger.create_account(B, "partner", at=t(1))
    for name in USERS:
        ledger.create_user(A, name, at=t(2))
    ledger.create_user(B, "carol", at=t(2))
    ledger.create_role(A, "R", _trust(ROOT_A), at=t(3))
    ledger.create_role(A, "Hop", _trust(f"arn:aws:iam::{A}:user/bob"), at=t(3))
    ledger.create_role(A, "X", _trust(ROOT_B), at=t(3))
    ledger.create_role(A, "MC", doc({"Effect": "Allow", "Principal": {"Service": MC}, "Action": "sts:AssumeRole",
                                     "Condition": {"StringEquals": {"aws:SourceAccount": A}}}),
                       path="/service-role/", at=t(3))
    for role in ("MC", "R", "Hop", "X"):
        ledger.put_role_policy(A, role, "p", ROLE_DOCS[role][0], at=t(4))
    ledger.create_bucket(A, "data-a", at=t(4))
    ledger.create_bucket(B, "data-b", at=t(4))
    ledger.put_bucket_policy("data-b", _bucket_b(0), at=t(5))
    apply_op(ledger, "grant_pass", 0, 0, 5)
    apply_op(ledger, "grant_job", 0, 1, 5)
    return 6


def _unknown(ledger: Ledger, user: str, at: Any) -> bool:
    state = ledger.account_state(A).user_by_name(user)
    if state is None:
        return False
    return try_(ledger.record, [ev.PolicyAttached(
        originator_id=ev.account_stream_id(A), originator_version=1, occurred_at=at, recorded_at=at,
        account_id=A, source="snapshot", principal_kind="user", principal_id=state.user_id,
        principal_arn=f"arn:aws:iam::{A}:user/{user}", policy_id="ANPAUNKNOWN" + user.upper(),
        policy_arn="arn:aws:iam::aws:policy/NeverSeen")])


def _bucket_b(j: int) -> dict[str, Any]:
    named: Any = [[MCROLE, ROOT_A], ROOT_A, X, MCROLE][j % 4]
    return doc({"Effect": "Allow", "Principal": {"AWS": named}, "Action": "s3:*", "Resource": "arn:aws:s3:::data-b/*"})


def apply_op(ledger: Ledger, op: str, i: int, j: int, minute: int) -> bool:
    """One random command at `minute`; invalid ones are skipped."""
    at, user = t(minute), USERS[i % 2]
    queue = f"arn:aws:mediaconvert:{REGIONS[j % 4]}:{A}:queues/{QUEUES[j % 3]}"
    role = ("R", "Hop", "X", "MC")[i % 4]
    return {
        "grant_pass": lambda: try_(ledger.put_user_policy, A, user, "pass", doc(allow(
            "iam:PassRole", MCROLE, Condition={"StringEquals": {"iam:PassedToService": MC}})), at=at),
        "drop_pass": lambda: try_(ledger.delete_user_policy, A, user, "pass", at=at),
        "grant_job": lambda: try_(ledger.put_user_policy, A, user, "job", doc(allow("mediaconvert:CreateJob", queue)),
                                  at=at),
        "deny_job": lambda: try_(ledger.put_user_policy, A, user, "nojob", doc(deny(
            "mediaconvert:CreateJob", f"arn:aws:mediaconvert:{REGIONS[j % 3]}:{A}:queues/*")), at=at),
        "job": lambda: try_(ledger.create_job, A, ROOT_A, MCROLE, outputs=["s3://data-b/o/"],
                            region=REGIONS[j % 3], queue=QUEUES[j % 2], at=at),
        "role_policy": lambda: try_(ledger.put_role_policy, A, role, "p",
                                    ROLE_DOCS[role][j % len(ROLE_DOCS[role])], at=at),
        "trust": lambda: try_(ledger.update_assume_role_policy, A, ("R", "X")[i % 2],
                              _trust(TRUSTS[("R", "X")[i % 2]][j % len(TRUSTS[("R", "X")[i % 2]])]), at=at),
        "user_assume": lambda: try_(ledger.put_user_policy, A, user, "assume",
                                    doc(allow("sts:AssumeRole", (R, HOP, X, "*")[j % 4])), at=at),
        "carol_assume": lambda: try_(ledger.put_user_policy, B, "carol", "assume",
                                     doc(allow("sts:AssumeRole", (X, "*", R)[j % 3])), at=at),
        "bucket_policy": lambda: try_(ledger.put_bucket_policy, "data-b", _bucket_b(j), at=at),
        "delete_a": lambda: try_(ledger.delete_bucket, A, "data-a", at=at),
        "create_a": lambda: try_(ledger.create_bucket, A, "data-a", at=at),
        "time": lambda: try_(ledger.put_user_policy, A, user, "time", doc(allow(
            ["s3:PutObject", "s3:GetObject"], "*", Condition=TIME[j % 3])), at=at),
        "unknown": lambda: _unknown(ledger, user, at),
        "user_s3": lambda: try_(ledger.put_user_policy, A, user, "s3", doc(PUT_B if j % 2 else allow("s3:*")), at=at),
    }[op]()


# Path-building commands weigh double, so that most histories hold a chain or a PassRole path.
OPS = ["grant_pass", "grant_pass", "drop_pass", "grant_job", "grant_job", "deny_job", "job", "role_policy",
       "role_policy", "trust", "user_assume", "user_assume", "carol_assume", "bucket_policy", "delete_a",
       "create_a", "time", "unknown", "user_s3"]


def record(ledger: Ledger, ops: list[tuple[str, int, int]]) -> int:
    minute = setup(ledger)
    for op, i, j in ops:
        apply_op(ledger, op, i, j, minute)
        minute += 1
    return minute

"""Notes on a typed request: each mistake named, with the nearest valid form; right requests get none."""

from __future__ import annotations

import pytest

from ledger.catalog import diagnose_request, evaluated_resource

ACCOUNT = "111122223333"

# (the note must contain this, action, resource), or (None, ...) for a request that is right.
NOTES = [
    ('did you mean "mediaconvert:CreateJob"?', "mediaconvert:CreatJob", "*"),
    ('did you mean "mediaconvert:CreateJob"?', "mediaconvrt:CreateJob", "*"),
    ('"CreateJob" has no service prefix', "CreateJob", "*"),
    ('did you mean "arn:aws:s3:::media-out/k.mp4"?', "s3:PutObject", "s3://media-out/k.mp4"),
    ('did you mean "arn:aws:iam::ACCOUNT:user/alice"?', "iam:CreateAccessKey", "alice"),
    ('did you mean "arn:aws:iam::ACCOUNT:role/MCRole"?', "iam:PassRole", "MCRole"),
    ('has 4 colons where an ARN has at least 5: did you mean "arn:aws:s3:::media-out/k"?',
     "s3:PutObject", "arn:aws:s3::media-out/k"),
    ("is not a resource s3:GetObject acts on", "s3:GetObject", f"arn:aws:iam::{ACCOUNT}:user/alice"),
    ('AWS authorises it against all resources ("*")', "s3:ListAllMyBuckets", "arn:aws:s3:::media-out"),
    ("is a pattern", "s3:Get*", "*"),
    (None, "s3:PutObject", "arn:aws:s3:::media-out/k.mp4"),
    (None, "mediaconvert:CreateJob", f"arn:aws:mediaconvert:eu-west-1:{ACCOUNT}:queues/Default"),
    (None, "mediaconvert:CreateJob", "*"),
    (None, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/service-role/MCRole"),
    (None, "sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/R"),
    (None, "s3:ListAllMyBuckets", "*"),
    (None, "s3:GetObject", "arn:aws:s3:::b/*"),
]


class TestDiagnoseRequest:
    """`diagnose_request(action, resource)` returns one note per mistake, naming the nearest valid form."""

    @pytest.mark.parametrize(("expected", "action", "resource"), NOTES, ids=[f"{a} {r}" for _, a, r in NOTES])
    def test_table(self, expected: str | None, action: str, resource: str) -> None:
        """The note says what is wrong and what was probably meant; a right request has no note."""
        notes = diagnose_request(action, resource)
        if expected is None:
            assert [] == notes
        else:
            assert 1 == len(notes) and expected in notes[0], notes

    @pytest.mark.parametrize(("action", "resource"), [("x" * 5000, "*"), ("s3:GetObject", "a" * 5000),
                                                      ("", ""), (":", ":"), ("s3:", "arn:"), ("\x00:\x01", "\ud800")])
    def test_odd_input_never_raises(self, action: str, resource: str) -> None:
        """Whatever is typed, the answer is a list of strings."""
        assert all(isinstance(n, str) for n in diagnose_request(action, resource))


class TestEvaluatedResource:
    """The resource AWS authorises an action against: every resource of the service when the
    action has no resource type, the request's own resource otherwise."""

    @pytest.mark.parametrize(("expected", "action", "resource", "principal"), [
        ("arn:aws:s3:::*", "s3:ListAllMyBuckets", "*", f"arn:aws:iam::{ACCOUNT}:user/alice"),
        ("arn:aws:s3:::*", "S3:listallmybuckets", "arn:aws:s3:::b", f"arn:aws:iam::{ACCOUNT}:user/alice"),
        ("arn:aws-cn:s3:::*", "s3:ListAllMyBuckets", "*", f"arn:aws-cn:iam::{ACCOUNT}:user/alice"),
        ("arn:aws:sts:::*", "sts:GetCallerIdentity", "*", "mediaconvert.amazonaws.com"),
        ("*", "s3:GetObject", "*", ""),
        ("arn:aws:s3:::b/k", "s3:GetObject", "arn:aws:s3:::b/k", ""),
        ("*", "nosuch:Action", "*", ""),
    ])
    def test_table(self, expected: str, action: str, resource: str, principal: str) -> None:
        """Only actions the reference lists without a resource type are mapped, in the caller's partition."""
        assert expected == evaluated_resource(action, resource, principal)

"""The read side with the catalogue, on SQLite and PostgreSQL: typos get notes and warnings, and an
action with no resource type is decided against all resources (issue 10 item 2, issue 11 §3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

import ledger.cli.registry  # registers the commands
from ledger import Ledger
from ledger.cli.app import app
from tests.projections._support import fresh_ledger

A = "111111111111"
ALICE, BOB, CAROL = (f"arn:aws:iam::{A}:user/{n}" for n in ("alice", "bob", "carol"))


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest) -> Iterator[Ledger]:
    """alice: the S3 User Guide's bucket-operations grant; bob: ListAllMyBuckets on one bucket only;
    carol: everything, but a Deny on every bucket of S3."""
    with fresh_ledger(request.param) as opened:
        opened.create_account(A)
        opened.create_bucket(A, "photos")
        for name in ("alice", "bob", "carol"):
            opened.create_user(A, name)
        opened.put_user_policy(A, "alice", "list", policy(
            {"Sid": "statement1", "Effect": "Allow", "Resource": ["arn:aws:s3:::*"],
             "Action": ["s3:CreateBucket", "s3:ListAllMyBuckets", "s3:GetBucketLocation"]}))
        opened.put_user_policy(A, "bob", "list", policy(
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "arn:aws:s3:::photos"}))
        opened.put_user_policy(A, "carol", "all", policy(
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*"}))
        yield opened


class TestNoResourceType:
    """S3 User Guide: ListAllMyBuckets is granted with the relative-id part "*" (arn:aws:s3:::*)."""

    def test_can(self, ledger: Ledger) -> None:
        """alice allowed; bob (one bucket named) implicitDeny; carol (Deny on arn:aws:s3:::*) explicitDeny."""
        got = tuple(ledger.can(p, "s3:ListAllMyBuckets", "*").eval_decision for p in (ALICE, BOB, CAROL))
        assert ("allowed", "implicitDeny", "explicitDeny") == got

    def test_who_can_agrees_with_can(self, ledger: Ledger) -> None:
        """who_can lists exactly the users can() allows (pruning keeps the service-wide grant)."""
        listed = {p["principal"] for p in ledger.who_can("s3:ListAllMyBuckets", "*")["principals"]}
        allowed = {p for p in (ALICE, BOB, CAROL) if ledger.can(p, "s3:ListAllMyBuckets", "*").allowed}
        assert ({ALICE}, {ALICE}) == (allowed, listed - {f"arn:aws:iam::{A}:root"})

    def test_a_bucket_named_in_the_question_is_all_buckets(self, ledger: Ledger) -> None:
        """Asked about one bucket, the answer is AWS's (all resources), with a note saying so."""
        d = ledger.can(BOB, "s3:ListAllMyBuckets", "arn:aws:s3:::photos")
        assert "implicitDeny" == d.eval_decision
        assert any('against all resources ("*")' in n for n in d.notes)


class TestNotes:
    """A typo or a malformed resource gets a note with the nearest valid form, not a silent deny."""

    def test_can_notes(self, ledger: Ledger) -> None:
        """The decision carries the note, in its JSON too."""
        d = ledger.can(ALICE, "mediaconvert:CreatJob", "*")
        assert ["implicitDeny", 1] == [d.eval_decision, len(d.notes)]
        assert any('did you mean "mediaconvert:CreateJob"?' in n for n in d.to_dict()["Notes"])

    def test_who_can_notes(self, ledger: Ledger) -> None:
        """who_can's result has a `notes` list (and the JSON key) when there is something to say."""
        result = ledger.who_can("s3:PutObject", "s3://photos/a.jpg")
        assert ['"s3://photos/a.jpg" is a URL, not an ARN: did you mean "arn:aws:s3:::photos/a.jpg"?'] == list(
            result.notes)
        assert result.to_dict()["notes"] == list(result.notes)

    def test_right_requests_have_no_notes(self, ledger: Ledger) -> None:
        """No note, and no `notes` key, when the request is right."""
        d = ledger.can(ALICE, "s3:GetObject", "arn:aws:s3:::photos/a.jpg")
        result = ledger.who_can("s3:GetObject", "arn:aws:s3:::photos/a.jpg")
        assert ([], ()) == (d.notes, result.notes)
        assert "notes" not in result.to_dict()


class TestCliWarnings:
    """`ledger can` and `ledger who-can` print each note as a `warning:` line on stderr."""

    def test_can_typo(self, ledger: Ledger) -> None:
        """The typo's warning names the nearest valid action; the exit code stays the decision's."""
        out = CliRunner().invoke(app, ["--db", str(ledger.store.url.url), "can", ALICE, "mediaconvert:CreatJob", "*"])
        assert 1 == out.exit_code
        assert ['warning: "mediaconvert:CreatJob" is not an action of mediaconvert in the Service Authorization '
                'Reference: did you mean "mediaconvert:CreateJob"?'] == [
            line for line in out.stderr.splitlines() if line.startswith("warning:")]

    def test_who_can_bare_user_name(self, ledger: Ledger) -> None:
        """A bare user name as the resource gets the ARN it probably meant."""
        out = CliRunner().invoke(app, ["--db", str(ledger.store.url.url), "who-can", "iam:CreateAccessKey", "alice"])
        assert 0 == out.exit_code, out.output
        assert 'did you mean "arn:aws:iam::ACCOUNT:user/alice"?' in out.stderr

    def test_json_output_carries_the_notes(self, ledger: Ledger) -> None:
        """With --json the notes are in the body (stdout), not extra text on stderr."""
        out = CliRunner().invoke(app, ["--db", str(ledger.store.url.url), "who-can", "s3:PutObject",
                                       "s3://photos/a", "--json"])
        assert 1 == len(json.loads(out.stdout)["notes"])

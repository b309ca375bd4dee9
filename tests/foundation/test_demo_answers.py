"""The audit demo's answers to the five questions of the design brief, asserted from the story's
facts and AWS's rules (not from the code's own output)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger import Ledger
from ledger.application.demo import ARCHIVE, MEDIA, ROLE_ARN, StoryFacts, audit_answers, record_story


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StoryFacts, dict[str, Any]]]:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    with Ledger.open(f"sqlite:///{path}") as ledger:
        facts = record_story(ledger)
        yield facts, audit_answers(ledger, facts)


def by_principal(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["principal"]: entry for entry in answer["principals"]}


class TestQuestionOneWhoCouldWriteTheOutput:
    def test_the_service_role_may_write_only_with_the_acl_the_bucket_policy_demands(self, story: Any) -> None:
        """The bucket policy's s3:x-amz-acl condition makes the role's write conditional."""
        role = by_principal(story[1]["q1_who_could_write_the_output"])[ROLE_ARN]
        assert role["EvalDecision"] == "allowed" and role["conditional"] is True
        assert "s3:x-amz-acl" in [key.lower() for key in role["missing_context"]]

    def test_editors_reach_the_bucket_by_passing_the_role_to_mediaconvert(self, story: Any) -> None:
        """alice and bob (group grant in force) reach it through iam:PassRole → CreateJob → the role."""
        found = by_principal(story[1]["q1_who_could_write_the_output"])
        for user in ("alice", "bob"):
            entry = found[f"arn:aws:iam::{MEDIA}:user/{user}"]
            actions = [step["action"] for step in entry["path"]]
            assert actions[:2] == ["iam:PassRole", "mediaconvert:CreateJob"]
            assert actions[-1] == "s3:PutObject"

    def test_a_reader_of_the_archive_cannot_write_into_it(self, story: Any) -> None:
        """The archive's librarian holds only read permissions."""
        assert f"arn:aws:iam::{ARCHIVE}:user/librarian" not in by_principal(story[1]["q1_who_could_write_the_output"])


class TestQuestionTwoWhatChanged:
    def test_bob_lost_job_submission_because_he_left_the_group(self, story: Any) -> None:
        """The revocation shows as lost access caused by UserRemovedFromGroup; nothing was gained."""
        changes = story[1]["q2_what_changed"]
        lost = {(c["principal"], c["action"]): c for c in changes["lost"]}
        entry = lost[(f"arn:aws:iam::{MEDIA}:user/bob", "mediaconvert:CreateJob")]
        assert [c["event_type"] for c in entry["caused_by"]] == ["UserRemovedFromGroup"]
        assert not any(p == f"arn:aws:iam::{MEDIA}:user/alice" for p, _ in lost)
        assert changes["gained"] == []


class TestQuestionThreeLineageAndOwnership:
    def test_the_job_account_owns_the_job_but_not_the_outputs_it_wrote_with_the_acl(self, story: Any) -> None:
        """Output with bucket-owner-full-control under BucketOwnerPreferred belongs to the bucket owner."""
        facts, answers = story
        lineage = answers["q3_lineage_and_owner"]["lineage"]
        assert lineage["job"]["creator"] == facts.alice_arn
        assert lineage["job"]["passed_role"] == ROLE_ARN
        assert lineage["job"]["account"] == MEDIA
        owners = answers["q3_lineage_and_owner"]["owners"]
        assert owners["first_output"]["at write"]["owner_account"] == ARCHIVE

    def test_bucket_owner_enforced_takes_over_objects_written_before_it(self, story: Any) -> None:
        """An object the writer owned becomes the bucket owner's once BucketOwnerEnforced is set."""
        owners = story[1]["q3_lineage_and_owner"]["owners"]["second_output"]
        assert owners["at write"]["owner_account"] == MEDIA
        assert owners["after BucketOwnerEnforced"]["owner_account"] == ARCHIVE


class TestQuestionFourCouldVsDid:
    def test_each_observed_call_is_explained_by_the_grant_in_force(self, story: Any) -> None:
        """alice's call was authorised by the group's policy attachment; bob's later attempt had none."""
        calls = {c["call"]["principal"].rsplit("/", 1)[-1]: c for c in story[1]["q4_could_vs_did"]}
        assert calls["alice"]["agrees"] and calls["alice"]["ledger_says"] == "allowed"
        origins = [s["Origin"]["event_type"] for s in calls["alice"]["authorised_by"]]
        assert "PolicyAttached" in origins
        assert calls["bob"]["agrees"] and calls["bob"]["ledger_says"] == "implicitDeny"


class TestQuestionFiveProof:
    def test_the_events_behind_a_past_decision_are_proven_in_the_log(self, story: Any) -> None:
        """Every event the decision relied on has a verifying inclusion proof; the log verifies."""
        proof = story[1]["q5_past_decision_and_proof"]
        assert proof["decision"]["EvalDecision"] == "allowed"
        assert proof["inclusion_proofs"] and all(p["verifies"] for p in proof["inclusion_proofs"])
        assert proof["log_verified"] is True

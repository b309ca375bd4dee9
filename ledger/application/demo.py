"""The MediaConvert access-control story of the AWS guide, recorded as commands on a ledger.

Used by `ledger demo`, by the README tour and by tests; dates are fixed so answers are stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.application.facade import Ledger
from ledger.domain import events as ev
from ledger.timeaxis import parse_iso

MEDIA = "111122223333"  # runs MediaConvert jobs
ARCHIVE = "444455556666"  # owns the output bucket
OUTPUT_BUCKET = "archive-media-out"
INPUT_BUCKET = "media-in-111122223333"
ROLE_ARN = f"arn:aws:iam::{MEDIA}:role/MediaConvertRole"
SUBMIT_POLICY_ARN = f"arn:aws:iam::{MEDIA}:policy/MediaConvertSubmitJobs"
ADMIN_ARN = f"arn:aws:iam::{MEDIA}:user/admin"

MEDIACONVERT_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "mediaconvert.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": MEDIA}},
        }
    ],
}
SUBMIT_JOBS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "SubmitJobs",
            "Effect": "Allow",
            "Action": ["mediaconvert:CreateJob", "mediaconvert:GetJob", "mediaconvert:ListJobs"],
            "Resource": "*",
        },
        {
            "Sid": "PassTheMediaConvertRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": ROLE_ARN,
            "Condition": {"StringEquals": {"iam:PassedToService": "mediaconvert.amazonaws.com"}},
        },
    ],
}
ROLE_S3_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadInputs",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{INPUT_BUCKET}", f"arn:aws:s3:::{INPUT_BUCKET}/*"],
        },
        {
            "Sid": "WriteOutputs",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:PutObjectAcl"],
            "Resource": f"arn:aws:s3:::{OUTPUT_BUCKET}/*",
        },
    ],
}
CROSS_ACCOUNT_BUCKET_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "MediaAccountWritesOutputs",
            "Effect": "Allow",
            "Principal": {"AWS": ROLE_ARN},
            "Action": ["s3:PutObject", "s3:PutObjectAcl"],
            "Resource": f"arn:aws:s3:::{OUTPUT_BUCKET}/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
        }
    ],
}
ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Administrator", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}
ARCHIVE_READERS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadArchive",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{OUTPUT_BUCKET}", f"arn:aws:s3:::{OUTPUT_BUCKET}/*"],
        }
    ],
}


CAST: dict[str, Any] = {
    "accounts": [
        {"id": MEDIA, "name": "media-production", "role": "runs the MediaConvert jobs; its administrator grants"},
        {"id": ARCHIVE, "name": "media-archive", "role": f"owns the output bucket {OUTPUT_BUCKET}"},
    ],
    "people": [
        {"name": "admin", "arn": ADMIN_ARN, "who": "the media account's administrator: grants and revokes"},
        {"name": "alice", "arn": f"arn:aws:iam::{MEDIA}:user/alice",
         "who": "video editor in the group video-editors; runs a job"},
        {"name": "bob", "arn": f"arn:aws:iam::{MEDIA}:user/bob",
         "who": "video editor in the group video-editors, until admin removes him"},
        {"name": "librarian", "arn": f"arn:aws:iam::{ARCHIVE}:user/librarian",
         "who": "the archive's reader: may read the outputs, not write them"},
        {"name": "MediaConvertRole", "arn": ROLE_ARN,
         "who": "the service role MediaConvert assumes to write the outputs into the archive"},
    ],
    "plot": ("on 2024-02-26 admin lets video-editors submit jobs; on 2024-03-01 alice's job writes two "
             "outputs into the archive's bucket; on 2024-03-15 admin removes bob from the group; on "
             "2024-03-18 the archive takes ownership of every object (BucketOwnerEnforced)."),
}


def _observed(
    principal: str, action: str, allowed: bool, error: str | None, at: str, event_id: str
) -> ev.AccessObserved:
    when = parse_iso(at)
    return ev.AccessObserved(
        originator_id=ev.account_stream_id(MEDIA),
        originator_version=0,
        occurred_at=when,
        recorded_at=datetime.now(UTC),
        actor=principal,
        source="cloudtrail",
        source_id=event_id,
        account_id=MEDIA,
        principal_arn=principal,
        principal_account=MEDIA,
        principal_type="IAMUser",
        action=action,
        resource="*",
        resource_account=MEDIA,
        allowed=allowed,
        error_code=error,
    )


@dataclass(frozen=True)
class StoryFacts:
    """Times and ARNs the demo's questions refer to."""

    before_grant: str = "2024-02-20T09:00:00Z"
    while_granted: str = "2024-03-01T14:00:00Z"
    after_revoke: str = "2024-03-20T09:00:00Z"
    job_arn: str = ""
    first_output: str = ""
    second_output: str = ""
    admin_arn: str = ADMIN_ARN
    alice_arn: str = f"arn:aws:iam::{MEDIA}:user/alice"
    bob_arn: str = f"arn:aws:iam::{MEDIA}:user/bob"


def record_story(ledger: Ledger) -> StoryFacts:
    """Record the guide's story: two accounts, an administrator granting and later revoking,
    users in a group, a service role passed to a job, and outputs written into the other
    account's bucket under its bucket policy and Object Ownership setting."""
    _record_accounts_and_buckets(ledger)
    _record_media_team(ledger)
    job, first, second = _record_job_and_outputs(ledger)
    # ... and revokes it for bob on 2024-03-15, while the archive account takes every object.
    ledger.remove_user_from_group(MEDIA, "bob", "video-editors", at="2024-03-15T10:00:00Z", actor=ADMIN_ARN)
    ledger.put_bucket_ownership_controls(OUTPUT_BUCKET, "BucketOwnerEnforced", at="2024-03-18T10:00:00Z")
    _record_observed_calls(ledger)
    return StoryFacts(job_arn=job.job_arn, first_output=first.object_arn, second_output=second.object_arn)


def _record_accounts_and_buckets(ledger: Ledger) -> None:
    """Both accounts, the media account's administrator, the buckets and the archive's reader."""
    ledger.create_account(MEDIA, "media-production", at="2024-01-02T09:00:00Z")
    ledger.create_account(ARCHIVE, "media-archive", at="2024-01-02T09:05:00Z")
    ledger.create_user(MEDIA, "admin", at="2024-01-02T10:00:00Z")
    ledger.put_user_policy(MEDIA, "admin", "AdministratorAccess", ADMIN, at="2024-01-02T10:01:00Z")
    ledger.set_login_profile(MEDIA, "admin", "correct horse battery", at="2024-01-02T10:02:00Z")
    ledger.create_bucket(
        MEDIA, INPUT_BUCKET, object_ownership="BucketOwnerEnforced", at="2024-01-03T09:00:00Z", actor=ADMIN_ARN
    )
    ledger.create_bucket(ARCHIVE, OUTPUT_BUCKET, object_ownership="BucketOwnerPreferred", at="2024-01-03T09:30:00Z")
    ledger.put_bucket_policy(OUTPUT_BUCKET, CROSS_ACCOUNT_BUCKET_POLICY, at="2024-01-03T09:31:00Z")
    ledger.create_user(ARCHIVE, "librarian", at="2024-01-03T09:40:00Z")
    ledger.put_user_policy(ARCHIVE, "librarian", "ReadArchive", ARCHIVE_READERS, at="2024-01-03T09:41:00Z")


def _record_media_team(ledger: Ledger) -> None:
    """The service role, the job-submission policy, the editors' group and its two users."""
    ledger.create_role(
        MEDIA,
        "MediaConvertRole",
        MEDIACONVERT_TRUST,
        at="2024-01-04T09:00:00Z",
        actor=ADMIN_ARN,
        description="Service role MediaConvert assumes to read inputs and write outputs",
    )
    ledger.put_role_policy(
        MEDIA, "MediaConvertRole", "S3Access", ROLE_S3_ACCESS, at="2024-01-04T09:01:00Z", actor=ADMIN_ARN
    )
    ledger.create_policy(MEDIA, "MediaConvertSubmitJobs", SUBMIT_JOBS, at="2024-01-04T09:02:00Z", actor=ADMIN_ARN)
    ledger.create_group(MEDIA, "video-editors", at="2024-01-04T09:03:00Z", actor=ADMIN_ARN)
    ledger.create_user(MEDIA, "alice", at="2024-01-05T09:00:00Z", actor=ADMIN_ARN)
    ledger.create_user(MEDIA, "bob", at="2024-01-05T09:01:00Z", actor=ADMIN_ARN)
    ledger.create_access_key(MEDIA, "alice", at="2024-01-05T09:02:00Z", actor=ADMIN_ARN)
    ledger.add_user_to_group(MEDIA, "alice", "video-editors", at="2024-01-05T09:03:00Z", actor=ADMIN_ARN)
    ledger.add_user_to_group(MEDIA, "bob", "video-editors", at="2024-01-05T09:04:00Z", actor=ADMIN_ARN)
    # The administrator grants job submission to the group on 2024-02-26 ...
    ledger.attach_group_policy(MEDIA, "video-editors", SUBMIT_POLICY_ARN, at="2024-02-26T10:00:00Z", actor=ADMIN_ARN)


def _record_job_and_outputs(ledger: Ledger) -> tuple[ev.JobCreated, ev.OutputWritten, ev.OutputWritten]:
    """alice's job, MediaConvert's session on the passed role, and the two outputs it wrote."""
    job = ledger.create_job(
        MEDIA,
        f"arn:aws:iam::{MEDIA}:user/alice",
        ROLE_ARN,
        inputs=[f"s3://{INPUT_BUCKET}/raw/keynote.mov"],
        outputs=[f"s3://{OUTPUT_BUCKET}/renditions/keynote/"],
        at="2024-03-01T14:05:00Z",
        actor=f"arn:aws:iam::{MEDIA}:user/alice",
    )[0]
    assert isinstance(job, ev.JobCreated)
    ledger.assume_role(
        "mediaconvert.amazonaws.com",
        ROLE_ARN,
        "MediaConvert",
        3600,
        at="2024-03-01T14:05:01Z",
        actor="mediaconvert.amazonaws.com",
    )
    first = ledger.write_output(
        job.job_arn,
        OUTPUT_BUCKET,
        "renditions/keynote/keynote_1080p.mp4",
        acl="bucket-owner-full-control",
        at="2024-03-01T14:09:00Z",
    )[0]
    second = ledger.write_output(
        job.job_arn,
        OUTPUT_BUCKET,
        "renditions/keynote/keynote_720p.mp4",
        acl=None,
        at="2024-03-01T14:09:30Z",
    )[0]
    assert isinstance(first, ev.OutputWritten) and isinstance(second, ev.OutputWritten)
    return job, first, second


def _record_observed_calls(ledger: Ledger) -> None:
    """CloudTrail later shows what was *done*: alice's CreateJob (allowed) and bob's attempt after
    the revocation (denied by AWS)."""
    ledger.record(
        [
            _observed(
                f"arn:aws:iam::{MEDIA}:user/alice",
                "mediaconvert:CreateJob",
                True,
                None,
                "2024-03-01T14:05:00Z",
                "demo-trail-0001",
            ),
            _observed(
                f"arn:aws:iam::{MEDIA}:user/bob",
                "mediaconvert:CreateJob",
                False,
                "AccessDeniedException",
                "2024-03-16T11:00:00Z",
                "demo-trail-0002",
            ),
        ]
    )


def audit_answers(ledger: Ledger, facts: StoryFacts) -> dict[str, Any]:
    """The answers to the five questions of the design brief, each with its explanation."""
    first = facts.first_output
    who = ledger.who_can("s3:PutObject", first, at=facts.while_granted, paths=True)
    changes = ledger.diff(facts.while_granted, facts.after_revoke)
    lineage = ledger.lineage(first)
    owners = {
        key: {
            when: ledger.owner_of(obj, at=at).to_dict()
            for when, at in (("at write", "2024-03-01T14:10:00Z"), ("after BucketOwnerEnforced", facts.after_revoke))
        }
        for key, obj in (("first_output", facts.first_output), ("second_output", facts.second_output))
    }
    return {
        "q1_who_could_write_the_output": who.to_dict(),
        "q2_what_changed": changes.to_dict(),
        "q3_lineage_and_owner": {"lineage": lineage.to_dict(), "owners": owners},
        "q4_could_vs_did": _could_vs_did(ledger),
        "q5_past_decision_and_proof": _past_decision_and_proof(ledger, facts),
    }


def _could_vs_did(ledger: Ledger) -> list[dict[str, Any]]:
    """Each observed call, what AWS said, and which grant (if any) the ledger says authorised it."""
    answers = []
    for event in ledger.events():
        if isinstance(event, ev.AccessObserved):
            decision = ledger.can(event.principal_arn, event.action, event.resource, at=event.occurred_at)
            answers.append(
                {
                    "call": {
                        "principal": event.principal_arn,
                        "action": event.action,
                        "at": event.occurred_at.isoformat(),
                        "aws_said": "allowed" if event.allowed else event.error_code,
                        "position": event.position,
                    },
                    "ledger_says": decision.eval_decision,
                    "agrees": decision.allowed == event.allowed,
                    "authorised_by": decision.to_dict()["MatchedStatements"],
                }
            )
    return answers


def _past_decision_and_proof(ledger: Ledger, facts: StoryFacts) -> dict[str, Any]:
    """bob's past CreateJob decision, inclusion proofs of the events it rests on, and the whole
    log and projection verified against a fresh checkpoint."""
    from ledger.application.trust import checkpoint_ledger, verify_ledger

    decision = ledger.can(facts.bob_arn, "mediaconvert:CreateJob", "*", at=facts.while_granted)
    checkpoint, _ = checkpoint_ledger(ledger.store, save=False)
    proven = ledger.prove_decision(decision, checkpoint)
    proofs = [
        {
            "position": p["position"],
            "leaf_index": p.get("leaf_index"),
            "tree_size": p.get("tree_size"),
            "audit_path_length": len(p.get("path", [])),
            "verifies": p["verified"],
        }
        for p in proven["proofs"]
    ]
    report = verify_ledger(ledger.store, [checkpoint], use_stored=False)
    return {
        "decision": decision.to_dict(),
        "checkpoint": {"tree_size": checkpoint.tree_size, "root_hash": checkpoint.root_hash},
        "inclusion_proofs": proofs,
        "log_verified": report.log.ok,
        "verify_reason": report.log.reason,
        "projection_verified": report.projection.ok,
        "projection_reason": report.projection.reason,
    }


# The report `ledger demo` writes: the output bucket over the story's first quarter.
REPORT_WINDOW = ("2024-01-01T00:00:00Z", "2024-04-01T00:00:00Z")


def demo_report(ledger: Ledger) -> dict[str, Any]:
    """The access report of the output bucket over the story's quarter (see `Ledger.report`)."""
    return ledger.report(f"arn:aws:s3:::{OUTPUT_BUCKET}", start=REPORT_WINDOW[0], end=REPORT_WINDOW[1])

"""The S3 calls of CloudTrail as ledger facts: buckets, bucket policies, Object Ownership settings,
and objects written (with the job that wrote them and who owns them as a result).
Pure: never stores or logs; an owner it cannot be sure of is recorded as unknown, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.application.importing.cloudtrail.call import Call
from ledger.application.importing.cloudtrail.records import (
    UNKNOWN_OWNER,
    NotUnderstood,
    default_ownership,
    ownership_in,
    policy_document,
)
from ledger.domain import events as ev
from ledger.domain import names
from ledger.domain.state import resulting_owner


def bucket(c: Call) -> None:
    name = c.params.get("bucketName")
    if not isinstance(name, str) or not name:
        raise NotUnderstood("missing bucketName")
    arn = names.bucket_arn(name)
    if c.name == "CreateBucket":
        region = c.record.get("awsRegion") or "us-east-1"
        c.emit(ev.BucketCreated, c.account, bucket_name=name, bucket_arn=arn, region=str(region),
               object_ownership=ownership_in(c.params) or default_ownership(c.at))
        return
    known = c.index.bucket_at(name, c.at)
    owner = known[0] if known else c.account
    if c.name == "DeleteBucket":
        c.emit(ev.BucketDeleted, owner, bucket_name=name, bucket_arn=arn)
    elif c.name == "PutBucketPolicy":
        c.emit(ev.BucketPolicyPut, owner, bucket_name=name, bucket_arn=arn,
               document=policy_document(c.params.get("bucketPolicy")))
    elif c.name == "DeleteBucketPolicy":
        c.emit(ev.BucketPolicyDeleted, owner, bucket_name=name, bucket_arn=arn)
    else:
        setting = ownership_in(c.params)
        if setting is None:
            raise NotUnderstood("no ObjectOwnership rule")
        c.emit(ev.BucketOwnershipChanged, owner, bucket_name=name, bucket_arn=arn, object_ownership=setting)


def object_written(c: Call) -> None:
    bucket_name, key = c.params.get("bucketName"), c.params.get("key")
    if not isinstance(bucket_name, str) or not isinstance(key, str):
        raise NotUnderstood("missing bucketName or key")
    writer_account = str(c.identity.get("accountId") or c.account)
    known = c.index.bucket_at(bucket_name, c.at)
    acl = c.params.get("x-amz-acl") if isinstance(c.params.get("x-amz-acl"), str) else None
    if known is not None and known[1] is not None:
        bucket_owner, ownership = known[0], known[1]
        owner = resulting_owner(bucket_owner, writer_account, ownership, acl)
    else:
        bucket_owner = known[0] if known else _bucket_account(c) or c.account
        ownership = default_ownership(c.at)
        # Unknown setting: only a same-account write has a certain owner.
        owner = bucket_owner if bucket_owner == writer_account else UNKNOWN_OWNER
        c.context["bucket_known"] = False
        c.context["ownership_assumed"] = ownership
    c.account_fact(bucket_owner)
    issuer = ((c.identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
    job = c.index.job_for_output(str(issuer), bucket_name, key, c.at) if issuer else None
    access_key = c.identity.get("accessKeyId")
    c.emit(ev.OutputWritten, bucket_owner, bucket_name=bucket_name, bucket_arn=names.bucket_arn(bucket_name),
           key=key, object_arn=names.object_arn(bucket_name, key), writer_arn=c.principal,
           writer_account=writer_account,
           writer_session_id=c.index.sessions.get(str(access_key)) if access_key else None,
           job_id=job.job_id if job else None, job_arn=job.job_arn if job else None, acl=acl,
           object_ownership=ownership, owner_account=owner)


def _bucket_account(c: Call) -> str | None:
    for resource in c.record.get("resources") or ():
        if isinstance(resource, dict) and resource.get("type") == "AWS::S3::Bucket" and resource.get("accountId"):
            return str(resource["accountId"])
    return None


# S3 event name -> the handler that maps it.
HANDLERS: dict[str, Callable[[Call], None]] = {
    "CreateBucket": bucket, "DeleteBucket": bucket, "PutBucketPolicy": bucket, "DeleteBucketPolicy": bucket,
    "PutBucketOwnershipControls": bucket,
    "PutObject": object_written, "CopyObject": object_written, "CompleteMultipartUpload": object_written,
}

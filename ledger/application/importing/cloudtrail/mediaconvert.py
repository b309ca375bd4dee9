"""The MediaConvert calls of CloudTrail as ledger facts: a job, its creator, the service role it
was passed, its queue, inputs and S3 destinations. Pure: never stores or logs.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.application.importing.cloudtrail.call import Call
from ledger.application.importing.cloudtrail.identities import principal
from ledger.application.importing.cloudtrail.records import (
    NotUnderstood,
    arn_account,
    find_all,
    iam_path_and_name,
    job_fact,
)
from ledger.domain import events as ev


def job_created(c: Call) -> None:
    job = job_fact(c.record, c.account)
    if job is None:
        raise NotUnderstood("CreateJob without a role")
    role_path, role_name = iam_path_and_name(job.role_arn)
    role_account = arn_account(job.role_arn) or c.account
    rid, _ = principal(c, role_account, "role", role_name, path=role_path)
    inputs = tuple(sorted({i for i in find_all(c.params, "fileInput") if isinstance(i, str)}))
    queue = c.params.get("queue")
    region = str(c.record.get("awsRegion") or "us-east-1")
    queue_arn = queue if isinstance(queue, str) and queue.startswith("arn:") else \
        f"arn:aws:mediaconvert:{region}:{c.account}:queues/{queue if isinstance(queue, str) else 'Default'}"
    c.emit(ev.JobCreated, c.account, job_id=job.job_id, job_arn=job.job_arn, region=region,
           creator_arn=c.principal, creator_principal_id=c.identity.get("principalId") or None,
           queue_arn=queue_arn, role_id=rid, role_arn=job.role_arn, inputs=inputs, outputs=job.outputs)


# MediaConvert event name -> the handler that maps it.
HANDLERS: dict[str, Callable[[Call], None]] = {"CreateJob": job_created}

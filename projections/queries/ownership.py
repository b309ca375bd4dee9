"""`owner_of` and `lineage`: which account owned a resource at T, and how an output object came to be.

Reads one `Snapshot` (S3 Object Ownership as in force at T, the write, its job and session); never decides access.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ledger.domain.state import resulting_owner
from ledger.errors import NotFoundError, ValidationError
from ledger.timeaxis import parse_iso, to_us
from projections.results import AsOf, JobAnswer, JobLineage, LineageResult, Origin, OwnerResult, SessionLineage
from projections.view import Snapshot


def owner_of(snap: Snapshot, as_of: AsOf, resource: str) -> OwnerResult:
    """The owning account of a bucket, an object (with its lineage), a job, or any ARN naming one."""
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValidationError(f"{resource!r} is not an ARN")
    service, account, rest = parts[2], parts[4], parts[5]
    if service == "s3":
        return _s3_owner(snap, as_of, resource)
    if service == "mediaconvert" and rest.startswith("jobs/"):
        job = snap.job(resource)
        if job is None:
            raise NotFoundError(f"job {resource} does not exist at this time", entity=resource)
        return OwnerResult(resource=resource, as_of=as_of, owner_account=job[0]["account"],
                           reason="a MediaConvert job belongs to the account it was created in, whoever created it",
                           evidence=(job[1],))
    if not account.isdigit():
        raise ValidationError(f"{resource} names no account")
    return OwnerResult(resource=resource, as_of=as_of, owner_account=account,
                       reason="the resource's ARN names its account", evidence=())


def _s3_owner(snap: Snapshot, as_of: AsOf, resource: str) -> OwnerResult:
    bucket_name, _, key = resource.split(":", 5)[5].partition("/")
    bucket = snap.bucket(bucket_name)
    if not key:
        if bucket is None:
            raise NotFoundError(f"bucket {bucket_name} does not exist at this time", entity=resource)
        return OwnerResult(resource=resource, as_of=as_of, owner_account=bucket[0],
                           reason="a bucket belongs to the account that created it", evidence=(bucket[1],))
    obj = snap.object(resource)
    if obj is None:
        raise NotFoundError(f"object {resource} was not written by this time", entity=resource)
    payload, origin = obj
    setting = snap.ownership(bucket_name)
    lineage = _lineage(snap, payload, origin)
    if setting is not None and setting[0] == "BucketOwnerEnforced" and bucket is not None:
        return OwnerResult(resource=resource, as_of=as_of, owner_account=bucket[0],
                           reason="BucketOwnerEnforced is in force: the bucket owner owns every object",
                           evidence=(setting[1], origin), lineage=lineage)
    return OwnerResult(resource=resource, as_of=as_of, owner_account=_write_owner(payload),
                       reason=_write_reason(payload), evidence=(origin, *([setting[1]] if setting else [])),
                       lineage=lineage)


def lineage(snap: Snapshot, as_of: AsOf, object_arn: str, owner: Callable[[], OwnerResult]) -> LineageResult:
    """Job → creator → passed role → session → object, with the object's owner (`owner()`, asked
    once the object is known to exist)."""
    _require_arn(object_arn)
    obj = snap.object(object_arn)
    if obj is None:
        raise NotFoundError(f"object {object_arn} was not written by this time", entity=object_arn)
    found = _lineage(snap, *obj)
    return replace(found, owner=replace(owner(), lineage=None), as_of=as_of)


def job_lineage(snap: Snapshot, as_of: AsOf, job_arn: str, owner: Callable[[], OwnerResult]) -> JobAnswer:
    """A MediaConvert job: its creator, passed role, the session it wrote with and every output it had
    written by T, with the job's owning account."""
    job = _job_at(snap, job_arn)
    if job is None:
        raise NotFoundError(f"job {job_arn} does not exist at this time", entity=job_arn)
    outputs = []
    buckets = {str(o).removeprefix("s3://").split("/", 1)[0] for o in job[0].get("outputs") or ()}
    found = snap.source.history("object", subjects=buckets) if buckets else snap.source.history("object")
    for f in sorted(found, key=lambda f: (f.valid_from, f.opened_position)):
        if f.payload.get("job_arn") == job_arn and f.valid_from <= snap.at_us:
            outputs.append(_lineage(snap, f.payload, f.origin()))
    session = next((o.session for o in outputs if o.session is not None), None)
    return JobAnswer(job=_job_of(job), outputs=tuple(outputs), session=session, owner=owner(), as_of=as_of)


def is_job_arn(arn: str) -> bool:
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and parts[2] == "mediaconvert" and parts[5].startswith("jobs/")


def _require_arn(text: str) -> None:
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[2]:
        raise ValidationError(f"{text!r} is not an ARN: give an S3 object ARN (arn:aws:s3:::BUCKET/KEY) "
                              "or a MediaConvert job ARN")
    if parts[2] != "s3" or "/" not in parts[5]:
        raise ValidationError(f"{text} is neither an S3 object ARN nor a MediaConvert job ARN")


def _job_at(snap: Snapshot, job_arn: str) -> tuple[dict[str, Any], Origin] | None:
    """The job as created, once created: a job stays in the lineage after it ends."""
    found = [f for f in snap.source.history("job", refs={job_arn}) if f.valid_from <= snap.at_us]
    if not found:
        return None
    f = max(found, key=lambda f: (f.valid_from, f.opened_position))
    return f.payload, f.origin()


def _job_of(job: tuple[dict[str, Any], Origin]) -> JobLineage:
    j, jo = job
    return JobLineage(arn=j["job_arn"], account=j["account"], created=jo, creator=j["creator_arn"],
                      passed_role=j["role_arn"], queue=j["queue_arn"])


def _session_at_write(snap: Snapshot, payload: dict[str, Any], written_us: int) -> tuple[dict[str, Any], Origin] | None:
    """The session whose credentials wrote the object: the one the write names, else the latest of
    that ARN issued by the write. History, not state at T: it stays after the session expires."""
    found = snap.source.history("session", refs={payload["writer_arn"]})
    named = [f for f in found if f.payload.get("session_id") == payload.get("writer_session_id")]
    issued = [f for f in found if f.valid_from <= written_us]
    pick = named or issued
    if not pick:
        return None
    f = max(pick, key=lambda f: (f.valid_from, f.opened_position))
    return f.payload, f.origin()


def _lineage(snap: Snapshot, payload: dict[str, Any], origin: Origin) -> LineageResult:
    job = _job_at(snap, payload["job_arn"]) if payload.get("job_arn") else None
    written_us = to_us(parse_iso(origin["occurred_at"])) if origin.get("occurred_at") else snap.at_us
    session = _session_at_write(snap, payload, written_us)
    session_lineage = None
    if session is not None:
        s, so = session
        session_lineage = SessionLineage(arn=s["arn"], session_id=s["session_id"], issued=so,
                                         caller=s.get("caller_arn"), via=s.get("via"))
    return LineageResult(object_arn=payload["object_arn"], written=origin, writer=payload["writer_arn"],
                         writer_account=payload["writer_account"], acl=payload.get("acl"),
                         object_ownership_at_write=payload["object_ownership"],
                         job=_job_of(job) if job is not None else None, session=session_lineage)


def _write_owner(payload: dict[str, Any]) -> str:
    return resulting_owner(str(payload["bucket_account"]), str(payload["writer_account"]),
                           payload["object_ownership"], payload.get("acl"))


def _write_reason(payload: dict[str, Any]) -> str:
    setting = payload["object_ownership"]
    if setting == "BucketOwnerEnforced":
        return "written while BucketOwnerEnforced: the bucket owner has owned it since"
    if setting == "BucketOwnerPreferred" and payload.get("acl") == "bucket-owner-full-control":
        return "written under BucketOwnerPreferred with bucket-owner-full-control: the bucket owner owns it"
    return f"written under {setting} (ACL {payload.get('acl')}): ownership fixed at write time to the writer's account"

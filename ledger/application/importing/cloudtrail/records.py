"""Reading one CloudTrail record: its caller, account, action, policy documents, tags and the
S3/MediaConvert details both passes need. Plain functions of a record; they never touch an index.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from ledger.application.importing.index import JobFact
from ledger.domain import names

AWS_ACCOUNT = "aws"  # as `ledger.domain.handlers.AWS_ACCOUNT`: the pseudo-account of AWS-managed policies
ASSUME_EVENTS = {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"}
# New buckets default to BucketOwnerEnforced since AWS's April 2023 change; older ones were ObjectWriter.
OWNER_ENFORCED_DEFAULT_SINCE = datetime(2023, 4, 1, tzinfo=UTC)
UNKNOWN_OWNER = "unknown"
# Used when a record changes something the ledger never saw created. They grant nothing (an
# action no service has), so an unknown document can never become an allow.
PLACEHOLDER_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Sid": "LedgerUnknownTrustPolicy", "Effect": "Allow",
    "Principal": {"Service": "unknown.ledger.invalid"}, "Action": "ledger:UnknownTrustPolicy"}]}
PLACEHOLDER_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Sid": "LedgerUnknownPolicyDocument", "Effect": "Allow",
    "Action": "ledger:UnknownPolicyDocument", "Resource": "*"}]}
# Event names whose IAM action differs from the API name.
_ACTION_ALIASES = {
    ("s3", "CopyObject"): "s3:PutObject", ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject", ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "UploadPartCopy"): "s3:PutObject", ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjects"): "s3:ListBucket", ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket", ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "PutBucketOwnershipControls"): "s3:PutBucketOwnershipControls",
}
_PRIORITY = {  # creations first among records of the same second
    "CreateUser": 0, "CreateGroup": 0, "CreateRole": 0, "CreatePolicy": 0, "CreateBucket": 0,
    "CreateSAMLProvider": 0, "CreateOpenIDConnectProvider": 0,
}
_OWNERSHIP_SETTINGS = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")

EMPTY: dict[str, Any] = {}  # read-only stand-in for an absent object


class NotUnderstood(Exception):
    """The record cannot be mapped (missing or malformed fields): it is counted, not fatal."""


def sort_key(record: dict[str, Any]) -> tuple[datetime, int, str]:
    return record["_at"], _PRIORITY.get(record["eventName"], 1), record["eventID"]


def kind_of(record: dict[str, Any]) -> str:
    return f"{record.get('eventSource')}:{record.get('eventName')}"


def source_id_of(record: dict[str, Any]) -> str:
    """A cross-account call is logged in both accounts with one `sharedEventID`: one fact."""
    shared = record.get("sharedEventID")
    return str(shared) if isinstance(shared, str) and shared else str(record["eventID"])


def fingerprint(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "_at"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def record_account(record: dict[str, Any]) -> str | None:
    account = record.get("recipientAccountId") or (record.get("userIdentity") or {}).get("accountId")
    return str(account) if account else None


def service_of(record: dict[str, Any]) -> str:
    return str(record["eventSource"]).split(".", 1)[0]


def iam_action(service: str, name: str) -> str:
    """The IAM action a call of API `name` on `service` needs (the API name unless aliased)."""
    return _ACTION_ALIASES.get((service, name)) or f"{service}:{name}"


def arn_account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4] else None


def iam_path_and_name(arn: str) -> tuple[str, str]:
    """(path, name) of an IAM ARN's resource part: role/service-role/x -> ('/service-role/', 'x')."""
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else arn
    _, _, rest = resource.partition("/")
    path, _, name = rest.rpartition("/")
    return (f"/{path}/" if path else "/"), name


def policy_document(value: Any) -> dict[str, Any]:
    """A policy document from CloudTrail: a JSON string, URL-encoded JSON, or already an object."""
    from ledger.errors import PolicyValidationError
    from ledger.policy.parsing import load_policy_json

    if isinstance(value, dict):
        try:
            return load_policy_json(json.dumps(value, allow_nan=False))
        except (ValueError, PolicyValidationError):
            raise NotUnderstood("policy document is not strict JSON") from None
    if not isinstance(value, str) or not value.strip():
        raise NotUnderstood("missing policy document")
    text = value.strip()
    if text.startswith("%7B") or text.startswith("%7b"):
        text = urllib.parse.unquote(text)
    try:
        loaded = load_policy_json(text)  # as IAM parses it: duplicate keys, NaN, Infinity rejected
    except PolicyValidationError as error:
        raise NotUnderstood(f"policy document: {error.message}") from None
    if not isinstance(loaded, dict):
        raise NotUnderstood("policy document is not an object")
    return loaded


def tags_of(value: Any) -> dict[str, str]:
    """The `[{key, value}]` tag list of a request as a dict (either key spelling)."""
    tags: dict[str, str] = {}
    if isinstance(value, list):
        for tag in value:
            if isinstance(tag, dict):
                key = tag.get("key", tag.get("Key"))
                if isinstance(key, str):
                    tags[key] = str(tag.get("value", tag.get("Value", "")))
    return tags


def find_all(value: Any, key: str) -> Iterator[Any]:
    """Every value under `key` anywhere in a nested request (job settings are deep)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                yield v
            yield from find_all(v, key)
    elif isinstance(value, list):
        for item in value:
            yield from find_all(item, key)


def caller_arn(identity: dict[str, Any]) -> str | None:
    arn = identity.get("arn")
    if isinstance(arn, str) and arn:
        return arn
    kind = identity.get("type")
    if kind == "AWSService":
        return identity.get("invokedBy") or None
    if kind in ("AWSAccount", "Root") and identity.get("accountId"):
        return names.root_arn(str(identity["accountId"]))
    return None


def default_ownership(at: datetime) -> str:
    return "BucketOwnerEnforced" if at >= OWNER_ENFORCED_DEFAULT_SINCE else "ObjectWriter"


def ownership_in(params: dict[str, Any]) -> str | None:
    """The Object Ownership setting a CreateBucket or PutBucketOwnershipControls request asks for."""
    for value in find_all(params, "ObjectOwnership"):
        if value in _OWNERSHIP_SETTINGS:
            return str(value)
    value = params.get("x-amz-object-ownership")
    return str(value) if value in _OWNERSHIP_SETTINGS else None


def job_fact(record: dict[str, Any], account: str) -> JobFact | None:
    """A MediaConvert CreateJob's id, ARN, passed role and S3 destinations (None without a role)."""
    params = record.get("requestParameters") or {}
    role = params.get("role") or params.get("Role")
    if not isinstance(role, str):
        return None
    job = (record.get("responseElements") or {}).get("job") or {}
    job_id = str(job.get("id") or f"ct-{record['eventID']}")
    region = str(record.get("awsRegion") or "us-east-1")
    job_arn = str(job.get("arn") or f"arn:aws:mediaconvert:{region}:{account}:jobs/{job_id}")
    outputs = tuple(
        sorted({d for d in find_all(params, "destination") if isinstance(d, str) and d.startswith("s3://")})
    )
    return JobFact(record["_at"], account, job_id, job_arn, role, outputs)

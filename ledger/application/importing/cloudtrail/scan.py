"""The first pass over CloudTrail records: learn the ids, names, sessions, buckets and jobs each one
reveals into an `ImportIndex`, so mapping does not depend on file order. Never emits an event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.application.importing.cloudtrail import organizations
from ledger.application.importing.cloudtrail.records import (
    ASSUME_EVENTS,
    EMPTY,
    arn_account,
    default_ownership,
    fingerprint,
    iam_path_and_name,
    job_fact,
    ownership_in,
    record_account,
    service_of,
    source_id_of,
)
from ledger.application.importing.index import ImportIndex, session_id_for

_CREATIONS = (  # (operation, response key, kind, id key, name key)
    ("CreateUser", "user", "user", "userId", "userName"),
    ("CreateGroup", "group", "group", "groupId", "groupName"),
    ("CreateRole", "role", "role", "roleId", "roleName"),
    ("CreatePolicy", "policy", "policy", "policyId", "arn"),
)


def scan(record: dict[str, Any], index: ImportIndex) -> None:
    """First pass: learn the ids, names, sessions, buckets and jobs this record reveals. A record
    too malformed to read teaches nothing more; the second pass counts it as skipped."""
    try:  # noqa: SIM105 - once per record: a plain try is free, contextlib.suppress is not
        _scan(record, index)
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError):
        pass


def _scan(record: dict[str, Any], index: ImportIndex) -> None:
    at = record["_at"]
    account = record_account(record)
    index.see_account(account, at)
    shared = record.get("sharedEventID")
    if isinstance(shared, str) and shared:
        index.choose_shared(shared, record, fingerprint(record))
    _learn_caller(record.get("userIdentity") or EMPTY, index, at)
    if record.get("errorCode") or not account:
        return
    source, name = service_of(record), record["eventName"]
    params = record.get("requestParameters") or {}
    if source == "iam":
        _learn_iam(name, params, record.get("responseElements") or {}, account, index, at)
    elif source == "sts" and (name in ASSUME_EVENTS or name == "GetFederationToken"):
        _learn_session(record, params, record.get("responseElements") or {}, index, at)
    elif source == "s3":
        _learn_bucket(name, params, account, index, at)
    elif source == "mediaconvert" and name == "CreateJob" and (job := job_fact(record, account)):
        index.add_job(job)
    elif source == "organizations":
        organizations.learn(name, params, record.get("responseElements") or {}, account, index.org)


def _learn_caller(identity: dict[str, Any], index: ImportIndex, at: datetime) -> None:
    """The calling user, or the role behind the calling session, as CloudTrail names them."""
    if identity.get("type") == "IAMUser":
        user_name, principal_id = identity.get("userName"), identity.get("principalId")
        caller_account, arn = identity.get("accountId"), identity.get("arn")
        if user_name and principal_id and caller_account and arn:
            index.add_name(str(caller_account), "user", str(user_name), at, str(principal_id))
            index.arns.setdefault(str(principal_id), str(arn))
    session_context = identity.get("sessionContext")
    if session_context:
        issuer = session_context.get("sessionIssuer") or EMPTY
        if issuer.get("type") == "Role" and issuer.get("userName") and issuer.get("principalId") \
                and issuer.get("accountId"):
            index.add_name(str(issuer["accountId"]), "role", str(issuer["userName"]), at, str(issuer["principalId"]))
            if issuer.get("arn"):
                index.arns.setdefault(str(issuer["principalId"]), str(issuer["arn"]))


def _learn_iam(
    name: str, params: dict[str, Any], response: dict[str, Any], account: str, index: ImportIndex, at: datetime,
) -> None:
    for key, kind in (("userName", "user"), ("groupName", "group"), ("roleName", "role")):
        if isinstance(params.get(key), str):
            index.reference(account, kind, params[key], at)
    for key in ("policyArn", "permissionsBoundary"):
        value = params.get(key)
        if isinstance(value, str) and (owner := arn_account(value)):
            index.reference(owner, "policy", value, at)
    for op, key, kind, id_key, name_key in _CREATIONS:
        if name == op and isinstance(created := response.get(key), dict) \
                and created.get(id_key) and created.get(name_key):
            index.add_name(account, kind, str(created[name_key]), at, str(created[id_key]))
            index.pending_ids.add(str(created[id_key]))
            if created.get("arn"):
                index.arns[str(created[id_key])] = str(created["arn"])


def _learn_session(
    record: dict[str, Any], params: dict[str, Any], response: dict[str, Any], index: ImportIndex, at: datetime,
) -> None:
    access_key = (response.get("credentials") or {}).get("accessKeyId")
    if isinstance(access_key, str) and access_key:
        index.sessions[access_key] = session_id_for(access_key, source_id_of(record))
    role_arn = params.get("roleArn")
    assumed = (response.get("assumedRoleUser") or {}).get("assumedRoleId")
    if isinstance(role_arn, str) and (owner := arn_account(role_arn)):
        _, role_name = iam_path_and_name(role_arn)
        index.reference(owner, "role", role_name, at)
        index.see_account(owner, at)
        if isinstance(assumed, str) and ":" in assumed:
            index.add_name(owner, "role", role_name, at, assumed.split(":", 1)[0])
            index.arns.setdefault(assumed.split(":", 1)[0], role_arn)


def _learn_bucket(name: str, params: dict[str, Any], account: str, index: ImportIndex, at: datetime) -> None:
    bucket = params.get("bucketName")
    if isinstance(bucket, str):
        if name == "CreateBucket":
            index.add_bucket(bucket, at, account, ownership_in(params) or default_ownership(at))
        elif name == "PutBucketOwnershipControls" and (setting := ownership_in(params)):
            index.add_bucket(bucket, at, account, setting)
        elif name == "DeleteBucket":
            index.add_bucket(bucket, at, None, None)

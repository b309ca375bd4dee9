"""Maps CloudTrail records to ledger facts: IAM/STS/S3/MediaConvert changes, sessions, outputs and
the observed call itself. Pure: it reads records and an `ImportIndex`, and never stores or logs.

Never copied into any event: passwords, secret access keys, session tokens (request parameters
and response elements are read field by field; only policy documents and tags are kept whole).
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.application.importing.index import ImportIndex, JobFact, derived_id, session_id_for
from ledger.domain import events as ev
from ledger.domain import names
from ledger.domain.state import resulting_owner
from ledger.timeaxis import parse_aws_time

AWS_ACCOUNT = "aws"  # as `ledger.domain.handlers.AWS_ACCOUNT`: the pseudo-account of AWS-managed policies
ASSUME_EVENTS = {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"}
WRITE_EVENTS = {"PutObject", "CopyObject", "CompleteMultipartUpload"}
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


_EMPTY: dict[str, Any] = {}  # read-only stand-in for an absent object


class NotUnderstood(Exception):
    """The record cannot be mapped (missing or malformed fields): it is counted, not fatal."""


@dataclass
class Mapped:
    events: list[ev.LedgerEvent] = field(default_factory=list)
    skipped: str | None = None  # "eventSource:eventName" when the record was not understood
    reason: str | None = None


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


def action_of(record: dict[str, Any]) -> str:
    return _action(service_of(record), record["eventName"])


def _action(service: str, name: str) -> str:
    return _ACTION_ALIASES.get((service, name)) or f"{service}:{name}"


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4] else None


def _arn_name(arn: str) -> tuple[str, str]:
    """(path, name) of an IAM ARN's resource part: role/service-role/x -> ('/service-role/', 'x')."""
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else arn
    _, _, rest = resource.partition("/")
    path, _, name = rest.rpartition("/")
    return (f"/{path}/" if path else "/"), name


def _document(value: Any) -> dict[str, Any]:
    """A policy document from CloudTrail: a JSON string, URL-encoded JSON, or already an object."""
    if isinstance(value, dict):
        copied: dict[str, Any] = json.loads(json.dumps(value))
        return copied
    if not isinstance(value, str) or not value.strip():
        raise NotUnderstood("missing policy document")
    text = value.strip()
    if text.startswith("%7B") or text.startswith("%7b"):
        text = urllib.parse.unquote(text)
    try:
        loaded = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise NotUnderstood("policy document is not JSON") from None
    if not isinstance(loaded, dict):
        raise NotUnderstood("policy document is not an object")
    return loaded


def _tags(value: Any) -> dict[str, str]:
    tags: dict[str, str] = {}
    if isinstance(value, list):
        for tag in value:
            if isinstance(tag, dict):
                key = tag.get("key", tag.get("Key"))
                if isinstance(key, str):
                    tags[key] = str(tag.get("value", tag.get("Value", "")))
    return tags


def _find(value: Any, key: str) -> Iterator[Any]:
    """Every value under `key` anywhere in a nested request (job settings are deep)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                yield v
            yield from _find(v, key)
    elif isinstance(value, list):
        for item in value:
            yield from _find(item, key)


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


def _ownership_in(params: dict[str, Any]) -> str | None:
    for value in _find(params, "ObjectOwnership"):
        if value in ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"):
            return str(value)
    value = params.get("x-amz-object-ownership")
    return str(value) if value in ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter") else None


def _job_fact(record: dict[str, Any], account: str) -> JobFact | None:
    params = record.get("requestParameters") or {}
    role = params.get("role") or params.get("Role")
    if not isinstance(role, str):
        return None
    job = (record.get("responseElements") or {}).get("job") or {}
    job_id = str(job.get("id") or f"ct-{record['eventID']}")
    region = str(record.get("awsRegion") or "us-east-1")
    job_arn = str(job.get("arn") or f"arn:aws:mediaconvert:{region}:{account}:jobs/{job_id}")
    outputs = tuple(sorted({d for d in _find(params, "destination") if isinstance(d, str) and d.startswith("s3://")}))
    return JobFact(record["_at"], account, job_id, job_arn, role, outputs)


# ---------------------------------------------------------------- first pass


def scan(record: dict[str, Any], index: ImportIndex) -> None:
    """First pass: learn the ids, names, sessions, buckets and jobs this record reveals. A record
    too malformed to read teaches nothing more; the second pass counts it as skipped."""
    try:  # noqa: SIM105 - once per record: a plain try is free, contextlib.suppress is not
        _scan(record, index)
    except (KeyError, TypeError, ValueError, AttributeError):
        pass


def _scan(record: dict[str, Any], index: ImportIndex) -> None:
    at = record["_at"]
    account = record_account(record)
    index.see_account(account, at)
    identity = record.get("userIdentity") or _EMPTY
    shared = record.get("sharedEventID")
    if isinstance(shared, str) and shared:
        index.choose_shared(shared, record, fingerprint(record))
    caller_type = identity.get("type")
    if caller_type == "IAMUser":
        user_name, principal_id = identity.get("userName"), identity.get("principalId")
        caller_account, arn = identity.get("accountId"), identity.get("arn")
        if user_name and principal_id and caller_account and arn:
            index.add_name(str(caller_account), "user", str(user_name), at, str(principal_id))
            index.arns.setdefault(str(principal_id), str(arn))
    session_context = identity.get("sessionContext")
    if session_context:
        issuer = session_context.get("sessionIssuer") or _EMPTY
        if issuer.get("type") == "Role" and issuer.get("userName") and issuer.get("principalId") \
                and issuer.get("accountId"):
            index.add_name(str(issuer["accountId"]), "role", str(issuer["userName"]), at, str(issuer["principalId"]))
            if issuer.get("arn"):
                index.arns.setdefault(str(issuer["principalId"]), str(issuer["arn"]))
    if record.get("errorCode") or not account:
        return
    source, name = service_of(record), record["eventName"]
    params = record.get("requestParameters") or {}
    response = record.get("responseElements") or {}
    if source == "iam":
        for key, kind in (("userName", "user"), ("groupName", "group"), ("roleName", "role")):
            if isinstance(params.get(key), str):
                index.reference(account, kind, params[key], at)
        for key in ("policyArn", "permissionsBoundary"):
            value = params.get(key)
            if isinstance(value, str) and (owner := _arn_account(value)):
                index.reference(owner, "policy", value, at)
        for op, key, kind, id_key, name_key in (
            ("CreateUser", "user", "user", "userId", "userName"),
            ("CreateGroup", "group", "group", "groupId", "groupName"),
            ("CreateRole", "role", "role", "roleId", "roleName"),
            ("CreatePolicy", "policy", "policy", "policyId", "arn"),
        ):
            if name == op and isinstance(created := response.get(key), dict) \
                    and created.get(id_key) and created.get(name_key):
                index.add_name(account, kind, str(created[name_key]), at, str(created[id_key]))
                index.pending_ids.add(str(created[id_key]))
                if created.get("arn"):
                    index.arns[str(created[id_key])] = str(created["arn"])
    elif source == "sts" and (name in ASSUME_EVENTS or name == "GetFederationToken"):
        access_key = (response.get("credentials") or {}).get("accessKeyId")
        if isinstance(access_key, str) and access_key:
            index.sessions[access_key] = session_id_for(access_key, source_id_of(record))
        role_arn = params.get("roleArn")
        assumed = (response.get("assumedRoleUser") or {}).get("assumedRoleId")
        if isinstance(role_arn, str) and (owner := _arn_account(role_arn)):
            _, role_name = _arn_name(role_arn)
            index.reference(owner, "role", role_name, at)
            index.see_account(owner, at)
            if isinstance(assumed, str) and ":" in assumed:
                index.add_name(owner, "role", role_name, at, assumed.split(":", 1)[0])
                index.arns.setdefault(assumed.split(":", 1)[0], role_arn)
    elif source == "s3":
        bucket = params.get("bucketName")
        if isinstance(bucket, str):
            if name == "CreateBucket":
                index.add_bucket(bucket, at, account, _ownership_in(params) or default_ownership(at))
            elif name == "PutBucketOwnershipControls" and (setting := _ownership_in(params)):
                index.add_bucket(bucket, at, account, setting)
            elif name == "DeleteBucket":
                index.add_bucket(bucket, at, None, None)
    elif source == "mediaconvert" and name == "CreateJob" and (job := _job_fact(record, account)):
        index.add_job(job)


# ---------------------------------------------------------------- second pass


class Mapper:
    """Second pass: one record → its facts. Emits placeholder creations (and `AccountCreated`)
    for entities the ledger has never seen, once each, at their first reference in the import."""

    def __init__(self, index: ImportIndex, recorded_at: datetime | None = None) -> None:
        self.index = index
        self.recorded_at = recorded_at or datetime.now(UTC)
        self._handlers: dict[tuple[str, str], Callable[[_Call], None]] = {
            ("iam", "CreateUser"): self._create_user, ("iam", "DeleteUser"): self._delete_user,
            ("iam", "CreateGroup"): self._create_group, ("iam", "DeleteGroup"): self._delete_group,
            ("iam", "AddUserToGroup"): self._membership, ("iam", "RemoveUserFromGroup"): self._membership,
            ("iam", "CreateRole"): self._create_role, ("iam", "DeleteRole"): self._delete_role,
            ("iam", "UpdateAssumeRolePolicy"): self._trust,
            ("iam", "CreatePolicy"): self._create_policy, ("iam", "DeletePolicy"): self._delete_policy,
            ("iam", "CreatePolicyVersion"): self._policy_version,
            ("iam", "DeletePolicyVersion"): self._policy_version,
            ("iam", "SetDefaultPolicyVersion"): self._policy_version,
            ("iam", "CreateSAMLProvider"): self._provider, ("iam", "CreateOpenIDConnectProvider"): self._provider,
            ("iam", "DeleteSAMLProvider"): self._provider, ("iam", "DeleteOpenIDConnectProvider"): self._provider,
            ("iam", "CreateAccessKey"): self._access_key, ("iam", "UpdateAccessKey"): self._access_key,
            ("iam", "DeleteAccessKey"): self._access_key,
            ("iam", "CreateLoginProfile"): self._login_profile, ("iam", "UpdateLoginProfile"): self._login_profile,
            ("iam", "DeleteLoginProfile"): self._login_profile,
            ("iam", "TagUser"): self._tags, ("iam", "TagRole"): self._tags,
            ("iam", "UntagUser"): self._tags, ("iam", "UntagRole"): self._tags,
            ("sts", "AssumeRole"): self._assume, ("sts", "AssumeRoleWithSAML"): self._assume,
            ("sts", "AssumeRoleWithWebIdentity"): self._assume,
            ("sts", "GetFederationToken"): self._federation,
            ("s3", "CreateBucket"): self._bucket, ("s3", "DeleteBucket"): self._bucket,
            ("s3", "PutBucketPolicy"): self._bucket, ("s3", "DeleteBucketPolicy"): self._bucket,
            ("s3", "PutBucketOwnershipControls"): self._bucket,
            ("s3", "PutObject"): self._object_written, ("s3", "CopyObject"): self._object_written,
            ("s3", "CompleteMultipartUpload"): self._object_written,
            ("mediaconvert", "CreateJob"): self._job,
        }
        for kind in ("User", "Group", "Role"):
            self._handlers[("iam", f"Attach{kind}Policy")] = self._attachment
            self._handlers[("iam", f"Detach{kind}Policy")] = self._attachment
            self._handlers[("iam", f"Put{kind}Policy")] = self._inline
            self._handlers[("iam", f"Delete{kind}Policy")] = self._inline
        for kind in ("User", "Role"):
            self._handlers[("iam", f"Put{kind}PermissionsBoundary")] = self._boundary
            self._handlers[("iam", f"Delete{kind}PermissionsBoundary")] = self._boundary

    def map(self, record: dict[str, Any]) -> Mapped:
        """The facts of one record (state changes, then the observed call), or why it was skipped."""
        identity = record.get("userIdentity") or {}
        principal = caller_arn(identity)
        account = record_account(record)
        if principal is None or account is None:
            return Mapped(skipped=kind_of(record), reason="no identifiable caller")
        call = _Call(self, record, account, principal)
        try:
            if not record.get("errorCode"):
                handler = self._handlers.get((call.service, call.name))
                if handler is not None:
                    handler(call)
            call.observed()
        except NotUnderstood as why:
            return Mapped(skipped=kind_of(record), reason=str(why))
        except (KeyError, TypeError, ValueError, AttributeError) as why:
            return Mapped(skipped=kind_of(record), reason=f"malformed record ({type(why).__name__})")
        return Mapped(events=call.events)

    # ------------------------------------------------------------ identities

    def principal(self, call: _Call, account: str, kind: str, name: object, *, path: str | None = None,
                  unique_id: str | None = None, create: bool = True) -> tuple[str, str]:
        """(unique id, ARN) of a user/group/role named in a record (`name` as the record has it:
        anything but a non-empty string is not understood); see `ImportIndex` for the rules."""
        if not isinstance(name, str) or not name:
            raise NotUnderstood(f"missing {kind} name")
        found = unique_id or self.index.resolve(account, kind, name, call.at)
        arn = self.index.arns.get(found) if found else None
        if arn is not None and f":{account}:{kind}/" not in arn:
            arn = None  # an id reused across kinds (published samples do this): trust the name
        if arn is None:
            arn = names.iam_arn(account, kind, path or "/", name)
        if found is None:
            found = derived_id(kind, arn)
        if create and found not in self.index.known_ids and found not in self.index.pending_ids:
            self.index.known_ids.add(found)
            self.index.arns.setdefault(found, arn)
            at = self.index.placeholder_time(account, kind, name, call.at)
            arn_path, _ = _arn_name(arn)
            fields: dict[str, Any] = {"path": arn_path}
            if kind == "user":
                call.emit(ev.UserCreated, account, user_id=found, user_name=name, user_arn=arn, at=at, **fields)
            elif kind == "group":
                call.emit(ev.GroupCreated, account, group_id=found, group_name=name, group_arn=arn, at=at, **fields)
            else:
                call.emit(ev.RoleCreated, account, role_id=found, role_name=name, role_arn=arn, at=at,
                          trust_policy=PLACEHOLDER_TRUST,
                          description="inferred from CloudTrail: created before the imported history", **fields)
        return found, arn

    def policy(self, call: _Call, arn: Any) -> str:
        if not isinstance(arn, str) or not (owner := _arn_account(arn)):
            raise NotUnderstood("missing or invalid policy ARN")
        found = self.index.resolve(owner, "policy", arn, call.at)
        if found is None:
            found = derived_id("policy", arn)
        if found not in self.index.known_ids and found not in self.index.pending_ids:
            self.index.known_ids.add(found)
            path, name = _arn_name(arn)
            call.emit(ev.ManagedPolicyCreated, owner, policy_id=found, policy_name=name, path=path, policy_arn=arn,
                      document=PLACEHOLDER_POLICY, version_id="v1", aws_managed=owner == AWS_ACCOUNT,
                      at=self.index.placeholder_time(owner, "policy", arn, call.at))
        return found

    # ------------------------------------------------------------ IAM

    def _create_user(self, c: _Call) -> None:
        user = c.response.get("user") or {}
        name = user.get("userName") or c.params.get("userName")
        path = user.get("path") or c.params.get("path") or "/"
        uid, arn = self.principal(c, c.account, "user", name, path=path, unique_id=user.get("userId"), create=False)
        arn = user.get("arn") or arn
        if uid not in self.index.known_ids:
            self.index.known_ids.add(uid)
            c.emit(ev.UserCreated, c.account, user_id=uid, user_name=name, path=path, user_arn=arn)
        if tags := _tags(c.params.get("tags")):
            c.emit(ev.PrincipalTagged, c.account, principal_kind="user", principal_id=uid, principal_arn=arn, tags=tags)

    def _delete_user(self, c: _Call) -> None:
        uid, arn = self.principal(c, c.account, "user", c.params.get("userName"))
        c.emit(ev.UserDeleted, c.account, user_id=uid, user_arn=arn)

    def _create_group(self, c: _Call) -> None:
        group = c.response.get("group") or {}
        name = group.get("groupName") or c.params.get("groupName")
        path = group.get("path") or c.params.get("path") or "/"
        gid, arn = self.principal(c, c.account, "group", name, path=path, unique_id=group.get("groupId"), create=False)
        if gid not in self.index.known_ids:
            self.index.known_ids.add(gid)
            c.emit(ev.GroupCreated, c.account, group_id=gid, group_name=name, path=path,
                   group_arn=group.get("arn") or arn)

    def _delete_group(self, c: _Call) -> None:
        gid, arn = self.principal(c, c.account, "group", c.params.get("groupName"))
        c.emit(ev.GroupDeleted, c.account, group_id=gid, group_arn=arn)

    def _membership(self, c: _Call) -> None:
        uid, uarn = self.principal(c, c.account, "user", c.params.get("userName"))
        gid, garn = self.principal(c, c.account, "group", c.params.get("groupName"))
        cls = ev.UserAddedToGroup if c.name == "AddUserToGroup" else ev.UserRemovedFromGroup
        c.emit(cls, c.account, user_id=uid, user_arn=uarn, group_id=gid, group_arn=garn)

    def _create_role(self, c: _Call) -> None:
        role = c.response.get("role") or {}
        name = role.get("roleName") or c.params.get("roleName")
        path = role.get("path") or c.params.get("path") or "/"
        trust = _document(c.params.get("assumeRolePolicyDocument") or role.get("assumeRolePolicyDocument"))
        self._trusted_accounts(c, trust)
        rid, arn = self.principal(c, c.account, "role", name, path=path, unique_id=role.get("roleId"), create=False)
        arn = role.get("arn") or arn
        if rid in self.index.known_ids:  # already known (e.g. inferred from a session): keep its id
            c.emit(ev.TrustPolicyUpdated, c.account, role_id=rid, role_arn=arn, trust_policy=trust)
        else:
            self.index.known_ids.add(rid)
            duration = c.params.get("maxSessionDuration")
            c.emit(ev.RoleCreated, c.account, role_id=rid, role_name=name, path=path, role_arn=arn,
                   trust_policy=trust, max_session_duration=int(duration) if duration else 3600,
                   description=c.params.get("description") if isinstance(c.params.get("description"), str) else None)
        boundary = c.params.get("permissionsBoundary")
        if isinstance(boundary, str) and boundary:
            pid = self.policy(c, boundary)
            c.emit(ev.PermissionsBoundarySet, c.account, principal_kind="role", principal_id=rid,
                   principal_arn=arn, policy_id=pid, policy_arn=boundary)
        if tags := _tags(c.params.get("tags")):
            c.emit(ev.PrincipalTagged, c.account, principal_kind="role", principal_id=rid, principal_arn=arn, tags=tags)

    def _delete_role(self, c: _Call) -> None:
        rid, arn = self.principal(c, c.account, "role", c.params.get("roleName"))
        c.emit(ev.RoleDeleted, c.account, role_id=rid, role_arn=arn)

    def _trusted_accounts(self, c: _Call, trust: dict[str, Any]) -> None:
        """Accounts a trust policy names become known accounts, so queries about them work."""
        for principal in _find(trust, "AWS"):
            for value in principal if isinstance(principal, list) else [principal]:
                text = str(value)
                account = text if text.isdigit() else (_arn_account(text) or "")
                if len(account) == 12 and account.isdigit():
                    c.account_fact(account)

    def _trust(self, c: _Call) -> None:
        trust = _document(c.params.get("policyDocument"))
        self._trusted_accounts(c, trust)
        rid, arn = self.principal(c, c.account, "role", c.params.get("roleName"))
        c.emit(ev.TrustPolicyUpdated, c.account, role_id=rid, role_arn=arn, trust_policy=trust)

    def _create_policy(self, c: _Call) -> None:
        policy = c.response.get("policy") or {}
        name = policy.get("policyName") or c.params.get("policyName")
        path = policy.get("path") or c.params.get("path") or "/"
        if not isinstance(name, str):
            raise NotUnderstood("missing policy name")
        arn = policy.get("arn") or names.iam_arn(c.account, "policy", path, name)
        pid = policy.get("policyId") or self.index.resolve(c.account, "policy", arn, c.at) or derived_id("policy", arn)
        document = _document(c.params.get("policyDocument"))
        if pid in self.index.known_ids:
            c.emit(ev.PolicyVersionCreated, c.account, policy_id=pid, policy_arn=arn,
                   version_id=str(policy.get("defaultVersionId") or "v1"), document=document, set_as_default=True)
            return
        self.index.known_ids.add(pid)
        c.emit(ev.ManagedPolicyCreated, c.account, policy_id=pid, policy_name=name, path=path, policy_arn=arn,
               document=document, version_id=str(policy.get("defaultVersionId") or "v1"))

    def _delete_policy(self, c: _Call) -> None:
        arn = _policy_arn_param(c)
        pid = self.policy(c, arn)
        c.emit(ev.ManagedPolicyDeleted, _arn_account(arn) or c.account, policy_id=pid, policy_arn=arn)

    def _policy_version(self, c: _Call) -> None:
        arn = _policy_arn_param(c)
        pid = self.policy(c, arn)
        owner = _arn_account(arn) or c.account
        if c.name == "CreatePolicyVersion":
            version = (c.response.get("policyVersion") or {}).get("versionId")
            if not isinstance(version, str):
                raise NotUnderstood("no versionId in the response")
            default = c.params.get("setAsDefault") in (True, "true", "True")
            c.emit(ev.PolicyVersionCreated, owner, policy_id=pid, policy_arn=arn, version_id=version,
                   document=_document(c.params.get("policyDocument")), set_as_default=default)
        else:
            version = c.params.get("versionId")
            if not isinstance(version, str):
                raise NotUnderstood("missing versionId")
            cls = ev.PolicyVersionDeleted if c.name == "DeletePolicyVersion" else ev.DefaultPolicyVersionSet
            c.emit(cls, owner, policy_id=pid, policy_arn=arn, version_id=version)

    def _holder(self, c: _Call) -> tuple[str, str, str]:
        kind = next(k for k in ("user", "group", "role") if k.capitalize() in c.name)
        pid, arn = self.principal(c, c.account, kind, c.params.get(f"{kind}Name"))
        return kind, pid, arn

    def _attachment(self, c: _Call) -> None:
        kind, pid, arn = self._holder(c)
        policy_arn = c.params.get("policyArn")
        policy_id = self.policy(c, policy_arn)
        cls = ev.PolicyAttached if c.name.startswith("Attach") else ev.PolicyDetached
        c.emit(cls, c.account, principal_kind=kind, principal_id=pid, principal_arn=arn,
               policy_id=policy_id, policy_arn=policy_arn)

    def _inline(self, c: _Call) -> None:
        kind, pid, arn = self._holder(c)
        name = c.params.get("policyName")
        if not isinstance(name, str):
            raise NotUnderstood("missing policyName")
        if c.name.startswith("Put"):
            c.emit(ev.InlinePolicyPut, c.account, principal_kind=kind, principal_id=pid, principal_arn=arn,
                   policy_name=name, document=_document(c.params.get("policyDocument")))
        else:
            c.emit(ev.InlinePolicyDeleted, c.account, principal_kind=kind, principal_id=pid, principal_arn=arn,
                   policy_name=name)

    def _boundary(self, c: _Call) -> None:
        kind, pid, arn = self._holder(c)
        if c.name.startswith("Put"):
            policy_arn = c.params.get("permissionsBoundary")
            c.emit(ev.PermissionsBoundarySet, c.account, principal_kind=kind, principal_id=pid, principal_arn=arn,
                   policy_id=self.policy(c, policy_arn), policy_arn=policy_arn)
        else:
            c.emit(ev.PermissionsBoundaryRemoved, c.account, principal_kind=kind, principal_id=pid, principal_arn=arn)

    def _provider(self, c: _Call) -> None:
        if c.name.startswith("Delete"):
            arn = c.params.get("sAMLProviderArn") or c.params.get("SAMLProviderArn") \
                or c.params.get("openIDConnectProviderArn")
            if not isinstance(arn, str):
                raise NotUnderstood("missing provider ARN")
            c.emit(ev.IdentityProviderDeleted, c.account, provider_arn=arn)
            return
        saml = c.name == "CreateSAMLProvider"
        arn = c.response.get("sAMLProviderArn") or c.response.get("SAMLProviderArn") \
            or c.response.get("openIDConnectProviderArn")
        url = c.params.get("url")
        if not isinstance(arn, str):
            target = c.params.get("name") if saml else str(url or "").removeprefix("https://")
            if not target:
                raise NotUnderstood("missing provider name")
            arn = f"arn:aws:iam::{c.account}:{'saml-provider' if saml else 'oidc-provider'}/{target}"
        clients = c.params.get("clientIDList") or []
        c.emit(ev.IdentityProviderCreated, c.account, provider_arn=arn, provider_type="SAML" if saml else "OIDC",
               url=url if isinstance(url, str) else None,
               client_ids=tuple(str(x) for x in clients) if isinstance(clients, list) else ())

    def _user_param(self, c: _Call) -> tuple[str, str]:
        """The user a credential call is about: `userName`, or the calling user itself."""
        name = c.params.get("userName")
        if not name and c.identity.get("type") == "IAMUser":
            return self.principal(c, c.account, "user", c.identity.get("userName"),
                                  unique_id=c.identity.get("principalId"))
        return self.principal(c, c.account, "user", name)

    def _access_key(self, c: _Call) -> None:
        uid, arn = self._user_param(c)
        if c.name == "CreateAccessKey":
            key = (c.response.get("accessKey") or {}).get("accessKeyId")
            if not isinstance(key, str):
                raise NotUnderstood("no accessKeyId in the response")
            c.emit(ev.AccessKeyCreated, c.account, user_id=uid, user_arn=arn, access_key_id=key)
            return
        key = c.params.get("accessKeyId")
        if not isinstance(key, str):
            raise NotUnderstood("missing accessKeyId")
        if c.name == "DeleteAccessKey":
            c.emit(ev.AccessKeyDeleted, c.account, user_id=uid, user_arn=arn, access_key_id=key)
        elif c.params.get("status") == "Inactive":
            c.emit(ev.AccessKeyDeactivated, c.account, user_id=uid, user_arn=arn, access_key_id=key)
        elif c.params.get("status") == "Active":
            c.emit(ev.AccessKeyActivated, c.account, user_id=uid, user_arn=arn, access_key_id=key)
        else:
            raise NotUnderstood("unknown access key status")

    def _login_profile(self, c: _Call) -> None:
        uid, arn = self._user_param(c)
        if c.name == "DeleteLoginProfile":
            c.emit(ev.LoginProfileRemoved, c.account, user_id=uid, user_arn=arn)
            return
        reset = c.params.get("passwordResetRequired") in (True, "true", "True")
        c.emit(ev.LoginProfileSet, c.account, user_id=uid, user_arn=arn, password_reset_required=reset)

    def _tags(self, c: _Call) -> None:
        kind = "user" if "User" in c.name else "role"
        pid, arn = self.principal(c, c.account, kind, c.params.get(f"{kind}Name"))
        if c.name.startswith("Tag"):
            c.emit(ev.PrincipalTagged, c.account, principal_kind=kind, principal_id=pid, principal_arn=arn,
                   tags=_tags(c.params.get("tags")))
        else:
            keys = c.params.get("tagKeys") or []
            c.emit(ev.PrincipalUntagged, c.account, principal_kind=kind, principal_id=pid, principal_arn=arn,
                   tag_keys=tuple(str(k) for k in keys))

    # ------------------------------------------------------------ STS

    def _session_policy(self, c: _Call) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
        policy = c.params.get("policy")
        document = _document(policy) if policy else None
        arns = tuple(str(p.get("arn")) for p in c.params.get("policyArns") or ()
                     if isinstance(p, dict) and p.get("arn"))
        return document, arns

    def _expiry(self, c: _Call) -> datetime:
        credentials = c.response.get("credentials") or {}
        expires = parse_aws_time(credentials.get("expiration"))
        duration = c.params.get("durationSeconds")
        fallback = c.at + timedelta(seconds=int(duration) if isinstance(duration, int) and duration > 0 else 3600)
        # Published samples carry impossible expiries (before issue); the duration is then the truth.
        return expires if expires is not None and expires > c.at else fallback

    def _assume(self, c: _Call) -> None:
        role_arn = c.params.get("roleArn")
        if not isinstance(role_arn, str) or not (role_account := _arn_account(role_arn)):
            raise NotUnderstood("missing roleArn")
        path, role_name = _arn_name(role_arn)
        assumed = c.response.get("assumedRoleUser") or {}
        assumed_id = assumed.get("assumedRoleId")
        role_id = assumed_id.split(":", 1)[0] if isinstance(assumed_id, str) and ":" in assumed_id else None
        c.account_fact(role_account)
        rid, arn = self.principal(c, role_account, "role", role_name, path=path, unique_id=role_id)
        session_arn = assumed.get("arn")
        session_name = c.params.get("roleSessionName")
        if not isinstance(session_name, str):
            session_name = str(session_arn).rsplit("/", 1)[-1] if session_arn else "session"
        if not isinstance(session_arn, str):
            session_arn = names.session_arn(role_account, role_name, session_name)
        key = (c.response.get("credentials") or {}).get("accessKeyId")
        key = key if isinstance(key, str) and key else None
        via = c.name
        provider = None
        caller = c.principal
        if c.name == "AssumeRoleWithSAML":
            provider = c.params.get("principalArn") if isinstance(c.params.get("principalArn"), str) else None
            caller = provider or caller
        elif c.name == "AssumeRoleWithWebIdentity":
            issuer = c.identity.get("identityProvider")
            provider = issuer if isinstance(issuer, str) else None
            caller = str(c.response.get("subjectFromWebIdentityToken") or c.identity.get("userName") or caller)
        elif c.identity.get("type") == "AWSService":
            via = "service"
        parent = None
        if c.identity.get("type") == "AssumedRole" and c.identity.get("accessKeyId"):
            parent = self.index.sessions.get(str(c.identity["accessKeyId"]))
        document, policy_arns = self._session_policy(c)
        source_identity = c.params.get("sourceIdentity") or c.response.get("sourceIdentity")
        session_id = session_id_for(key, c.source_id)
        if key:
            self.index.sessions[key] = session_id
        c.emit(ev.RoleAssumed, role_account, session_id=session_id, role_id=rid, role_arn=arn,
               session_name=session_name, session_arn=session_arn, caller_arn=caller,
               caller_principal_id=c.identity.get("principalId") or None,
               caller_account=c.identity.get("accountId") or None, via=via,
               provider_arn=provider if provider and provider.startswith("arn:") else None,
               issued_at=c.at, expires_at=self._expiry(c), session_policy=document,
               session_policy_arns=policy_arns,
               source_identity=source_identity if isinstance(source_identity, str) else None,
               access_key_id=key, parent_session_id=parent)

    def _federation(self, c: _Call) -> None:
        name = c.params.get("name")
        if not isinstance(name, str) or c.identity.get("type") != "IAMUser":
            raise NotUnderstood("federation token without a calling user or a name")
        uid, arn = self.principal(c, c.account, "user", c.identity.get("userName"),
                                  unique_id=c.identity.get("principalId"))
        federated = (c.response.get("federatedUser") or {}).get("arn") \
            or f"arn:aws:sts::{c.account}:federated-user/{name}"
        key = (c.response.get("credentials") or {}).get("accessKeyId")
        key = key if isinstance(key, str) and key else None
        document, policy_arns = self._session_policy(c)
        session_id = session_id_for(key, c.source_id)
        if key:
            self.index.sessions[key] = session_id
        c.emit(ev.FederationTokenIssued, c.account, session_id=session_id, user_id=uid, user_arn=arn,
               federated_user_arn=federated, issued_at=c.at, expires_at=self._expiry(c),
               session_policy=document, session_policy_arns=policy_arns, access_key_id=key)

    # ------------------------------------------------------------ S3 and MediaConvert

    def _bucket(self, c: _Call) -> None:
        bucket = c.params.get("bucketName")
        if not isinstance(bucket, str) or not bucket:
            raise NotUnderstood("missing bucketName")
        arn = names.bucket_arn(bucket)
        if c.name == "CreateBucket":
            region = c.record.get("awsRegion") or "us-east-1"
            c.emit(ev.BucketCreated, c.account, bucket_name=bucket, bucket_arn=arn, region=str(region),
                   object_ownership=_ownership_in(c.params) or default_ownership(c.at))
            return
        known = self.index.bucket_at(bucket, c.at)
        owner = known[0] if known else c.account
        if c.name == "DeleteBucket":
            c.emit(ev.BucketDeleted, owner, bucket_name=bucket, bucket_arn=arn)
        elif c.name == "PutBucketPolicy":
            c.emit(ev.BucketPolicyPut, owner, bucket_name=bucket, bucket_arn=arn,
                   document=_document(c.params.get("bucketPolicy")))
        elif c.name == "DeleteBucketPolicy":
            c.emit(ev.BucketPolicyDeleted, owner, bucket_name=bucket, bucket_arn=arn)
        else:
            setting = _ownership_in(c.params)
            if setting is None:
                raise NotUnderstood("no ObjectOwnership rule")
            c.emit(ev.BucketOwnershipChanged, owner, bucket_name=bucket, bucket_arn=arn, object_ownership=setting)

    def _object_written(self, c: _Call) -> None:
        bucket, key = c.params.get("bucketName"), c.params.get("key")
        if not isinstance(bucket, str) or not isinstance(key, str):
            raise NotUnderstood("missing bucketName or key")
        writer_account = str(c.identity.get("accountId") or c.account)
        known = self.index.bucket_at(bucket, c.at)
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
        job = self.index.job_for_output(str(issuer), bucket, key, c.at) if issuer else None
        access_key = c.identity.get("accessKeyId")
        c.emit(ev.OutputWritten, bucket_owner, bucket_name=bucket, bucket_arn=names.bucket_arn(bucket), key=key,
               object_arn=names.object_arn(bucket, key), writer_arn=c.principal, writer_account=writer_account,
               writer_session_id=self.index.sessions.get(str(access_key)) if access_key else None,
               job_id=job.job_id if job else None, job_arn=job.job_arn if job else None, acl=acl,
               object_ownership=ownership, owner_account=owner)

    def _job(self, c: _Call) -> None:
        job = _job_fact(c.record, c.account)
        if job is None:
            raise NotUnderstood("CreateJob without a role")
        role_path, role_name = _arn_name(job.role_arn)
        role_account = _arn_account(job.role_arn) or c.account
        rid, _ = self.principal(c, role_account, "role", role_name, path=role_path)
        inputs = tuple(sorted({i for i in _find(c.params, "fileInput") if isinstance(i, str)}))
        queue = c.params.get("queue")
        region = str(c.record.get("awsRegion") or "us-east-1")
        queue_arn = queue if isinstance(queue, str) and queue.startswith("arn:") else \
            f"arn:aws:mediaconvert:{region}:{c.account}:queues/{queue if isinstance(queue, str) else 'Default'}"
        c.emit(ev.JobCreated, c.account, job_id=job.job_id, job_arn=job.job_arn, region=region,
               creator_arn=c.principal, creator_principal_id=c.identity.get("principalId") or None,
               queue_arn=queue_arn, role_id=rid, role_arn=job.role_arn, inputs=inputs, outputs=job.outputs)


def _policy_arn_param(c: _Call) -> str:
    arn = c.params.get("policyArn")
    if not isinstance(arn, str):
        raise NotUnderstood("missing or invalid policy ARN")
    return arn


def _bucket_account(c: _Call) -> str | None:
    for resource in c.record.get("resources") or ():
        if isinstance(resource, dict) and resource.get("type") == "AWS::S3::Bucket" and resource.get("accountId"):
            return str(resource["accountId"])
    return None


class _Call:
    """One record being mapped: its parsed parts and the events it has produced so far."""

    __slots__ = ("account", "at", "context", "events", "identity", "mapper", "name", "params", "principal",
                 "record", "response", "service", "source_id")

    def __init__(self, mapper: Mapper, record: dict[str, Any], account: str, principal: str) -> None:
        self.mapper = mapper
        self.record = record
        self.account = account
        self.principal = principal
        self.identity: dict[str, Any] = record.get("userIdentity") or {}
        self.params: dict[str, Any] = record.get("requestParameters") or {}
        self.response: dict[str, Any] = record.get("responseElements") or {}
        self.name: str = record["eventName"]
        self.service = service_of(record)
        self.at: datetime = record["_at"]
        self.source_id = source_id_of(record)
        self.events: list[ev.LedgerEvent] = []
        self.context: dict[str, Any] = {}

    def account_fact(self, account: str) -> None:
        """`AccountCreated` for an account the ledger has never seen, once, at its first sighting."""
        index = self.mapper.index
        if account in index.known_accounts or account == AWS_ACCOUNT or not account.isdigit():
            return
        index.known_accounts.add(account)
        self.events.insert(0, self._build(ev.AccountCreated, account, index.account_time(account, self.at), {
            "account_name": account, "root_arn": names.root_arn(account)}))

    def emit(self, cls: type[ev.LedgerEvent], account: str, *, at: datetime | None = None, **fields: Any) -> None:
        self.account_fact(account)
        self.events.append(self._build(cls, account, at or self.at, fields))

    def _build(self, cls: type[ev.LedgerEvent], account: str, at: datetime, fields: dict[str, Any]) -> ev.LedgerEvent:
        return cls(
            originator_id=ev.account_stream_id(account), originator_version=0, occurred_at=at,
            recorded_at=self.mapper.recorded_at, actor=self.principal, source="cloudtrail",
            source_id=self.source_id, account_id=account, **fields,
        )

    def observed(self) -> None:
        """The call itself, allowed or denied, for could-vs-did."""
        # Runs for every record: each field is looked up once (the key order of `context` is
        # part of the stored JSON, so it stays as it was).
        record, identity = self.record, self.identity
        error = record.get("errorCode")
        principal_account = identity.get("accountId")
        access_key = identity.get("accessKeyId")
        context = {"aws:CurrentTime": record["eventTime"], "aws:RequestedRegion": record.get("awsRegion"),
                   "aws:PrincipalAccount": principal_account, "aws:PrincipalArn": self.principal,
                   "aws:SourceIp": record.get("sourceIPAddress"), "eventName": self.name,
                   "eventSource": record["eventSource"]}
        session_context = identity.get("sessionContext") or _EMPTY
        attributes = session_context.get("attributes") or _EMPTY
        if "mfaAuthenticated" in attributes:
            context["aws:MultiFactorAuthPresent"] = str(attributes["mfaAuthenticated"]).lower()
        session = self.mapper.index.sessions.get(str(access_key))
        if session:
            context["session_id"] = session
        source_identity = session_context.get("sourceIdentity")
        if isinstance(source_identity, str):
            context["aws:SourceIdentity"] = source_identity
        if self.context:
            context.update(self.context)
        if isinstance(principal_account, str):
            self.account_fact(principal_account)
        resource = self.resource()
        resource_account = _arn_account(resource) if resource.startswith("arn:") else None
        self.emit(ev.AccessObserved, self.account, principal_arn=self.principal,
                  principal_account=principal_account or None, principal_type=identity.get("type"),
                  access_key_id=access_key or None, action=_action(self.service, self.name),
                  resource=resource, resource_account=resource_account, allowed=not error,
                  error_code=str(error) if error else None, invoked_by=identity.get("invokedBy") or None,
                  context={k: v for k, v in context.items() if v is not None})

    def resource(self) -> str:
        """The ARN the call acted on, from `resources` or the request; "*" when there is none."""
        params = self.params
        bucket, key = params.get("bucketName"), params.get("key")
        if isinstance(bucket, str) and bucket:
            return names.object_arn(bucket, key) if isinstance(key, str) and key else names.bucket_arn(bucket)
        for resource in self.record.get("resources") or ():
            if isinstance(resource, dict) and isinstance(resource.get("ARN"), str):
                return str(resource["ARN"])
        for arn_key in ("roleArn", "policyArn", "role"):
            if isinstance(params.get(arn_key), str) and str(params[arn_key]).startswith("arn:"):
                return str(params[arn_key])
        if self.service == "iam":
            for name_key, kind in (("userName", "user"), ("roleName", "role"), ("groupName", "group")):
                if isinstance(params.get(name_key), str):
                    found = self.mapper.index.resolve(self.account, kind, params[name_key], self.at)
                    fallback = names.iam_arn(self.account, kind, "/", params[name_key])
                    return self.mapper.index.arns.get(found or "", fallback)
        return "*"

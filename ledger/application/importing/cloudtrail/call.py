"""One CloudTrail record being mapped (`Call`): its parsed parts, the facts it has produced so far,
and the observed call itself (`AccessObserved`, for could-vs-did). Builds events; never stores them.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

from ledger.application.importing.cloudtrail.records import (
    AWS_ACCOUNT,
    EMPTY,
    UNKNOWN_OWNER,
    NotUnderstood,
    arn_account,
    iam_action,
    service_of,
    source_id_of,
)
from ledger.application.importing.index import ImportIndex
from ledger.domain import events as ev
from ledger.domain import names
from ledger.errors import ValidationError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# Fields of a fact checked as AWS validates them; a record naming anything else is skipped with
# the reason (CloudTrail only reports what AWS accepted, so such a record is not AWS's).
_NAME_FIELDS = {"user_name": "user", "group_name": "group", "role_name": "role", "policy_name": "policy"}
_FREE_TEXT_ARNS = frozenset({"object_arn", "resource"})  # object keys may hold any character S3 takes
_ENVELOPE = frozenset({"originator_id", "source_id", "account_id"})  # set by `_build` itself


@cache
def _checked_fields(cls: type[ev.LedgerEvent]) -> tuple[tuple[str, str], ...]:
    """(field, rule) of the fields of `cls` that `check_fact` checks: names, bucket names, paths,
    account ids, tags, and ARNs/ids (no control characters) other than object ARNs."""
    checks = []
    for key in cls.model_fields:
        if key in _NAME_FIELDS:
            checks.append((key, "name"))
        elif key in ("bucket_name", "path", "tags"):
            checks.append((key, key))
        elif key.endswith("_account"):
            checks.append((key, "account"))
        elif key.endswith(("_arn", "_id")) and key not in _FREE_TEXT_ARNS and key not in _ENVELOPE:
            checks.append((key, "identifier"))
    return tuple(checks)


def check_fact(cls: type[ev.LedgerEvent], account: str, actor: str, fields: dict[str, Any]) -> None:
    """Raise `NotUnderstood` unless the fact's account, actor, names and identifiers are what
    AWS could have reported: 12-digit account ids, IAM names, bucket names, tags, ARNs."""
    if account != AWS_ACCOUNT and not names.is_account_id(account):
        raise NotUnderstood(f"account id {account[:40]!r} is not 12 digits")
    if _CONTROL.search(actor):
        raise NotUnderstood("the caller's ARN holds a control character")
    for key, rule in _checked_fields(cls):
        value = fields.get(key)
        if not value:
            continue
        try:
            if rule == "identifier":
                if isinstance(value, str) and _CONTROL.search(value):
                    raise NotUnderstood(f"{key} holds a control character")
            elif rule == "account":
                if value not in (AWS_ACCOUNT, UNKNOWN_OWNER) and not names.is_account_id(value):
                    raise NotUnderstood(f"{key} {str(value)[:40]!r} is not 12 digits")
            elif rule == "name":
                names.check_iam_name(_NAME_FIELDS[key], value)
            elif rule == "bucket_name":
                if not names.is_recordable_bucket_name(value):
                    raise NotUnderstood(f"invalid bucket name {str(value)[:80]!r}")
            elif rule == "path":
                names.check_path(value)
            else:
                names.check_tags(value)
        except ValidationError as error:
            raise NotUnderstood(error.message) from None


class Call:
    """One record being mapped: its parsed parts and the events it has produced so far."""

    __slots__ = ("account", "at", "context", "events", "identity", "index", "name", "params", "principal",
                 "record", "recorded_at", "response", "service", "source_id")

    def __init__(
        self, index: ImportIndex, recorded_at: datetime, record: dict[str, Any], account: str, principal: str,
    ) -> None:
        self.index = index
        self.recorded_at = recorded_at
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
        index = self.index
        if account in index.known_accounts or account == AWS_ACCOUNT or not names.is_account_id(account):
            return
        index.known_accounts.add(account)
        self.events.insert(0, self._build(ev.AccountCreated, account, index.account_time(account, self.at), {
            "account_name": account, "root_arn": names.root_arn(account)}))

    def emit(self, cls: type[ev.LedgerEvent], account: str, *, at: datetime | None = None, **fields: Any) -> None:
        self.account_fact(account)
        self.events.append(self._build(cls, account, at or self.at, fields))

    def _build(self, cls: type[ev.LedgerEvent], account: str, at: datetime, fields: dict[str, Any]) -> ev.LedgerEvent:
        check_fact(cls, account, self.principal, fields)
        return cls(
            originator_id=ev.account_stream_id(account), originator_version=0, occurred_at=at,
            recorded_at=self.recorded_at, actor=self.principal, source="cloudtrail",
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
        session_context = identity.get("sessionContext") or EMPTY
        attributes = session_context.get("attributes") or EMPTY
        if "mfaAuthenticated" in attributes:
            context["aws:MultiFactorAuthPresent"] = str(attributes["mfaAuthenticated"]).lower()
        session = self.index.sessions.get(str(access_key))
        if session:
            context["session_id"] = session
        source_identity = session_context.get("sourceIdentity")
        if isinstance(source_identity, str):
            context["aws:SourceIdentity"] = source_identity
        if self.context:
            context.update(self.context)
        if isinstance(principal_account, str):
            if not names.is_account_id(principal_account):
                raise NotUnderstood(f"userIdentity.accountId {principal_account[:40]!r} is not 12 digits")
            self.account_fact(principal_account)
        resource = self.resource()
        resource_account = arn_account(resource) if resource.startswith("arn:") else None
        self.emit(ev.AccessObserved, self.account, principal_arn=self.principal,
                  principal_account=principal_account or None, principal_type=identity.get("type"),
                  access_key_id=access_key or None, action=iam_action(self.service, self.name),
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
                    found = self.index.resolve(self.account, kind, params[name_key], self.at)
                    fallback = names.iam_arn(self.account, kind, "/", params[name_key])
                    return self.index.arns.get(found or "", fallback)
        return "*"

"""The STS calls of CloudTrail as ledger facts: role sessions (plain, SAML, web identity, service,
chained) and federation tokens, each tied to its credentials' access key id.
Pure: never stores or logs, and never copies a secret key or session token into an event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ledger.application.importing.cloudtrail.call import Call
from ledger.application.importing.cloudtrail.identities import principal
from ledger.application.importing.cloudtrail.records import (
    NotUnderstood,
    arn_account,
    iam_path_and_name,
    policy_document,
)
from ledger.application.importing.index import session_id_for
from ledger.domain import events as ev
from ledger.domain import names
from ledger.timeaxis import parse_aws_time

# The longest session STS issues: GetFederationToken's 36 hours (AssumeRole allows 12).
MAX_SESSION_SECONDS = 129_600


def _session_policy(c: Call) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    policy = c.params.get("policy")
    document = policy_document(policy) if policy else None
    arns = tuple(str(p.get("arn")) for p in c.params.get("policyArns") or ()
                 if isinstance(p, dict) and p.get("arn"))
    return document, arns


def _expiry(c: Call) -> datetime:
    credentials = c.response.get("credentials") or {}
    expires = parse_aws_time(credentials.get("expiration"))
    duration = c.params.get("durationSeconds")
    if isinstance(duration, int) and not 0 < duration <= MAX_SESSION_SECONDS:
        raise NotUnderstood(f"durationSeconds {str(duration)[:30]} is outside 1-{MAX_SESSION_SECONDS}")
    fallback = c.at + timedelta(seconds=duration if isinstance(duration, int) else 3600)
    # Published samples carry impossible expiries (before issue); the duration is then the truth.
    return expires if expires is not None and expires > c.at else fallback


def _credentials_key(c: Call) -> str | None:
    key = (c.response.get("credentials") or {}).get("accessKeyId")
    return key if isinstance(key, str) and key else None


def role_assumed(c: Call) -> None:
    role_arn = c.params.get("roleArn")
    if not isinstance(role_arn, str) or not (role_account := arn_account(role_arn)):
        raise NotUnderstood("missing roleArn")
    path, role_name = iam_path_and_name(role_arn)
    assumed = c.response.get("assumedRoleUser") or {}
    assumed_id = assumed.get("assumedRoleId")
    role_id = assumed_id.split(":", 1)[0] if isinstance(assumed_id, str) and ":" in assumed_id else None
    c.account_fact(role_account)
    rid, arn = principal(c, role_account, "role", role_name, path=path, unique_id=role_id)
    session_arn = assumed.get("arn")
    session_name = c.params.get("roleSessionName")
    if not isinstance(session_name, str):
        session_name = str(session_arn).rsplit("/", 1)[-1] if session_arn else "session"
    if not isinstance(session_arn, str):
        session_arn = names.session_arn(role_account, role_name, session_name)
    key = _credentials_key(c)
    via, provider, caller = _assumed_via(c)
    parent = None
    if c.identity.get("type") == "AssumedRole" and c.identity.get("accessKeyId"):
        parent = c.index.sessions.get(str(c.identity["accessKeyId"]))
    document, policy_arns = _session_policy(c)
    source_identity = c.params.get("sourceIdentity") or c.response.get("sourceIdentity")
    session_id = session_id_for(key, c.source_id)
    if key:
        c.index.sessions[key] = session_id
    c.emit(ev.RoleAssumed, role_account, session_id=session_id, role_id=rid, role_arn=arn,
           session_name=session_name, session_arn=session_arn, caller_arn=caller,
           caller_principal_id=c.identity.get("principalId") or None,
           caller_account=c.identity.get("accountId") or None, via=via,
           provider_arn=provider if provider and provider.startswith("arn:") else None,
           issued_at=c.at, expires_at=_expiry(c), session_policy=document,
           session_policy_arns=policy_arns,
           source_identity=source_identity if isinstance(source_identity, str) else None,
           access_key_id=key, parent_session_id=parent)


def _assumed_via(c: Call) -> tuple[str, str | None, str]:
    """(how the role was assumed, the identity provider if federated, who the caller is)."""
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
    return via, provider, caller


def federation_token(c: Call) -> None:
    name = c.params.get("name")
    if not isinstance(name, str) or c.identity.get("type") != "IAMUser":
        raise NotUnderstood("federation token without a calling user or a name")
    uid, arn = principal(c, c.account, "user", c.identity.get("userName"), unique_id=c.identity.get("principalId"))
    federated = (c.response.get("federatedUser") or {}).get("arn") \
        or f"arn:aws:sts::{c.account}:federated-user/{name}"
    key = _credentials_key(c)
    document, policy_arns = _session_policy(c)
    session_id = session_id_for(key, c.source_id)
    if key:
        c.index.sessions[key] = session_id
    c.emit(ev.FederationTokenIssued, c.account, session_id=session_id, user_id=uid, user_arn=arn,
           federated_user_arn=federated, issued_at=c.at, expires_at=_expiry(c),
           session_policy=document, session_policy_arns=policy_arns, access_key_id=key)


# STS event name -> the handler that maps it.
HANDLERS: dict[str, Callable[[Call], None]] = {
    "AssumeRole": role_assumed, "AssumeRoleWithSAML": role_assumed, "AssumeRoleWithWebIdentity": role_assumed,
    "GetFederationToken": federation_token,
}

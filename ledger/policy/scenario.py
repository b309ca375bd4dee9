"""Reading the fields of one `ledger simulate` scenario: principal, action, resources and their
owners, context (with ranges). Pure validation into engine values; it never evaluates a policy.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from ledger.policy.arn import PrincipalKind, RequestPrincipal, parse_arn, principal_from_arn
from ledger.policy.errors import ScenarioError, ValidationError
from ledger.policy.ranges import ValueRange

_ACTION = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9_.-]+$")
_ACCOUNT = re.compile(r"^\d{12}$")


def _opt_str(sc: dict[str, Any], key: str) -> str | None:
    v = sc.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or not v:
        raise ScenarioError(f"{key}: must be a non-empty string")
    return v


def read_list(sc: dict[str, Any], key: str) -> list[Any] | None:
    v = sc.get(key)
    if v is None:
        return None
    if not isinstance(v, list):
        raise ScenarioError(f"{key}: must be a list")
    return v


def read_principal(sc: dict[str, Any]) -> RequestPrincipal:
    """The caller, with the scenario's account and unique id filled in."""
    principal_text = sc.get("principal")
    if not isinstance(principal_text, str) or not principal_text:
        raise ScenarioError("principal: required, the caller's ARN or service principal")
    principal_account = _opt_str(sc, "principal_account")
    if principal_account is not None and not _ACCOUNT.match(principal_account):
        raise ScenarioError("principal_account: must be a 12-digit account id")
    principal = principal_from_arn(principal_text, principal_account)
    if principal.account is None and principal_account is not None:
        principal = type(principal)(
            principal.arn, principal.kind, principal_account, principal.unique_id,
            principal.role_arn,
        )
    unique_id = _opt_str(sc, "principal_unique_id")
    if unique_id is not None:
        principal = type(principal)(
            principal.arn, principal.kind, principal.account, unique_id, principal.role_arn
        )
    role_arn = _opt_str(sc, "principal_role_arn")
    if role_arn is not None:
        principal = type(principal)(
            principal.arn, principal.kind, principal.account, principal.unique_id,
            _session_role(principal, role_arn),
        )
    return principal


def _session_role(principal: RequestPrincipal, role_arn: str) -> str:
    """The role (ARN with its path) a session principal belongs to, checked against the session."""
    if principal.kind is not PrincipalKind.ASSUMED_ROLE:
        raise ScenarioError("principal_role_arn: only for an assumed-role session principal")
    arn = parse_arn(role_arn)
    session_role = principal.arn.split("/")[1]
    if (arn.service != "iam" or not arn.resource.startswith("role/")
            or arn.resource.rsplit("/", 1)[-1] != session_role or arn.account != principal.account):
        raise ScenarioError(
            f'principal_role_arn: "{role_arn}" is not the role "{session_role}" of account '
            f"{principal.account}"
        )
    return role_arn


def read_resources(sc: dict[str, Any]) -> tuple[list[str], bool]:
    """The resources asked about, and whether the scenario listed them (AWS's ResourceArns)."""
    resource = sc.get("resource", "*")
    if resource is None:
        return ["*"], False
    if isinstance(resource, list):
        if not resource or not all(isinstance(r, str) and r for r in resource):
            raise ScenarioError('resource: a list must hold at least one ARN or "*"')
        return resource, True
    if not isinstance(resource, str) or not resource:
        raise ScenarioError('resource: must be an ARN, "*" or a list of them')
    return [resource], False


def _owner(resource: str, given: str | None, principal: RequestPrincipal) -> str | None:
    """The account owning `resource`: its ARN's account field, else the one given (AWS's
    ResourceOwner), else the caller's, as SimulatePrincipalPolicy assumes; a contradiction is an error."""
    if resource == "*":
        return given if given is not None else principal.account
    arn = parse_arn(resource)
    if arn.account:
        if given is not None and given != arn.account:
            raise ScenarioError(
                f'resource_owner "{given}" contradicts the account in '
                f'the resource ARN "{arn.account}"'
            )
        return arn.account
    return given if given is not None else principal.account


def _resource_owner(sc: dict[str, Any]) -> str | None:
    """`resource_owner` (AWS's ResourceOwner) or its older name `resource_account`."""
    owner = _opt_str(sc, "resource_owner")
    legacy = _opt_str(sc, "resource_account")
    if owner is not None and legacy is not None and owner != legacy:
        raise ScenarioError("resource_owner and resource_account disagree: give one")
    owner = owner if owner is not None else legacy
    if owner is not None and not _ACCOUNT.match(owner):
        raise ScenarioError("resource_owner: must be a 12-digit account id")
    return owner


def assumed_owner_notes(sc: dict[str, Any], principal: RequestPrincipal) -> list[str]:
    """Notes for resources whose ARN names no account and whose owner the scenario did not give:
    SimulatePrincipalPolicy's convention makes the caller's account their owner."""
    if not isinstance(sc, dict) or _resource_owner(sc) is not None:
        return []
    resources, _ = read_resources(sc)
    return [
        f"assumed: {r} is owned by the caller's account {principal.account} (its ARN names no "
        "account and no resource_owner was given, as SimulatePrincipalPolicy's ResourceOwner defaults)"
        for r in resources
        if r != "*" and not parse_arn(r).account
    ]


def read_target(
    sc: dict[str, Any], principal: RequestPrincipal
) -> tuple[str, list[tuple[str, str | None]], bool]:
    """(action, each resource with its owning account, whether resources came as a list)."""
    action = sc.get("action")
    if not isinstance(action, str) or not _ACTION.match(action):
        raise ScenarioError('action: required, of the form "service:Action"')
    resources, listed = read_resources(sc)
    resource_account = _resource_owner(sc)
    return action, [(r, _owner(r, resource_account, principal)) for r in resources], listed


def read_context(sc: dict[str, Any]) -> dict[str, Any]:
    """The context, once every value is a string, a list of strings, or a range
    {"low": ..., "high": ...} of two ISO-8601 dates or two numbers (a `ValueRange`)."""
    context = sc.get("context") or {}
    if not isinstance(context, dict):
        raise ScenarioError("context: must be an object of key -> string or list of strings")
    out: dict[str, Any] = {}
    for key, value in context.items():
        if isinstance(value, dict):
            out[key] = _range(key, value)
            continue
        ok = isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )
        if not ok:
            raise ScenarioError(
                f"context.{key}: must be a string, a list of strings or a {{low, high}} range"
            )
        out[key] = value
    return out


def _range(key: str, value: dict[str, Any]) -> ValueRange:
    if set(value) != {"low", "high"}:
        raise ScenarioError(f'context.{key}: a range is {{"low": ..., "high": ...}}')
    low, high = value["low"], value["high"]
    try:
        if isinstance(low, str) and isinstance(high, str):
            return ValueRange(_instant(low), _instant(high))
        return ValueRange(low, high)
    except (ValueError, ValidationError) as exc:
        message = exc.message if isinstance(exc, ValidationError) else str(exc)
        raise ScenarioError(f"context.{key}: {message}") from None


def _instant(text: str) -> datetime:
    """An ISO-8601 date or date-time; without an offset it is UTC (as the Date operators read it)."""
    parsed = datetime.fromisoformat(text.strip())
    return parsed if parsed.utcoffset() is not None else parsed.replace(tzinfo=UTC)

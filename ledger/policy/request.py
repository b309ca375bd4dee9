"""Requests: one authorisation question, its normalised context and the global keys AWS derives.

Pure value building; never evaluates a policy, and rejects a malformed request with
ValidationError before any policy sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.policy.arn import PrincipalKind, RequestPrincipal
from ledger.policy.errors import ValidationError
from ledger.policy.matching import normalize_resource
from ledger.policy.ranges import ValueRange

__all__ = ["TRUST_ACTIONS", "Request", "derived_context"]

# Actions a role's trust policy governs (lower-cased): the resource policy must name the caller.
TRUST_ACTIONS: frozenset[str] = frozenset(
    {
        "sts:assumerole",
        "sts:assumerolewithsaml",
        "sts:assumerolewithwebidentity",
        "sts:tagsession",
        "sts:setsourceidentity",
        "sts:setcontext",
    }
)

_PRINCIPAL_TYPE = {
    PrincipalKind.USER: "User",
    PrincipalKind.ROLE: "AssumedRole",
    PrincipalKind.ASSUMED_ROLE: "AssumedRole",
    PrincipalKind.FEDERATED_USER: "FederatedUser",
    PrincipalKind.ROOT: "Account",
    PrincipalKind.ANONYMOUS: "Anonymous",
}


def _norm_context(
    context: Mapping[str, Any],
) -> tuple[dict[str, tuple[str, ...]], dict[str, ValueRange]]:
    out: dict[str, tuple[str, ...]] = {}
    ranges: dict[str, ValueRange] = {}
    for key, value in context.items():
        if not isinstance(key, str):
            raise ValidationError(f"context key {key!r} must be a string")
        if isinstance(value, str):
            out[key.lower()] = (value,)
        elif isinstance(value, bool):
            out[key.lower()] = ("true" if value else "false",)
        elif isinstance(value, (list, tuple)):
            vals = []
            for v in value:
                if isinstance(v, bool):
                    vals.append("true" if v else "false")
                elif isinstance(v, (str, int, float)):
                    vals.append(str(v))
                else:
                    raise ValidationError(f"context value of {key!r} must be strings")
            out[key.lower()] = tuple(vals)
        elif isinstance(value, (int, float)):
            out[key.lower()] = (str(value),)
        elif isinstance(value, ValueRange):
            ranges[key.lower()] = value
        else:
            raise ValidationError(f"context value of {key!r} must be a string or list of strings")
    return out, ranges


def derived_context(principal: RequestPrincipal, resource_account: str | None) -> dict[str, str]:
    """Global condition keys AWS fills in from the caller (explicit context values win).

    aws:PrincipalArn (the role ARN for a role session), aws:PrincipalAccount, aws:PrincipalType,
    aws:username (IAM users), aws:userid (user/role unique id, `ROLEID:session`, the account id
    for root, `account:name` for federated users), aws:PrincipalIsAWSService,
    aws:PrincipalServiceName (service principals), aws:ResourceAccount.
    """
    out: dict[str, str] = {}
    kind = principal.kind
    if kind is PrincipalKind.SERVICE:
        out["aws:principalisawsservice"] = "true"
        out["aws:principalservicename"] = principal.arn
        if resource_account:
            out["aws:resourceaccount"] = resource_account
        return out
    out["aws:principalisawsservice"] = "false"
    if kind is PrincipalKind.ANONYMOUS:
        out["aws:principaltype"] = "Anonymous"
        out["aws:userid"] = "anonymous"
    else:
        out["aws:principalarn"] = (
            principal.role_arn if kind is PrincipalKind.ASSUMED_ROLE and principal.role_arn
            else principal.arn
        )
        if principal.account:
            out["aws:principalaccount"] = principal.account
        out["aws:principaltype"] = _PRINCIPAL_TYPE[kind]
        name = principal.name
        if kind is PrincipalKind.USER and name:
            out["aws:username"] = name
            if principal.unique_id:
                out["aws:userid"] = principal.unique_id
        elif kind is PrincipalKind.ROOT and principal.account:
            out["aws:userid"] = principal.account
        elif kind is PrincipalKind.ASSUMED_ROLE and principal.unique_id and name:
            uid = principal.unique_id
            out["aws:userid"] = uid if ":" in uid else f"{uid}:{name}"
        elif kind is PrincipalKind.ROLE and principal.unique_id:
            out["aws:userid"] = principal.unique_id
        elif kind is PrincipalKind.FEDERATED_USER and principal.account and name:
            out["aws:userid"] = f"{principal.account}:{name}"
    if resource_account:
        out["aws:resourceaccount"] = resource_account
    return out


@dataclass(frozen=True, slots=True)
class Request:
    """One authorisation question. `resource` is an ARN or "*"; `resource_account` owns it
    (None = the caller's account). Context keys are case-insensitive; a key whose value is a
    `ValueRange` may take any value of that range (the decision says if it depends on which)."""

    principal: RequestPrincipal
    action: str
    resource: str = "*"
    resource_account: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    derive_context: bool = True
    action_lower: str = field(init=False, repr=False, compare=False)
    resource_norm: str = field(init=False, repr=False, compare=False)
    ctx: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    ranges: dict[str, ValueRange] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.action, str) or not isinstance(self.resource, str):
            raise ValidationError("action and resource must be strings")
        object.__setattr__(self, "action_lower", self.action.lower())
        object.__setattr__(self, "resource_norm", normalize_resource(self.resource))
        ctx, ranges = _norm_context(self.context)
        if self.derive_context:
            for key, value in derived_context(self.principal, self.effective_resource_account).items():
                if key not in ranges:
                    ctx.setdefault(key, (value,))
        object.__setattr__(self, "ctx", ctx)
        object.__setattr__(self, "ranges", ranges)

    @property
    def effective_resource_account(self) -> str | None:
        return self.resource_account if self.resource_account else self.principal.account

    @property
    def same_account(self) -> bool:
        return self.resource_account is None or self.resource_account == self.principal.account

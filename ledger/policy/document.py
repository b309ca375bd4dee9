"""Policy documents: the frozen model of an AWS IAM JSON policy and its vocabulary.

A model only: parsing and validation live in `ledger.policy.parsing`, evaluation elsewhere;
nothing here ever reads a raw document. `PolicyDocument` is a pydantic model (public API); its
statements are plain immutable values, built by the parser from what it has already validated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CONDITION_OPERATORS",
    "SIZE_LIMITS",
    "PolicyDocument",
    "PolicyType",
    "PrincipalElement",
    "Statement",
    "split_operator",
]


class PolicyType(StrEnum):
    """What a document is used as; decides the element rules and the size limit."""

    IDENTITY = "identity"  # customer managed policy
    INLINE_USER = "inline_user"
    INLINE_GROUP = "inline_group"
    INLINE_ROLE = "inline_role"
    RESOURCE = "resource"  # S3 bucket policy
    TRUST = "trust"
    BOUNDARY = "boundary"
    SESSION = "session"
    SCP = "scp"


# AWS quotas, counted in characters of the document with whitespace removed (IAM counts so);
# the bucket-policy limit is 20 KB.
SIZE_LIMITS: dict[PolicyType, int] = {
    PolicyType.IDENTITY: 6144,
    PolicyType.INLINE_USER: 2048,
    PolicyType.INLINE_GROUP: 5120,
    PolicyType.INLINE_ROLE: 10240,
    PolicyType.RESOURCE: 20480,
    PolicyType.TRUST: 2048,
    PolicyType.BOUNDARY: 6144,
    PolicyType.SESSION: 2048,
    PolicyType.SCP: 5120,
}

# Base operator names (without ForAllValues:/ForAnyValue: prefix or IfExists suffix).
CONDITION_OPERATORS: frozenset[str] = frozenset(
    {
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
        "Null",
    }
)

class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True, kw_only=True)
class PrincipalElement:
    """A Principal/NotPrincipal element: `*`, or lists of values per principal type."""

    wildcard: bool = False
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()

    def to_json(self) -> Any:
        if self.wildcard:
            return "*"
        out: dict[str, Any] = {}
        for name, values in (
            ("AWS", self.aws),
            ("Service", self.service),
            ("Federated", self.federated),
            ("CanonicalUser", self.canonical_user),
        ):
            if values:
                out[name] = list(values)
        return out


class Statement(NamedTuple):
    """One statement, with every string-or-list element normalised to a tuple.

    A named tuple rather than a dataclass: a batch of fresh policies builds thousands, and a
    tuple costs a fifth of a frozen dataclass to build. Only its fields are API.
    """

    sid: str | None
    effect: Literal["Allow", "Deny"]
    principal: PrincipalElement | None = None
    not_principal: PrincipalElement | None = None
    action: tuple[str, ...] | None = None
    not_action: tuple[str, ...] | None = None
    resource: tuple[str, ...] | None = None
    not_resource: tuple[str, ...] | None = None
    # operator -> condition key (as written) -> values (as strings)
    condition: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.sid is not None:
            out["Sid"] = self.sid
        out["Effect"] = self.effect
        if self.principal is not None:
            out["Principal"] = self.principal.to_json()
        if self.not_principal is not None:
            out["NotPrincipal"] = self.not_principal.to_json()
        for name, val in (
            ("Action", self.action),
            ("NotAction", self.not_action),
            ("Resource", self.resource),
            ("NotResource", self.not_resource),
        ):
            if val is not None:
                out[name] = list(val)
        if self.condition:
            out["Condition"] = {
                op: {key: list(vals) for key, vals in block} for op, block in self.condition
            }
        return out


class PolicyDocument(_Frozen):
    """A validated policy document; `canonical_json()` is stable and used as the cache key."""

    version: str | None = None
    id: str | None = None
    statements: tuple[Statement, ...]
    policy_type: PolicyType = PolicyType.IDENTITY

    @property
    def variables_enabled(self) -> bool:
        """Policy variables are only substituted under Version 2012-10-17."""
        return self.version == "2012-10-17"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.version is not None:
            out["Version"] = self.version
        if self.id is not None:
            out["Id"] = self.id
        out["Statement"] = [s.to_json() for s in self.statements]
        return out

    def canonical_json(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))


@lru_cache(maxsize=512)
def split_operator(op: str) -> tuple[str | None, str, bool] | None:
    """Split `ForAnyValue:StringLikeIfExists` into (qualifier, base, if_exists); None if unknown."""
    qualifier: str | None = None
    rest = op
    if ":" in op:
        prefix, _, rest = op.partition(":")
        if prefix == "ForAllValues":
            qualifier = "all"
        elif prefix == "ForAnyValue":
            qualifier = "any"
        else:
            return None
    if_exists = False
    if rest.endswith("IfExists") and rest != "IfExists":
        if_exists = True
        rest = rest[: -len("IfExists")]
    if rest not in CONDITION_OPERATORS:
        return None
    if rest == "Null" and (if_exists or qualifier):
        return None
    return qualifier, rest, if_exists

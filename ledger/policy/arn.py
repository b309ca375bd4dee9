"""ARNs of requests: parse a resource ARN and turn a caller's ARN into a typed request principal.

Pure parsing; raises InvalidArnError for text that is not what it claims to be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from ledger.policy.errors import InvalidArnError

__all__ = ["Arn", "PrincipalKind", "RequestPrincipal", "parse_arn", "principal_from_arn"]

_ACCOUNT = re.compile(r"^\d{12}$")
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9.-]*\.(amazonaws\.com|amazonaws\.com\.cn|amazon\.com)$")


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse_arn(text: str) -> Arn:
    """Split an ARN into its six fields; the resource part may itself contain colons."""
    if not isinstance(text, str):
        raise InvalidArnError("ARN must be a string", arn=repr(text))
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2] or not parts[5]:
        raise InvalidArnError(f'"{text}" is not an ARN (arn:partition:service:region:account:resource)', arn=text)
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


class PrincipalKind(StrEnum):
    USER = "user"
    ROLE = "role"
    ASSUMED_ROLE = "assumed-role"
    FEDERATED_USER = "federated-user"
    ROOT = "root"
    SERVICE = "service"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class RequestPrincipal:
    """The caller of a request.

    `role_arn` is the role an assumed-role session belongs to (it may carry a path the session
    ARN lacks); `unique_id` is the immutable id (AIDA.../AROA...; for a session `AROA...:name`).
    """

    arn: str
    kind: PrincipalKind
    account: str | None = None
    unique_id: str | None = None
    role_arn: str | None = None

    @property
    def name(self) -> str | None:
        """User name, role session name or federated user name; None for root/service."""
        if self.kind in (PrincipalKind.USER, PrincipalKind.ROLE, PrincipalKind.FEDERATED_USER):
            return self.arn.rsplit("/", 1)[-1]
        if self.kind is PrincipalKind.ASSUMED_ROLE:
            return self.arn.rsplit("/", 1)[-1]
        return None


def principal_from_arn(
    arn: str,
    account: str | None = None,
    *,
    unique_id: str | None = None,
    role_arn: str | None = None,
) -> RequestPrincipal:
    """Classify a caller: IAM user/role ARN, assumed-role or federated-user session ARN, account
    root (ARN or bare 12-digit id), a service principal (`*.amazonaws.com`) or `anonymous`."""
    if not isinstance(arn, str) or not arn:
        raise InvalidArnError("principal must be a non-empty string", arn=repr(arn))
    if arn in ("anonymous", "*"):
        return RequestPrincipal("anonymous", PrincipalKind.ANONYMOUS, account)
    if _ACCOUNT.match(arn):
        return RequestPrincipal(f"arn:aws:iam::{arn}:root", PrincipalKind.ROOT, arn, unique_id)
    if not arn.startswith("arn:"):
        if _SERVICE.match(arn):
            return RequestPrincipal(arn, PrincipalKind.SERVICE, account)
        raise InvalidArnError(f'"{arn}" is neither an ARN nor a service principal', arn=arn)
    parsed = parse_arn(arn)
    acct = parsed.account
    if not _ACCOUNT.match(acct):
        raise InvalidArnError(f'"{arn}" has no 12-digit account id', arn=arn)
    if account is not None and account != acct:
        raise InvalidArnError(
            f'principal account "{account}" does not match the ARN account "{acct}"', arn=arn
        )
    res = parsed.resource
    if parsed.service == "iam":
        if res == "root":
            return RequestPrincipal(arn, PrincipalKind.ROOT, acct, unique_id)
        if res.startswith("user/") and len(res) > 5:
            return RequestPrincipal(arn, PrincipalKind.USER, acct, unique_id)
        if res.startswith("role/") and len(res) > 5:
            return RequestPrincipal(arn, PrincipalKind.ROLE, acct, unique_id, arn)
    elif parsed.service == "sts":
        if res.startswith("assumed-role/"):
            bits = res.split("/")
            if len(bits) == 3 and bits[1] and bits[2]:
                derived = f"arn:{parsed.partition}:iam::{acct}:role/{bits[1]}"
                return RequestPrincipal(
                    arn, PrincipalKind.ASSUMED_ROLE, acct, unique_id, role_arn or derived
                )
        if res.startswith("federated-user/") and len(res) > len("federated-user/"):
            return RequestPrincipal(arn, PrincipalKind.FEDERATED_USER, acct, unique_id)
    raise InvalidArnError(
        f'"{arn}" is not a user, role, assumed-role, federated-user or root ARN', arn=arn
    )

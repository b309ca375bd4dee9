"""Principal elements compiled for matching: how strongly a Principal names a caller, and who it names.

Pure set lookups on values validated by the parser; never resolves a name to an identity.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.policy.arn import PrincipalKind, RequestPrincipal
from ledger.policy.document import PrincipalElement

__all__ = [
    "ACCOUNT_GRANT",
    "DIRECT_GRANT",
    "NO_GRANT",
    "ROLE_GRANT",
    "NamedPrincipals",
    "PrincipalMatcher",
]

# Grant strength of a resource-policy principal match (the evaluator's decision table uses them).
NO_GRANT = 0
ACCOUNT_GRANT = 1  # names the account (id or :root): delegates to the caller's identity policies
ROLE_GRANT = 2  # names the role a session belongs to: still limited by boundary and session policy
DIRECT_GRANT = 3  # names the user / session / "*" / service itself: not limited by implicit denies


@dataclass(frozen=True, slots=True)
class NamedPrincipals:
    """Who a Principal element (or the Allow statements of a policy together) names.

    `everyone`: any caller may match (`"*"`, or, for a policy, an Allow statement with no
    Principal element or with NotPrincipal); the sets still hold what is named explicitly.
    """

    everyone: bool = False
    accounts: frozenset[str] = frozenset()  # 12-digit ids, written bare or as `:root` ARNs
    arns: frozenset[str] = frozenset()  # other AWS principal ARNs, as written
    unique_ids: frozenset[str] = frozenset()  # AIDA... / AROA... ids
    federated: frozenset[str] = frozenset()  # identity providers (Federated)
    canonical_users: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()  # lower-cased service principals

    @property
    def identifiers(self) -> frozenset[str]:
        """Every value named other than accounts and services: ARNs, unique ids, providers."""
        return self.arns | self.unique_ids | self.federated | self.canonical_users

    def union(self, other: NamedPrincipals) -> NamedPrincipals:
        """Both together (what a caller named by either may match)."""
        return NamedPrincipals(
            everyone=self.everyone or other.everyone,
            accounts=self.accounts | other.accounts,
            arns=self.arns | other.arns,
            unique_ids=self.unique_ids | other.unique_ids,
            federated=self.federated | other.federated,
            canonical_users=self.canonical_users | other.canonical_users,
            services=self.services | other.services,
        )


class PrincipalMatcher:
    """Compiled Principal / NotPrincipal element; `named` says who it names, for analysis."""

    __slots__ = ("accounts", "any", "arns", "named", "others", "services")

    def __init__(self, el: PrincipalElement) -> None:
        self.any = el.wildcard or "*" in el.aws
        self.accounts: set[str] = set()
        self.arns: set[str] = set()
        for v in el.aws:
            if v == "*":
                continue
            if v.isdigit():
                self.accounts.add(v)
                continue
            parts = v.split(":")
            if len(parts) == 6 and parts[2] == "iam" and parts[5] == "root":
                self.accounts.add(parts[4])
            else:
                self.arns.add(v)
        self.services = {s.lower() for s in el.service}
        self.others = set(el.federated) | set(el.canonical_user)
        self.named = NamedPrincipals(
            everyone=self.any,
            accounts=frozenset(self.accounts),
            arns=frozenset(v for v in self.arns if v.startswith("arn:")),
            unique_ids=frozenset(v for v in self.arns if not v.startswith("arn:")),
            federated=frozenset(el.federated),
            canonical_users=frozenset(el.canonical_user),
            services=frozenset(self.services),
        )

    def grant(self, p: RequestPrincipal) -> int:
        """How strongly this element names `p` (one of the *_GRANT strengths)."""
        if self.any:
            return DIRECT_GRANT
        kind = p.kind
        if kind is PrincipalKind.SERVICE:
            return DIRECT_GRANT if p.arn.lower() in self.services else NO_GRANT
        if kind is PrincipalKind.ANONYMOUS:
            return NO_GRANT
        best = NO_GRANT
        if p.arn in self.arns or p.arn in self.others:
            best = ROLE_GRANT if kind is PrincipalKind.ROLE else DIRECT_GRANT
        elif p.unique_id and (
            p.unique_id in self.arns or p.unique_id.split(":", 1)[0] in self.arns
        ):
            best = DIRECT_GRANT if kind is not PrincipalKind.ROLE else ROLE_GRANT
        elif kind is PrincipalKind.ASSUMED_ROLE and p.role_arn and self._role_named(p.role_arn):
            best = ROLE_GRANT
        if best == NO_GRANT and kind is PrincipalKind.ROOT and p.account in self.accounts:
            return DIRECT_GRANT  # naming the account names its root user directly
        if best == NO_GRANT and p.account in self.accounts:
            best = ACCOUNT_GRANT
        return best

    def _role_named(self, role_arn: str) -> bool:
        if role_arn in self.arns:
            return True
        # A session ARN carries no role path: match role ARNs by account and final name.
        acct_name = _role_key(role_arn)
        return any(_role_key(a) == acct_name for a in self.arns if ":role/" in a)

    def excludes(self, p: RequestPrincipal) -> bool:
        """NotPrincipal: the caller is excluded only if every identity it has is listed."""
        if self.any:
            return True
        kind = p.kind
        if kind is PrincipalKind.SERVICE:
            return p.arn.lower() in self.services
        if kind is PrincipalKind.ANONYMOUS:
            return False
        if p.account not in self.accounts:
            return False
        if kind is PrincipalKind.ROOT:
            return True
        if kind is PrincipalKind.ASSUMED_ROLE:
            return p.arn in self.arns and bool(p.role_arn) and self._role_named(p.role_arn or "")
        return p.arn in self.arns


def _role_key(arn: str) -> tuple[str, str]:
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return ("", arn)
    return (parts[4], parts[5].rsplit("/", 1)[-1])

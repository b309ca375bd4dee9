"""What every command handler shares: the draft shape, AWS's quotas, policy validation and the
lookups that turn a missing account or entity into a typed not-found error.

Pure: no storage, clock, randomness or logging here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeVar

from ledger.domain import events as ev
from ledger.domain.entities import Bucket, Group, ManagedPolicy, Role, User
from ledger.domain.state import AccountState
from ledger.errors import AccountNotFoundError, NotFoundError, PolicyValidationError

T = TypeVar("T")
# An event the command would record, before the unit of work stamps its envelope: (class, fields).
Draft = tuple[type[ev.LedgerEvent], dict[str, Any]]

AWS_ACCOUNT = "aws"  # pseudo-account holding AWS-managed policies (arn:aws:iam::aws:policy/...)


@dataclass(frozen=True)
class Quotas:
    """AWS's default IAM quotas; the adjustable ones can be raised, as AWS allows."""

    access_keys_per_user: int = 2
    versions_per_policy: int = 5
    managed_policies_per_principal: int = 10
    groups_per_user: int = 10
    role_max_session_seconds: int = 43200
    chained_session_seconds: int = 3600
    min_session_seconds: int = 900
    federation_token_max_seconds: int = 129600


def validate_policy(document: Any, policy_type: str) -> dict[str, Any]:
    """Validate a policy document for `policy_type` and return it as a JSON object."""
    from ledger.policy import PolicyType, parse_policy
    from ledger.policy.parsing import load_policy_json

    if isinstance(document, (str, bytes)):
        loaded = load_policy_json(document)  # as parse_policy reads text: duplicates, NaN rejected
    else:
        loaded = document
    parse_policy(loaded, PolicyType(policy_type))
    if not isinstance(loaded, dict):
        raise PolicyValidationError("", "policy must be a JSON object")
    copied: dict[str, Any] = json.loads(json.dumps(loaded))  # events must not share caller state
    return copied


def require_account(state: AccountState) -> None:
    if not state.exists:
        raise AccountNotFoundError(f"account {state.account_id} does not exist", account=state.account_id)


def found(
    entity: T | None, kind: str, name: str, state: AccountState, error: type[NotFoundError] = NotFoundError
) -> T:
    """`entity`, or the typed not-found error naming it in the account."""
    if entity is None:
        raise error(f"{kind} {name!r} does not exist in account {state.account_id}", entity=name)
    return entity


def require_user(state: AccountState, name: str) -> User:
    require_account(state)
    return found(state.user_by_name(name), "user", name, state)


def require_group(state: AccountState, name: str) -> Group:
    require_account(state)
    return found(state.group_by_name(name), "group", name, state)


def require_role(state: AccountState, name: str) -> Role:
    require_account(state)
    return found(state.role_by_name(name), "role", name, state)


def require_policy(state: AccountState, arn: str) -> ManagedPolicy:
    policy = state.policy_by_arn(arn)
    if policy is None:
        raise NotFoundError(f"policy {arn} does not exist", entity=arn)
    return policy


def require_bucket(state: AccountState, name: str) -> Bucket:
    require_account(state)
    return found(state.buckets.get(name), "bucket", name, state)


def holder_by_name(state: AccountState, kind: ev.HolderKind, name: str) -> User | Group | Role:
    if kind == "user":
        return require_user(state, name)
    if kind == "group":
        return require_group(state, name)
    return require_role(state, name)


def holder_id(holder: User | Group | Role) -> str:
    if isinstance(holder, User):
        return holder.user_id
    if isinstance(holder, Group):
        return holder.group_id
    return holder.role_id

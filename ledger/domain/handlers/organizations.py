"""The rules an organisation must obey before any of it is recorded: SCP and RCP grammar, and a
tree in which every OU and account has exactly one parent on a path from the root.

Pure: they read what they are given and raise typed errors; no storage, clock or randomness here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.domain.handlers.core import validate_policy
from ledger.domain.organization import RCP, RCP_FULL_AWS_ACCESS, SCP, path_of
from ledger.errors import OrganizationStructureError, PolicyValidationError

_POLICY_TYPES = {SCP: "scp", RCP: "resource"}


def org_policy_document(document: Any, policy_type: str, policy_id: str) -> dict[str, Any]:
    """`document` as a JSON object if it is valid for `policy_type`, else `PolicyValidationError`.

    RCPs use the resource-policy grammar with two rules of their own (AWS Organizations User
    Guide, "RCP syntax"): "The effect of Allow is only supported for the RCPFullAWSAccess policy",
    and the Principal element must be "*"."""
    grammar = _POLICY_TYPES.get(policy_type)
    if grammar is None:
        raise PolicyValidationError("Type", f"{policy_type!r} is not SERVICE_CONTROL_POLICY or RESOURCE_CONTROL_POLICY")
    try:
        parsed = validate_policy(document, grammar)
    except PolicyValidationError as error:
        raise PolicyValidationError(f"{policy_id}.{error.path}" if error.path else policy_id,
                                    f"not a valid {policy_type}: {error.reason}") from None
    if policy_type == RCP:
        statements = parsed["Statement"] if isinstance(parsed["Statement"], list) else [parsed["Statement"]]
        for number, statement in enumerate(statements):
            where = f"{policy_id}.Statement[{number}]"
            if statement.get("Principal") not in ("*", {"AWS": "*"}):
                raise PolicyValidationError(where, 'an RCP statement\'s Principal must be "*"')
            if statement.get("Effect") == "Allow" and policy_id != RCP_FULL_AWS_ACCESS:
                raise PolicyValidationError(where, "an RCP allows nothing: only RCPFullAWSAccess may use Allow")
    return parsed


def check_tree(units: Mapping[str, tuple[str, str]], accounts: Mapping[str, str]) -> None:
    """Every OU and account hangs on a path from the root: no cycle, no unknown parent, no deeper
    nesting than AWS allows. (Two parents for one id is caught where the listings are merged.)"""
    for ou in sorted(units):
        _, broken = path_of(lambda u: parent[1] if (parent := units.get(u)) else None, units[ou][1])
        if broken is not None:
            raise OrganizationStructureError(f"OU {ou}: {broken}")
    for account, parent_id in sorted(accounts.items()):
        _, broken = path_of(lambda u: parent[1] if (parent := units.get(u)) else None, parent_id)
        if broken is not None:
            raise OrganizationStructureError(f"account {account}: {broken}")

"""Command handlers for accounts and the organisation SCPs that apply to them.

Pure: they read an account's state and return drafts; no storage, clock or randomness here.
"""

from __future__ import annotations

from typing import Any

from ledger.domain import events as ev
from ledger.domain import names
from ledger.domain.handlers.core import Draft, require_account, validate_policy
from ledger.domain.state import AccountState
from ledger.errors import EntityAlreadyExistsError, NotFoundError, ValidationError


def create_account(state: AccountState, account_name: str) -> list[Draft]:
    if state.exists:
        raise EntityAlreadyExistsError(f"account {state.account_id} already exists", entity=state.account_id)
    names.check_account_name(account_name)
    return [(ev.AccountCreated, {"account_name": account_name, "root_arn": names.root_arn(state.account_id)})]


def attach_scp(state: AccountState, scp_id: str, document: Any, level: int) -> list[Draft]:
    require_account(state)
    names.check_iam_name("SCP id", scp_id)
    if not 0 <= level <= 5:
        raise ValidationError("SCP level must be 0 (organisation root) to 5 (OU depth limit)")
    doc = validate_policy(document, "scp")
    return [(ev.ServiceControlPolicyAttached, {"scp_id": scp_id, "level": level, "document": doc})]


def detach_scp(state: AccountState, scp_id: str) -> list[Draft]:
    require_account(state)
    if scp_id not in state.scps:
        raise NotFoundError(f"SCP {scp_id!r} is not attached to account {state.account_id}", entity=scp_id)
    return [(ev.ServiceControlPolicyDetached, {"scp_id": scp_id})]

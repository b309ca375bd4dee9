"""Resolves the users, groups, roles and managed policies a record names to their unique ids, and
emits a placeholder creation, once, for any the ledger has never seen. Never guesses a document.
"""

from __future__ import annotations

from typing import Any

from ledger.application.importing.cloudtrail.call import Call
from ledger.application.importing.cloudtrail.records import (
    AWS_ACCOUNT,
    PLACEHOLDER_POLICY,
    PLACEHOLDER_TRUST,
    NotUnderstood,
    arn_account,
    iam_path_and_name,
)
from ledger.application.importing.index import derived_id
from ledger.domain import events as ev
from ledger.domain import names


def principal(call: Call, account: str, kind: str, name: object, *, path: str | None = None,
              unique_id: str | None = None, create: bool = True) -> tuple[str, str]:
    """(unique id, ARN) of a user/group/role named in a record (`name` as the record has it:
    anything but a non-empty string is not understood); see `ImportIndex` for the rules."""
    if not isinstance(name, str) or not name:
        raise NotUnderstood(f"missing {kind} name")
    index = call.index
    found = unique_id or index.resolve(account, kind, name, call.at)
    arn = index.arns.get(found) if found else None
    if arn is not None and f":{account}:{kind}/" not in arn:
        arn = None  # an id reused across kinds (published samples do this): trust the name
    if arn is None:
        arn = names.iam_arn(account, kind, path or "/", name)
    if found is None:
        found = derived_id(kind, arn)
    if create and found not in index.known_ids and found not in index.pending_ids:
        index.known_ids.add(found)
        index.arns.setdefault(found, arn)
        at = index.placeholder_time(account, kind, name, call.at)
        arn_path, _ = iam_path_and_name(arn)
        fields: dict[str, Any] = {"path": arn_path}
        if kind == "user":
            call.emit(ev.UserCreated, account, user_id=found, user_name=name, user_arn=arn, at=at, **fields)
        elif kind == "group":
            call.emit(ev.GroupCreated, account, group_id=found, group_name=name, group_arn=arn, at=at, **fields)
        else:
            call.emit(ev.RoleCreated, account, role_id=found, role_name=name, role_arn=arn, at=at,
                      trust_policy=PLACEHOLDER_TRUST,
                      description="inferred from CloudTrail: created before the imported history", **fields)
    return found, arn


def managed_policy(call: Call, arn: Any) -> str:
    """The unique id of the managed policy `arn` (a placeholder creation when never seen)."""
    if not isinstance(arn, str) or not (owner := arn_account(arn)):
        raise NotUnderstood("missing or invalid policy ARN")
    index = call.index
    found = index.resolve(owner, "policy", arn, call.at)
    if found is None:
        found = derived_id("policy", arn)
    if found not in index.known_ids and found not in index.pending_ids:
        index.known_ids.add(found)
        path, name = iam_path_and_name(arn)
        call.emit(ev.ManagedPolicyCreated, owner, policy_id=found, policy_name=name, path=path, policy_arn=arn,
                  document=PLACEHOLDER_POLICY, version_id="v1", aws_managed=owner == AWS_ACCOUNT,
                  at=index.placeholder_time(owner, "policy", arn, call.at))
    return found

"""`Ledger`'s identity-policy commands: managed policies and their versions, and the attachments,
inline policies and boundaries of users, groups and roles, one shared path per family.

Like the rest of the facade they only pick the accounts and the pure handler; they never decide,
read the store or authorise anything themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate

from ledger.application.unit_of_work import CommandPath, Events, P
from ledger.domain import events as ev
from ledger.domain import handlers as cmd
from ledger.domain import names
from ledger.domain.state import AccountState

WithPolicy = Callable[Concatenate[AccountState, AccountState, P], list[cmd.Draft]]  # holder's account, policy's
Meta = dict[str, Any]


class PolicyCommands(CommandPath):
    """Identity-policy commands, mixed into `Ledger`."""

    # ---------------------------------------------------------------- managed policies

    def create_policy(self, account_id: str, name: str, document: Any, path: str = "/", **meta: Any) -> Events:
        """Create a customer managed policy (version v1, the default)."""
        policy_id = names.new_unique_id("ANPA")
        return self._one("create_policy", account_id, meta, cmd.create_policy, name, document, path, policy_id)

    def register_aws_managed_policy(self, name: str, document: Any, path: str = "/", **meta: Any) -> Events:
        """Record an AWS-managed policy (`arn:aws:iam::aws:policy/NAME`) so it can be attached."""
        policy_id = names.new_unique_id("ANPA")
        return self._one(
            "register_aws_managed_policy", cmd.AWS_ACCOUNT, meta, cmd.create_policy, name, document, path, policy_id
        )

    def delete_policy(self, policy_arn: str, **meta: Any) -> Events:
        return self._one("delete_policy", cmd.policy_account(policy_arn), meta, cmd.delete_policy, policy_arn)

    def create_policy_version(
        self, policy_arn: str, document: Any, set_as_default: bool = False, **meta: Any
    ) -> Events:
        owner = cmd.policy_account(policy_arn)
        return self._one(
            "create_policy_version", owner, meta, cmd.create_policy_version,
            policy_arn, document, set_as_default, self.quotas,
        )

    def delete_policy_version(self, policy_arn: str, version_id: str, **meta: Any) -> Events:
        owner = cmd.policy_account(policy_arn)
        return self._one("delete_policy_version", owner, meta, cmd.delete_policy_version, policy_arn, version_id)

    def set_default_policy_version(self, policy_arn: str, version_id: str, **meta: Any) -> Events:
        owner = cmd.policy_account(policy_arn)
        return self._one(
            "set_default_policy_version", owner, meta, cmd.set_default_policy_version, policy_arn, version_id
        )

    # ---------------------------------------------------------------- the shared path of each family

    def _with_policy(
        self, command: str, use: cmd.PolicyUse, account_id: str, policy_arn: str, meta: Meta,
        handler: WithPolicy[P], *args: P.args, **kwargs: P.kwargs,
    ) -> Events:
        """A command on a principal of `account_id` that names a managed policy of that account or
        AWS's; `handler(holder's state, policy owner's state, *args, **kwargs)` decides."""
        self._check_account(account_id)
        owner = cmd.usable_policy_account(account_id, policy_arn, use)
        return self._run(
            command,
            [account_id, owner],
            lambda states: {account_id: handler(states[account_id], states[owner], *args, **kwargs)},
            meta,
        )

    def _attach(self, kind: ev.HolderKind, account_id: str, name: str, policy_arn: str, meta: Meta) -> Events:
        return self._with_policy(
            f"attach_{kind}_policy", "attachment", account_id, policy_arn, meta,
            cmd.attach_policy, kind, name, policy_arn, self.quotas,
        )

    def _detach(self, kind: ev.HolderKind, account_id: str, name: str, policy_arn: str, meta: Meta) -> Events:
        return self._one(f"detach_{kind}_policy", account_id, meta, cmd.detach_policy, kind, name, policy_arn)

    def _put_inline(
        self, kind: ev.HolderKind, account_id: str, name: str, policy_name: str, document: Any, meta: Meta
    ) -> Events:
        return self._one(
            f"put_{kind}_policy", account_id, meta, cmd.put_inline_policy, kind, name, policy_name, document
        )

    def _delete_inline(self, kind: ev.HolderKind, account_id: str, name: str, policy_name: str, meta: Meta) -> Events:
        return self._one(f"delete_{kind}_policy", account_id, meta, cmd.delete_inline_policy, kind, name, policy_name)

    def _set_boundary(
        self, kind: ev.BoundaryHolderKind, account_id: str, name: str, policy_arn: str, meta: Meta
    ) -> Events:
        return self._with_policy(
            f"put_{kind}_permissions_boundary", "boundary", account_id, policy_arn, meta,
            cmd.set_boundary, kind, name, policy_arn,
        )

    def _remove_boundary(self, kind: ev.BoundaryHolderKind, account_id: str, name: str, meta: Meta) -> Events:
        return self._one(f"delete_{kind}_permissions_boundary", account_id, meta, cmd.remove_boundary, kind, name)

    # ---------------------------------------------------------------- attachments

    def attach_user_policy(self, account_id: str, user: str, policy_arn: str, **meta: Any) -> Events:
        return self._attach("user", account_id, user, policy_arn, meta)

    def attach_group_policy(self, account_id: str, group: str, policy_arn: str, **meta: Any) -> Events:
        return self._attach("group", account_id, group, policy_arn, meta)

    def attach_role_policy(self, account_id: str, role: str, policy_arn: str, **meta: Any) -> Events:
        return self._attach("role", account_id, role, policy_arn, meta)

    def detach_user_policy(self, account_id: str, user: str, policy_arn: str, **meta: Any) -> Events:
        return self._detach("user", account_id, user, policy_arn, meta)

    def detach_group_policy(self, account_id: str, group: str, policy_arn: str, **meta: Any) -> Events:
        return self._detach("group", account_id, group, policy_arn, meta)

    def detach_role_policy(self, account_id: str, role: str, policy_arn: str, **meta: Any) -> Events:
        return self._detach("role", account_id, role, policy_arn, meta)

    # ---------------------------------------------------------------- inline policies

    def put_user_policy(self, account_id: str, user: str, policy_name: str, document: Any, **meta: Any) -> Events:
        return self._put_inline("user", account_id, user, policy_name, document, meta)

    def put_group_policy(self, account_id: str, group: str, policy_name: str, document: Any, **meta: Any) -> Events:
        return self._put_inline("group", account_id, group, policy_name, document, meta)

    def put_role_policy(self, account_id: str, role: str, policy_name: str, document: Any, **meta: Any) -> Events:
        return self._put_inline("role", account_id, role, policy_name, document, meta)

    def delete_user_policy(self, account_id: str, user: str, policy_name: str, **meta: Any) -> Events:
        return self._delete_inline("user", account_id, user, policy_name, meta)

    def delete_group_policy(self, account_id: str, group: str, policy_name: str, **meta: Any) -> Events:
        return self._delete_inline("group", account_id, group, policy_name, meta)

    def delete_role_policy(self, account_id: str, role: str, policy_name: str, **meta: Any) -> Events:
        return self._delete_inline("role", account_id, role, policy_name, meta)

    # ---------------------------------------------------------------- permissions boundaries

    def put_user_permissions_boundary(self, account_id: str, user: str, policy_arn: str, **meta: Any) -> Events:
        return self._set_boundary("user", account_id, user, policy_arn, meta)

    def put_role_permissions_boundary(self, account_id: str, role: str, policy_arn: str, **meta: Any) -> Events:
        return self._set_boundary("role", account_id, role, policy_arn, meta)

    def delete_user_permissions_boundary(self, account_id: str, user: str, **meta: Any) -> Events:
        return self._remove_boundary("user", account_id, user, meta)

    def delete_role_permissions_boundary(self, account_id: str, role: str, **meta: Any) -> Events:
        return self._remove_boundary("role", account_id, role, meta)

"""The public facade: `Ledger` composes the write side (commands → events → store) and the read
side (projections and audit queries). It is the only library module that knows both.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from ledger import timeaxis
from ledger.adapters.logging import get_logger
from ledger.adapters.store import EventStore
from ledger.application.audit import COMMAND_PERMISSIONS, AuditQueries
from ledger.domain import events as ev
from ledger.domain import handlers as cmd
from ledger.domain import names
from ledger.domain.state import STATELESS_EVENTS, AccountState, apply, resulting_owner
from ledger.errors import (
    AccessDeniedError,
    ConcurrencyError,
    DuplicateSourceError,
    NotFoundError,
    ValidationError,
)

log = get_logger("ledger")

Drafts = dict[str, list[cmd.Draft]]
_RETRIES = 5
# Account bootstrap and organisation SCPs are decided by AWS Organizations' management account,
# which the ledger does not model; AWS-managed policies belong to AWS.
_BUCKET_TOPICS = ("BucketCreated", "BucketDeleted")
_OUTSIDE_IAM = frozenset({"create_account", "attach_scp", "detach_scp", "register_aws_managed_policy"})


class AccessKey(list[ev.LedgerEvent]):
    """The events of `create_access_key`, plus the secret, returned once and never stored."""

    def __init__(self, events: Iterable[ev.LedgerEvent], access_key_id: str, secret_access_key: str) -> None:
        super().__init__(events)
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key

    def __repr__(self) -> str:  # the secret must not leak through logs or tracebacks
        return f"AccessKey(access_key_id={self.access_key_id!r}, events={len(self)})"


class Ledger(AuditQueries):
    """An event-sourced permission ledger on one store (SQLite file or PostgreSQL database).

    With `enforcing=True` the ledger is the system of record: every command is authorised for
    its actor against the state at that moment, and a denied one records only `CommandDenied`.
    """

    store: EventStore

    def __init__(self, store: EventStore, *, quotas: cmd.Quotas | None = None, enforcing: bool = False) -> None:
        self.store = store
        self.quotas = quotas or cmd.Quotas()
        self.enforcing = enforcing
        self._states: dict[str, AccountState] = {}
        self._bucket_index: dict[str, str] = {}
        self._buckets_seen = 0

    @classmethod
    def open(cls, url: str | None = None, *, quotas: cmd.Quotas | None = None, enforcing: bool = False) -> Ledger:
        """Open (creating if needed) the ledger at `url`; default `LEDGER_DB` or `sqlite:///ledger.db`."""
        return cls(EventStore(url), quotas=quotas, enforcing=enforcing)

    def close(self) -> None:
        read_side = self.__dict__.get("_read_side_instance")
        if read_side is not None:
            read_side.close()
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- unit of work

    def account_state(self, account_id: str) -> AccountState:
        """The write-side state of an account, caught up with the store."""
        state = self._states.get(account_id)
        if state is None:
            state = AccountState(account_id)
            self._states[account_id] = state
        for event in self.store.read_stream(ev.account_stream_id(account_id), state.version):
            state.fold(event)
        return state

    def _execute(
        self,
        command: str,
        accounts: Sequence[str],
        decide: Callable[[dict[str, AccountState]], Drafts],
        *,
        at: datetime | str | None = None,
        actor: str | None = None,
        source: ev.Source = "api",
        source_id: str | None = None,
    ) -> list[ev.LedgerEvent]:
        occurred_at = timeaxis.instant(at)
        assert occurred_at is not None
        source_keys = [f"{source}:{source_id}"] if source_id else []
        if source_keys and self.store.existing_source_keys(source_keys):
            log.info("duplicate_source_ignored", command=command, source=source, source_id=source_id)
            return []
        for attempt in range(_RETRIES):
            states = {account: self.account_state(account) for account in dict.fromkeys(accounts)}
            drafts = decide(states)
            events = self._stamp(drafts, occurred_at, actor, source, source_id)
            if not events:
                return []
            if self.enforcing and source == "api":
                self._enforce(command, events, occurred_at)
            try:
                recorded = self.store.append(events, source_keys)
            except ConcurrencyError:
                log.info("concurrent_write_retry", command=command, attempt=attempt + 1)
                continue
            except DuplicateSourceError:
                return []
            for event in recorded:
                self._states[event.account_id].fold(event)
            log.info(
                "events_recorded",
                command=command,
                accounts=list(states),
                events=[e.event_type for e in recorded],
                positions=[e.position for e in recorded],
            )
            return recorded
        raise ConcurrencyError(f"{command}: gave up after {_RETRIES} concurrent modifications; nothing was written")

    def _enforce(self, command: str, events: Sequence[ev.LedgerEvent], occurred_at: datetime) -> None:
        """Authorise the command's actor for every permission it needs, as of `occurred_at`;
        on denial record a `CommandDenied` fact (and nothing else) and raise."""
        required = COMMAND_PERMISSIONS.get(command)
        if not required or command in _OUTSIDE_IAM or events[0].account_id == cmd.AWS_ACCOUNT:
            return
        target = events[0]
        actor = target.actor or self._default_actor(target.account_id)
        fields = target.model_dump()
        for action_spec, template in required:
            resource = required_resource(template, fields)
            action = action_spec.split("|")[1 if "oidc-provider" in resource else 0]
            context: dict[str, Any] = {}
            if action == "iam:PassRole":
                context["iam:PassedToService"] = "mediaconvert.amazonaws.com"
            if action == "s3:PutObject" and fields.get("acl"):
                context["s3:x-amz-acl"] = fields["acl"]
            decision = self.can(actor, action, resource, context=context, at=occurred_at)
            if not decision.allowed:
                reason = decision.eval_decision
                self.record(
                    [
                        ev.CommandDenied(
                            originator_id=target.originator_id,
                            originator_version=0,
                            occurred_at=occurred_at,
                            recorded_at=datetime.now(UTC),
                            actor=actor,
                            source="api",
                            account_id=target.account_id,
                            action=action,
                            resource=resource,
                            reason=reason,
                        )
                    ]
                )
                log.warning("command_denied", command=command, actor=actor, action=action, resource=resource)
                raise AccessDeniedError(
                    f"{actor} is not authorized to perform {action} on {resource} ({reason})",
                    actor=actor,
                    action=action,
                    resource=resource,
                    decision=reason,
                )

    def _stamp(
        self, drafts: Drafts, occurred_at: datetime, actor: str | None, source: ev.Source, source_id: str | None
    ) -> list[ev.LedgerEvent]:
        now = datetime.now(UTC)
        events: list[ev.LedgerEvent] = []
        for account, account_drafts in drafts.items():
            state = self._states[account] if account in self._states else self.account_state(account)
            version = state.version
            for cls, fields in account_drafts:
                version += 1
                events.append(
                    cls(
                        originator_id=ev.account_stream_id(account),
                        originator_version=version,
                        occurred_at=occurred_at,
                        recorded_at=now,
                        actor=actor or self._default_actor(account),
                        source=source,
                        source_id=source_id,
                        account_id=account,
                        **fields,
                    )
                )
        return events

    @staticmethod
    def _default_actor(account: str) -> str:
        return "aws" if account == cmd.AWS_ACCOUNT else names.root_arn(account)

    def _one(
        self, command: str, account: str, handler: Callable[[AccountState], list[cmd.Draft]], **meta: Any
    ) -> list[ev.LedgerEvent]:
        self._check_account(account)
        return self._execute(command, [account], lambda s: {account: handler(s[account])}, **meta)

    @staticmethod
    def _check_account(account: str) -> None:
        if account != cmd.AWS_ACCOUNT:
            names.check_account_id(account)

    def _policy_owner(self, policy_arn: str) -> str:
        arn = names.parse_arn(policy_arn)
        if arn.service != "iam" or not arn.resource.startswith("policy/"):
            raise ValidationError(f"{policy_arn} is not a managed policy ARN")
        return arn.account

    # ---------------------------------------------------------------- accounts

    def create_account(self, account_id: str, name: str | None = None, **meta: Any) -> list[ev.LedgerEvent]:
        """Record a new AWS account (with its root user)."""
        return self._one("create_account", account_id, lambda s: cmd.create_account(s, name or account_id), **meta)

    def attach_scp(
        self, account_id: str, scp_id: str, document: Any, level: int = 0, **meta: Any
    ) -> list[ev.LedgerEvent]:
        return self._one("attach_scp", account_id, lambda s: cmd.attach_scp(s, scp_id, document, level), **meta)

    def detach_scp(self, account_id: str, scp_id: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one("detach_scp", account_id, lambda s: cmd.detach_scp(s, scp_id), **meta)

    # ---------------------------------------------------------------- users

    def create_user(self, account_id: str, name: str, path: str = "/", **meta: Any) -> list[ev.LedgerEvent]:
        return self._one("create_user", account_id, lambda s: cmd.create_user(s, name, path), **meta)

    def delete_user(self, account_id: str, name: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one("delete_user", account_id, lambda s: cmd.delete_user(s, name), **meta)

    def set_login_profile(
        self, account_id: str, user: str, password: str, reset_required: bool = False, **meta: Any
    ) -> list[ev.LedgerEvent]:
        """Set a console password; only the fact is recorded, never the password."""
        return self._one(
            "set_login_profile", account_id, lambda s: cmd.set_login_profile(s, user, password, reset_required), **meta
        )

    def remove_login_profile(self, account_id: str, user: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one("remove_login_profile", account_id, lambda s: cmd.remove_login_profile(s, user), **meta)

    def create_access_key(self, account_id: str, user: str, **meta: Any) -> AccessKey:
        """Issue an access key; the secret is returned once and never stored or logged."""
        issued: list[str] = []

        def handler(state: AccountState) -> list[cmd.Draft]:
            drafts, key_id = cmd.create_access_key(state, user, self.quotas)
            issued[:] = [key_id]
            return drafts

        events = self._one("create_access_key", account_id, handler, **meta)
        return AccessKey(events, issued[0] if events else "", secrets.token_urlsafe(30)[:40] if events else "")

    def deactivate_access_key(
        self, account_id: str, user: str, access_key_id: str, **meta: Any
    ) -> list[ev.LedgerEvent]:
        return self._one(
            "deactivate_access_key",
            account_id,
            lambda s: cmd.change_access_key(s, user, access_key_id, "deactivate"),
            **meta,
        )

    def activate_access_key(self, account_id: str, user: str, access_key_id: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one(
            "activate_access_key",
            account_id,
            lambda s: cmd.change_access_key(s, user, access_key_id, "activate"),
            **meta,
        )

    def delete_access_key(self, account_id: str, user: str, access_key_id: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one(
            "delete_access_key", account_id, lambda s: cmd.change_access_key(s, user, access_key_id, "delete"), **meta
        )

    def tag_user(self, account_id: str, user: str, tags: dict[str, str], **meta: Any) -> list[ev.LedgerEvent]:
        return self._one("tag_user", account_id, lambda s: cmd.tag_principal(s, "user", user, tags), **meta)

    def tag_role(self, account_id: str, role: str, tags: dict[str, str], **meta: Any) -> list[ev.LedgerEvent]:
        return self._one("tag_role", account_id, lambda s: cmd.tag_principal(s, "role", role, tags), **meta)

    # ---------------------------------------------------------------- groups

    def create_group(self, account_id: str, name: str, path: str = "/", **meta: Any) -> list[ev.LedgerEvent]:
        return self._one("create_group", account_id, lambda s: cmd.create_group(s, name, path), **meta)

    def delete_group(self, account_id: str, name: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one("delete_group", account_id, lambda s: cmd.delete_group(s, name), **meta)

    def add_user_to_group(self, account_id: str, user: str, group: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one(
            "add_user_to_group", account_id, lambda s: cmd.add_user_to_group(s, user, group, self.quotas), **meta
        )

    def remove_user_from_group(self, account_id: str, user: str, group: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one(
            "remove_user_from_group", account_id, lambda s: cmd.remove_user_from_group(s, user, group), **meta
        )

    # ---------------------------------------------------------------- roles and providers

    def create_role(
        self,
        account_id: str,
        name: str,
        trust_policy: Any,
        path: str = "/",
        max_session_duration: int = 3600,
        description: str | None = None,
        **meta: Any,
    ) -> list[ev.LedgerEvent]:
        return self._one(
            "create_role",
            account_id,
            lambda s: cmd.create_role(s, name, trust_policy, path, max_session_duration, description, self.quotas),
            **meta,
        )

    def delete_role(self, account_id: str, name: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one("delete_role", account_id, lambda s: cmd.delete_role(s, name), **meta)

    def update_assume_role_policy(
        self, account_id: str, role: str, trust_policy: Any, **meta: Any
    ) -> list[ev.LedgerEvent]:
        return self._one(
            "update_assume_role_policy", account_id, lambda s: cmd.update_trust_policy(s, role, trust_policy), **meta
        )

    def create_saml_provider(self, account_id: str, name: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one(
            "create_saml_provider", account_id, lambda s: cmd.create_identity_provider(s, "SAML", name, ()), **meta
        )

    def create_oidc_provider(
        self, account_id: str, url: str, client_ids: Sequence[str] = (), **meta: Any
    ) -> list[ev.LedgerEvent]:
        return self._one(
            "create_oidc_provider",
            account_id,
            lambda s: cmd.create_identity_provider(s, "OIDC", url, tuple(client_ids)),
            **meta,
        )

    def delete_identity_provider(self, account_id: str, provider_arn: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one(
            "delete_identity_provider", account_id, lambda s: cmd.delete_identity_provider(s, provider_arn), **meta
        )

    # ---------------------------------------------------------------- managed and inline policies

    def create_policy(
        self, account_id: str, name: str, document: Any, path: str = "/", **meta: Any
    ) -> list[ev.LedgerEvent]:
        """Create a customer managed policy (version v1, the default)."""
        return self._one("create_policy", account_id, lambda s: cmd.create_policy(s, name, document, path), **meta)

    def register_aws_managed_policy(
        self, name: str, document: Any, path: str = "/", **meta: Any
    ) -> list[ev.LedgerEvent]:
        """Record an AWS-managed policy (`arn:aws:iam::aws:policy/NAME`) so it can be attached."""
        return self._one(
            "register_aws_managed_policy", cmd.AWS_ACCOUNT, lambda s: cmd.create_policy(s, name, document, path), **meta
        )

    def delete_policy(self, policy_arn: str, **meta: Any) -> list[ev.LedgerEvent]:
        owner = self._policy_owner(policy_arn)
        return self._one("delete_policy", owner, lambda s: cmd.delete_policy(s, policy_arn), **meta)

    def create_policy_version(
        self, policy_arn: str, document: Any, set_as_default: bool = False, **meta: Any
    ) -> list[ev.LedgerEvent]:
        owner = self._policy_owner(policy_arn)
        return self._one(
            "create_policy_version",
            owner,
            lambda s: cmd.create_policy_version(s, policy_arn, document, set_as_default, self.quotas)[0],
            **meta,
        )

    def delete_policy_version(self, policy_arn: str, version_id: str, **meta: Any) -> list[ev.LedgerEvent]:
        owner = self._policy_owner(policy_arn)
        return self._one(
            "delete_policy_version", owner, lambda s: cmd.delete_policy_version(s, policy_arn, version_id), **meta
        )

    def set_default_policy_version(self, policy_arn: str, version_id: str, **meta: Any) -> list[ev.LedgerEvent]:
        owner = self._policy_owner(policy_arn)
        return self._one(
            "set_default_policy_version",
            owner,
            lambda s: cmd.set_default_policy_version(s, policy_arn, version_id),
            **meta,
        )

    def _attach(
        self, kind: str, account_id: str, name: str, policy_arn: str, meta: dict[str, Any]
    ) -> list[ev.LedgerEvent]:
        self._check_account(account_id)
        owner = self._policy_owner(policy_arn)
        if owner not in (account_id, cmd.AWS_ACCOUNT):
            raise ValidationError(
                f"{policy_arn} belongs to account {owner}; managed policies attach only in their own account"
            )
        return self._execute(
            f"attach_{kind}_policy",
            [account_id, owner],
            lambda s: {account_id: cmd.attach_policy(s[account_id], s[owner], kind, name, policy_arn, self.quotas)},
            **meta,
        )

    def attach_user_policy(self, account_id: str, user: str, policy_arn: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._attach("user", account_id, user, policy_arn, meta)

    def attach_group_policy(self, account_id: str, group: str, policy_arn: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._attach("group", account_id, group, policy_arn, meta)

    def attach_role_policy(self, account_id: str, role: str, policy_arn: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._attach("role", account_id, role, policy_arn, meta)

    def detach_user_policy(self, account_id: str, user: str, policy_arn: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one(
            "detach_user_policy", account_id, lambda s: cmd.detach_policy(s, "user", user, policy_arn), **meta
        )

    def detach_group_policy(self, account_id: str, group: str, policy_arn: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one(
            "detach_group_policy", account_id, lambda s: cmd.detach_policy(s, "group", group, policy_arn), **meta
        )

    def detach_role_policy(self, account_id: str, role: str, policy_arn: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one(
            "detach_role_policy", account_id, lambda s: cmd.detach_policy(s, "role", role, policy_arn), **meta
        )

    def put_user_policy(
        self, account_id: str, user: str, policy_name: str, document: Any, **meta: Any
    ) -> list[ev.LedgerEvent]:
        return self._one(
            "put_user_policy",
            account_id,
            lambda s: cmd.put_inline_policy(s, "user", user, policy_name, document),
            **meta,
        )

    def put_group_policy(
        self, account_id: str, group: str, policy_name: str, document: Any, **meta: Any
    ) -> list[ev.LedgerEvent]:
        return self._one(
            "put_group_policy",
            account_id,
            lambda s: cmd.put_inline_policy(s, "group", group, policy_name, document),
            **meta,
        )

    def put_role_policy(
        self, account_id: str, role: str, policy_name: str, document: Any, **meta: Any
    ) -> list[ev.LedgerEvent]:
        return self._one(
            "put_role_policy",
            account_id,
            lambda s: cmd.put_inline_policy(s, "role", role, policy_name, document),
            **meta,
        )

    def delete_user_policy(self, account_id: str, user: str, policy_name: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one(
            "delete_user_policy", account_id, lambda s: cmd.delete_inline_policy(s, "user", user, policy_name), **meta
        )

    def delete_group_policy(self, account_id: str, group: str, policy_name: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one(
            "delete_group_policy",
            account_id,
            lambda s: cmd.delete_inline_policy(s, "group", group, policy_name),
            **meta,
        )

    def delete_role_policy(self, account_id: str, role: str, policy_name: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one(
            "delete_role_policy", account_id, lambda s: cmd.delete_inline_policy(s, "role", role, policy_name), **meta
        )

    def _boundary(
        self, kind: str, account_id: str, name: str, policy_arn: str, meta: dict[str, Any]
    ) -> list[ev.LedgerEvent]:
        self._check_account(account_id)
        owner = self._policy_owner(policy_arn)
        if owner not in (account_id, cmd.AWS_ACCOUNT):
            raise ValidationError(f"{policy_arn} belongs to account {owner}; a boundary must be in the same account")
        return self._execute(
            f"put_{kind}_permissions_boundary",
            [account_id, owner],
            lambda s: {account_id: cmd.set_boundary(s[account_id], s[owner], kind, name, policy_arn)},
            **meta,
        )

    def put_user_permissions_boundary(
        self, account_id: str, user: str, policy_arn: str, **meta: Any
    ) -> list[ev.LedgerEvent]:
        return self._boundary("user", account_id, user, policy_arn, meta)

    def put_role_permissions_boundary(
        self, account_id: str, role: str, policy_arn: str, **meta: Any
    ) -> list[ev.LedgerEvent]:
        return self._boundary("role", account_id, role, policy_arn, meta)

    def delete_user_permissions_boundary(self, account_id: str, user: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one(
            "delete_user_permissions_boundary", account_id, lambda s: cmd.remove_boundary(s, "user", user), **meta
        )

    def delete_role_permissions_boundary(self, account_id: str, role: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one(
            "delete_role_permissions_boundary", account_id, lambda s: cmd.remove_boundary(s, "role", role), **meta
        )

    # ---------------------------------------------------------------- buckets

    def _bucket_owners(self) -> dict[str, str]:
        """Bucket name -> owning account (bucket names are global), caught up incrementally:
        only bucket events recorded since the last call are read."""
        upto = self.store.max_position()
        for event in self.store.iter_log(after=self._buckets_seen, upto=upto, topics=_BUCKET_TOPICS):
            if isinstance(event, ev.BucketCreated):
                self._bucket_index[event.bucket_name] = event.account_id
            elif isinstance(event, ev.BucketDeleted):
                self._bucket_index.pop(event.bucket_name, None)
        self._buckets_seen = max(self._buckets_seen, upto)
        return self._bucket_index

    def bucket_owner(self, bucket: str) -> str:
        owner = self._bucket_owners().get(bucket)
        if owner is None:
            raise NotFoundError(f"bucket {bucket!r} does not exist", entity=bucket)
        return owner

    def create_bucket(
        self,
        account_id: str,
        name: str,
        region: str = "us-east-1",
        object_ownership: str = "BucketOwnerEnforced",
        **meta: Any,
    ) -> list[ev.LedgerEvent]:
        """Create an S3 bucket; since April 2023 new buckets default to BucketOwnerEnforced."""
        return self._one(
            "create_bucket",
            account_id,
            lambda s: cmd.create_bucket(s, name, region, object_ownership, taken=name in self._bucket_owners()),
            **meta,
        )

    def delete_bucket(self, account_id: str, name: str, **meta: Any) -> list[ev.LedgerEvent]:
        return self._one("delete_bucket", account_id, lambda s: cmd.delete_bucket(s, name), **meta)

    def put_bucket_policy(self, bucket: str, document: Any, **meta: Any) -> list[ev.LedgerEvent]:
        owner = self.bucket_owner(bucket)
        return self._one("put_bucket_policy", owner, lambda s: cmd.put_bucket_policy(s, bucket, document), **meta)

    def delete_bucket_policy(self, bucket: str, **meta: Any) -> list[ev.LedgerEvent]:
        owner = self.bucket_owner(bucket)
        return self._one("delete_bucket_policy", owner, lambda s: cmd.delete_bucket_policy(s, bucket), **meta)

    def put_bucket_ownership_controls(self, bucket: str, object_ownership: str, **meta: Any) -> list[ev.LedgerEvent]:
        owner = self.bucket_owner(bucket)
        return self._one(
            "put_bucket_ownership_controls", owner, lambda s: cmd.change_ownership(s, bucket, object_ownership), **meta
        )

    # ---------------------------------------------------------------- sessions

    def _resolve_caller(self, caller_arn: str) -> tuple[str, str | None, str | None]:
        """(account, unique id, parent session id) of a caller ARN known to the ledger."""
        if "." in caller_arn and caller_arn.endswith(".amazonaws.com"):
            return "", None, None
        arn = names.parse_arn(caller_arn)
        state = self.account_state(arn.account)
        cmd.require_account(state)
        if arn.service == "iam" and arn.resource == "root":
            return arn.account, arn.account, None
        if arn.service == "iam" and arn.resource.startswith("user/"):
            user = cmd.require_user(state, arn.resource.rsplit("/", 1)[-1])
            return arn.account, user.user_id, None
        if arn.service == "sts" and arn.resource.startswith("assumed-role/"):
            session = state.latest_session(caller_arn)
            if session is None:
                raise NotFoundError(f"no session {caller_arn} was issued", entity=caller_arn)
            return arn.account, session.role_id, session.session_id
        if arn.service == "iam" and arn.resource.startswith("role/"):
            role = cmd.require_role(state, arn.resource.rsplit("/", 1)[-1])
            return arn.account, role.role_id, None
        raise ValidationError(f"{caller_arn} cannot assume a role")

    def assume_role(
        self,
        caller_arn: str,
        role_arn: str,
        session_name: str,
        duration_seconds: int = 3600,
        *,
        session_policy: Any = None,
        source_identity: str | None = None,
        via: ev.AssumptionKind = "AssumeRole",
        provider_arn: str | None = None,
        **meta: Any,
    ) -> list[ev.LedgerEvent]:
        """Issue a role session to `caller_arn` (a user, a session for chaining, a service principal,
        or a federated identity through `provider_arn`). Trust is enforced in enforcing mode."""
        arn = names.parse_arn(role_arn)
        if arn.service != "iam" or not arn.resource.startswith("role/"):
            raise ValidationError(f"{role_arn} is not a role ARN")
        names.check_iam_name("session", session_name)
        if source_identity is not None and not 2 <= len(source_identity) <= 64:
            raise ValidationError("source identity must be 2-64 characters")
        session_doc = cmd.validate_policy(session_policy, "session") if session_policy is not None else None
        if via in ("AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"):
            caller_account, caller_id, parent = arn.account, None, None
        else:
            caller_account, caller_id, parent = self._resolve_caller(caller_arn)
        account = arn.account
        issued_at = timeaxis.instant(meta.get("at"))
        assert issued_at is not None
        meta.setdefault("actor", caller_arn)

        def decide(states: dict[str, AccountState]) -> Drafts:
            state = states[account]
            role = cmd.require_role(state, arn.resource.rsplit("/", 1)[-1])
            if provider_arn is not None and provider_arn not in state.providers:
                raise NotFoundError(f"identity provider {provider_arn} does not exist", entity=provider_arn)
            cmd.check_session_duration(duration_seconds, role, parent is not None, self.quotas)
            return {
                account: [
                    (
                        ev.RoleAssumed,
                        {
                            "session_id": f"{role.role_id}:{session_name}:{secrets.token_hex(6)}",
                            "role_id": role.role_id,
                            "role_arn": role.arn,
                            "session_name": session_name,
                            "session_arn": names.session_arn(account, role.name, session_name),
                            "caller_arn": caller_arn,
                            "caller_principal_id": caller_id,
                            "caller_account": caller_account or None,
                            "via": via,
                            "provider_arn": provider_arn,
                            "issued_at": issued_at,
                            "expires_at": cmd.session_expiry(issued_at, duration_seconds),
                            "session_policy": session_doc,
                            "source_identity": source_identity,
                            "access_key_id": names.new_access_key_id(temporary=True),
                            "parent_session_id": parent,
                        },
                    )
                ]
            }

        return self._execute("assume_role", [account], decide, **meta)

    def revoke_role_sessions(self, account_id: str, role: str, **meta: Any) -> list[ev.LedgerEvent]:
        """Invalidate every session of the role issued before now (or `at`)."""
        revoked_before = timeaxis.instant(meta.get("at"))

        def handler(state: AccountState) -> list[cmd.Draft]:
            found = cmd.require_role(state, role)
            return [
                (
                    ev.SessionsRevoked,
                    {"role_id": found.role_id, "role_arn": found.arn, "revoked_before": revoked_before},
                )
            ]

        return self._one("revoke_role_sessions", account_id, handler, **meta)

    def get_federation_token(
        self,
        account_id: str,
        user: str,
        name: str,
        duration_seconds: int = 43200,
        session_policy: Any = None,
        **meta: Any,
    ) -> list[ev.LedgerEvent]:
        names.check_iam_name("session", name)
        if not 900 <= duration_seconds <= self.quotas.federation_token_max_seconds:
            raise ValidationError(f"federation token duration must be 900-{self.quotas.federation_token_max_seconds}s")
        session_doc = cmd.validate_policy(session_policy, "session") if session_policy is not None else None
        issued_at = timeaxis.instant(meta.get("at"))
        assert issued_at is not None

        def handler(state: AccountState) -> list[cmd.Draft]:
            found = cmd.require_user(state, user)
            return [
                (
                    ev.FederationTokenIssued,
                    {
                        "session_id": f"{found.user_id}:{name}:{secrets.token_hex(6)}",
                        "user_id": found.user_id,
                        "user_arn": found.arn,
                        "federated_user_arn": f"arn:aws:sts::{account_id}:federated-user/{name}",
                        "issued_at": issued_at,
                        "expires_at": cmd.session_expiry(issued_at, duration_seconds),
                        "session_policy": session_doc,
                        "access_key_id": names.new_access_key_id(temporary=True),
                    },
                )
            ]

        return self._one("get_federation_token", account_id, handler, **meta)

    # ---------------------------------------------------------------- MediaConvert

    def create_job(
        self,
        account_id: str,
        creator_arn: str,
        role_arn: str,
        *,
        outputs: Sequence[str],
        inputs: Sequence[str] = (),
        queue: str = "Default",
        region: str = "us-east-1",
        **meta: Any,
    ) -> list[ev.LedgerEvent]:
        """Create a MediaConvert job in `account_id`, passing `role_arn` as its service role."""
        self._check_account(account_id)
        creator_account, creator_id, _ = self._resolve_caller(creator_arn)
        if creator_account != account_id:
            raise ValidationError(f"{creator_arn} is not a principal of account {account_id}")
        role = names.parse_arn(role_arn)
        if role.service != "iam" or not role.resource.startswith("role/"):
            raise ValidationError(f"{role_arn} is not a role ARN")
        if role.account != account_id:
            raise ValidationError("MediaConvert can only be passed a role of the job's own account")
        for destination in [*inputs, *outputs]:
            if not isinstance(destination, str) or not destination.startswith("s3://") or len(destination) < 6:
                raise ValidationError(f"{str(destination)[:200]!r} is not an s3:// location")
        queue_arn = queue if queue.startswith("arn:") else f"arn:aws:mediaconvert:{region}:{account_id}:queues/{queue}"
        meta.setdefault("actor", creator_arn)

        created_at = timeaxis.instant(meta.get("at"))
        assert created_at is not None

        def handler(state: AccountState) -> list[cmd.Draft]:
            found = cmd.require_role(state, role.resource.rsplit("/", 1)[-1])
            job_id = f"{int(created_at.timestamp() * 1000)}-{secrets.token_hex(3)}"
            return [
                (
                    ev.JobCreated,
                    {
                        "job_id": job_id,
                        "job_arn": f"arn:aws:mediaconvert:{region}:{account_id}:jobs/{job_id}",
                        "region": region,
                        "creator_arn": creator_arn,
                        "creator_principal_id": creator_id,
                        "queue_arn": queue_arn,
                        "role_id": found.role_id,
                        "role_arn": found.arn,
                        "inputs": tuple(inputs),
                        "outputs": tuple(outputs),
                    },
                )
            ]

        return self._one("create_job", account_id, handler, **meta)

    def write_output(
        self,
        job_arn: str,
        bucket: str,
        key: str,
        *,
        acl: str | None = None,
        writer_session_arn: str | None = None,
        **meta: Any,
    ) -> list[ev.LedgerEvent]:
        """Record that a job's service role wrote `key` into `bucket` (possibly another account's)."""
        job = names.parse_arn(job_arn)
        if job.service != "mediaconvert" or not job.resource.startswith("jobs/"):
            raise ValidationError(f"{job_arn} is not a MediaConvert job ARN")
        if not key or len(key.encode()) > 1024:
            raise ValidationError("object key must be 1-1024 bytes")
        if acl is not None and acl not in _CANNED_ACLS:
            raise ValidationError(f"unknown canned ACL {acl!r}")
        bucket_account = self.bucket_owner(bucket)
        job_account = job.account
        job_state = self.account_state(job_account)
        found = job_state.jobs.get(job.resource.split("/", 1)[1])
        if found is None:
            raise NotFoundError(f"job {job_arn} does not exist", entity=job_arn)
        role_name = found.role_arn.rsplit("/", 1)[-1]
        writer_arn = writer_session_arn or names.session_arn(job_account, role_name, "MediaConvert")
        session = job_state.latest_session(writer_arn)

        def decide(states: dict[str, AccountState]) -> Drafts:
            target = cmd.require_bucket(states[bucket_account], bucket)
            owner = resulting_owner(bucket_account, job_account, target.object_ownership, acl)
            return {
                bucket_account: [
                    (
                        ev.OutputWritten,
                        {
                            "bucket_name": bucket,
                            "bucket_arn": target.arn,
                            "key": key,
                            "object_arn": names.object_arn(bucket, key),
                            "writer_arn": writer_arn,
                            "writer_account": job_account,
                            "writer_session_id": session.session_id if session else None,
                            "job_id": found.job_id,
                            "job_arn": found.arn,
                            "acl": acl,
                            "object_ownership": target.object_ownership,
                            "owner_account": owner,
                        },
                    )
                ]
            }

        meta.setdefault("actor", writer_arn)
        return self._execute("write_output", [bucket_account], decide, **meta)

    # ---------------------------------------------------------------- observed facts and reading

    def record(self, events: Sequence[ev.LedgerEvent], source_keys: Sequence[str] = ()) -> list[int]:
        """Append already-built facts (imports) atomically, each at the next version of its
        account's stream (the events' own stream fields are ignored); returns their positions.

        Every fact with a `source_id` registers its source key `"{source}:{source_id}"` in the
        same transaction; `source_keys` registers further ones (e.g. a CloudTrail sharedEventID).
        A batch holding an already-recorded key raises `DuplicateSourceError` and writes nothing.
        """
        keys = list(
            dict.fromkeys(
                [
                    *(f"{e.source}:{e.source_id}" for e in events if e.source_id),
                    *source_keys,
                ]
            )
        )
        for _ in range(_RETRIES):
            streams: list[tuple[Any, int]] = []
            versions: dict[str, int] = {}
            for event in events:
                account = event.account_id
                if account not in versions:
                    versions[account] = self.account_state(account).version
                versions[account] += 1
                streams.append((ev.account_stream_id(account), versions[account]))
            try:
                positions = self.store.append_positions(events, streams, keys)
            except ConcurrencyError:
                continue
            # Our versions were contiguous after the state we read, so folding directly is exact.
            for event, (_, version) in zip(events, streams, strict=True):
                state = self._states[event.account_id]
                if type(event) not in STATELESS_EVENTS:
                    apply(event, state)
                state.version = version
            return positions
        raise ConcurrencyError("gave up appending facts after repeated concurrent modifications")

    def events(self, after: int = 0, upto: int | None = None) -> Iterable[ev.LedgerEvent]:
        """Every recorded event in log order."""
        return self.store.iter_log(after=after, upto=upto)

    def history(self, entity: str) -> list[ev.LedgerEvent]:
        """Every event that touched `entity` (an ARN, a unique id, an access key id or an account id)."""
        wanted = {entity, f"account:{entity}"} if names_is_account(entity) else {entity}
        # Every reference is stored verbatim inside the event's JSON, so only records whose raw
        # bytes contain it need decoding (JSON would escape only quotes, backslashes, controls).
        needle = entity.encode("utf-8", "surrogatepass")
        plain = not any(ch in entity for ch in '"\\') and all(ord(ch) >= 0x20 for ch in entity)
        matched: list[ev.LedgerEvent] = []
        for position, originator_id, version, topic, state in self.store.iter_records():
            if plain and needle not in state:
                continue
            event = self.store.codec.decode(originator_id, version, topic, state, position)
            if wanted.intersection(event.entity_refs()):
                matched.append(event)
        return matched


def required_resource(template: str, fields: dict[str, Any]) -> str:
    """The ARN a command's permission applies to, taken from the event the command would record."""
    for placeholder, field in (("{POLICY}", "policy_arn"), ("{ROLE}", "role_arn"), ("{PROVIDER}", "provider_arn")):
        if placeholder in template:
            return str(fields[field])
    for marker, names_ in (
        (":user", ("user_arn", "principal_arn")),
        (":group", ("group_arn", "principal_arn")),
        (":role", ("role_arn", "principal_arn")),
        (":policy", ("policy_arn",)),
        ("{BUCKET}/{KEY}", ("object_arn",)),
        ("s3:::", ("bucket_arn",)),
        ("queues/", ("queue_arn",)),
        ("federated-user/", ("federated_user_arn",)),
        ("-provider/", ("provider_arn",)),
    ):
        if marker in template:
            for name in names_:
                if fields.get(name):
                    return str(fields[name])
    return "*"


def names_is_account(text: str) -> bool:
    return len(text) == 12 and text.isdigit()


_CANNED_ACLS = {
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
}

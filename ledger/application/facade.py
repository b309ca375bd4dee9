"""The public facade: `Ledger` composes the write side (commands → events → store) and the read
side (projections and audit queries). It is the only library module that knows both.

A command here only loads state, calls a pure handler, stamps, appends and returns the events;
it never decides itself: the rules live in the handlers, the transaction in the unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from ledger.adapters.logging import get_logger
from ledger.adapters.store import EventStore
from ledger.application.audit import AuditQueries
from ledger.application.enforcement import (
    ORGANIZATIONS,
    access_denied,
    backfill,
    denial,
    partition_refusal,
    required_permissions,
    target_in,
)
from ledger.application.policy_commands import Meta, PolicyCommands
from ledger.application.unit_of_work import Authorize, Envelope, Events, UnitOfWork, default_actor
from ledger.domain import events as ev
from ledger.domain import handlers as cmd
from ledger.domain import names
from ledger.domain.state import AccountState
from ledger.errors import NotFoundError

log = get_logger("ledger")


class AccessKey(list[ev.LedgerEvent]):
    """The events of `create_access_key`, plus the secret, returned once and never stored."""

    def __init__(self, events: Iterable[ev.LedgerEvent], access_key_id: str, secret_access_key: str) -> None:
        super().__init__(events)
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key

    def __repr__(self) -> str:  # the secret must not leak through logs or tracebacks
        return f"AccessKey(access_key_id={self.access_key_id!r}, events={len(self)})"


class Ledger(PolicyCommands, AuditQueries):
    """An event-sourced permission ledger on one store (SQLite file or PostgreSQL database).

    With `enforcing=True` the ledger is the system of record: every command is authorised for
    its actor against the state it changes (now), with the request context IAM would send (see
    `ledger.application.enforcement`), and a denied one records only `CommandDenied`. A command
    dated more than five minutes from now also needs `ledger:Backfill`; SCP commands need
    `organizations:AttachPolicy`/`DetachPolicy` in `management_account`, the organisation's
    management account (refused when none is configured). Imports append through `record`.
    """

    store: EventStore

    def __init__(
        self, store: EventStore, *, quotas: cmd.Quotas | None = None, enforcing: bool = False,
        management_account: str | None = None,
    ) -> None:
        self.store = store
        self.quotas = quotas or cmd.Quotas()
        self.enforcing = enforcing
        self.management_account = names.check_account_id(management_account) if management_account else None
        self._work = UnitOfWork(store)

    @classmethod
    def open(
        cls, url: str | None = None, *, quotas: cmd.Quotas | None = None, enforcing: bool = False,
        management_account: str | None = None,
    ) -> Ledger:
        """Open (creating if needed) the ledger at `url`; default `LEDGER_DB` or `sqlite:///ledger.db`."""
        return cls(EventStore(url), quotas=quotas, enforcing=enforcing, management_account=management_account)

    def close(self) -> None:
        read_side = self.__dict__.get("_read_side_instance")
        if read_side is not None:
            read_side.close()
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- the one path of every command

    def account_state(self, account_id: str) -> AccountState:
        """The write-side state of an account, caught up with the store."""
        self._check_account(account_id)
        return self._work.account_state(account_id)

    def _authorizer(self, command: str, envelope: Envelope) -> Authorize | None:
        """In enforcing mode every command is authorised before it is appended, whatever its
        `source` says: imports come in through `record`, never by a parameter."""
        if not self.enforcing:
            return None
        return lambda events: self._enforce(command, events)

    def _enforce(self, command: str, events: Sequence[ev.LedgerEvent]) -> None:
        """Authorise the actor for each permission the command needs, against the state it will
        change (now), and for `ledger:Backfill` first when its `at` is not now; a refusal records
        only the `CommandDenied` fact and raises."""
        target = events[0]
        actor = target.actor or default_actor(target.account_id)
        now = datetime.now(UTC)
        needed = required_permissions(
            command, events, now=now, target=lambda resource: target_in(self.account_state, resource),
            management_account=self.management_account,
        )
        late = backfill(target, now) if needed else None
        for permission in [late, *needed] if late else needed:
            reason = partition_refusal(actor)
            if reason is None and command in ORGANIZATIONS and self.management_account is None:
                reason = "no Organizations management account is configured (Ledger.open(management_account=...))"
            if reason is None:
                decision = self.can(actor, permission.action, permission.resource, context=dict(permission.context))
                reason = None if decision.allowed else decision.eval_decision
            if reason is not None:
                self.record([denial(target, actor, permission, reason, now)])
                log.warning("command_denied", command=command, actor=actor, action=permission.action,
                            resource=permission.resource)
                raise access_denied(actor, permission, reason)

    # ---------------------------------------------------------------- accounts

    def create_account(self, account_id: str, name: str | None = None, **meta: Any) -> Events:
        """Record a new AWS account (with its root user)."""
        return self._one("create_account", account_id, meta, cmd.create_account, name or account_id)

    def attach_scp(self, account_id: str, scp_id: str, document: Any, level: int = 0, **meta: Any) -> Events:
        return self._one("attach_scp", account_id, meta, cmd.attach_scp, scp_id, document, level)

    def detach_scp(self, account_id: str, scp_id: str, **meta: Any) -> Events:
        return self._one("detach_scp", account_id, meta, cmd.detach_scp, scp_id)

    # ---------------------------------------------------------------- users and credentials

    def create_user(self, account_id: str, name: str, path: str = "/", **meta: Any) -> Events:
        return self._one("create_user", account_id, meta, cmd.create_user, name, path, names.new_unique_id("AIDA"))

    def delete_user(self, account_id: str, name: str, **meta: Any) -> Events:
        return self._one("delete_user", account_id, meta, cmd.delete_user, name)

    def set_login_profile(
        self, account_id: str, user: str, password: str, reset_required: bool = False, **meta: Any
    ) -> Events:
        """Set a console password; only the fact is recorded, never the password."""
        return self._one("set_login_profile", account_id, meta, cmd.set_login_profile, user, password, reset_required)

    def remove_login_profile(self, account_id: str, user: str, **meta: Any) -> Events:
        return self._one("remove_login_profile", account_id, meta, cmd.remove_login_profile, user)

    def create_access_key(self, account_id: str, user: str, **meta: Any) -> AccessKey:
        """Issue an access key; the secret is returned once and never stored or logged."""
        key_id = names.new_access_key_id()
        events = self._one("create_access_key", account_id, meta, cmd.create_access_key, user, key_id, self.quotas)
        return AccessKey(events, key_id if events else "", names.new_secret_access_key() if events else "")

    def _change_key(self, change: cmd.KeyChange, account_id: str, user: str, key_id: str, meta: Meta) -> Events:
        return self._one(f"{change}_access_key", account_id, meta, cmd.change_access_key, user, key_id, change)

    def deactivate_access_key(self, account_id: str, user: str, access_key_id: str, **meta: Any) -> Events:
        return self._change_key("deactivate", account_id, user, access_key_id, meta)

    def activate_access_key(self, account_id: str, user: str, access_key_id: str, **meta: Any) -> Events:
        return self._change_key("activate", account_id, user, access_key_id, meta)

    def delete_access_key(self, account_id: str, user: str, access_key_id: str, **meta: Any) -> Events:
        return self._change_key("delete", account_id, user, access_key_id, meta)

    def tag_user(self, account_id: str, user: str, tags: dict[str, str], **meta: Any) -> Events:
        return self._one("tag_user", account_id, meta, cmd.tag_principal, "user", user, tags)

    def tag_role(self, account_id: str, role: str, tags: dict[str, str], **meta: Any) -> Events:
        return self._one("tag_role", account_id, meta, cmd.tag_principal, "role", role, tags)

    # ---------------------------------------------------------------- groups

    def create_group(self, account_id: str, name: str, path: str = "/", **meta: Any) -> Events:
        return self._one("create_group", account_id, meta, cmd.create_group, name, path, names.new_unique_id("AGPA"))

    def delete_group(self, account_id: str, name: str, **meta: Any) -> Events:
        return self._one("delete_group", account_id, meta, cmd.delete_group, name)

    def add_user_to_group(self, account_id: str, user: str, group: str, **meta: Any) -> Events:
        return self._one("add_user_to_group", account_id, meta, cmd.add_user_to_group, user, group, self.quotas)

    def remove_user_from_group(self, account_id: str, user: str, group: str, **meta: Any) -> Events:
        return self._one("remove_user_from_group", account_id, meta, cmd.remove_user_from_group, user, group)

    # ---------------------------------------------------------------- roles and identity providers

    def create_role(
        self,
        account_id: str,
        name: str,
        trust_policy: Any,
        path: str = "/",
        max_session_duration: int = 3600,
        description: str | None = None,
        **meta: Any,
    ) -> Events:
        role_id = names.new_unique_id("AROA")
        return self._one(
            "create_role", account_id, meta,
            cmd.create_role, name, trust_policy, path, max_session_duration, description, role_id, self.quotas,
        )

    def delete_role(self, account_id: str, name: str, **meta: Any) -> Events:
        return self._one("delete_role", account_id, meta, cmd.delete_role, name)

    def update_assume_role_policy(self, account_id: str, role: str, trust_policy: Any, **meta: Any) -> Events:
        return self._one("update_assume_role_policy", account_id, meta, cmd.update_trust_policy, role, trust_policy)

    def create_saml_provider(self, account_id: str, name: str, **meta: Any) -> Events:
        return self._one("create_saml_provider", account_id, meta, cmd.create_identity_provider, "SAML", name, ())

    def create_oidc_provider(self, account_id: str, url: str, client_ids: Sequence[str] = (), **meta: Any) -> Events:
        return self._one(
            "create_oidc_provider", account_id, meta, cmd.create_identity_provider, "OIDC", url, tuple(client_ids)
        )

    def delete_identity_provider(self, account_id: str, provider_arn: str, **meta: Any) -> Events:
        return self._one("delete_identity_provider", account_id, meta, cmd.delete_identity_provider, provider_arn)

    # ---------------------------------------------------------------- buckets

    def bucket_owner(self, bucket: str) -> str:
        owner = self._work.bucket_owners().get(bucket)
        if owner is None:
            raise NotFoundError(f"bucket {bucket!r} does not exist", entity=bucket)
        return owner

    def create_bucket(
        self, account_id: str, name: str, region: str = "us-east-1", object_ownership: str = "BucketOwnerEnforced",
        **meta: Any,
    ) -> Events:
        """Create an S3 bucket; since April 2023 new buckets default to BucketOwnerEnforced."""

        def create(state: AccountState) -> list[cmd.Draft]:  # the global name index is re-read on each retry
            return cmd.create_bucket(state, name, region, object_ownership, name in self._work.bucket_owners())

        return self._one("create_bucket", account_id, meta, create)

    def delete_bucket(self, account_id: str, name: str, **meta: Any) -> Events:
        return self._one("delete_bucket", account_id, meta, cmd.delete_bucket, name)

    def put_bucket_policy(self, bucket: str, document: Any, **meta: Any) -> Events:
        return self._one("put_bucket_policy", self.bucket_owner(bucket), meta, cmd.put_bucket_policy, bucket, document)

    def delete_bucket_policy(self, bucket: str, **meta: Any) -> Events:
        return self._one("delete_bucket_policy", self.bucket_owner(bucket), meta, cmd.delete_bucket_policy, bucket)

    def put_bucket_ownership_controls(self, bucket: str, object_ownership: str, **meta: Any) -> Events:
        owner = self.bucket_owner(bucket)
        return self._one("put_bucket_ownership_controls", owner, meta, cmd.change_ownership, bucket, object_ownership)

    # ---------------------------------------------------------------- sessions

    def _resolve_caller(self, caller_arn: str) -> cmd.Caller:
        if cmd.is_service_principal(caller_arn):
            return cmd.SERVICE_CALLER
        return cmd.resolve_caller(self.account_state(names.parse_ledger_arn(caller_arn).account), caller_arn)

    def _new_session(self, meta: Meta) -> cmd.NewSession:
        return cmd.NewSession(self._pin_time(meta), names.new_session_suffix(), names.new_access_key_id(temporary=True))

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
    ) -> Events:
        """Issue a role session to `caller_arn` (a user, a session for chaining, a service principal,
        or a federated identity through `provider_arn`). Trust is enforced in enforcing mode."""
        request = cmd.role_session_request(
            caller_arn, role_arn, session_name, duration_seconds, session_policy, source_identity, via, provider_arn
        )
        caller = cmd.Caller(request.role.account) if request.federated else self._resolve_caller(caller_arn)
        new = self._new_session(meta)
        meta.setdefault("actor", caller_arn)
        account = request.role.account
        return self._run(
            "assume_role",
            [account],
            lambda states: {account: cmd.assume_role(states[account], request, caller, new, self.quotas)},
            meta,
        )

    def revoke_role_sessions(self, account_id: str, role: str, **meta: Any) -> Events:
        """Invalidate every session of the role issued before now (or `at`)."""
        revoked_before = self._pin_time(meta)
        return self._one("revoke_role_sessions", account_id, meta, cmd.revoke_role_sessions, role, revoked_before)

    def get_federation_token(
        self, account_id: str, user: str, name: str, duration_seconds: int = 43200, session_policy: Any = None,
        **meta: Any,
    ) -> Events:
        request = cmd.federation_request(user, name, duration_seconds, session_policy, self.quotas)
        new = self._new_session(meta)
        return self._one("get_federation_token", account_id, meta, cmd.get_federation_token, request, new)

    # ---------------------------------------------------------------- MediaConvert

    def create_job(
        self, account_id: str, creator_arn: str, role_arn: str, *, outputs: Sequence[str], inputs: Sequence[str] = (),
        queue: str = "Default", region: str = "us-east-1", **meta: Any,
    ) -> Events:
        """Create a MediaConvert job in `account_id`, passing `role_arn` as its service role."""
        self._check_account(account_id)
        creator = self._resolve_caller(creator_arn)
        request = cmd.job_request(account_id, creator_arn, creator, role_arn, inputs, outputs, queue, region)
        meta.setdefault("actor", creator_arn)
        job_id = names.new_job_id(self._pin_time(meta))
        return self._one("create_job", account_id, meta, cmd.create_job, request, job_id)

    def write_output(
        self, job_arn: str, bucket: str, key: str, *, acl: str | None = None, writer_session_arn: str | None = None,
        **meta: Any,
    ) -> Events:
        """Record that a job's service role wrote `key` into `bucket` (possibly another account's)."""
        request = cmd.output_request(job_arn, bucket, key, acl, writer_session_arn)
        bucket_account = self.bucket_owner(bucket)
        writer = cmd.resolve_writer(self.account_state(request.job.account), request)
        meta.setdefault("actor", writer.arn)
        return self._run(
            "write_output",
            [bucket_account],
            lambda states: {bucket_account: cmd.write_output(states[bucket_account], request, writer)},
            meta,
        )

    # ---------------------------------------------------------------- observed facts and reading

    def record(self, events: Sequence[ev.LedgerEvent], source_keys: Sequence[str] = ()) -> list[int]:
        """Append already-built facts (imports) atomically, each at the next version of its
        account's stream (the events' own stream fields are ignored); returns their positions.

        Every fact with a `source_id` registers its source key `"{source}:{source_id}"` in the
        same transaction; `source_keys` registers further ones (e.g. a CloudTrail sharedEventID).
        A batch holding an already-recorded key raises `DuplicateSourceError` and writes nothing.
        """
        return self._work.record(events, source_keys)

    def events(self, after: int = 0, upto: int | None = None) -> Iterable[ev.LedgerEvent]:
        """Every recorded event in log order."""
        return self.store.iter_log(after=after, upto=upto)

    def history(self, entity: str) -> list[ev.LedgerEvent]:
        """Every event that touched `entity` (an ARN, a unique id, an access key id or an account id)."""
        wanted = {entity, f"account:{entity}"} if names.is_account_id(entity) else {entity}
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

    def report(self, resource: str, actions: Sequence[str] = (), start: datetime | str | None = None,
               end: datetime | str | None = None, *, verify: bool = True) -> dict[str, Any]:
        """Who could act on `resource` over [start, end), how, what changed it, the objects written
        into it and who owns them, with provenance (see `ledger.application.reporting`). JSON-ready."""
        from ledger.application.reporting import build_report

        return build_report(self, resource, actions, start, end, verify=verify)

    def prove_decision(self, answer: Any, checkpoint: Any = None) -> dict[str, Any]:
        """Inclusion proofs of every event an answer cites (a `can` decision or a `who_can`
        result: each matched statement's origin, memberships included), against `checkpoint`
        (a `ledger.integrity.Checkpoint`; default the newest kept in the store, else the
        current log, which vouches for nothing on its own). JSON-ready."""
        from ledger.application.proofs import prove_answer
        from ledger.application.trust import stored_checkpoints

        source = "given"
        if checkpoint is None:
            source = "store"
            kept = stored_checkpoints(self.store) if self.store.url.sqlite_path != ":memory:" else []
            checkpoint = max(kept, key=lambda cp: cp.tree_size, default=None)
        return prove_answer(self.store, answer.to_dict(), checkpoint, source)

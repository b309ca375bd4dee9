"""The write side's unit of work: per-account state caught up with the store, the envelope every
event is stamped with, atomic appends retried on concurrent writers, the global bucket index and
its name claims, and `CommandPath`, the one path every `Ledger` command takes through them.

It decides nothing: handlers decide what to record and the facade authorises; a command that
raises (or is refused) leaves the log exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, get_args

from ledger import timeaxis
from ledger.adapters.logging import get_logger
from ledger.adapters.store import EventStore
from ledger.domain import events as ev
from ledger.domain.handlers import AWS_ACCOUNT, Draft, Quotas
from ledger.domain.names import check_account_id, root_arn
from ledger.domain.state import STATELESS_EVENTS, AccountState, apply
from ledger.errors import ConcurrencyError, DuplicateSourceError, ValidationError

log = get_logger("ledger")

RETRIES = 5
P = ParamSpec("P")
Events = list[ev.LedgerEvent]
Drafts = dict[str, list[Draft]]  # account -> the drafts for its stream
Decide = Callable[[dict[str, AccountState]], Drafts]
OnAccount = Callable[Concatenate[AccountState, P], list[Draft]]
Authorize = Callable[[Sequence[ev.LedgerEvent]], None]
_BUCKET_TOPICS = ("BucketCreated", "BucketDeleted")


def default_actor(account: str) -> str:
    """Who acts when a command names no actor: the account's root user (AWS for its own)."""
    return "aws" if account == AWS_ACCOUNT else root_arn(account)


@dataclass(frozen=True)
class Envelope:
    """When, by whom and from where a command's events come (the fields every event carries)."""

    occurred_at: datetime
    actor: str | None = None
    source: ev.Source = "api"
    source_id: str | None = None

    @classmethod
    def of(
        cls,
        at: datetime | str | None = None,
        actor: str | None = None,
        source: ev.Source = "api",
        source_id: str | None = None,
    ) -> Envelope:
        """The envelope of a command's keyword arguments; `at` is valid time (default now)."""
        occurred_at = timeaxis.instant(at)
        assert occurred_at is not None
        if source not in get_args(ev.Source):
            raise ValidationError(f"source must be one of {', '.join(get_args(ev.Source))}", value=str(source)[:40])
        if actor is not None and not isinstance(actor, str):
            raise ValidationError("actor must be a string (an ARN)")
        if source_id is not None and not isinstance(source_id, str):
            raise ValidationError("source_id must be a string")
        return cls(occurred_at, actor, source, source_id)

    @property
    def source_keys(self) -> list[str]:
        return [f"{self.source}:{self.source_id}"] if self.source_id else []


class UnitOfWork:
    """Reads account state, stamps drafts into events and appends them in one transaction."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._states: dict[str, AccountState] = {}
        self._bucket_index: dict[str, str] = {}
        self._bucket_generation: dict[str, int] = {}  # name -> BucketCreated events recorded for it
        self._buckets_seen = 0

    def account_state(self, account_id: str) -> AccountState:
        """The write-side state of an account, caught up with the store."""
        state = self._states.get(account_id)
        if state is None:
            state = AccountState(account_id)
            self._states[account_id] = state
        for event in self.store.read_stream(ev.account_stream_id(account_id), state.version):
            state.fold(event)
        return state

    def bucket_owners(self) -> dict[str, str]:
        """Bucket name -> owning account (bucket names are global), caught up incrementally:
        only bucket events recorded since the last call are read."""
        upto = self.store.max_position()
        for event in self.store.iter_log(after=self._buckets_seen, upto=upto, topics=_BUCKET_TOPICS):
            if isinstance(event, ev.BucketCreated):
                self._bucket_index[event.bucket_name] = event.account_id
                self._bucket_generation[event.bucket_name] = self._bucket_generation.get(event.bucket_name, 0) + 1
            elif isinstance(event, ev.BucketDeleted):
                self._bucket_index.pop(event.bucket_name, None)
        self._buckets_seen = max(self._buckets_seen, upto)
        return self._bucket_index

    def name_claims(self, events: Sequence[ev.LedgerEvent]) -> list[str]:
        """The unique keys a command's events claim, stored with them in one transaction like
        source keys: a bucket name's Nth creation claims `bucket-name:NAME#N`, so of several
        writers creating one name from the same view of the log, exactly one commits."""
        claims = []
        for event in events:
            if isinstance(event, ev.BucketCreated):
                generation = self._bucket_generation.get(event.bucket_name, 0)
                claims.append(f"bucket-name:{event.bucket_name}#{generation}")
        return claims

    def execute(
        self,
        command: str,
        accounts: Sequence[str],
        decide: Decide,
        envelope: Envelope,
        authorize: Authorize | None = None,
    ) -> list[ev.LedgerEvent]:
        """Load the accounts' state, `decide`, stamp, `authorize` and append atomically; retried
        from fresh state when another writer got there first. A known source id records nothing."""
        source_keys = envelope.source_keys
        if source_keys and self.store.existing_source_keys(source_keys):
            log.info("duplicate_source_ignored", command=command, source=envelope.source, source_id=envelope.source_id)
            return []
        for attempt in range(RETRIES):
            states = {account: self.account_state(account) for account in dict.fromkeys(accounts)}
            events = self.stamp(decide(states), envelope)
            if not events:
                return []
            if authorize is not None:
                authorize(events)
            try:
                recorded = self.store.append(events, [*source_keys, *self.name_claims(events)])
            except ConcurrencyError:
                log.info("concurrent_write_retry", command=command, attempt=attempt + 1)
                continue
            except DuplicateSourceError:
                if not source_keys or not self.store.existing_source_keys(source_keys):
                    # A name another writer claimed first: decide again from its view (the
                    # handler then refuses the name with its typed error).
                    log.info("name_claimed_first_retry", command=command, attempt=attempt + 1)
                    continue
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
        raise ConcurrencyError(f"{command}: gave up after {RETRIES} concurrent modifications; nothing was written")

    def stamp(self, drafts: Drafts, envelope: Envelope) -> list[ev.LedgerEvent]:
        """The drafts as events at the next versions of their accounts' streams."""
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
                        occurred_at=envelope.occurred_at,
                        recorded_at=now,
                        actor=envelope.actor or default_actor(account),
                        source=envelope.source,
                        source_id=envelope.source_id,
                        account_id=account,
                        **fields,
                    )
                )
        return events

    def record(self, events: Sequence[ev.LedgerEvent], source_keys: Sequence[str] = ()) -> list[int]:
        """Append already-built facts atomically, each at the next version of its account's
        stream, registering every source key; returns their positions (see `Ledger.record`)."""
        keys = list(dict.fromkeys([*(f"{e.source}:{e.source_id}" for e in events if e.source_id), *source_keys]))
        for _ in range(RETRIES):
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


class CommandPath:
    """The one path of every `Ledger` command: its keyword arguments (`at`, `actor`, `source`,
    `source_id`) become the envelope; the unit of work loads state, lets the handler decide,
    stamps, authorises and appends. Subclasses supply the authorisation through `_authorizer`."""

    quotas: Quotas
    _work: UnitOfWork

    def _authorizer(self, command: str, envelope: Envelope) -> Authorize | None:
        """What checks the stamped events before they are appended; nothing by default."""
        return None

    def _run(self, command: str, accounts: Sequence[str], decide: Decide, meta: dict[str, Any]) -> Events:
        envelope = Envelope.of(**meta)
        return self._work.execute(command, accounts, decide, envelope, self._authorizer(command, envelope))

    def _one(
        self, command: str, account: str, meta: dict[str, Any], handler: OnAccount[P], *args: P.args, **kwargs: P.kwargs
    ) -> Events:
        """A command on one account, decided by `handler(state, *args, **kwargs)`."""
        self._check_account(account)
        return self._run(command, [account], lambda states: {account: handler(states[account], *args, **kwargs)}, meta)

    @staticmethod
    def _check_account(account: str) -> None:
        if account != AWS_ACCOUNT:
            check_account_id(account)

    @staticmethod
    def _pin_time(meta: dict[str, Any]) -> datetime:
        """Parse the command's `at` once (now if absent), so its payload and envelope agree."""
        at = Envelope.of(meta.get("at")).occurred_at
        meta["at"] = at
        return at

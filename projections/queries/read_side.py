"""The audit read side: keeps the temporal projection caught up and answers point-in-time queries.

A coordinator over the projector, the SQL facts and one module per question; never writes events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ledger.catalog import diagnose_request
from ledger.errors import LedgerError, ValidationError
from ledger.gc_pause import collector_paused
from ledger.policy import PrincipalKind, principal_from_arn
from projections.assemble import AuditDecision, combine_audit, decide, owner_account
from projections.memory import MemoryFacts
from projections.queries import history, ownership, timeresolve, what_can, who_can
from projections.results import (
    AsOf,
    DiffResult,
    JobAnswer,
    LineageResult,
    OwnerResult,
    TimelineResult,
    WhatCanResult,
    WhoCanResult,
)
from projections.runner import ProjectionProgress, Projector
from projections.sql import SqlFacts, make_engine, upgrade
from projections.sql_keyframes import KeyframeSource
from projections.sql_read import caller_bundle, live_facts, next_change
from projections.view import Snapshot

Time = datetime | str | None
# who_can's preload reads only the default version of each managed policy: other versions
# stay point lookups (`Snapshot.managed` reads exactly the default one).
_NOT_PRELOADED = frozenset({"pver"})


class ReadSide:
    """Temporal projection in the store's own database, plus the queries over it."""

    def __init__(self, store: Any, *, batch: int = 2000, gap_grace: float = 0.0) -> None:
        self.store = store
        self.engine = make_engine(store.url.sqlalchemy_url(), store.url.schema)
        upgrade(self.engine)
        self.facts = SqlFacts(self.engine)
        self.projector = Projector(store, self.facts, batch=batch, gap_grace=gap_grace)
        self._snapshots = timeresolve.Snapshots(self.facts, lambda us: next_change(self.engine, us), self._replay)
        self._seen: int | None = None  # projection position last seen caught up with the log
        # The in-memory keyframe index (`projections.keyframes`): who_can builds it on first use
        # and reads every caller's facts at T from it; can() reads from it once it exists.
        # False keeps the plain SQL reads (the reference the tests and benchmarks compare with).
        self.use_keyframes = True
        self.keyframes = KeyframeSource(self.engine, self.facts)
        # who_can queries answered from SQL before the index is built: a one-shot CLI call
        # should not pay for building it (seconds at 1M events); a long-lived process does once.
        self.keyframes_after = 1
        self._plain_who_can = 0

    def close(self) -> None:
        self.engine.dispose()

    # -- projection ------------------------------------------------------------------------

    def catch_up(self, progress: ProjectionProgress | None = None) -> int:
        return self.projector.catch_up(progress)

    def rebuild(self, progress: ProjectionProgress | None = None) -> int:
        self._snapshots.forget_projection()
        self.keyframes.forget()
        self._seen = None
        return self.projector.rebuild(progress)

    def position(self) -> int:
        return self.projector.position()

    def _caught_up(self) -> int:
        """Catch up only when the log is ahead (a catch-up takes the projection's write lock);
        returns the projection position the answer is read at."""
        top = self.store.max_position()
        if self._seen is not None and top <= self._seen:
            return self._seen  # nothing recorded since: the projection cannot have moved
        position = self.position()
        if top > position:
            self.catch_up()
            position = self.position()
        self._seen = position
        return position

    def _replay(self, position: int) -> MemoryFacts:
        return MemoryFacts.replay(self.store.iter_log(upto=position, batch=5000))

    # -- time --------------------------------------------------------------------------------

    def event_at(self, position: int) -> Any:
        return timeresolve.event_at(self.store, position)

    def resolve_time(self, at: Time) -> tuple[int, AsOf]:
        """`at` → (valid time in µs, as_of description): see `timeresolve.resolve_time`."""
        return timeresolve.resolve_time(at, self.event_at)

    def _micros(self, at: datetime | str) -> int:
        return self.resolve_time(at)[0]

    def snapshot(self, at: Time = None, known_at: str | int | None = None,
                 *, catch_up: bool = True) -> tuple[Snapshot, AsOf]:
        """The state at valid time `at`, as recorded by `known_at` (default: everything)."""
        position = self._caught_up() if catch_up else None
        us, as_of = self.resolve_time(at)
        if known_at is not None:
            pos = timeresolve.known_position(known_at)
            return self._snapshots.known(us, pos), dict(as_of, known_at=f"@{pos}")
        if position is None:
            position = self.position()
        as_of = dict(as_of, position=position)
        if at is None:
            return self._snapshots.current(us, position), as_of
        return self._snapshots.past(us, position), as_of

    # -- can ---------------------------------------------------------------------------------

    def can(self, principal: str, action: str, resource: str | Sequence[str],
            context: dict[str, Any] | None = None, at: Time = None, known_at: str | int | None = None,
            unknown_context: bool = False, *, resource_owner: str | None = None) -> AuditDecision:
        """The decision at T; with several resources (AWS's ResourceArns), one decision per resource
        and their aggregate. `resource_owner` (AWS's ResourceOwner) owns buckets the ledger never saw."""
        owner = owner_account(resource_owner)
        resources = [resource] if isinstance(resource, str) else list(resource)
        if not resources or not all(isinstance(r, str) for r in resources):
            raise ValidationError("give one resource ARN, or a list of them")
        snap, as_of = self.snapshot(at, known_at)
        indexed = known_at is None and self._indexed(snap, build=False)
        if indexed:
            snap = indexed
        with collector_paused():
            answers = []
            for one in resources:
                if known_at is None and not indexed:
                    self._prefetch(snap, principal, action, one)
                d = decide(snap, principal, action, one, context, unknown_context=unknown_context,
                           as_of=as_of, resource_owner=owner)
                d = who_can.explain_root_assume(snap, d, principal, action, one)
                d.notes += [n for n in diagnose_request(action, one) if n not in d.notes]  # typos: nearest form
                answers.append(d)
        return answers[0] if isinstance(resource, str) else combine_audit(answers, principal, as_of)

    def _prefetch(self, snap: Snapshot, principal: str, action: str, resource: str) -> None:
        """Everything `build_inputs` reads for a user, role or root caller, in one statement."""
        try:
            rp = principal_from_arn(principal)
        except LedgerError:
            return
        if rp.kind in (PrincipalKind.USER, PrincipalKind.ROLE):
            caller: str | None = rp.arn
        elif rp.kind is PrincipalKind.ROOT:
            caller = None
        else:
            return  # sessions: the point lookups of `Snapshot` (memoised) do
        parts = resource.split(":", 5)
        bucket = role = None
        if len(parts) == 6 and parts[0] == "arn":
            if parts[2] == "s3":
                bucket = parts[5].split("/", 1)[0]
            elif parts[2] == "iam" and parts[5].startswith("role/") and action.lower().startswith("sts:"):
                role = resource
        bundle = caller_bundle(self.engine, snap.at_us, caller, rp.account or None, bucket, role)
        snap.prefill(bundle.facts, bundle.subjects, bundle.refs, bundle.triples)

    def _indexed(self, snap: Snapshot, *, build: bool) -> Snapshot | None:
        """`snap` read from the keyframe index (brought to the projection's position), once
        per snapshot; None when keyframes are off, or not built yet and `build` is False or
        fewer than `keyframes_after` who_can queries went before."""
        if not self.use_keyframes or (not build and self.keyframes.index is None):
            return None
        if self.keyframes.index is None and self._plain_who_can < self.keyframes_after:
            self._plain_who_can += 1
            return None
        index = self.keyframes.current(snap.position)
        if build:  # who_can: its own snapshot, so its memo (thousands of objects) dies with it
            return Snapshot(index, snap.at_us, snap.position)
        hit = snap.memo.get(("keyframed", index.position))
        if hit is None:
            hit = snap.memo[("keyframed", index.position)] = Snapshot(index, snap.at_us, snap.position)
        return hit

    def authorize(self, actor_arn: str, action: str, resource: str,
                  context: dict[str, Any] | None = None) -> AuditDecision:
        """Enforcing mode: the decision for `actor_arn` against the state as of now."""
        return self.can(actor_arn, action, resource, context)

    # -- the other questions, one module each ------------------------------------------------

    def who_can(self, action: str, resource: str, at: Time = None, paths: bool = False, max_depth: int = 3,
                context: dict[str, Any] | None = None, known_at: str | int | None = None, *,
                prune: bool = True, resource_owner: str | None = None) -> WhoCanResult:
        """Every caller allowed at T. With `prune`, only candidates are evaluated: account roots,
        callers the resource-based policy names, and callers whose identity policies have an
        Allow for the action (anyone else is provably implicitDeny); `prune=False` evaluates
        every caller (the reference the tests compare against)."""
        owner = owner_account(resource_owner)
        snap, as_of = self.snapshot(at, known_at)
        with collector_paused():
            # The query's own snapshot is made and dropped inside `_who_can`, so it is freed
            # before the collector runs again rather than traversed by its first pass.
            return self._who_can(snap, as_of, known_at is None, action, resource, paths, max_depth,
                                 context, prune, owner)

    def _who_can(self, snap: Snapshot, as_of: AsOf, plain: bool, action: str, resource: str, paths: bool,
                 max_depth: int, context: dict[str, Any] | None, prune: bool, owner: str | None) -> WhoCanResult:
        indexed = plain and self._indexed(snap, build=True)
        if indexed:
            snap = indexed
        elif plain:  # every caller's facts at T, in one statement
            state = live_facts(self.engine, self.facts.token, snap.at_us)
            snap = Snapshot(snap.source, snap.at_us, snap.position).preload(state, _NOT_PRELOADED)
        return who_can.who_can(snap, as_of, action, resource, paths=paths, max_depth=max_depth,
                               context=context, prune=prune, resource_owner=owner)

    def what_can(self, principal: str, at: Time = None, known_at: str | int | None = None) -> WhatCanResult:
        return what_can.what_can(*self.snapshot(at, known_at), principal)

    def timeline(self, principal: str, action: str, resource: str, start: Time = None, end: Time = None,
                 context: dict[str, Any] | None = None, known_at: str | int | None = None) -> TimelineResult:
        snap, as_of = self.snapshot(None, known_at)
        return history.timeline(snap.source, as_of, self._micros, principal, action, resource, start, end, context,
                                now_us=snap.at_us)

    def universe(self, times: Iterable[int], source: Any = None) -> tuple[list[str], list[tuple[str, str]]]:
        return history.universe(source or self.facts, times)

    def diff(self, t1: datetime | str, t2: datetime | str, principals: Iterable[str] | None = None,
             pairs: Iterable[tuple[str, str]] | None = None, known_at: str | int | None = None) -> DiffResult:
        snap, as_of = self.snapshot(t1, known_at)
        return history.diff(snap.source, as_of, self._micros, t1, t2, principals, pairs, self.event_at)

    def owner_of(self, resource: str, at: Time = None, known_at: str | int | None = None) -> OwnerResult:
        return ownership.owner_of(*self.snapshot(at, known_at), resource)

    def lineage(self, object_arn: str, at: Time = None, known_at: str | int | None = None) -> LineageResult | JobAnswer:
        """An object's lineage, or a MediaConvert job's (its outputs, creator, role and session)."""
        if ownership.is_job_arn(object_arn):
            return ownership.job_lineage(*self.snapshot(at, known_at), object_arn,
                                         lambda: self.owner_of(object_arn, at, known_at))
        return ownership.lineage(*self.snapshot(at, known_at), object_arn,
                                 lambda: self.owner_of(object_arn, at, known_at))

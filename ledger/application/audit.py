"""Read-side audit queries mixed into `Ledger`: point-in-time `can`, `who_can`, `timeline`,
ownership, lineage. They only read: they never append to the log nor touch write-side state.

The read side (temporal projection tables, migrated by Alembic) is created lazily on first use;
on every query it first catches up with the log, so a caller always reads its own writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from projections.assemble import AuditDecision
    from projections.queries import ReadSide
    from projections.results import (
        DiffResult,
        JobAnswer,
        LineageResult,
        OwnerResult,
        TimelineResult,
        WhatCanResult,
        WhoCanResult,
    )
    from projections.runner import ProjectionProgress

Time = datetime | str | None


def _no_nul(*texts: object) -> None:
    """A NUL or a lone surrogate names nothing a query can look up (the projection stores no fact
    whose key holds one; neither PostgreSQL text nor UTF-8 can hold them): a typed error rather
    than the driver's."""
    from ledger.errors import ValidationError

    for text in texts:
        if not isinstance(text, str):
            continue
        if "\x00" in text:
            raise ValidationError("a query argument holds NUL, which no recorded principal, action or resource "
                                  "name can be looked up by")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("a query argument is not valid Unicode text (it holds a lone surrogate)") from None


class AuditQueries:
    """Point-in-time audit queries; `at` is valid time (datetime, ISO-8601 or "@POSITION" = the
    occurred_at of that event), `known_at="@P"` restricts to what was recorded by position P."""

    store: Any
    _read_side_instance: ReadSide | None = None

    def read_side(self) -> ReadSide:
        """The lazily created read side (migrates its tables on first use)."""
        rs = self.__dict__.get("_read_side_instance")
        if rs is None:
            from projections.queries import ReadSide

            rs = ReadSide(self.store)
            self.__dict__["_read_side_instance"] = rs
        return rs

    def can(self, principal: str, action: str, resource: str | Sequence[str], context: dict[str, Any] | None = None,
            at: Time = None, known_at: str | int | None = None, *,
            resource_owner: str | None = None) -> AuditDecision:
        """Could `principal` perform `action` on `resource` at `at`? The engine's decision with
        MatchedStatements whose Origin names the events that put each policy in place. Several
        resources (AWS's ResourceArns) give one result per resource and their aggregate;
        `resource_owner` (AWS's ResourceOwner) owns the buckets the ledger never recorded."""
        _no_nul(principal, action, *([resource] if isinstance(resource, str) else resource))
        return self.read_side().can(principal, action, resource, context, at, known_at,
                                    resource_owner=resource_owner)

    def authorize(self, actor_arn: str, action: str, resource: str,
                  context: dict[str, Any] | None = None) -> AuditDecision:
        """Enforcing mode: decide for the actor against the state as of now (after catching up)."""
        _no_nul(actor_arn, action, resource)
        return self.read_side().authorize(actor_arn, action, resource, context)

    def who_can(self, action: str, resource: str, at: Time = None, paths: bool = False,
                max_depth: int = 3, context: dict[str, Any] | None = None,
                known_at: str | int | None = None, *, resource_owner: str | None = None) -> WhoCanResult:
        """Every user, role and account root allowed (conditional ones with missing keys);
        with `paths`, also those reaching it through role chains or PassRole to MediaConvert."""
        _no_nul(action, resource)
        return self.read_side().who_can(action, resource, at, paths, max_depth, context, known_at,
                                        resource_owner=resource_owner)

    def what_can(self, principal: str, at: Time = None, known_at: str | int | None = None) -> WhatCanResult:
        _no_nul(principal)
        return self.read_side().what_can(principal, at, known_at)

    def timeline(self, principal: str, action: str, resource: str, start: Time = None, end: Time = None,
                 context: dict[str, Any] | None = None, known_at: str | int | None = None) -> TimelineResult:
        _no_nul(principal, action, resource)
        return self.read_side().timeline(principal, action, resource, start, end, context, known_at)

    def diff(self, t1: datetime | str, t2: datetime | str, principals: Any = None, pairs: Any = None,
             known_at: str | int | None = None) -> DiffResult:
        principals = list(principals) if principals is not None else None
        pairs = [tuple(pair) for pair in pairs] if pairs is not None else None
        _no_nul(*(principals or ()), *(text for pair in pairs or () for text in pair))
        return self.read_side().diff(t1, t2, principals, pairs, known_at)

    def owner_of(self, resource: str, at: Time = None, known_at: str | int | None = None) -> OwnerResult:
        _no_nul(resource)
        return self.read_side().owner_of(resource, at, known_at)

    def lineage(self, object_arn: str, at: Time = None,
                known_at: str | int | None = None) -> LineageResult | JobAnswer:
        """An output object's lineage (job → creator → role → session → object → owner), or, given a
        MediaConvert job ARN, the job's (its outputs, creator, role, session); a non-ARN is an error."""
        _no_nul(object_arn)
        return self.read_side().lineage(object_arn, at, known_at)

    def project(self, progress: ProjectionProgress | None = None) -> int:
        """Catch the read side up with the log; returns the number of events folded."""
        return self.read_side().catch_up(progress)

    def rebuild(self, progress: ProjectionProgress | None = None) -> int:
        """Drop and rebuild the read side from the whole log."""
        return self.read_side().rebuild(progress)

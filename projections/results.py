"""The typed answers of the audit queries: frozen dataclasses whose `to_dict()` is the JSON shape.

Imports only the standard library (the CLI and library users hold them); never computes an answer.

Read fields as attributes (`result.principals[0].path`): that is the typed way, checked by mypy.
For code written when the answers were dicts, `result["principals"]`, `result.get(...)` and
`"job" in result` read the same values `to_dict()` holds (plain lists and dicts).
"""

from __future__ import annotations

from collections.abc import Iterable, KeysView
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.policy import MatchedStatement

# Where a fact came from: {"position", "event_type", "occurred_at"} and, for policies, more.
Origin = dict[str, Any]
# When an answer is as of: {"valid_time", "at", ...} plus "position" or "known_at".
AsOf = dict[str, Any]


def _statements(matched: Iterable[MatchedStatement]) -> list[dict[str, Any]]:
    return [m.to_dict() for m in matched]


class _ByKey:
    """Mapping-style reads by JSON key, each answered from `to_dict()`."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def keys(self) -> KeysView[str]:
        return self.to_dict().keys()


# -- who_can ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PathStep(_ByKey):
    """One request on the way to the target: who asked for what, and the statements that allowed it.
    `conditional` is set only on the steps a path adds before the target (PassRole, AssumeRole)."""

    principal: str
    action: str
    resource: str
    eval_decision: str
    via: tuple[MatchedStatement, ...]
    conditional: bool | None = None
    # Context keys the path itself supplies for this request (e.g. iam:PassedToService), on top of
    # the query's own context: replaying the step with them gives the same decision.
    context: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"principal": self.principal, "action": self.action, "resource": self.resource,
                               "EvalDecision": self.eval_decision, "via": _statements(self.via)}
        if self.conditional is not None:
            out["conditional"] = self.conditional
        if self.context:
            out["context"] = dict(self.context)
        return out


@dataclass(frozen=True, slots=True)
class WhoCanEntry(_ByKey):
    """A caller allowed at T, directly (`path` of one step) or through a role chain or PassRole;
    or, when `delegated`, an account a trust policy names, whose principals need an identity allow.
    A path is no stronger than its weakest step: `conditional` if any step is, with the context
    keys of every step; `unknown_policies` (with `reason`) when the answer rests on policies the
    ledger never saw."""

    principal: str
    eval_decision: str
    conditional: bool
    path: tuple[PathStep, ...]
    missing_context: tuple[str, ...]
    delegated: bool = False
    reason: str | None = None
    unknown_policies: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        path = [step.to_dict() for step in self.path]
        if self.delegated:
            return {"principal": self.principal, "EvalDecision": self.eval_decision,
                    "conditional": self.conditional, "delegated": True,
                    "missing_context": list(self.missing_context), "reason": self.reason, "path": path}
        out: dict[str, Any] = {"principal": self.principal, "EvalDecision": self.eval_decision,
                               "conditional": self.conditional, "path": path,
                               "missing_context": list(self.missing_context)}
        if self.reason is not None:
            out["reason"] = self.reason
        if self.unknown_policies:
            out["unknown_policies"] = list(self.unknown_policies)
        return out


@dataclass(frozen=True, slots=True)
class WhoCanResult(_ByKey):
    """Every caller allowed `action` on `resource` at T; `notes` say what the answer assumed or why
    nobody could be (an unseen bucket's owner, a resource that does not exist at T)."""

    as_of: AsOf
    action: str
    resource: str
    principals: tuple[WhoCanEntry, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"as_of": self.as_of, "action": self.action, "resource": self.resource,
                               "principals": [p.to_dict() for p in self.principals]}
        if self.notes:
            out["notes"] = list(self.notes)
        return out


# -- what_can --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EffectiveCheck(_ByKey):
    """One (action, resource) an Allow statement names, decided with everything else in force."""

    action: str
    resource: str
    eval_decision: str
    conditional: bool
    missing_context: tuple[str, ...]
    boundary: dict[str, bool] | None
    organizations: dict[str, bool] | None
    cut_by: tuple[MatchedStatement, ...]  # the denying statements, on an explicitDeny only
    notes: tuple[str, ...] = ()  # what the decision assumed, and the inputs it could not resolve

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "resource": self.resource, "EvalDecision": self.eval_decision,
                               "conditional": self.conditional, "missing_context": list(self.missing_context),
                               "boundary": self.boundary, "organizations": self.organizations,
                               "cut_by": _statements(self.cut_by)}
        if self.notes:
            out["notes"] = list(self.notes)
        return out


@dataclass(frozen=True, slots=True)
class StatementAccess(_ByKey):
    """A statement of the principal's identity policies; an Allow carries its `effective` checks
    (None for a Deny). NotAction / NotResource patterns are listed with that prefix."""

    policy: str
    policy_type: str
    sid: str | None
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    origin: Origin | None
    conditions: bool
    effective: tuple[EffectiveCheck, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"policy": self.policy, "policy_type": self.policy_type, "sid": self.sid,
                               "actions": list(self.actions), "resources": list(self.resources),
                               "origin": self.origin, "conditions": self.conditions}
        if self.effective is not None:
            out["effective"] = [e.to_dict() for e in self.effective]
        return out


@dataclass(frozen=True, slots=True)
class WhatCanResult(_ByKey):
    """What the principal's identity policies allow and deny at T, each Allow checked in full."""

    as_of: AsOf
    principal: str
    allows: tuple[StatementAccess, ...]
    denies: tuple[StatementAccess, ...]
    errors: tuple[str, ...]
    unknown_policies: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "principal": self.principal, "allows": [a.to_dict() for a in self.allows],
                "denies": [d.to_dict() for d in self.denies], "errors": list(self.errors),
                "unknown_policies": list(self.unknown_policies)}


# -- timeline and diff -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FactChange(_ByKey):
    """An event that opened or closed a relevant fact at a boundary of the answer."""

    position: int | None
    event_type: str | None
    fact: str
    change: str  # opened | closed
    occurred_at: str | None = None  # the event's valid time and actor, when the answer looked them up
    actor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"position": self.position, "event_type": self.event_type, "fact": self.fact,
                               "change": self.change}
        if self.occurred_at is not None:
            out.update(occurred_at=self.occurred_at, actor=self.actor)
        return out


@dataclass(frozen=True, slots=True)
class Interval(_ByKey):
    """Valid time over which the decision was constant; `end` None = still so at the timeline's
    end. `ended_by` is None on the last interval."""

    start: str | None
    start_us: int
    end: str | None
    end_us: int | None
    eval_decision: str
    allowed: bool
    started_by: tuple[FactChange, ...]
    matched: tuple[MatchedStatement, ...]
    ended_by: tuple[FactChange, ...] | None = None
    conditional: bool = False
    missing_context: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start": self.start, "start_us": self.start_us, "end": self.end,
                               "end_us": self.end_us, "EvalDecision": self.eval_decision, "allowed": self.allowed,
                               "started_by": [c.to_dict() for c in self.started_by],
                               "matched": _statements(self.matched)}
        if self.ended_by is not None:
            out["ended_by"] = [c.to_dict() for c in self.ended_by]
        out["conditional"] = self.conditional  # extension: the answer depends on context not given
        out["MissingContextValues"] = list(self.missing_context)
        return out


@dataclass(frozen=True, slots=True)
class TimelineResult(_ByKey):
    """When `principal` could do `action` on `resource`, from `start` to `end`."""

    as_of: AsOf
    principal: str
    action: str
    resource: str
    start: str | None
    end: str | None
    intervals: tuple[Interval, ...]
    # what the decisions assumed or could not resolve (an unknown principal, a bucket never recorded),
    # as `can` says it
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"as_of": self.as_of, "principal": self.principal, "action": self.action,
                               "resource": self.resource, "start": self.start, "end": self.end,
                               "intervals": [iv.to_dict() for iv in self.intervals]}
        if self.notes:
            out["notes"] = list(self.notes)
        return out


@dataclass(frozen=True, slots=True)
class AccessChange(_ByKey):
    """A request whose decision differs between t1 and t2, with the events that changed it."""

    principal: str
    action: str
    resource: str
    before: str
    after: str
    caused_by: tuple[FactChange, ...]
    via: tuple[MatchedStatement, ...]  # the allowing statements (at t2 if gained, t1 if lost)
    # allowed | allowed-conditional | denied: a conditional grant's change shows even when both
    # decisions are the same EvalDecision; a path-derived change has its `path` (when allowed)
    before_state: str = ""
    after_state: str = ""
    missing_context: tuple[str, ...] = ()
    path: tuple[PathStep, ...] = ()
    count: int = 1  # objects of one bucket with the same change, grouped into one row
    objects: tuple[str, ...] = ()  # the first few of them

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"principal": self.principal, "action": self.action, "resource": self.resource,
                               "before": self.before, "after": self.after,
                               "caused_by": [c.to_dict() for c in self.caused_by], "via": _statements(self.via),
                               "before_state": self.before_state, "after_state": self.after_state,
                               "missing_context": list(self.missing_context), "count": self.count}
        if self.path:
            out["path"] = [step.to_dict() for step in self.path]
        if self.objects:
            out["objects"] = list(self.objects)
        return out


@dataclass(frozen=True, slots=True)
class UniverseSize(_ByKey):
    """How many principals and (action, resource) pairs a diff compared."""

    principals: int
    pairs: int

    def to_dict(self) -> dict[str, Any]:
        return {"principals": self.principals, "pairs": self.pairs}


@dataclass(frozen=True, slots=True)
class DiffResult(_ByKey):
    """Effective access gained and lost between t1 and t2."""

    as_of: AsOf
    t1: str | None
    t2: str | None
    gained: tuple[AccessChange, ...]
    lost: tuple[AccessChange, ...]
    universe: UniverseSize

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "t1": self.t1, "t2": self.t2, "gained": [g.to_dict() for g in self.gained],
                "lost": [x.to_dict() for x in self.lost], "universe": self.universe.to_dict()}


# -- ownership and lineage -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobLineage(_ByKey):
    """The MediaConvert job that wrote an object: its account, creator and passed role."""

    arn: str
    account: str
    created: Origin
    creator: str
    passed_role: str
    queue: str

    def to_dict(self) -> dict[str, Any]:
        return {"arn": self.arn, "account": self.account, "created": self.created, "creator": self.creator,
                "passed_role": self.passed_role, "queue": self.queue}


@dataclass(frozen=True, slots=True)
class SessionLineage(_ByKey):
    """The role session that wrote an object, and who obtained it."""

    arn: str
    session_id: str
    issued: Origin
    caller: str | None
    via: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"arn": self.arn, "session_id": self.session_id, "issued": self.issued, "caller": self.caller,
                "via": self.via}


@dataclass(frozen=True, slots=True)
class LineageResult(_ByKey):
    """Job → creator → passed role → session → object. `owner` and `as_of` are set on the answer
    of `lineage` and None where the lineage is part of an `OwnerResult`."""

    object_arn: str
    written: Origin
    writer: str
    writer_account: str
    acl: str | None
    object_ownership_at_write: str
    job: JobLineage | None = None
    session: SessionLineage | None = None
    owner: OwnerResult | None = None
    as_of: AsOf | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"object": self.object_arn, "written": self.written, "writer": self.writer,
                               "writer_account": self.writer_account, "acl": self.acl,
                               "object_ownership_at_write": self.object_ownership_at_write}
        if self.job is not None:
            out["job"] = self.job.to_dict()
        if self.session is not None:
            out["session"] = self.session.to_dict()
        if self.owner is not None:
            out["owner"] = self.owner.to_dict(with_lineage=False)
        if self.as_of is not None:
            out["as_of"] = self.as_of
        return out


@dataclass(frozen=True, slots=True)
class JobAnswer(_ByKey):
    """`lineage` of a MediaConvert job: the job (creator, passed role, queue), the session it wrote
    with, every output written by T (each with its own lineage) and the job's owning account."""

    job: JobLineage
    outputs: tuple[LineageResult, ...]
    session: SessionLineage | None
    owner: OwnerResult
    as_of: AsOf

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.job.to_dict(), "session": self.session.to_dict() if self.session else None,
                "outputs": [o.to_dict() for o in self.outputs], "owner": self.owner.to_dict(with_lineage=False),
                "as_of": self.as_of}


@dataclass(frozen=True, slots=True)
class OwnerResult(_ByKey):
    """Which account owned `resource` at T, why, and the events that show it; `lineage` for an
    object written by the ledger's history."""

    resource: str
    as_of: AsOf
    owner_account: str
    reason: str
    evidence: tuple[Origin, ...]
    lineage: LineageResult | None = None

    def to_dict(self, *, with_lineage: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"resource": self.resource, "as_of": self.as_of}
        if with_lineage:
            out["lineage"] = self.lineage.to_dict() if self.lineage is not None else None
        out.update(owner_account=self.owner_account, reason=self.reason, evidence=list(self.evidence))
        return out

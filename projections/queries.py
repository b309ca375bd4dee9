"""The audit read side: keeps the temporal projection caught up and answers point-in-time queries.

Composes the projector, the SQL facts and the pure assembly; never writes events.
"""

from __future__ import annotations

import fnmatch
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ledger.domain.state import resulting_owner
from ledger.errors import LedgerError, NotFoundError, ValidationError
from ledger.gc_pause import collector_paused
from ledger.policy import PolicySet, PrincipalKind, principal_from_arn
from ledger.timeaxis import FOREVER, iso, parse_iso, parse_position, to_us
from projections.assemble import (
    AuditDecision,
    Inputs,
    allowing_holders,
    build_inputs,
    decide,
    denied_holders,
    resource_side,
)
from projections.facts import Fact
from projections.memory import MemoryFacts
from projections.runner import ProjectionProgress, Projector
from projections.sql import SqlFacts, make_engine, upgrade
from projections.sql_read import caller_bundle, live_facts
from projections.view import Snapshot

MEDIACONVERT = "mediaconvert.amazonaws.com"


_SNAPSHOTS = 64
# who_can's preload reads only the default version of each managed policy: other versions
# stay point lookups (`Snapshot.managed` reads exactly the default one).
_NOT_PRELOADED = frozenset({"pver"})


def _step(principal: str, action: str, resource: str, d: AuditDecision) -> dict[str, Any]:
    return {"principal": principal, "action": action, "resource": resource,
            "EvalDecision": d.eval_decision,
            "via": [m.to_dict() for m in d.decision.matched_statements]}


class ReadSide:
    """Temporal projection in the store's own database, plus the queries over it."""

    def __init__(self, store: Any, *, batch: int = 2000, gap_grace: float = 0.0) -> None:
        self.store = store
        self.engine = make_engine(store.url.sqlalchemy_url(), store.url.schema)
        upgrade(self.engine)
        self.facts = SqlFacts(self.engine)
        self.projector = Projector(store, self.facts, batch=batch, gap_grace=gap_grace)
        self._snapshots: OrderedDict[Any, Snapshot] = OrderedDict()
        self._now: tuple[int, int, int, Snapshot] | None = None  # (position, from, until, snap)
        self._known: OrderedDict[int, MemoryFacts] = OrderedDict()
        self._seen: int | None = None  # projection position last seen caught up with the log

    def close(self) -> None:
        self.engine.dispose()

    # -- projection ------------------------------------------------------------------------

    def catch_up(self, progress: ProjectionProgress | None = None) -> int:
        return self.projector.catch_up(progress)

    def rebuild(self, progress: ProjectionProgress | None = None) -> int:
        self._snapshots.clear()
        self._now = None
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

    # -- time --------------------------------------------------------------------------------

    def event_at(self, position: int) -> Any:
        page = self.store.read_log(position - 1, 1)
        if not page or page[0].position != position:
            raise NotFoundError(f"no event at position {position}", entity=f"@{position}")
        return page[0]

    def resolve_time(self, at: datetime | str | None) -> tuple[int, dict[str, Any]]:
        """`at` → (valid time in µs, as_of description).

        None = now; a datetime or ISO-8601 string = that instant (naive means UTC); "@P" = the
        valid time (occurred_at) of the event at position P: every fact in force at that
        instant counts, including facts recorded after P whose valid time is not later.
        """
        if at is None:
            now = datetime.now(UTC)
            return to_us(now), {"valid_time": iso(to_us(now)), "at": "now"}
        if isinstance(at, str) and at.strip().startswith("@"):
            event = self.event_at(parse_position(at))
            us = to_us(event.occurred_at)
            return us, {"valid_time": iso(us), "at": at.strip(), "event_type": event.event_type}
        if isinstance(at, datetime):
            us = to_us(at)
        else:
            us = to_us(parse_iso(str(at)))
        return us, {"valid_time": iso(us), "at": iso(us)}

    def snapshot(self, at: datetime | str | None = None, known_at: str | int | None = None,
                 *, catch_up: bool = True) -> tuple[Snapshot, dict[str, Any]]:
        """The state at valid time `at`, as recorded by `known_at` (default: everything)."""
        position: int | None = None
        if catch_up:
            position = self._caught_up()
        us, as_of = self.resolve_time(at)
        if known_at is not None:
            text = str(known_at)
            pos = parse_position(text)
            memory = self._known.get(pos)
            if memory is None:
                memory = MemoryFacts.replay(self.store.iter_log(upto=pos, batch=5000))
                self._known[pos] = memory
                if len(self._known) > 4:
                    self._known.popitem(last=False)
            as_of = dict(as_of, known_at=f"@{pos}")
            return Snapshot(memory, us), as_of
        if position is None:
            position = self.position()
        as_of = dict(as_of, position=position)
        if at is None:
            # Current state: constant until the next fact boundary, so cached until then or
            # until the projection advances.
            if self._now and self._now[0] == position and self._now[1] <= us < self._now[2]:
                return self._now[3], as_of
            snap = Snapshot(self.facts, us)
            self._now = (position, us, self._next_change(us), snap)
            return snap, as_of
        key = (us, position)
        cached = self._snapshots.get(key)
        if cached is None:
            cached = self._snapshots[key] = Snapshot(self.facts, us)
            if len(self._snapshots) > _SNAPSHOTS:
                self._snapshots.popitem(last=False)
        return cached, as_of

    def _next_change(self, us: int) -> int:
        from sqlalchemy import func, select

        from projections.tables import facts

        with self.engine.connect() as conn:
            a = conn.execute(select(func.min(facts.c.valid_from)).where(facts.c.valid_from > us)).scalar()
            b = conn.execute(select(func.min(facts.c.valid_to)).where(facts.c.valid_to > us)).scalar()
        return min(x for x in (a, b, FOREVER) if x is not None)

    # -- queries -----------------------------------------------------------------------------

    def can(self, principal: str, action: str, resource: str, context: dict[str, Any] | None = None,
            at: datetime | str | None = None, known_at: str | int | None = None,
            unknown_context: bool = False) -> AuditDecision:
        snap, as_of = self.snapshot(at, known_at)
        with collector_paused():
            if known_at is None:
                self._prefetch(snap, principal, action, resource)
            d = decide(snap, principal, action, resource, context, unknown_context=unknown_context,
                       as_of=as_of)
            return _annotate(snap, d, principal, action, resource)

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

    def authorize(self, actor_arn: str, action: str, resource: str,
                  context: dict[str, Any] | None = None) -> AuditDecision:
        """Enforcing mode: the decision for `actor_arn` against the state as of now."""
        return self.can(actor_arn, action, resource, context)

    def who_can(self, action: str, resource: str, at: datetime | str | None = None,
                paths: bool = False, max_depth: int = 3, context: dict[str, Any] | None = None,
                known_at: str | int | None = None, *, prune: bool = True) -> dict[str, Any]:
        """Every caller allowed at T. With `prune`, only candidates are evaluated: account roots,
        callers the resource-based policy names, and callers whose identity policies have an
        Allow for the action (anyone else is provably implicitDeny); `prune=False` evaluates
        every caller (the reference the tests compare against)."""
        snap, as_of = self.snapshot(at, known_at)
        with collector_paused():
            return self._who_can(snap, as_of, action, resource, paths, max_depth, context, known_at, prune)

    def _who_can(self, snap: Snapshot, as_of: dict[str, Any], action: str, resource: str, paths: bool,
                 max_depth: int, context: dict[str, Any] | None, known_at: str | int | None,
                 prune: bool) -> dict[str, Any]:
        if known_at is None:
            state = live_facts(self.engine, self.facts.token, snap.at_us)
            snap = Snapshot(snap.source, snap.at_us).preload(state, _NOT_PRELOADED)
        ctx = dict(context or {})
        callers = [p.arn for p in snap.principals()] + [f"arn:aws:iam::{a}:root" for a in snap.accounts()]
        cands = _Candidates(snap, callers, prune)
        found: dict[str, dict[str, Any]] = {}
        direct: dict[str, AuditDecision] = {}
        for arn in cands.for_action(action, resource):
            d = decide(snap, arn, action, resource, ctx, unknown_context=True)
            if d.allowed:
                direct[arn] = d
                found[arn] = self._result(arn, d, [_step(arn, action, resource, d)])
        if paths:
            self._chains(snap, cands, direct, found, action, resource, ctx, max_depth)
        principals = [found[k] for k in sorted(found)]
        if action.lower() == "sts:assumerole":
            principals += _delegated(snap, resource, found)
        return {"as_of": as_of, "action": action, "resource": resource, "principals": principals}

    @staticmethod
    def _result(arn: str, d: AuditDecision, path: list[dict[str, Any]],
                missing: Iterable[str] = ()) -> dict[str, Any]:
        keys = sorted(set(d.decision.missing_context_values) | set(missing), key=str.lower)
        conditional = bool(d.decision.conditional) or any(s.get("conditional") for s in path)
        return {"principal": arn, "EvalDecision": d.eval_decision, "conditional": conditional,
                "path": path, "missing_context": keys if conditional else []}

    def _chains(self, snap: Snapshot, cands: _Candidates, direct: dict[str, AuditDecision],
                found: dict[str, dict[str, Any]], action: str, resource: str, ctx: dict[str, Any],
                max_depth: int) -> None:
        roles = {p.arn: p for p in snap.principals() if p.kind == "role"}
        # reach[role] = path from that role to the target
        reach: dict[str, list[dict[str, Any]]] = {
            arn: found[arn]["path"] for arn in direct if arn in roles}
        # PassRole to MediaConvert: the service assumes the role, which must reach the target.
        for role_arn, role_path in list(reach.items()):
            role = roles[role_arn]
            trust = decide(snap, MEDIACONVERT, "sts:AssumeRole", role_arn, ctx, unknown_context=True)
            if not trust.allowed:
                continue
            queue = f"arn:aws:mediaconvert:us-east-1:{role.account}:queues/Default"
            for arn in cands.passers(role.account, role_arn):
                if arn in found or arn == role_arn:
                    continue
                pass_ctx = dict(ctx, **{"iam:PassedToService": MEDIACONVERT})
                d1 = decide(snap, arn, "iam:PassRole", role_arn, pass_ctx, unknown_context=True)
                if not d1.allowed:
                    continue
                d2 = decide(snap, arn, "mediaconvert:CreateJob", queue, ctx, unknown_context=True)
                if not d2.allowed:
                    continue
                path = [_step(arn, "iam:PassRole", role_arn, d1), _step(arn, "mediaconvert:CreateJob", queue, d2),
                        {"principal": MEDIACONVERT, "action": "sts:AssumeRole", "resource": role_arn,
                         "EvalDecision": "allowed", "via": [m.to_dict() for m in trust.decision.matched_statements]},
                        *role_path]
                for s, d in zip(path[:2], (d1, d2), strict=True):
                    s["conditional"] = bool(d.decision.conditional)
                missing = set(d1.decision.missing_context_values) | set(d2.decision.missing_context_values)
                found[arn] = self._result(arn, d2, path, missing)
                found[arn]["EvalDecision"] = "allowed"
        frontier = dict(reach)
        for _ in range(max_depth):
            nxt: dict[str, list[dict[str, Any]]] = {}
            for role_arn, role_path in frontier.items():
                for arn in cands.assumers(role_arn, found):
                    if arn == role_arn or arn in found:
                        continue
                    d = decide(snap, arn, "sts:AssumeRole", role_arn, ctx, unknown_context=True)
                    if not d.allowed:
                        continue
                    step = _step(arn, "sts:AssumeRole", role_arn, d)
                    step["conditional"] = bool(d.decision.conditional)
                    path = [step, *role_path]
                    found[arn] = self._result(arn, d, path, d.decision.missing_context_values)
                    found[arn]["EvalDecision"] = "allowed"
                    if arn in roles:
                        nxt[arn] = path
            if not nxt:
                break
            frontier = nxt

    def what_can(self, principal: str, at: datetime | str | None = None,
                 known_at: str | int | None = None) -> dict[str, Any]:
        """Allow statements of the principal's policies, each checked against every deny,
        boundary, session policy and SCP (evaluated with the statement's own action and resource
        patterns as the request, unknown context allowed)."""
        snap, as_of = self.snapshot(at, known_at)
        inputs = build_inputs(snap, principal, "*", "*")
        entries = list(inputs.policies.identity)
        grants: list[dict[str, Any]] = []
        denies: list[dict[str, Any]] = []
        for entry in entries:
            for st in entry.compiled.document.statements:
                actions = list(st.action or ()) or [f"NotAction:{a}" for a in st.not_action or ()]
                resources = list(st.resource or ("*",)) if st.resource is not None else \
                    [f"NotResource:{r}" for r in st.not_resource or ()]
                item = {"policy": entry.policy_id, "policy_type": entry.policy_type, "sid": st.sid,
                        "actions": actions, "resources": resources, "origin": entry.origin,
                        "conditions": bool(st.condition)}
                if st.effect != "Allow":
                    denies.append(item)
                    continue
                effective = []
                for a in st.action or ():
                    for r in st.resource or ("*",):
                        d = decide(snap, principal, a, r, unknown_context=True)
                        effective.append({"action": a, "resource": r, "EvalDecision": d.eval_decision,
                                          "conditional": bool(d.decision.conditional),
                                          "missing_context": list(d.decision.missing_context_values),
                                          "boundary": d.decision.permissions_boundary_decision_detail,
                                          "organizations": d.decision.organizations_decision_detail,
                                          "cut_by": [m.to_dict() for m in d.decision.matched_statements]
                                          if d.eval_decision == "explicitDeny" else []})
                item["effective"] = effective
                grants.append(item)
        return {"as_of": as_of, "principal": principal, "allows": grants, "denies": denies,
                "errors": inputs.errors, "unknown_policies": inputs.unknown_policies}

    # -- timeline and diff -------------------------------------------------------------------------

    def _relevant_facts(self, source: Any, principal: str, resource: str) -> list[Fact]:
        """Every interval (any time) of any fact that `build_inputs` could read for this pair."""
        out: list[Fact] = []
        rp = principal_from_arn(principal)
        refs = {principal}
        out += source.history("principal", refs=refs)
        sessions = source.history("session", refs=refs)
        out += sessions
        holders = {f.subject for f in out if f.kind == "principal"}
        holders |= {f.payload.get("role_id") or f.payload.get("user_id") for f in sessions} - {None}
        if rp.account:
            out += source.history("account", subjects={rp.account})
            out += source.history("scp", subjects={rp.account})
        members = source.history("member", subjects=holders)
        out += members
        groups = {f.payload["group_id"] for f in members}
        out += source.history("principal", subjects=groups)
        everyone = holders | groups
        for kind in ("inline", "attach", "boundary", "tag", "revoked", "trust"):
            out += source.history(kind, subjects=everyone)
        policies = {f.payload["policy_id"] for f in out if f.kind in ("attach", "boundary")}
        for f in sessions:
            for arn in f.payload.get("session_policy_arns") or ():
                policies |= {p.subject for p in source.history("policy", refs={arn})}
        for kind in ("policy", "pver", "pdefault"):
            out += source.history(kind, subjects=policies)
        parts = resource.split(":", 5)
        if len(parts) == 6 and parts[2] == "s3":
            bucket = parts[5].split("/", 1)[0]
            for kind in ("bucket", "bucket_policy", "ownership"):
                out += source.history(kind, subjects={bucket})
        elif len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/"):
            roles = source.history("principal", refs={resource})
            out += roles
            out += source.history("trust", subjects={f.subject for f in roles})
        unique: dict[tuple[str, int], Fact] = {(f.key, f.valid_from): f for f in out}
        return list(unique.values())

    def timeline(self, principal: str, action: str, resource: str, start: datetime | str | None = None,
                 end: datetime | str | None = None, context: dict[str, Any] | None = None,
                 known_at: str | int | None = None) -> dict[str, Any]:
        """Intervals of valid time over which the decision was constant, each boundary tied to
        the events that opened or closed a relevant fact at that instant."""
        snap0, as_of = self.snapshot(None, known_at)
        source = snap0.source
        facts = self._relevant_facts(source, principal, resource)
        start_us = self.resolve_time(start)[0] if start is not None else None
        end_us = self.resolve_time(end)[0] if end is not None else to_us(datetime.now(UTC))
        causes: dict[int, list[dict[str, Any]]] = {}
        for f in facts:
            causes.setdefault(f.valid_from, []).append(
                {"position": f.opened_position, "event_type": f.opened_type, "fact": f.key, "change": "opened"})
            if f.valid_to < FOREVER:
                causes.setdefault(f.valid_to, []).append(
                    {"position": f.closed_position, "event_type": f.closed_type, "fact": f.key, "change": "closed"})
        times = sorted(causes)
        if start_us is None:
            start_us = times[0] if times else end_us
        points = [start_us] + [t for t in times if start_us < t <= end_us]
        intervals: list[dict[str, Any]] = []
        for t in points:
            d = decide(Snapshot(source, t), principal, action, resource, context)
            if intervals and intervals[-1]["EvalDecision"] == d.eval_decision:
                continue
            if intervals:
                intervals[-1]["end"] = iso(t)
                intervals[-1]["end_us"] = t
                intervals[-1]["ended_by"] = self._dedupe(causes.get(t, []))
            intervals.append({"start": iso(t), "start_us": t, "end": None, "end_us": None,
                              "EvalDecision": d.eval_decision, "allowed": d.allowed,
                              "started_by": self._dedupe(causes.get(t, [])) if t != start_us or t in causes else [],
                              "matched": [m.to_dict() for m in d.decision.matched_statements]})
        return {"as_of": as_of, "principal": principal, "action": action, "resource": resource,
                "start": iso(start_us), "end": iso(end_us), "intervals": intervals}

    @staticmethod
    def _dedupe(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: dict[Any, dict[str, Any]] = {}
        for item in items:
            seen.setdefault((item["position"], item["fact"], item["change"]), item)
        return sorted(seen.values(), key=lambda i: (i["position"] or 0, i["fact"]))

    def universe(self, times: Iterable[int], source: Any = None) -> tuple[list[str], list[tuple[str, str]]]:
        """Principals (users, roles, account roots) in force at any of `times`, and the
        (action, resource) pairs: every wildcard-free action named in a policy in force then,
        crossed with every wildcard-free resource ARN named in those policies, every bucket and
        written object, and every role (for sts:* actions) — only pairs of matching service."""
        source = source or self.facts
        principals: set[str] = set()
        actions: set[str] = set()
        resources: set[str] = set()
        for t in times:
            snap = Snapshot(source, t).preload()
            principals |= {p.arn for p in snap.principals()}
            principals |= {f"arn:aws:iam::{a}:root" for a in snap.accounts()}
            resources |= {p.arn for p in snap.principals() if p.kind == "role"}
            for kind in ("inline", "pver", "bucket_policy", "trust", "scp"):
                for f in source.many_at([kind], t):
                    doc = f.payload.get("document") or {}
                    stmts = doc.get("Statement", [])
                    for st in stmts if isinstance(stmts, list) else [stmts]:
                        for key, bucket in (("Action", actions), ("Resource", resources)):
                            vals = st.get(key, [])
                            for v in [vals] if isinstance(vals, str) else vals:
                                if "*" not in v and "?" not in v and "$" not in v:
                                    bucket.add(v)
            for f in source.many_at(["bucket"], t):
                resources.add(f.payload["arn"])
            for f in source.many_at(["object"], t):
                resources.add(f.ref)
        pairs = []
        resources.add("*")
        for a in sorted(actions):
            service = a.split(":", 1)[0].lower()
            for r in sorted(resources):
                parts = r.split(":", 5)
                rs = parts[2] if len(parts) == 6 else ""
                if r == "*" or rs == service or (service == "sts" and rs == "iam" and ":role/" in r):
                    pairs.append((a, r))
        return sorted(principals), pairs

    def diff(self, t1: datetime | str, t2: datetime | str, principals: Iterable[str] | None = None,
             pairs: Iterable[tuple[str, str]] | None = None, known_at: str | int | None = None) -> dict[str, Any]:
        """Effective access gained and lost between t1 and t2 over `universe()` (or the given
        principals / pairs), each change with the events that caused it (via `timeline`)."""
        snap, as_of = self.snapshot(t1, known_at)
        source = snap.source
        u1, u2 = self.resolve_time(t1)[0], self.resolve_time(t2)[0]
        ps, prs = self.universe([u1, u2], source)
        ps = sorted(principals) if principals is not None else ps
        prs = sorted(pairs) if pairs is not None else prs
        s1, s2 = Snapshot(source, u1).preload(), Snapshot(source, u2).preload()
        gained: list[dict[str, Any]] = []
        lost: list[dict[str, Any]] = []
        for p in ps:
            for a, r in prs:
                d1 = decide(s1, p, a, r)
                d2 = decide(s2, p, a, r)
                if d1.allowed == d2.allowed:
                    continue
                lo, hi = min(u1, u2), max(u1, u2)
                tl = self.timeline(p, a, r, iso(lo), iso(hi), known_at=known_at)
                causes = [c for iv in tl["intervals"][1:] for c in iv["started_by"]]
                item = {"principal": p, "action": a, "resource": r, "before": d1.eval_decision,
                        "after": d2.eval_decision, "caused_by": causes,
                        "via": [m.to_dict() for m in (d2 if d2.allowed else d1).decision.matched_statements]}
                (gained if d2.allowed else lost).append(item)
        return {"as_of": as_of, "t1": iso(u1), "t2": iso(u2), "gained": gained, "lost": lost,
                "universe": {"principals": len(ps), "pairs": len(prs)}}

    # -- ownership and lineage ---------------------------------------------------------------

    def owner_of(self, resource: str, at: datetime | str | None = None,
                 known_at: str | int | None = None) -> dict[str, Any]:
        snap, as_of = self.snapshot(at, known_at)
        parts = resource.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            raise ValidationError(f"{resource!r} is not an ARN")
        service, account, rest = parts[2], parts[4], parts[5]
        out: dict[str, Any] = {"resource": resource, "as_of": as_of, "lineage": None}
        if service == "s3":
            bucket_name, _, key = rest.partition("/")
            bucket = snap.bucket(bucket_name)
            if not key:
                if bucket is None:
                    raise NotFoundError(f"bucket {bucket_name} does not exist at this time", entity=resource)
                out.update(owner_account=bucket[0], reason="a bucket belongs to the account that created it",
                           evidence=[bucket[1]])
                return out
            obj = snap.object(resource)
            if obj is None:
                raise NotFoundError(f"object {resource} was not written by this time", entity=resource)
            payload, origin = obj
            setting = snap.ownership(bucket_name)
            bucket_owner = bucket[0] if bucket else payload["bucket_account"]
            if setting is not None and setting[0] == "BucketOwnerEnforced" and bucket is not None:
                out.update(owner_account=bucket_owner,
                           reason="BucketOwnerEnforced is in force: the bucket owner owns every object",
                           evidence=[setting[1], origin])
            else:
                owner = _write_owner(payload)
                out.update(owner_account=owner, reason=_write_reason(payload), evidence=[origin] +
                           ([setting[1]] if setting else []))
            out["lineage"] = self._lineage(snap, payload, origin)
            return out
        if service == "mediaconvert" and rest.startswith("jobs/"):
            job = snap.job(resource)
            if job is None:
                raise NotFoundError(f"job {resource} does not exist at this time", entity=resource)
            out.update(owner_account=job[0]["account"],
                       reason="a MediaConvert job belongs to the account it was created in, whoever created it",
                       evidence=[job[1]])
            return out
        if not account.isdigit():
            raise ValidationError(f"{resource} names no account")
        out.update(owner_account=account, reason="the resource's ARN names its account", evidence=[])
        return out

    def lineage(self, object_arn: str, at: datetime | str | None = None,
                known_at: str | int | None = None) -> dict[str, Any]:
        snap, as_of = self.snapshot(at, known_at)
        obj = snap.object(object_arn)
        if obj is None:
            raise NotFoundError(f"object {object_arn} was not written by this time", entity=object_arn)
        out = self._lineage(snap, *obj)
        out["owner"] = self.owner_of(object_arn, at, known_at)
        out["owner"].pop("lineage", None)
        out["as_of"] = as_of
        return out

    def _lineage(self, snap: Snapshot, payload: dict[str, Any], origin: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"object": payload["object_arn"], "written": origin,
                               "writer": payload["writer_arn"], "writer_account": payload["writer_account"],
                               "acl": payload.get("acl"), "object_ownership_at_write": payload["object_ownership"]}
        job = snap.job(payload["job_arn"]) if payload.get("job_arn") else None
        if job is not None:
            j, jo = job
            out["job"] = {"arn": j["job_arn"], "account": j["account"], "created": jo,
                          "creator": j["creator_arn"], "passed_role": j["role_arn"], "queue": j["queue_arn"]}
        sessions = snap.sessions_by_arn(payload["writer_arn"])
        session = next((s for s in sessions if s[0]["session_id"] == payload.get("writer_session_id")), None)
        if session is None and sessions:
            session = sessions[-1]
        if session is not None:
            s, so = session
            out["session"] = {"arn": s["arn"], "session_id": s["session_id"], "issued": so,
                              "caller": s.get("caller_arn"), "via": s.get("via")}
        return out


class _Candidates:
    """Which callers can possibly be allowed, so `who_can` evaluates only those (in the order of
    `callers`, which keeps answers and chain paths identical to evaluating everyone).

    A user or role is allowed only through an identity-based Allow whose Action covers the
    request, or through a resource-based policy (bucket or trust policy) that names it (its ARN
    or unique id; "*" or NotPrincipal names everyone). Account roots are always evaluated."""

    def __init__(self, snap: Snapshot, callers: list[str], prune: bool) -> None:
        self.snap = snap
        self.callers = callers
        self.prune = prune
        self.index = {arn: i for i, arn in enumerate(callers)}
        self.roots = {arn for arn in callers if arn.endswith(":root")}
        self.by_account: dict[str, list[str]] = {}
        self.ids: dict[str, set[str]] = {}  # ARN -> unique ids of principals with that ARN at T
        self.arn_of: dict[str, str] = {}
        for p in snap.principals():
            self.ids.setdefault(p.arn, set()).add(p.unique_id)
            self.arn_of[p.unique_id] = p.arn
        for arn in callers:
            account = arn.split(":", 5)[4] if arn.count(":") >= 5 else ""
            self.by_account.setdefault(account, []).append(arn)
        self._sets: dict[int, set[str]] = {}
        self._keep_alive: list[set[str]] = []  # ids in `_sets` stay unique while alive
        self._lists: dict[Any, list[str]] = {}

    def _allowing(self, action_lower: str, resource: str) -> set[str]:
        """Caller ARNs with an identity Allow that may cover the request, plus every root."""
        holders = allowing_holders(self.snap, action_lower, resource)
        hit = self._sets.get(id(holders))
        if hit is None:  # many resources share one holder set: translate each set once
            denied = denied_holders(self.snap, action_lower)
            hit = {self.arn_of[u] for u in holders if u in self.arn_of and u not in denied} | self.roots
            self._sets[id(holders)] = hit
            self._keep_alive.append(holders)
        return hit

    def _named(self, action: str, resource: str) -> tuple[set[str] | None, set[str], str | None]:
        """(callers named by the resource policy's Allow statements, or None for everyone;
        accounts it names; the account owning the resource)."""
        owner, entry = resource_side(self.snap, action, resource, Inputs(None, PolicySet()))
        named: set[str] = set()
        accounts: set[str] = set()
        if entry is None:
            return named, accounts, owner
        for st in entry.compiled.statements:
            if not st.allow:
                continue
            pm = st.principal
            if pm is None or st.not_principal is not None or pm.any:
                return None, accounts, owner
            for value in set(pm.arns) | set(pm.others):
                if value in self.ids:
                    named.add(value)
                elif value in self.arn_of:
                    named.add(self.arn_of[value])
            accounts |= set(pm.accounts)
        return named, accounts, owner

    def for_action(self, action: str, resource: str) -> list[str]:
        """Roots; callers the resource policy names; callers with an identity Allow (and no
        unconditional Deny) for it, but from another account only if the resource policy
        names their account (cross-account needs both sides)."""
        if not self.prune:
            return self.callers
        named, accounts, owner = self._named(action, resource)
        if named is None:
            return self.callers
        keep = self._allowing(action.lower(), resource) | named
        if owner:
            trusted = accounts | {owner}
            return [arn for arn in self.callers if arn in keep and (
                arn in self.roots or arn in named or arn.split(":", 5)[4] in trusted)]
        return [arn for arn in self.callers if arn in keep]

    def passers(self, account: str, role_arn: str) -> list[str]:
        """Callers of the role's account that may pass it (candidates for iam:PassRole)."""
        if not self.prune:
            return self.callers
        allowing = self._allowing("iam:passrole", role_arn)
        creating = self._allowing("mediaconvert:createjob", f"arn:aws:mediaconvert:us-east-1:{account}:queues/Default")
        return [a for a in self.by_account.get(account, []) if a in allowing and a in creating]

    def assumers(self, role_arn: str, found: dict[str, Any]) -> list[str]:
        """Callers that may assume the role: those its trust policy names, and in the accounts
        it names, those with an identity Allow for sts:AssumeRole."""
        if not self.prune:
            return self.callers
        named, accounts, _ = self._named("sts:AssumeRole", role_arn)
        if named is None:
            return [a for a in self.callers if a not in found]
        picked = {a for a in named if a not in found}
        allowing = self._allowing("sts:assumerole", role_arn)
        for account in accounts:
            # `found` only grows: keep per (account, grant set) the callers not found yet.
            key = ("assume", account, id(allowing))
            remaining = self._lists.get(key)
            if remaining is None:
                remaining = [a for a in self.by_account.get(account, []) if a in allowing]
            remaining = self._lists[key] = [a for a in remaining if a not in found]
            picked.update(remaining)
        return sorted(picked, key=self.index.__getitem__)


_ROOT_NOTE = ("the root user cannot call sts:AssumeRole (AWS STS API reference, AssumeRole: "
              "\"You cannot use root user credentials to call AssumeRole\")")
_DELEGATED = ("the trust policy names account {acct}; its principals need an identity-based allow "
              "for sts:AssumeRole")


def _trusted_accounts(snap: Snapshot, role_arn: str) -> tuple[dict[str, list[str]], str | None]:
    """Accounts an Allow statement of the role's trust policy names (id or :root) for
    sts:AssumeRole, each with the condition keys of those statements; and the role's account."""
    entry = resource_side(snap, "sts:AssumeRole", role_arn, Inputs(None, PolicySet()))
    out: dict[str, list[str]] = {}
    if entry[1] is None:
        return out, entry[0]
    for st in entry[1].compiled.candidates("sts:assumerole"):
        if not st.allow or st.principal is None:
            continue
        for acct in st.principal.accounts:
            keys = out.setdefault(acct, [])
            keys += [name for _, name in st.cond_keys if name not in keys]
    return out, entry[0]


def _delegated(snap: Snapshot, role_arn: str, found: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per account the trust policy names: any of its principals with an
    identity-based Allow for sts:AssumeRole on the role can assume it, including principals the
    ledger does not know (the account's root user itself cannot)."""
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return []
    accounts, _ = _trusted_accounts(snap, role_arn)
    out = []
    for acct in sorted(accounts):
        out.append({"principal": f"arn:aws:iam::{acct}:root", "EvalDecision": "allowed",
                    "conditional": True, "delegated": True,
                    "missing_context": sorted(accounts[acct], key=str.lower),
                    "reason": _DELEGATED.format(acct=acct), "path": []})
    return out


def _annotate(snap: Snapshot, d: AuditDecision, principal: str, action: str, resource: str) -> AuditDecision:
    """Explain the one answer AWS gives for a reason outside the policies: a root user asking
    for sts:AssumeRole on a role whose trust policy names its account."""
    if action.lower() != "sts:assumerole" or not principal.endswith(":root") or d.allowed:
        return d
    try:
        rp = principal_from_arn(principal)
    except LedgerError:
        return d
    if rp.kind is not PrincipalKind.ROOT:
        return d
    notes = [_ROOT_NOTE]
    accounts, _ = _trusted_accounts(snap, resource)
    if rp.account in accounts:
        notes.append(_DELEGATED.format(acct=rp.account) + ": ask who_can(\"sts:AssumeRole\", role) "
                     "for the delegated entry, or can() for one of its users or roles")
    d.notes = notes
    return d


def _write_owner(payload: dict[str, Any]) -> str:
    return resulting_owner(str(payload["bucket_account"]), str(payload["writer_account"]),
                           payload["object_ownership"], payload.get("acl"))


def _write_reason(payload: dict[str, Any]) -> str:
    setting = payload["object_ownership"]
    if setting == "BucketOwnerEnforced":
        return "written while BucketOwnerEnforced: the bucket owner has owned it since"
    if setting == "BucketOwnerPreferred" and payload.get("acl") == "bucket-owner-full-control":
        return "written under BucketOwnerPreferred with bucket-owner-full-control: the bucket owner owns it"
    return f"written under {setting} (ACL {payload.get('acl')}): ownership fixed at write time to the writer's account"


def pattern_overlaps(a: str, b: str) -> bool:
    return fnmatch.fnmatchcase(a.lower(), b.lower()) or fnmatch.fnmatchcase(b.lower(), a.lower())

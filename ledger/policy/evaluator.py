"""The AWS IAM evaluation logic as one pure function: `evaluate(request, policies) -> Decision`.

It owns no data and has no side effects besides the compiled policies' memos; it fails closed:
any error inside becomes an `implicitDeny` carrying the error, never an allow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.policy.arn import PrincipalKind, RequestPrincipal
from ledger.policy.compiled import CompiledPolicy, CompiledStatement, compile_policy
from ledger.policy.conditions import evaluate_conditions
from ledger.policy.decision import Decision, EvalDecision, MatchedStatement, fast_decision
from ledger.policy.document import PolicyDocument
from ledger.policy.explain import (
    CALLER_IDENTITY_NOTE,
    ROOT_BUCKET_POLICY_NOTE,
    Reading,
    decision_details,
    deny_notes,
    service_linked_note,
)
from ledger.policy.principals import DIRECT_GRANT, NO_GRANT, ROLE_GRANT
from ledger.policy.ranges import evaluate_ranged
from ledger.policy.refine import refine_over_ranges
from ledger.policy.request import TRUST_ACTIONS, Request

__all__ = ["PolicyEntry", "PolicySet", "evaluate"]


@dataclass(frozen=True, slots=True)
class PolicyEntry:
    """A policy in a policy set: id and type label (as SimulatePrincipalPolicy's
    SourcePolicyType: user, group, role, aws-managed, user-managed, resource, ...) and the
    caller's opaque `origin` (e.g. the event that put it there), echoed in MatchedStatements."""

    policy: CompiledPolicy | PolicyDocument
    policy_id: str
    policy_type: str = "user-managed"
    origin: Any = None
    compiled: CompiledPolicy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pol = self.policy
        object.__setattr__(
            self, "compiled", pol if isinstance(pol, CompiledPolicy) else compile_policy(pol)
        )


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Every policy that bears on one request.

    `boundaries`: None = no permissions boundary (each listed one must allow). `session`:
    None = no session policy (the listed ones together are the session policy). `scps`: None,
    or organisation levels root first, each a list of SCPs; every level must allow.
    """

    identity: Sequence[PolicyEntry] = ()
    resource: PolicyEntry | None = None
    boundaries: Sequence[PolicyEntry] | None = None
    session: Sequence[PolicyEntry] | None = None
    scps: Sequence[Sequence[PolicyEntry]] | None = None


_Hit = tuple[PolicyEntry, CompiledStatement, "bool | None", int]
_Scan = tuple[list[_Hit], list[_Hit]]
_EMPTY_SCAN: _Scan = ([], [])  # never appended to: _scan builds fresh lists
_CREDENTIALED = frozenset(
    {PrincipalKind.USER, PrincipalKind.ROLE, PrincipalKind.ASSUMED_ROLE,
     PrincipalKind.FEDERATED_USER, PrincipalKind.ROOT}
)
_BUCKET_POLICY_ACTIONS = frozenset({"s3:getbucketpolicy", "s3:putbucketpolicy", "s3:deletebucketpolicy"})


class _Scans:
    """Every policy type's matching statements for one request, and what its ranges left open."""

    __slots__ = ("boundaries", "identity", "missing", "ranged", "resource",
                 "root_keeps_bucket_policy", "scps", "scps_exempt", "session")

    def __init__(self) -> None:
        self.identity: _Scan = _EMPTY_SCAN
        self.resource: _Scan = _EMPTY_SCAN
        self.boundaries: list[_Scan] | None = None
        self.session: _Scan | None = None
        self.scps: list[list[_Scan]] | None = None
        self.missing: dict[str, str] = {}
        self.scps_exempt = False  # a service-linked role: SCPs given, but they do not apply
        self.root_keeps_bucket_policy = False  # the bucket owner's root: bucket-policy denies set aside
        self.ranged: _Ranged | None = None  # only for a request with ranged keys


class _Ranged:
    """What a request's ranged keys left open: the keys some statement depends on, the
    comparison points of their conditions, and whether sampling the pieces can settle them."""

    __slots__ = ("open_keys", "points", "refinable")

    def __init__(self) -> None:
        self.open_keys: set[str] = set()
        self.points: dict[str, set[float]] = {}
        self.refinable = True


def _ranged(st: CompiledStatement, req: Request, unknown: bool, s: _Scans) -> bool | None:
    """A statement's conditions when the request gives some keys as ranges."""
    ranges, ctx = req.ranges, req.ctx
    r = s.ranged = s.ranged or _Ranged()
    conditioned = {c.key for c in st.conditions}
    for low, name in st.cond_keys:
        # a ranged key read through a policy variable has no single value: it is missing
        if low not in ctx and (low not in ranges or low not in conditioned):
            s.missing.setdefault(low, name)
    for c in st.conditions:
        if c.key in ranges:
            r.points.setdefault(c.key, set()).update(c.points)
    tri, open_keys, refinable = evaluate_ranged(st.conditions, ctx, ranges, unknown)
    if tri is None and open_keys:
        for key, name in open_keys:
            s.missing.setdefault(key, name)
            r.open_keys.add(key)
        r.refinable = r.refinable and refinable
    return tri


def _scan(
    entries: Iterable[PolicyEntry],
    req: Request,
    unknown: bool,
    s: _Scans,
    resource_policy: bool = False,
    boundary_attached: bool = False,
) -> _Scan:
    allows: list[_Hit] = []
    denies: list[_Hit] = []
    ctx, ranges, missing = req.ctx, req.ranges, s.missing
    for entry in entries:
        for st in entry.compiled.candidates(req.action_lower):
            if not st.matches_resource(req):
                continue
            grant = DIRECT_GRANT
            if resource_policy:
                if st.principal is not None:
                    grant = st.principal.grant(req.principal)
                elif st.not_principal is not None:
                    if not st.allow and boundary_attached:
                        grant = DIRECT_GRANT  # AWS: Deny+NotPrincipal always hits a bounded principal
                    else:
                        grant = NO_GRANT if st.not_principal.excludes(req.principal) else DIRECT_GRANT
                if grant == NO_GRANT:
                    continue
            tri: bool | None = True
            if st.cond_keys:
                if ranges and any(k in ranges for k, _ in st.cond_keys):
                    tri = _ranged(st, req, unknown, s)
                    if tri is False:
                        continue
                else:
                    for low, name in st.cond_keys:
                        if low not in ctx:
                            missing.setdefault(low, name)
                    if st.conditions:
                        tri = evaluate_conditions(st.conditions, ctx, unknown)
                        if tri is False:
                            continue
            (allows if st.allow else denies).append((entry, st, tri, grant))
    return allows, denies


def _matched(hits: Iterable[_Hit]) -> list[MatchedStatement]:
    # Positional on purpose: keyword calls cost ~0.25 µs per matched statement on the hot path.
    return [
        MatchedStatement(e.policy_id, e.policy_type, st.index, st.sid, st.effect, e.origin)
        for e, st, _, _ in hits
    ]


def _service_linked(p: RequestPrincipal) -> bool:
    """A service-linked role, or a session of one: its role ARN has the /aws-service-role/ path."""
    if p.kind is PrincipalKind.ROLE:
        arn = p.role_arn or p.arn
    elif p.kind is PrincipalKind.ASSUMED_ROLE:
        arn = p.role_arn or ""
    else:
        return False
    return arn.split(":", 5)[-1].startswith("role/aws-service-role/")


def _collect(req: Request, ps: PolicySet, unknown: bool) -> _Scans:
    s = _Scans()
    kind = req.principal.kind
    iam_principal = kind not in (PrincipalKind.SERVICE, PrincipalKind.ANONYMOUS)
    bounded = ps.boundaries is not None and len(ps.boundaries) > 0
    if iam_principal:
        s.identity = _scan(ps.identity, req, unknown, s)
    if ps.resource is not None:
        s.resource = _scan((ps.resource,), req, unknown, s, True, bounded)
    if iam_principal and kind is not PrincipalKind.ROOT:
        if bounded:
            s.boundaries = [_scan((b,), req, unknown, s) for b in ps.boundaries or ()]
        if ps.session is not None:
            s.session = _scan(ps.session, req, unknown, s)
    if iam_principal and ps.scps is not None:
        if _service_linked(req.principal):
            s.scps_exempt = True
        else:
            s.scps = [[_scan((d,), req, unknown, s) for d in level] for level in ps.scps]
    s.root_keeps_bucket_policy = (
        kind is PrincipalKind.ROOT and req.same_account
        and req.action_lower in _BUCKET_POLICY_ACTIONS
    )
    return s


def _pick(hits: list[_Hit], unknown_as: bool) -> list[_Hit]:
    return [h for h in hits if h[2] is True or (h[2] is None and unknown_as)]


# The hits that count in one reading: the denies of the identity policies, of the resource
# policy, of the boundaries and session policy, of the SCPs; the allows of each boundary, of the
# session policy (None without one) and of each SCP level.
_Counted = tuple[list[_Hit], list[_Hit], list[_Hit], list[_Hit], list[list[_Hit]],
                 "list[_Hit] | None", list[list[_Hit]]]


def _counted(s: _Scans, optimistic: bool) -> _Counted:
    a_u, d_u = optimistic, not optimistic
    # The bucket owner's root user keeps its bucket policy whatever the policy denies.
    resource_denies = [] if s.root_keeps_bucket_policy else _pick(s.resource[1], d_u)
    limit_denies: list[_Hit] = []
    boundary_allows: list[list[_Hit]] = []
    if s.boundaries is not None:
        for allows, denies in s.boundaries:
            limit_denies += _pick(denies, d_u)
            boundary_allows.append(_pick(allows, a_u))
    session_allows: list[_Hit] | None = None
    if s.session is not None:
        limit_denies += _pick(s.session[1], d_u)
        session_allows = _pick(s.session[0], a_u)
    scp_denies: list[_Hit] = []
    scp_allows: list[list[_Hit]] = []
    if s.scps is not None:
        for level in s.scps:
            level_allows: list[_Hit] = []
            for allows, denies in level:
                scp_denies += _pick(denies, d_u)
                level_allows += _pick(allows, a_u)
            scp_allows.append(level_allows)
    return (_pick(s.identity[1], d_u), resource_denies, limit_denies, scp_denies,
            boundary_allows, session_allows, scp_allows)


# (decision, decisive hits, boundary detail, organisations detail, explanation facts)
_Outcome = tuple[EvalDecision, list[_Hit], "dict[str, bool] | None", "dict[str, bool] | None",
                 "_Facts"]
# (identity side, resource side, boundary ok, session ok, identity allows, first SCP level
# without an Allow, an SCP denies)
_Facts = tuple["str | None", str, bool, bool, bool, "int | None", bool]


def _decide(req: Request, s: _Scans, optimistic: bool) -> _Outcome:
    """One two-valued decision; unknown conditions count as met for allows iff `optimistic`
    and for denies iff not."""
    (identity_denies, resource_denies, limit_denies, scp_denies, boundary_allows, session_allows,
     scp_allows) = _counted(s, optimistic)
    boundary_ok = all(boundary_allows)
    bdetail = (
        {"AllowedByPermissionsBoundary": boundary_ok} if s.boundaries is not None else None
    )
    failing: int | None = None
    for i, level in enumerate(scp_allows):
        if not level:
            failing = i
            break
    odetail = (
        {"AllowedByOrganizations": failing is None} if s.scps is not None
        else {"AllowedByOrganizations": True} if s.scps_exempt else None
    )
    kind = req.principal.kind
    res_allows = _pick(s.resource[0], optimistic)
    grant = max(h[3] for h in res_allows) if res_allows else NO_GRANT
    id_allows = _pick(s.identity[0], optimistic)
    if session_allows is None:
        # GetFederationToken without a session policy yields a session with no permissions
        # (only resource-based grants naming the session can still apply).
        session_ok = kind is not PrincipalKind.FEDERATED_USER
    else:
        session_ok = bool(session_allows)
    if kind in (PrincipalKind.SERVICE, PrincipalKind.ANONYMOUS):
        identity_side: str | None = None
    elif identity_denies or limit_denies:
        identity_side = "explicitDeny"
    elif kind is PrincipalKind.ROOT or (id_allows and boundary_ok and session_ok):
        identity_side = "allowed"
    else:
        identity_side = "implicitDeny"
    resource_side = ("explicitDeny" if resource_denies
                     else "allowed" if grant != NO_GRANT else "implicitDeny")
    facts: _Facts = (identity_side, resource_side, boundary_ok, session_ok, bool(id_allows),
                     failing, bool(scp_denies))
    deny_hits = identity_denies + resource_denies + limit_denies + scp_denies
    if deny_hits:
        return "explicitDeny", deny_hits, bdetail, odetail, facts
    if failing is not None:
        return "implicitDeny", [], bdetail, odetail, facts
    used = _allowing(req, grant, res_allows, id_allows, boundary_ok, session_ok)
    if used is None:
        return "implicitDeny", [], bdetail, odetail, facts
    if kind not in (PrincipalKind.SERVICE, PrincipalKind.ANONYMOUS, PrincipalKind.ROOT):
        for b in boundary_allows:
            used = used + b
        if session_allows:
            used = used + session_allows
    for level_hits in scp_allows:
        used = used + level_hits
    return "allowed", used, bdetail, odetail, facts


def _allowing(req: Request, grant: int, res_allows: list[_Hit], id_allows: list[_Hit],
              boundary_ok: bool, session_ok: bool) -> list[_Hit] | None:
    """The allows that let the request through when nothing denies it, or None."""
    kind = req.principal.kind
    trust = req.action_lower in TRUST_ACTIONS
    if kind in (PrincipalKind.SERVICE, PrincipalKind.ANONYMOUS):
        # No identity of their own: only the resource-based (trust / bucket) policy counts.
        return res_allows if grant != NO_GRANT else None
    if kind is PrincipalKind.ROOT:
        if trust and req.action_lower == "sts:assumerole":
            return None  # the root user cannot call AssumeRole
        if req.same_account:
            return res_allows if not trust or grant != NO_GRANT else None
        return res_allows if grant != NO_GRANT else None
    if not req.same_account:
        # Cross-account: the caller's side and the resource's side must both allow.
        ok = grant != NO_GRANT and id_allows and boundary_ok and session_ok
        return id_allows + res_allows if ok else None
    identity_path = bool(id_allows) and boundary_ok and session_ok
    if trust and grant == NO_GRANT:
        return None  # a role's trust policy must name the caller or its account
    if grant == DIRECT_GRANT and not (trust and kind is PrincipalKind.USER and not boundary_ok):
        # A resource policy naming the user is not limited by the boundary, except that a
        # bounded user must have sts:AssumeRole allowed by its boundary ("Update a role
        # trust policy" in the IAM User Guide).
        return res_allows
    if grant == ROLE_GRANT and boundary_ok and session_ok:
        return res_allows + (id_allows if identity_path else [])
    return id_allows + res_allows if identity_path else None


def evaluate(request: Request, policies: PolicySet, *, unknown_context: bool = False) -> Decision:
    """Decide `request` against `policies` with AWS's evaluation logic; never raises.

    With `unknown_context`, a condition on a key the context lacks is unknown rather than
    absent; a key given as a `ValueRange` is unknown wherever the result depends on its value.
    The decision is the one reached if unknown conditions hold for allows and fail for denies,
    `conditional` says whether the pessimistic reading differs, and `missing_context_values`
    lists the keys.
    """
    try:
        if request.action_lower == "sts:getcalleridentity" and request.principal.kind in _CREDENTIALED:
            return Decision(eval_decision="allowed", eval_action_name=request.action,
                            eval_resource_name=request.resource, notes=(CALLER_IDENTITY_NOTE,))
        s = _collect(request, policies, unknown_context)
        decision, used, bdetail, odetail, facts = _decide(request, s, True)
        conditional = False
        ranged = s.ranged
        if s.missing and (unknown_context or (ranged is not None and ranged.open_keys)):
            conditional = _decide(request, s, False)[0] != decision
            if conditional and ranged is not None and ranged.open_keys and ranged.refinable:
                refined = refine_over_ranges(evaluate, request, policies, unknown_context,
                                             ranged.open_keys, ranged.points)
                if refined is not None:
                    return refined
        details: dict[str, str] | None
        if facts[5] is not None or facts[6]:
            details = None
        elif request.same_account:
            details = {} if request.resource != "*" else None
        else:
            details = decision_details(request, facts[0], facts[1], False)
        return fast_decision(
            decision,
            tuple(_matched(used)),
            tuple(sorted(s.missing.values(), key=str.lower)) if s.missing else (),
            bdetail,
            odetail,
            conditional,
            request.action,
            request.resource,
            details,
            _notes(request, policies, s, decision, facts)
            if decision == "implicitDeny" or s.scps_exempt or s.root_keeps_bucket_policy else (),
        )
    except Exception as exc:  # noqa: BLE001 - fail closed: report, never allow
        return Decision(
            eval_decision="implicitDeny",
            errors=(f"{type(exc).__name__}: {exc}",),
            eval_action_name=getattr(request, "action", ""),
            eval_resource_name=getattr(request, "resource", ""),
        )


def _notes(req: Request, ps: PolicySet, s: _Scans, decision: EvalDecision,
           facts: _Facts) -> tuple[str, ...]:
    notes: list[str] = []
    if s.scps_exempt:
        notes.append(service_linked_note(req.principal.role_arn or req.principal.arn))
    if s.root_keeps_bucket_policy and s.resource[1]:
        notes.append(ROOT_BUCKET_POLICY_NOTE)
    if decision == "implicitDeny":
        notes += deny_notes(req, Reading(*facts, ps.resource is not None))
    return tuple(notes)

"""`what_can`: what a principal's identity policies allow and deny at T, each Allow checked in full.

Reads one `Snapshot` and decides through `projections.assemble.decide`; never reads the clock or a store.
"""

from __future__ import annotations

from ledger.policy import PolicyEntry
from ledger.policy.document import Statement
from projections.assemble import build_inputs, decide
from projections.queries.policy_shape import document_statements
from projections.results import AsOf, EffectiveCheck, StatementAccess, WhatCanResult
from projections.view import Snapshot


def what_can(snap: Snapshot, as_of: AsOf, principal: str) -> WhatCanResult:
    """Allow statements of the principal's policies, each checked against every deny,
    boundary, session policy and SCP (evaluated with the statement's own action and resource
    patterns as the request, unknown context allowed)."""
    inputs = build_inputs(snap, principal, "*", "*")
    grants: list[StatementAccess] = []
    denies: list[StatementAccess] = []
    for entry in inputs.policies.identity:
        for st in document_statements(entry.compiled):
            if st.effect != "Allow":
                denies.append(_summary(entry, st, None))
            else:
                grants.append(_summary(entry, st, tuple(_effective(snap, principal, st))))
    return WhatCanResult(as_of=as_of, principal=principal, allows=tuple(grants), denies=tuple(denies),
                         errors=tuple(inputs.errors), unknown_policies=tuple(inputs.unknown_policies))


def _summary(entry: PolicyEntry, st: Statement, effective: tuple[EffectiveCheck, ...] | None) -> StatementAccess:
    actions = list(st.action or ()) or [f"NotAction:{a}" for a in st.not_action or ()]
    resources = list(st.resource or ("*",)) if st.resource is not None else \
        [f"NotResource:{r}" for r in st.not_resource or ()]
    return StatementAccess(policy=entry.policy_id, policy_type=entry.policy_type, sid=st.sid,
                           actions=tuple(actions), resources=tuple(resources), origin=entry.origin,
                           conditions=bool(st.condition), effective=effective)


def _effective(snap: Snapshot, principal: str, st: Statement) -> list[EffectiveCheck]:
    out = []
    for a in st.action or ():
        for r in st.resource or ("*",):
            d = decide(snap, principal, a, r, unknown_context=True)
            denied = d.eval_decision == "explicitDeny"
            out.append(EffectiveCheck(
                action=a, resource=r, eval_decision=d.eval_decision, conditional=bool(d.decision.conditional),
                missing_context=tuple(d.decision.missing_context_values),
                boundary=d.decision.permissions_boundary_decision_detail,
                organizations=d.decision.organizations_decision_detail,
                cut_by=d.decision.matched_statements if denied else (),
                notes=(*d.all_notes, *d.decision.errors, *([d.qualification] if d.qualification else []))))
    return out

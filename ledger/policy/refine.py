"""Settle a decision over ranged context keys piece by piece, when statement by statement it
could not be: e.g. one Allow before a date and another after it allow at every point.

Evaluates the request once per piece of the ranges; gives up (None) rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ledger.policy.decision import Decision
from ledger.policy.ranges import range_samples
from ledger.policy.request import Request

__all__ = ["refine_over_ranges"]

Evaluate = Callable[..., Decision]


def refine_over_ranges(
    evaluate: Evaluate,
    request: Request,
    policies: Any,
    unknown_context: bool,
    open_keys: set[str],
    points: Mapping[str, set[float]],
) -> Decision | None:
    """The decision when every piece of the `open_keys` ranges (cut at the policies' comparison
    `points`) decides the same, definitely; None when the pieces differ, one is itself
    conditional or erred, or there are too many pieces to try."""
    samples = range_samples({k: request.ranges[k] for k in sorted(open_keys)}, points)
    if samples is None:
        return None
    spelling = {key.lower(): key for key in request.context}
    parts: list[Decision] = []
    for sample in samples:
        context = dict(request.context)
        for low, text in sample.items():
            context[spelling[low]] = text
        part = evaluate(
            Request(request.principal, request.action, request.resource,
                    request.resource_account, context, request.derive_context),
            policies, unknown_context=unknown_context,
        )
        if part.errors or part.conditional or (parts and part.eval_decision != parts[0].eval_decision):
            return None
        parts.append(part)
    first = parts[0]
    matched = {
        (m.source_policy_id, m.source_policy_type, m.statement_index, m.effect): m
        for p in parts for m in p.matched_statements
    }
    missing = {k.lower(): k for p in parts for k in p.missing_context_values}
    names = ", ".join(sorted(spelling[k] for k in open_keys))
    return Decision(
        eval_decision=first.eval_decision,
        matched_statements=tuple(matched.values()),
        missing_context_values=tuple(sorted(missing.values(), key=str.lower)),
        permissions_boundary_decision_detail=first.permissions_boundary_decision_detail,
        organizations_decision_detail=first.organizations_decision_detail,
        conditional=False,
        eval_action_name=request.action,
        eval_resource_name=request.resource,
        eval_decision_details=first.eval_decision_details,
        notes=(*first.notes, f"the same for every value of {names} in the given range"),
    )

"""The answer of the evaluator, shaped like AWS SimulatePrincipalPolicy's EvaluationResult.

Plain frozen slots dataclasses (not pydantic): one is built per decision, on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

__all__ = ["Decision", "EvalDecision", "MatchedStatement", "combine_resource_decisions"]

_T = TypeVar("_T")

EvalDecision = Literal["allowed", "explicitDeny", "implicitDeny"]


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    """A statement that decided (or contributed to) the result, and where its policy came from."""

    source_policy_id: str
    source_policy_type: str
    statement_index: int
    sid: str | None
    effect: str
    origin: Any = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "SourcePolicyId": self.source_policy_id,
            "SourcePolicyType": self.source_policy_type,
            "StatementIndex": self.statement_index,
            "Sid": self.sid,
            "Effect": self.effect,
        }
        if self.origin is not None:
            out["Origin"] = self.origin
        return out


@dataclass(frozen=True, slots=True)
class Decision:
    """`eval_decision` plus its reasons; `conditional` says the decision depends on context the
    request does not settle (a missing key in unknown-context mode, or a ranged key).

    `eval_decision_details` is AWS's EvalDecisionDetails: None for a same-account request on
    "*" (and when an SCP denies), {} for a same-account request on a resource ARN, and for a
    cross-account request how each side decided ({"IdentityPolicy": ..., "ResourcePolicy": ...}).
    `notes` say in words why, when the statements alone do not (an implicit deny, a rule that
    overrides the policies). `resource_specific_results` holds one decision per resource when
    this one combines several (`combine_resource_decisions`).
    """

    eval_decision: EvalDecision
    matched_statements: tuple[MatchedStatement, ...] = ()
    missing_context_values: tuple[str, ...] = ()
    permissions_boundary_decision_detail: dict[str, bool] | None = None
    organizations_decision_detail: dict[str, bool] | None = None
    errors: tuple[str, ...] = ()
    conditional: bool = False
    eval_action_name: str = ""
    eval_resource_name: str = ""
    eval_decision_details: dict[str, str] | None = None
    notes: tuple[str, ...] = ()
    resource_specific_results: tuple[Decision, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.eval_decision == "allowed"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape, with AWS's key names (`ResourceSpecificResults` only when combined)."""
        out: dict[str, Any] = {
            "EvalActionName": self.eval_action_name,
            "EvalResourceName": self.eval_resource_name,
            "EvalDecision": self.eval_decision,
            "MatchedStatements": [m.to_dict() for m in self.matched_statements],
            "MissingContextValues": list(self.missing_context_values),
            "PermissionsBoundaryDecisionDetail": self.permissions_boundary_decision_detail,
            "OrganizationsDecisionDetail": self.organizations_decision_detail,
            "Conditional": self.conditional,
            "Errors": list(self.errors),
            "EvalDecisionDetails": self.eval_decision_details,
            "Notes": list(self.notes),
        }
        if self.resource_specific_results:
            out["ResourceSpecificResults"] = [
                r.resource_result() for r in self.resource_specific_results
            ]
        return out

    def resource_result(self) -> dict[str, Any]:
        """This decision as one entry of AWS's ResourceSpecificResults."""
        return {
            "EvalResourceName": self.eval_resource_name,
            "EvalResourceDecision": self.eval_decision,
            "MatchedStatements": [m.to_dict() for m in self.matched_statements],
            "MissingContextValues": list(self.missing_context_values),
            "EvalDecisionDetails": self.eval_decision_details,
            "PermissionsBoundaryDecisionDetail": self.permissions_boundary_decision_detail,
            "Conditional": self.conditional,
            "Errors": list(self.errors),
            "Notes": list(self.notes),
        }


def _slot_setters() -> tuple[Any, ...]:
    return tuple(Decision.__dict__[name].__set__ for name in Decision.__dataclass_fields__)


(_set_decision, _set_matched, _set_missing, _set_boundary, _set_organizations, _set_errors,
 _set_conditional, _set_action, _set_resource, _set_details, _set_notes,
 _set_parts) = _slot_setters()
_new = object.__new__


def fast_decision(
    eval_decision: EvalDecision,
    matched_statements: tuple[MatchedStatement, ...],
    missing_context_values: tuple[str, ...],
    permissions_boundary_decision_detail: dict[str, bool] | None,
    organizations_decision_detail: dict[str, bool] | None,
    conditional: bool,
    eval_action_name: str,
    eval_resource_name: str,
    eval_decision_details: dict[str, str] | None,
    notes: tuple[str, ...],
) -> Decision:
    """`Decision(...)` for the evaluator's hot path, equal to the keyword call with no errors:
    a frozen dataclass's __init__ goes through object.__setattr__ once per field, which is a
    third of a warm decision; writing the slots directly halves that."""
    d = _new(Decision)
    _set_decision(d, eval_decision)
    _set_matched(d, matched_statements)
    _set_missing(d, missing_context_values)
    _set_boundary(d, permissions_boundary_decision_detail)
    _set_organizations(d, organizations_decision_detail)
    _set_errors(d, ())
    _set_conditional(d, conditional)
    _set_action(d, eval_action_name)
    _set_resource(d, eval_resource_name)
    _set_details(d, eval_decision_details)
    _set_notes(d, notes)
    _set_parts(d, ())
    return d


_SEVERITY: dict[str, int] = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}


def combine_resource_decisions(decisions: Sequence[Decision]) -> Decision:
    """One decision for a request naming several resources (AWS's ResourceArns): allowed only
    if every resource is allowed, explicitDeny if any is; the parts stay in
    `resource_specific_results`, in the order given.

    The decisive statements are those of the resources that decided (every resource when
    allowed); missing keys, errors and notes are the union; the boundary and organisation
    details allow only if they allow for every resource.
    """
    if not decisions:
        raise ValueError("combine_resource_decisions needs at least one decision")
    worst = max(decisions, key=lambda d: _SEVERITY[d.eval_decision]).eval_decision
    deciding = [d for d in decisions if d.eval_decision == worst]
    return Decision(
        eval_decision=worst,
        matched_statements=tuple({
            (m.source_policy_id, m.source_policy_type, m.statement_index, m.effect): m
            for d in deciding for m in d.matched_statements
        }.values()),
        missing_context_values=_unique(k for d in decisions for k in d.missing_context_values),
        permissions_boundary_decision_detail=_all_true(
            [d.permissions_boundary_decision_detail for d in decisions]),
        organizations_decision_detail=_all_true(
            [d.organizations_decision_detail for d in decisions]),
        errors=_unique(e for d in decisions for e in d.errors),
        # The pessimistic reading of each part is never better than its decision, so the
        # whole one differs from its decision exactly when a deciding part is conditional.
        conditional=any(d.conditional for d in deciding),
        eval_action_name=decisions[0].eval_action_name,
        eval_resource_name="*",
        eval_decision_details=None,
        notes=_unique(
            f"{d.eval_resource_name}: {n}" for d in decisions for n in d.notes
        ),
        resource_specific_results=tuple(decisions),
    )


def _unique(items: Iterable[_T]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(items))


def _all_true(details: list[dict[str, bool] | None]) -> dict[str, bool] | None:
    present = [d for d in details if d is not None]
    if not present:
        return None
    return {key: all(d.get(key, True) for d in present) for key in present[0]}

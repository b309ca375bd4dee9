"""The answer of the evaluator, shaped like AWS SimulatePrincipalPolicy's EvaluationResult.

Plain frozen slots dataclasses (not pydantic): one is built per decision, on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Decision", "EvalDecision", "MatchedStatement"]

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
    """`eval_decision` plus its reasons; `conditional` is only set in unknown-context mode."""

    eval_decision: EvalDecision
    matched_statements: tuple[MatchedStatement, ...] = ()
    missing_context_values: tuple[str, ...] = ()
    permissions_boundary_decision_detail: dict[str, bool] | None = None
    organizations_decision_detail: dict[str, bool] | None = None
    errors: tuple[str, ...] = ()
    conditional: bool = False
    eval_action_name: str = ""
    eval_resource_name: str = ""

    @property
    def allowed(self) -> bool:
        return self.eval_decision == "allowed"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape, with AWS's key names."""
        return {
            "EvalActionName": self.eval_action_name,
            "EvalResourceName": self.eval_resource_name,
            "EvalDecision": self.eval_decision,
            "MatchedStatements": [m.to_dict() for m in self.matched_statements],
            "MissingContextValues": list(self.missing_context_values),
            "PermissionsBoundaryDecisionDetail": self.permissions_boundary_decision_detail,
            "OrganizationsDecisionDetail": self.organizations_decision_detail,
            "Conditional": self.conditional,
            "Errors": list(self.errors),
        }

"""The pure AWS IAM policy engine: parse, compile and evaluate policies; simulate scenarios.

It never touches a database, clock, logger, network or file: callers pass everything in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.policy.arn import Arn, PrincipalKind, RequestPrincipal, parse_arn, principal_from_arn
    from ledger.policy.compiled import (
        CompiledPolicy,
        CompiledStatement,
        PolicyCompiler,
        StatementShape,
        compile_policy,
    )
    from ledger.policy.decision import Decision, EvalDecision, MatchedStatement, combine_resource_decisions
    from ledger.policy.document import PolicyDocument, PolicyType
    from ledger.policy.evaluator import PolicyEntry, PolicySet, evaluate
    from ledger.policy.matching import arn_match, wildcard_match
    from ledger.policy.parsing import parse_policy
    from ledger.policy.principals import NamedPrincipals
    from ledger.policy.ranges import ValueRange
    from ledger.policy.request import TRUST_ACTIONS, Request, derived_context
    from ledger.policy.simulate import run_simulate, simulate_lines, simulate_scenario

# Each public name is imported from its module on first use (PEP 562): `ledger.errors`, which
# every module and the CLI import, must not load the whole engine (pydantic models, compilers).
_MODULES: dict[str, str] = {
    **dict.fromkeys(["Arn", "PrincipalKind", "RequestPrincipal", "parse_arn", "principal_from_arn"], "arn"),
    **dict.fromkeys(["CompiledPolicy", "CompiledStatement", "PolicyCompiler", "StatementShape", "compile_policy"],
                    "compiled"),
    **dict.fromkeys(["Decision", "EvalDecision", "MatchedStatement", "combine_resource_decisions"], "decision"),
    **dict.fromkeys(["PolicyDocument", "PolicyType"], "document"),
    **dict.fromkeys(["PolicyEntry", "PolicySet", "evaluate"], "evaluator"),
    **dict.fromkeys(["arn_match", "wildcard_match"], "matching"),
    **dict.fromkeys(["parse_policy"], "parsing"),
    **dict.fromkeys(["NamedPrincipals"], "principals"),
    **dict.fromkeys(["ValueRange"], "ranges"),
    **dict.fromkeys(["TRUST_ACTIONS", "Request", "derived_context"], "request"),
    **dict.fromkeys(["run_simulate", "simulate_lines", "simulate_scenario"], "simulate"),
}

__all__ = [
    "TRUST_ACTIONS",
    "Arn",
    "CompiledPolicy",
    "CompiledStatement",
    "Decision",
    "EvalDecision",
    "MatchedStatement",
    "NamedPrincipals",
    "PolicyCompiler",
    "PolicyDocument",
    "PolicyEntry",
    "PolicySet",
    "PolicyType",
    "PrincipalKind",
    "Request",
    "RequestPrincipal",
    "StatementShape",
    "ValueRange",
    "arn_match",
    "combine_resource_decisions",
    "compile_policy",
    "derived_context",
    "evaluate",
    "parse_arn",
    "parse_policy",
    "principal_from_arn",
    "run_simulate",
    "simulate_lines",
    "simulate_scenario",
    "wildcard_match",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'ledger.policy' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ledger.policy.{module}"), name)
    globals()[name] = value
    return value

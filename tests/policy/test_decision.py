"""Decisions: the JSON shape (every key kept), and one decision for several resources
(`combine_resource_decisions`, AWS's ResourceArns and ResourceSpecificResults)."""

from __future__ import annotations

import dataclasses
from itertools import product

import pytest

from ledger.policy import Decision, MatchedStatement, combine_resource_decisions
from ledger.policy.decision import fast_decision

ALLOW = MatchedStatement("p", "user", 0, "Allow", "Allow")
DENY = MatchedStatement("p", "user", 1, "Deny", "Deny", origin={"event": 7})
OLD_KEYS = {"EvalActionName", "EvalResourceName", "EvalDecision", "MatchedStatements", "MissingContextValues",
            "PermissionsBoundaryDecisionDetail", "OrganizationsDecisionDetail", "Conditional", "Errors"}


def part(decision: str, resource: str, **kw: object) -> Decision:
    matched = {"allowed": (ALLOW,), "explicitDeny": (DENY,), "implicitDeny": ()}[decision]
    return Decision(decision, matched, eval_action_name="mediaconvert:CreateJob",  # type: ignore[arg-type]
                    eval_resource_name=resource, **kw)  # type: ignore[arg-type]


class TestShape:
    """to_dict keeps every earlier key and adds EvalDecisionDetails and Notes."""

    def test_keys(self) -> None:
        """Earlier keys stay; the new ones are added; ResourceSpecificResults only when combined."""
        assert OLD_KEYS | {"EvalDecisionDetails", "Notes"} == set(Decision("allowed").to_dict())

    def test_fast_constructor_equals_the_keyword_one(self) -> None:
        """The evaluator's hot-path constructor builds the same frozen value."""
        fast = fast_decision("allowed", (ALLOW,), ("k",), None, {"AllowedByOrganizations": True}, True,
                             "s3:GetObject", "arn:aws:s3:::b/k", {}, ("n",))
        slow = Decision(eval_decision="allowed", matched_statements=(ALLOW,), missing_context_values=("k",),
                        organizations_decision_detail={"AllowedByOrganizations": True}, conditional=True,
                        eval_action_name="s3:GetObject", eval_resource_name="arn:aws:s3:::b/k",
                        eval_decision_details={}, notes=("n",))
        assert slow == fast
        with pytest.raises(dataclasses.FrozenInstanceError):
            fast.eval_decision = "implicitDeny"  # type: ignore[misc]


DECISIONS = ["allowed", "implicitDeny", "explicitDeny"]


class TestCombine:
    """Allowed only if every resource is allowed; explicitDeny if any resource is."""

    @pytest.mark.parametrize("decisions", [list(p) for n in (1, 2, 3) for p in product(DECISIONS, repeat=n)])
    def test_overall_decision(self, decisions: list[str]) -> None:
        """The worst part decides (reference: explicit beats implicit beats allowed)."""
        expected = ("explicitDeny" if "explicitDeny" in decisions
                    else "implicitDeny" if "implicitDeny" in decisions else "allowed")
        got = combine_resource_decisions([part(d, f"r{i}") for i, d in enumerate(decisions)])
        assert expected == got.eval_decision
        assert [f"r{i}" for i in range(len(decisions))] == [r.eval_resource_name for r in got.resource_specific_results]

    def test_statements_of_the_deciding_parts(self) -> None:
        """An explicitDeny shows the deny, not the other resources' allows; allows appear once."""
        assert ((DENY,), (ALLOW,)) == (
            combine_resource_decisions([part("allowed", "a"), part("explicitDeny", "b")]).matched_statements,
            combine_resource_decisions([part("allowed", "a"), part("allowed", "b")]).matched_statements)

    def test_unions_and_details(self) -> None:
        """Missing keys, errors and notes are unions; details allow only if every part's does."""
        got = combine_resource_decisions([
            part("allowed", "a", missing_context_values=("k1",), notes=("n",),
                 permissions_boundary_decision_detail={"AllowedByPermissionsBoundary": True}),
            part("implicitDeny", "b", missing_context_values=("k1", "k2"), errors=("e",),
                 permissions_boundary_decision_detail={"AllowedByPermissionsBoundary": False}),
        ])
        assert (("k1", "k2"), ("e",), ("a: n",), {"AllowedByPermissionsBoundary": False}, None, "*") == (
            got.missing_context_values, got.errors, got.notes, got.permissions_boundary_decision_detail,
            got.organizations_decision_detail, got.eval_resource_name)

    @pytest.mark.parametrize("parts, expected", [
        ([("allowed", True), ("allowed", False)], True),
        ([("allowed", True), ("implicitDeny", False)], False),
        ([("implicitDeny", True), ("allowed", False)], True),
        ([("explicitDeny", False), ("allowed", True)], False),
    ])
    def test_conditional_when_a_deciding_part_is(self, parts: list[tuple[str, bool]], expected: bool) -> None:
        """The whole is conditional exactly when one of the parts that decide it is."""
        got = combine_resource_decisions([part(d, f"r{i}", conditional=c) for i, (d, c) in enumerate(parts)])
        assert expected == got.conditional

    def test_resource_specific_results_shape(self) -> None:
        """Each entry has AWS's ResourceSpecificResult keys (plus ours)."""
        out = combine_resource_decisions([part("allowed", "a"), part("implicitDeny", "b")]).to_dict()
        assert [("a", "allowed"), ("b", "implicitDeny")] == [
            (r["EvalResourceName"], r["EvalResourceDecision"]) for r in out["ResourceSpecificResults"]]
        assert {"EvalResourceName", "EvalResourceDecision", "MatchedStatements", "MissingContextValues",
                "EvalDecisionDetails", "PermissionsBoundaryDecisionDetail"} <= set(out["ResourceSpecificResults"][0])

    def test_needs_a_decision(self) -> None:
        """Nothing to combine is a programming error."""
        with pytest.raises(ValueError, match="at least one"):
            combine_resource_decisions([])

"""The 44 cases transcribed from the AWS documentation (``tests/fixtures/policy_eval``, see its
PROVENANCE.md), run through ``ledger simulate``; and the whole table in one batch with garbage."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.policy.documented import (
    ALL_CASES,
    DECISIONS,
    FIXTURE_CASES,
    expected_fixture_decision,
    fixture_scenario,
    simulate,
)


def _combine(decisions: list[str]) -> str:
    """Reference: a multi-resource request is allowed only if every resource is allowed."""
    if "explicitDeny" in decisions:
        return "explicitDeny"
    if "implicitDeny" in decisions:
        return "implicitDeny"
    return "allowed"


class TestAwsDocFixture:
    """The 44 cases transcribed from the AWS documentation (tests/fixtures/policy_eval)."""

    def test_fixture_has_44_cases(self) -> None:
        """The copied fixture is complete."""
        assert len(FIXTURE_CASES) == 44

    @pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in FIXTURE_CASES])
    def test_case(self, case: dict[str, Any]) -> None:
        """Decision stated or derived by the cited AWS documentation."""
        scenario = fixture_scenario(case)
        result = simulate([scenario])[0]
        where = f"{case['id']} ({case['source']}) — “{case['quote']}”"
        assert (case["id"], None) == (result.get("id"), result.get("error")), where
        assert expected_fixture_decision(case) == result["EvalDecision"], where

    @pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in FIXTURE_CASES
                                      if isinstance(c["request"]["resource"], list)])
    def test_several_resources_decide_as_each_one_alone(self, case: dict[str, Any]) -> None:
        """A listed-resources scenario has one ResourceSpecificResults entry per resource, each
        deciding as that resource asked alone, and the overall decision combines them."""
        scenario = fixture_scenario(case)
        alone = simulate([dict(scenario, resource=r) for r in scenario["resource"]])
        listed = simulate([scenario])[0]
        each = [r["EvalDecision"] for r in alone]
        assert [(r, d) for r, d in zip(scenario["resource"], each, strict=True)] == [
            (r["EvalResourceName"], r["EvalResourceDecision"]) for r in listed["ResourceSpecificResults"]]
        assert _combine(each) == listed["EvalDecision"]


# --------------------------------------------------------------------------- one batch, with garbage


def test_whole_table_in_one_batch_with_garbage_lines() -> None:
    """All scenarios plus garbage lines in one batch: one output per input, in order, batch goes on."""
    from ledger.policy.simulate import simulate_lines

    lines: list[str] = []
    expect: list[tuple[Any, bool]] = []  # (id or None, must_error)
    garbage = [
        ("{not json", None),
        (json.dumps(["an", "array"]), None),
        (json.dumps({"id": "garbage-missing-action", "principal": "arn:aws:iam::111122223333:user/x",
                     "principal_account": "111122223333", "resource": "*", "identity_policies": [],
                     "resource_policy": None, "permission_boundaries": None, "context": {}}),
         "garbage-missing-action"),
    ]
    scenarios: list[tuple[dict[str, Any], bool]] = []
    for c in ALL_CASES:
        s = dict(c["scenario"])
        s["id"] = c["id"]
        scenarios.append((s, bool(c.get("expected_error"))))
    for c in FIXTURE_CASES:
        scenarios.append((fixture_scenario(c), False))
    # interleave garbage at the start, middle and end
    positions = {0: garbage[0], len(scenarios) // 2: garbage[1], len(scenarios): garbage[2]}
    for i in range(len(scenarios) + 1):
        if i in positions:
            line, gid = positions[i]
            lines.append(line)
            expect.append((gid, True))
        if i < len(scenarios):
            s, err = scenarios[i]
            lines.append(json.dumps(s))
            expect.append((s["id"], err))

    out = list(simulate_lines(iter(lines)))
    assert len(out) == len(lines)
    for line, (want_id, must_error) in zip(out, expect, strict=False):
        result = json.loads(line)
        assert isinstance(result, dict)
        if want_id is not None:
            assert result.get("id") == want_id
        if must_error:
            assert result.get("error"), result
        else:
            assert not result.get("error"), result
            assert result.get("EvalDecision") in DECISIONS

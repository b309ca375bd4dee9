"""Shared by the documented-case tests (not a test module): run scenarios through
`ledger.policy.simulate` and check each result against the case's documented expectation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
FIXTURE = HERE.parent / "fixtures" / "policy_eval" / "aws_doc_policy_evaluation_cases.json"

DECISIONS = {"allowed", "explicitDeny", "implicitDeny"}


def simulate(scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from ledger.policy.simulate import simulate_lines

    out = [json.loads(line) for line in simulate_lines(json.dumps(s) for s in scenarios)]
    assert len(out) == len(scenarios), "simulate_lines must emit one line per scenario"
    return out


def simulate_one(scenario: dict[str, Any]) -> dict[str, Any]:
    return simulate([scenario])[0]


def load_case_files() -> dict[str, list[dict[str, Any]]]:
    files: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(CASES_DIR.glob("*.json")):
        files[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return files


CASE_FILES = load_case_files()
ALL_CASES = [c for cases in CASE_FILES.values() for c in cases]


def check_case(case: dict[str, Any]) -> None:
    """Run one documented case and compare every expectation it states."""
    scenario = dict(case["scenario"])
    scenario["id"] = case["id"]
    result = simulate_one(scenario)
    where = f"{case['id']}: {case['rule']} — “{case['quote']}”"
    assert result.get("id") == case["id"], where
    if case.get("expected_error"):
        assert result.get("error"), f"expected a validation error; got {result!r}\n{where}"
        return
    assert not result.get("error"), f"unexpected error {result.get('error')!r}\n{where}"
    expected = case["expected"]
    assert result.get("EvalDecision") == expected["EvalDecision"], (
        f"got {result.get('EvalDecision')!r}, documented {expected['EvalDecision']!r}\n{where}"
    )
    _check_statements(case, result, where)
    _check_extras(case, result, where)


def _check_statements(case: dict[str, Any], result: dict[str, Any], where: str) -> None:
    sids = {m.get("Sid") for m in result.get("MatchedStatements") or []}
    if case.get("expected_matched_sids"):
        missing = set(case["expected_matched_sids"]) - sids
        assert not missing, f"decisive statements {sorted(missing)} not in MatchedStatements {sorted(map(str, sids))}\n{where}"
    if case.get("expected_no_matched_statements"):
        assert [] == result.get("MatchedStatements"), where
    if case.get("expected_missing_context") is not None:
        got = {str(k).lower() for k in result.get("MissingContextValues") or []}
        want = {k.lower() for k in case["expected_missing_context"]}
        assert want <= got, f"MissingContextValues {sorted(got)} lacks {sorted(want - got)}\n{where}"
        if not want:
            assert not got, f"expected no MissingContextValues, got {sorted(got)}\n{where}"


def _check_extras(case: dict[str, Any], result: dict[str, Any], where: str) -> None:
    expected = case["expected"]
    if "EvalDecisionDetails" in expected:
        assert expected["EvalDecisionDetails"] == result.get("EvalDecisionDetails"), where
    if "Conditional" in expected:
        assert expected["Conditional"] == result.get("Conditional"), where
    if "OrganizationsDecisionDetail" in expected:
        assert expected["OrganizationsDecisionDetail"] == result.get("OrganizationsDecisionDetail"), where
    if "ResourceSpecificResults" in expected:
        got = [(r["EvalResourceName"], r["EvalResourceDecision"]) for r in result["ResourceSpecificResults"]]
        assert [tuple(r) for r in expected["ResourceSpecificResults"]] == got, where
    for fragment in case.get("expected_notes_contain", []):
        assert any(fragment in note for note in result.get("Notes") or []), (
            f"no note says {fragment!r}: {result.get('Notes')!r}\n{where}")


# --------------------------------------------------------------------------- the AWS-doc fixture

FIXTURE_CASES: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _doc(entry: Any) -> Any:
    """A fixture policy entry is {name, document, ...}; tolerate a bare document too."""
    if isinstance(entry, dict) and "document" in entry:
        return entry["document"]
    return entry


def _principal(p: dict[str, Any]) -> tuple[str, str | None]:
    if p.get("type") == "AWSService":
        return p["service"], None
    return p["arn"], p.get("account")


def _scp_level(level: Any) -> list[Any]:
    """One organisation level: {policies: [...]}, a list of entries, or one entry."""
    if isinstance(level, dict) and "policies" in level:
        level = level["policies"]
    return [_doc(d) for d in _as_list(level)]


def fixture_scenario(case: dict[str, Any]) -> dict[str, Any]:
    """Map one fixture case to a simulate scenario (several resources stay one list, as AWS's
    ResourceArns)."""
    pols = case["policies"]
    req = case["request"]
    principal, principal_account = _principal(case["principal"])
    if req["action"].lower() == "sts:assumerole" and pols.get("role_trust"):
        resource_policy = _doc(pols["role_trust"])
    elif pols.get("resource"):
        resource_policy = _doc(pols["resource"])
    else:
        resource_policy = None
    boundary = pols.get("permissions_boundary")
    scenario: dict[str, Any] = {
        "id": case["id"],
        "principal": principal,
        "principal_account": principal_account,
        "action": req["action"],
        "resource": req["resource"],
        "resource_account": req.get("resource_account"),
        "identity_policies": [_doc(e) for e in _as_list(pols.get("identity"))],
        "resource_policy": resource_policy,
        "permission_boundaries": None if boundary is None else [_doc(b) for b in _as_list(boundary)],
        "context": req.get("context") or {},
    }
    if pols.get("session") is not None:
        session = _as_list(pols["session"])
        scenario["session_policy"] = _doc(session[0]) if len(session) == 1 else [_doc(s) for s in session]
    if pols.get("scp") is not None:
        scenario["scps"] = [_scp_level(level) for level in _as_list(pols["scp"])]
    return scenario


def expected_fixture_decision(case: dict[str, Any]) -> str:
    exp = case["expected"]
    if exp["decision"] == "Allow":
        return "allowed"
    return "explicitDeny" if exp.get("deny_kind") == "explicit" else "implicitDeny"

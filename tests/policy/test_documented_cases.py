"""Documented test table for the IAM policy evaluator (``ledger.policy.simulate``).

Every expected outcome comes from a quoted AWS documentation sentence (``rule`` +
``quote`` in each case); the 44 cases of ``tests/fixtures/policy_eval`` are
transcribed from the AWS docs (see its PROVENANCE.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
FIXTURE = HERE.parent / "fixtures" / "policy_eval" / "aws_doc_policy_evaluation_cases.json"

DECISIONS = {"allowed", "explicitDeny", "implicitDeny"}


# --------------------------------------------------------------------------- helpers


def _simulate(scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from ledger.policy.simulate import simulate_lines  # imported late: built in parallel

    out = [json.loads(line) for line in simulate_lines(json.dumps(s) for s in scenarios)]
    assert len(out) == len(scenarios), "simulate_lines must emit one line per scenario"
    return out


def _simulate_one(scenario: dict[str, Any]) -> dict[str, Any]:
    return _simulate([scenario])[0]


def _load_case_files() -> dict[str, list[dict[str, Any]]]:
    files: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(CASES_DIR.glob("*.json")):
        files[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return files


CASE_FILES = _load_case_files()
ALL_CASES = [c for cases in CASE_FILES.values() for c in cases]


def _params(topic: str) -> list[Any]:
    return [pytest.param(c, id=c["id"]) for c in CASE_FILES.get(topic, [])]


def _check_case(case: dict[str, Any]) -> None:
    scenario = dict(case["scenario"])
    scenario["id"] = case["id"]
    result = _simulate_one(scenario)
    where = f"{case['id']}: {case['rule']} — “{case['quote']}”"
    assert result.get("id") == case["id"], where
    if case.get("expected_error"):
        assert result.get("error"), f"expected a validation error; got {result!r}\n{where}"
        return
    assert not result.get("error"), f"unexpected error {result.get('error')!r}\n{where}"
    expected = case["expected"]["EvalDecision"]
    assert result.get("EvalDecision") == expected, (
        f"got {result.get('EvalDecision')!r}, documented {expected!r}\n{where}"
    )
    if case.get("expected_matched_sids"):
        sids = {m.get("Sid") for m in result.get("MatchedStatements") or []}
        missing = set(case["expected_matched_sids"]) - sids
        assert not missing, f"decisive statements {sorted(missing)} not in MatchedStatements {sorted(map(str, sids))}\n{where}"
    if case.get("expected_missing_context"):
        got = {str(k).lower() for k in result.get("MissingContextValues") or []}
        want = {k.lower() for k in case["expected_missing_context"]}
        assert want <= got, f"MissingContextValues {sorted(got)} lacks {sorted(want - got)}\n{where}"


# --------------------------------------------------------------------------- table sanity


class TestTableShape:
    """The documented table itself: size, provenance fields, well-formed expectations."""

    def test_at_least_150_cases(self) -> None:
        """The topic table holds at least 150 documented cases."""
        assert len(ALL_CASES) >= 150

    def test_ids_unique(self) -> None:
        """Case ids are unique across all files."""
        ids = [c["id"] for c in ALL_CASES]
        assert len(ids) == len(set(ids))

    @pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in ALL_CASES])
    def test_case_has_rule_and_quote(self, case: dict[str, Any]) -> None:
        """Every case cites a documentation rule and quotes its sentence."""
        assert isinstance(case.get("rule"), str) and case["rule"].strip()
        assert isinstance(case.get("quote"), str) and case["quote"].strip()
        assert isinstance(case.get("scenario"), dict)
        if not case.get("expected_error"):
            assert case["expected"]["EvalDecision"] in DECISIONS


# --------------------------------------------------------------------------- topic tables


class TestActions:
    """Action / NotAction matching: case-insensitive names, * and ?, NotAction over-grants."""

    @pytest.mark.parametrize("case", _params("actions"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented action-matching outcome."""
        _check_case(case)


class TestResources:
    """Resource / NotResource matching: case-sensitive resource part, * crossing '/'."""

    @pytest.mark.parametrize("case", _params("resources"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented resource-matching outcome."""
        _check_case(case)


class TestPrincipalsAndTrust:
    """Principal element forms and role trust policies (root vs user ARN, sessions, services)."""

    @pytest.mark.parametrize("case", _params("principals_and_trust"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented principal / trust outcome."""
        _check_case(case)


class TestConditionsString:
    """String condition operators, negation, OR / NOR of values, key-name case."""

    @pytest.mark.parametrize("case", _params("conditions_string"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented string-condition outcome."""
        _check_case(case)


class TestConditionsNumericDateBoolBinary:
    """Numeric, Date (ISO and epoch), Bool and BinaryEquals operators."""

    @pytest.mark.parametrize("case", _params("conditions_numeric_date_bool_binary"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented numeric/date/bool/binary outcome."""
        _check_case(case)


class TestConditionsIp:
    """IpAddress / NotIpAddress with IPv4 and IPv6 CIDRs."""

    @pytest.mark.parametrize("case", _params("conditions_ip"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented IP-condition outcome."""
        _check_case(case)


class TestConditionsArnNull:
    """ARN operators (segment-wise, unlike StringLike) and the Null operator."""

    @pytest.mark.parametrize("case", _params("conditions_arn_null"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented ARN/Null-condition outcome."""
        _check_case(case)


class TestConditionsSetsIfExists:
    """...IfExists, ForAllValues / ForAnyValue, several keys and operators AND-ed."""

    @pytest.mark.parametrize("case", _params("conditions_sets_ifexists"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented set-operator / IfExists outcome."""
        _check_case(case)


class TestVariables:
    """Policy variables: substitution, Version rules, defaults, escapes, missing values."""

    @pytest.mark.parametrize("case", _params("variables"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented policy-variable outcome."""
        _check_case(case)


class TestEvaluationOrder:
    """Deny wins everywhere, identity ∪ resource in one account, root user."""

    @pytest.mark.parametrize("case", _params("evaluation_order"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented evaluation-order outcome."""
        _check_case(case)


class TestCrossAccount:
    """Cross-account requests need both the identity and the resource policy."""

    @pytest.mark.parametrize("case", _params("cross_account"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented cross-account outcome."""
        _check_case(case)


class TestBoundariesSessions:
    """Permissions boundaries and session policies, and which principal a resource policy names."""

    @pytest.mark.parametrize("case", _params("boundaries_sessions"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented boundary / session-policy outcome."""
        _check_case(case)


class TestScps:
    """Organizations SCPs: every level must allow; deny at any level wins."""

    @pytest.mark.parametrize("case", _params("scps"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented SCP outcome."""
        _check_case(case)


class TestPassRoleMediaConvert:
    """iam:PassRole with iam:PassedToService, MediaConvert trust and cross-account output."""

    @pytest.mark.parametrize("case", _params("passrole_mediaconvert"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented PassRole / MediaConvert outcome."""
        _check_case(case)


class TestMalformed:
    """Malformed policies and scenarios produce an error line, not a decision."""

    @pytest.mark.parametrize("case", _params("malformed"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented validation error."""
        _check_case(case)


def test_every_case_file_has_a_test_class() -> None:
    """No case file is silently left out of the topic classes above."""
    covered = {
        "actions", "resources", "principals_and_trust", "conditions_string",
        "conditions_numeric_date_bool_binary", "conditions_ip", "conditions_arn_null",
        "conditions_sets_ifexists", "variables", "evaluation_order", "cross_account",
        "boundaries_sessions", "scps", "passrole_mediaconvert", "malformed",
        "no_resource_type",  # needs the AWS catalogue: tests/catalog/test_findings.py runs it
    }
    assert set(CASE_FILES) <= covered, sorted(set(CASE_FILES) - covered)


# --------------------------------------------------------------------------- the 44 AWS-doc fixture cases

FIXTURE_DATA = json.loads(FIXTURE.read_text(encoding="utf-8"))
FIXTURE_CASES = FIXTURE_DATA["cases"]


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


def fixture_scenarios(case: dict[str, Any]) -> list[dict[str, Any]]:
    """Map one fixture case to simulate scenarios (one per requested resource)."""
    pols = case["policies"]
    req = case["request"]
    principal, principal_account = _principal(case["principal"])
    identity = [_doc(e) for e in _as_list(pols.get("identity"))]
    if req["action"].lower() == "sts:assumerole" and pols.get("role_trust"):
        resource_policy = _doc(pols["role_trust"])
    elif pols.get("resource"):
        resource_policy = _doc(pols["resource"])
    else:
        resource_policy = None
    boundary = pols.get("permissions_boundary")
    boundaries = None if boundary is None else [_doc(b) for b in _as_list(boundary)]
    base: dict[str, Any] = {
        "principal": principal,
        "principal_account": principal_account,
        "action": req["action"],
        "resource_account": req.get("resource_account"),
        "identity_policies": identity,
        "resource_policy": resource_policy,
        "permission_boundaries": boundaries,
        "context": req.get("context") or {},
    }
    if pols.get("session") is not None:
        session = _as_list(pols["session"])
        base["session_policy"] = _doc(session[0]) if len(session) == 1 else [_doc(s) for s in session]
    if pols.get("scp") is not None:
        base["scps"] = [_scp_level(level) for level in _as_list(pols["scp"])]
    out = []
    resources = _as_list(req["resource"])
    for i, resource in enumerate(resources):
        s = dict(base, resource=resource)
        s["id"] = case["id"] if len(resources) == 1 else f"{case['id']}#{i}"
        out.append(s)
    return out


def _expected_fixture_decision(case: dict[str, Any]) -> str:
    exp = case["expected"]
    if exp["decision"] == "Allow":
        return "allowed"
    return "explicitDeny" if exp.get("deny_kind") == "explicit" else "implicitDeny"


def _combine(decisions: list[str]) -> str:
    """A multi-resource request is allowed only if every resource is allowed."""
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
        scenarios = fixture_scenarios(case)
        results = _simulate(scenarios)
        where = f"{case['id']} ({case['source']}) — “{case['quote']}”"
        for s, r in zip(scenarios, results, strict=False):
            assert r.get("id") == s["id"], where
            assert not r.get("error"), f"unexpected error {r.get('error')!r}\n{where}"
        got = _combine([r.get("EvalDecision") for r in results])
        assert got == _expected_fixture_decision(case), f"got {got!r}\n{where}"


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
    scenarios: list[dict[str, Any]] = []
    for c in ALL_CASES:
        s = dict(c["scenario"])
        s["id"] = c["id"]
        scenarios.append((s, bool(c.get("expected_error"))))
    for c in FIXTURE_CASES:
        for s in fixture_scenarios(c):
            scenarios.append((s, False))
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

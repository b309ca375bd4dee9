"""Documented test table for the IAM policy evaluator (``ledger.policy.simulate``).

Every expected outcome comes from a quoted AWS documentation sentence (``rule`` +
``quote`` in each case); the cases live in ``tests/policy/cases/``, one file per topic.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.policy.documented import ALL_CASES, CASE_FILES, DECISIONS, check_case


def _params(topic: str) -> list[Any]:
    return [pytest.param(c, id=c["id"]) for c in CASE_FILES.get(topic, [])]


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
        check_case(case)


class TestResources:
    """Resource / NotResource matching: case-sensitive resource part, * crossing '/'."""

    @pytest.mark.parametrize("case", _params("resources"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented resource-matching outcome."""
        check_case(case)


class TestPrincipalsAndTrust:
    """Principal element forms and role trust policies (root vs user ARN, sessions, services)."""

    @pytest.mark.parametrize("case", _params("principals_and_trust"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented principal / trust outcome."""
        check_case(case)


class TestConditionsString:
    """String condition operators, negation, OR / NOR of values, key-name case."""

    @pytest.mark.parametrize("case", _params("conditions_string"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented string-condition outcome."""
        check_case(case)


class TestConditionsNumericDateBoolBinary:
    """Numeric, Date (ISO and epoch), Bool and BinaryEquals operators."""

    @pytest.mark.parametrize("case", _params("conditions_numeric_date_bool_binary"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented numeric/date/bool/binary outcome."""
        check_case(case)


class TestConditionsIp:
    """IpAddress / NotIpAddress with IPv4 and IPv6 CIDRs."""

    @pytest.mark.parametrize("case", _params("conditions_ip"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented IP-condition outcome."""
        check_case(case)


class TestConditionsArnNull:
    """ARN operators (segment-wise, unlike StringLike) and the Null operator."""

    @pytest.mark.parametrize("case", _params("conditions_arn_null"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented ARN/Null-condition outcome."""
        check_case(case)


class TestConditionsSetsIfExists:
    """...IfExists, ForAllValues / ForAnyValue, several keys and operators AND-ed."""

    @pytest.mark.parametrize("case", _params("conditions_sets_ifexists"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented set-operator / IfExists outcome."""
        check_case(case)


class TestVariables:
    """Policy variables: substitution, Version rules, defaults, escapes, missing values."""

    @pytest.mark.parametrize("case", _params("variables"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented policy-variable outcome."""
        check_case(case)


class TestEvaluationOrder:
    """Deny wins everywhere, identity ∪ resource in one account, root user."""

    @pytest.mark.parametrize("case", _params("evaluation_order"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented evaluation-order outcome."""
        check_case(case)


class TestCrossAccount:
    """Cross-account requests need both the identity and the resource policy."""

    @pytest.mark.parametrize("case", _params("cross_account"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented cross-account outcome."""
        check_case(case)


class TestBoundariesSessions:
    """Permissions boundaries and session policies, and which principal a resource policy names."""

    @pytest.mark.parametrize("case", _params("boundaries_sessions"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented boundary / session-policy outcome."""
        check_case(case)


class TestScps:
    """Organizations SCPs: every level must allow; deny at any level wins."""

    @pytest.mark.parametrize("case", _params("scps"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented SCP outcome."""
        check_case(case)


class TestPassRoleMediaConvert:
    """iam:PassRole with iam:PassedToService, MediaConvert trust and cross-account output."""

    @pytest.mark.parametrize("case", _params("passrole_mediaconvert"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented PassRole / MediaConvert outcome."""
        check_case(case)


class TestMalformed:
    """Malformed policies and scenarios produce an error line, not a decision."""

    @pytest.mark.parametrize("case", _params("malformed"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented validation error."""
        check_case(case)


class TestCallerIdentity:
    """sts:GetCallerIdentity needs no permission and cannot be denied."""

    @pytest.mark.parametrize("case", _params("caller_identity"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented GetCallerIdentity outcome."""
        check_case(case)


class TestResourceOwner:
    """A resource ARN naming no account is owned by resource_owner, else by the caller's account."""

    @pytest.mark.parametrize("case", _params("resource_owner"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented ResourceOwner outcome."""
        check_case(case)


class TestServiceLinkedRoles:
    """SCPs do not affect service-linked roles (path /aws-service-role/) nor their sessions."""

    @pytest.mark.parametrize("case", _params("service_linked_roles"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented service-linked-role outcome."""
        check_case(case)


class TestBucketOwnerRoot:
    """The bucket owner's root user keeps Get/Put/DeleteBucketPolicy; SCPs still apply."""

    @pytest.mark.parametrize("case", _params("bucket_owner_root"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented bucket-owner root outcome."""
        check_case(case)


class TestTimeRanges:
    """Date and numeric keys known only as a range: settled when the range decides, else conditional."""

    @pytest.mark.parametrize("case", _params("time_ranges"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented outcome over a range of context values."""
        check_case(case)


class TestDecisionDetails:
    """EvalDecisionDetails: which side of a cross-account request allowed or denied."""

    @pytest.mark.parametrize("case", _params("decision_details"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented EvalDecisionDetails outcome."""
        check_case(case)


class TestMultipleResources:
    """A request naming several resources (ResourceArns): every one must be allowed."""

    @pytest.mark.parametrize("case", _params("multiple_resources"))
    def test_case(self, case: dict[str, Any]) -> None:
        """Documented multi-resource outcome."""
        check_case(case)


def test_every_case_file_has_a_test_class() -> None:
    """No case file is silently left out of the topic classes above."""
    covered = {
        "actions", "resources", "principals_and_trust", "conditions_string",
        "conditions_numeric_date_bool_binary", "conditions_ip", "conditions_arn_null",
        "conditions_sets_ifexists", "variables", "evaluation_order", "cross_account",
        "boundaries_sessions", "scps", "passrole_mediaconvert", "malformed", "caller_identity",
        "service_linked_roles", "bucket_owner_root", "time_ranges", "decision_details",
        "multiple_resources", "resource_owner",
        "no_resource_type",  # needs the AWS catalogue: tests/catalog/test_findings.py runs it
    }
    assert set(CASE_FILES) <= covered, sorted(set(CASE_FILES) - covered)

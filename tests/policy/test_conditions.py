"""Condition operators, set qualifiers, IfExists, Null and missing keys."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.policy._helpers import allow, decide, doc


def cond(block: dict[str, Any], context: dict[str, Any], version: str = "2012-10-17") -> bool:
    d = decide(identity=[doc(allow(Condition=block), version=version)], context=context)
    return d.eval_decision == "allowed"


B64 = base64.b64encode(b"\x00\x01hello").decode()


class TestOperatorFamilies:
    """Each operator family compares request values with policy values as documented."""

    @pytest.mark.parametrize(
        ("expected", "op", "policy", "value"),
        [
            (True, "StringEquals", "Eng", "Eng"),
            (False, "StringEquals", "Eng", "eng"),
            (True, "StringNotEquals", "Eng", "Ops"),
            (False, "StringNotEquals", "Eng", "Eng"),
            (True, "StringEqualsIgnoreCase", "ENG", "eng"),
            (False, "StringNotEqualsIgnoreCase", "ENG", "eng"),
            (True, "StringLike", "home/*/x?", "home/a/b/xy"),
            (False, "StringLike", "home/*", "Home/a"),
            (True, "StringNotLike", "home/*", "work/a"),
            (True, "NumericEquals", "10", "10.0"),
            (True, "NumericNotEquals", "10", "11"),
            (True, "NumericLessThan", "10", "9"),
            (False, "NumericLessThan", "10", "10"),
            (True, "NumericLessThanEquals", "10", "10"),
            (True, "NumericGreaterThan", "10", "11"),
            (True, "NumericGreaterThanEquals", "10", "10"),
            (False, "NumericEquals", "10", "ten"),
            (True, "DateEquals", "2024-01-01T00:00:00Z", "1704067200"),
            (True, "DateLessThan", "2024-01-01T00:00:00Z", "2023-12-31T23:59:59Z"),
            (False, "DateLessThan", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
            (True, "DateLessThanEquals", "2024-01-01", "2024-01-01T00:00:00+00:00"),
            (True, "DateGreaterThan", "1704067200", "2024-01-01T00:00:01Z"),
            (True, "DateGreaterThanEquals", "2024-01-01T01:00:00+01:00", "2024-01-01T00:00:00Z"),
            (True, "DateNotEquals", "2024-01-01", "2024-01-02"),
            (True, "Bool", "true", "true"),
            (False, "Bool", "true", "false"),
            (True, "Bool", "false", "FALSE"),
            (True, "BinaryEquals", B64, B64),
            (False, "BinaryEquals", B64, base64.b64encode(b"other").decode()),
            (True, "IpAddress", "203.0.113.0/24", "203.0.113.7"),
            (False, "IpAddress", "203.0.113.0/24", "198.51.100.7"),
            (True, "IpAddress", "2001:db8::/32", "2001:db8:1::5"),
            (False, "IpAddress", "2001:db8::/32", "203.0.113.7"),
            (True, "IpAddress", "203.0.113.7", "203.0.113.7"),
            (True, "NotIpAddress", "203.0.113.0/24", "198.51.100.7"),
            (True, "ArnEquals", "arn:aws:sns:*:111122223333:topic", "arn:aws:sns:us-east-1:111122223333:topic"),
            (True, "ArnLike", "arn:aws:iam::*:role/svc-*", "arn:aws:iam::111122223333:role/svc-a"),
            (False, "ArnLike", "arn:aws:iam::*:role/svc-*", "arn:aws:iam::111122223333:role/SVC-a"),
            (False, "ArnLike", "arn:aws:iam::*:role/*", "not-an-arn"),
            (True, "ArnNotEquals", "arn:aws:iam::*:role/a", "arn:aws:iam::111122223333:role/b"),
            (True, "ArnNotLike", "arn:aws:iam::*:role/a*", "arn:aws:iam::111122223333:role/b"),
        ],
    )
    def test_family(self, expected: bool, op: str, policy: str, value: str) -> None:
        """Operator semantics from the IAM condition-operator reference."""
        assert expected == cond({op: {"k:key": policy}}, {"k:key": value})

    def test_values_are_ored(self) -> None:
        """Several values for one key: the condition holds if any matches."""
        assert cond({"StringEquals": {"k": ["a", "b"]}}, {"k": "b"})

    def test_negated_values_are_nored(self) -> None:
        """Several values for a negated operator: holds only if none matches."""
        assert not cond({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "b"})

    def test_keys_and_operators_are_anded(self) -> None:
        """Several keys, and several operators, must all hold."""
        block = {"StringEquals": {"a": "1", "b": "2"}, "Bool": {"c": "true"}}
        assert (True, False) == (cond(block, {"a": "1", "b": "2", "c": "true"}),
                                 cond(block, {"a": "1", "b": "3", "c": "true"}))

    def test_key_names_are_case_insensitive(self) -> None:
        """Condition key names match regardless of case; values do not."""
        assert cond({"StringEquals": {"AWS:SourceVpc": "vpc-1"}}, {"aws:sourcevpc": "vpc-1"})


class TestMissingKeys:
    """How each operator treats a key absent from the request context."""

    @pytest.mark.parametrize(
        ("expected", "block"),
        [
            (False, {"StringEquals": {"k": "x"}}),
            (True, {"StringNotEquals": {"k": "x"}}),
            (True, {"StringNotLike": {"k": "x*"}}),
            (True, {"NotIpAddress": {"k": "10.0.0.0/8"}}),
            (True, {"ArnNotLike": {"k": "arn:aws:iam::*:role/x"}}),
            (True, {"StringEqualsIfExists": {"k": "x"}}),
            (True, {"NumericLessThanIfExists": {"k": "3"}}),
            (True, {"Null": {"k": "true"}}),
            (False, {"Null": {"k": "false"}}),
            (True, {"ForAllValues:StringEquals": {"k": "x"}}),
            (False, {"ForAnyValue:StringEquals": {"k": "x"}}),
            (False, {"Bool": {"k": "false"}}),
        ],
    )
    def test_missing(self, expected: bool, block: dict[str, Any]) -> None:
        """Positive operators fail, negated/IfExists/ForAllValues hold, Null checks presence."""
        assert expected == cond(block, {})

    def test_if_exists_still_checks_present_keys(self) -> None:
        """...IfExists compares normally when the key is present."""
        assert not cond({"StringEqualsIfExists": {"k": "x"}}, {"k": "y"})


class TestSetQualifiers:
    """ForAllValues / ForAnyValue over multi-valued keys."""

    @pytest.mark.parametrize(
        ("expected", "op", "value"),
        [
            (True, "ForAllValues:StringEquals", ["a", "b"]),
            (False, "ForAllValues:StringEquals", ["a", "z"]),
            (True, "ForAllValues:StringEquals", []),
            (True, "ForAnyValue:StringEquals", ["z", "b"]),
            (False, "ForAnyValue:StringEquals", ["y", "z"]),
            (False, "ForAnyValue:StringEquals", []),
            (True, "ForAllValues:StringNotEquals", ["y", "z"]),
            (False, "ForAllValues:StringNotEquals", ["a", "z"]),
            (True, "ForAnyValue:StringNotEquals", ["a", "z"]),
            (False, "ForAnyValue:StringNotEquals", ["a", "b"]),
            (True, "ForAnyValue:StringLike", ["x", "b"]),
            (False, "ForAnyValue:StringLike", ["x", "b*"]),  # request values are not patterns
        ],
    )
    def test_qualifier(self, expected: bool, op: str, value: list[str]) -> None:
        """ForAllValues: every request value matches; ForAnyValue: at least one does."""
        assert expected == cond({op: {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": value})

    def test_single_valued_operator_on_list_matches_any(self) -> None:
        """Without a qualifier a list-valued key matches if any value does."""
        assert cond({"StringEquals": {"k": "b"}}, {"k": ["a", "b"]})

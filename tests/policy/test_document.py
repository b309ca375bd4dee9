"""Policy document parsing and validation (IAM JSON policy grammar and quotas)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.errors import PolicyValidationError
from ledger.policy import PolicyType, parse_policy
from tests.policy._helpers import allow, doc, trust

S3 = "arn:aws:s3:::bucket/*"


class TestAcceptedShapes:
    """Documents AWS accepts parse into normalised models."""

    def test_statement_object_and_string_values_normalise_to_tuples(self) -> None:
        """A single Statement object and string Action/Resource become one-element tuples."""
        d = parse_policy({"Version": "2012-10-17", "Statement": allow("s3:GetObject", S3)},
                         PolicyType.IDENTITY)
        assert (("s3:GetObject",), (S3,)) == (d.statements[0].action, d.statements[0].resource)

    @pytest.mark.parametrize("version", ["2012-10-17", "2008-10-17", None])
    def test_versions(self, version: str | None) -> None:
        """Version may be 2012-10-17, 2008-10-17 or absent."""
        assert version == parse_policy(doc(allow(), version=version), "identity").version

    def test_json_text_and_bytes_are_accepted(self) -> None:
        """The document may be given as JSON text or UTF-8 bytes."""
        text = json.dumps(doc(allow("s3:*", S3)))
        assert parse_policy(text, "identity") == parse_policy(text.encode(), "identity")

    def test_principal_forms(self) -> None:
        """Principal accepts "*", AWS account ids/ARNs, Service, Federated and CanonicalUser."""
        d = parse_policy(doc(
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": S3},
            {"Effect": "Allow", "Principal": {"AWS": ["111122223333",
                                                     "arn:aws:iam::111122223333:root"],
                                              "Service": "mediaconvert.amazonaws.com",
                                              "Federated": "cognito-identity.amazonaws.com",
                                              "CanonicalUser": "79a59df900b949e55d96a1e698fbace"},
             "Action": "s3:GetObject", "Resource": S3}), PolicyType.RESOURCE)
        assert (True, ("mediaconvert.amazonaws.com",)) == (
            d.statements[0].principal.wildcard, d.statements[1].principal.service)

    def test_condition_values_are_stringified(self) -> None:
        """Booleans and numbers in condition values become their JSON text."""
        d = parse_policy(doc(allow(Condition={"Bool": {"aws:SecureTransport": True},
                                              "NumericLessThan": {"s3:max-keys": 10}})),
                         "identity")
        assert (("Bool", (("aws:SecureTransport", ("true",)),)),
                ("NumericLessThan", (("s3:max-keys", ("10",)),))) == d.statements[0].condition

    def test_trust_policy_without_resource(self) -> None:
        """A trust policy has Principal and Action but no Resource."""
        d = parse_policy(doc(trust({"Service": "mediaconvert.amazonaws.com"})), "trust")
        assert d.statements[0].resource is None


def _err(d: Any, ptype: str = "identity") -> PolicyValidationError:
    with pytest.raises(PolicyValidationError) as info:
        parse_policy(d, ptype)
    return info.value


class TestRejections:
    """Documents AWS rejects raise PolicyValidationError naming the JSON path and reason."""

    @pytest.mark.parametrize(
        ("document", "ptype", "path"),
        [
            (doc(allow(), allow(), {"Effect": "allow", "Action": "*", "Resource": "*"}),
             "identity", "Statement[2].Effect"),
            (doc({"Action": "*", "Resource": "*"}), "identity", "Statement[0].Effect"),
            ({"Version": "2013-01-01", "Statement": [allow()]}, "identity", "Version"),
            ({"Version": "2012-10-17"}, "identity", "Statement"),
            ({"Statement": []}, "identity", "Statement"),
            ({"Statement": "x"}, "identity", "Statement"),
            ({"Statement": [allow()], "Extra": 1}, "identity", "Extra"),
            (doc(dict(allow(), Foo=1)), "identity", "Statement[0].Foo"),
            (doc({"Effect": "Allow", "Resource": "*"}), "identity", "Statement[0]"),
            (doc(dict(allow(), NotAction="s3:*")), "identity", "Statement[0]"),
            (doc({"Effect": "Allow", "Action": "*"}), "identity", "Statement[0]"),
            (doc(dict(allow(), NotResource="*")), "identity", "Statement[0]"),
            (doc(allow(action=5)), "identity", "Statement[0].Action"),
            (doc(allow(action=[])), "identity", "Statement[0].Action"),
            (doc(allow(action=["s3:GetObject", 3])), "identity", "Statement[0].Action[1]"),
            (doc(allow(action="GetObject")), "identity", "Statement[0].Action"),
            (doc(allow(resource="bucket")), "identity", "Statement[0].Resource"),
            (doc(allow(Principal="*")), "identity", "Statement[0].Principal"),
            (doc(allow(Principal="*")), "boundary", "Statement[0].Principal"),
            (doc(allow(Principal="*")), "session", "Statement[0].Principal"),
            (doc(allow(Principal="*")), "scp", "Statement[0].Principal"),
            (doc(allow("s3:GetObject", S3)), "resource", "Statement[0]"),
            (doc(allow("s3:GetObject", S3)), "trust", "Statement[0]"),
            (doc(trust({"AWS": "*"}, Resource="*")), "trust", "Statement[0].Resource"),
            (doc({"Effect": "Deny", "NotPrincipal": {"AWS": "111122223333"},
                  "Action": "sts:AssumeRole"}), "trust", "Statement[0].NotPrincipal"),
            (doc(allow("s3:GetObject", S3, Principal={"Bogus": "x"})), "resource",
             "Statement[0].Principal.Bogus"),
            (doc(allow("s3:GetObject", S3, Principal="someone")), "resource",
             "Statement[0].Principal"),
            (doc(allow("s3:GetObject", S3, Principal={"AWS": "bob"})), "resource",
             "Statement[0].Principal.AWS"),
            (doc(allow(Condition={"StringEqualz": {"aws:username": "x"}})), "identity",
             "Statement[0].Condition.StringEqualz"),
            (doc(allow(Condition={"ForSomeValues:StringEquals": {"k": "x"}})), "identity",
             "Statement[0].Condition.ForSomeValues:StringEquals"),
            (doc(allow(Condition={"NullIfExists": {"k": "true"}})), "identity",
             "Statement[0].Condition.NullIfExists"),
            (doc(allow(Condition={"Null": {"k": "maybe"}})), "identity",
             "Statement[0].Condition.Null.k"),
            (doc(allow(Condition={"StringEquals": {"k": {"a": 1}}})), "identity",
             "Statement[0].Condition.StringEquals.k"),
            (doc(allow(Condition={"StringEquals": []})), "identity",
             "Statement[0].Condition.StringEquals"),
            (doc(allow(Sid=7)), "identity", "Statement[0].Sid"),
        ],
    )
    def test_path_of_the_offending_element(self, document: Any, ptype: str, path: str) -> None:
        """The error names the offending element's JSON path."""
        assert path == _err(document, ptype).path

    def test_message_has_path_and_reason(self) -> None:
        """The message reads `path: reason`, as in the issue's example."""
        e = _err(doc(allow(), allow(), {"Effect": "Permit", "Action": "*", "Resource": "*"}))
        assert 'Statement[2].Effect: must be "Allow" or "Deny"' == str(e)

    @pytest.mark.parametrize("text", ["", "{", "[1, 2]", "null", '"x"', "{'a': 1}",
                                      '{"Statement": [] , }'])
    def test_malformed_json(self, text: str) -> None:
        """Malformed or non-object JSON is a validation error."""
        _err(text)

    def test_duplicate_keys(self) -> None:
        """A key given twice in one object is rejected rather than silently overwritten."""
        _err('{"Statement": {"Effect": "Allow", "Effect": "Deny", "Action": "*", '
             '"Resource": "*"}}')

    def test_invalid_utf8_bytes(self) -> None:
        """Bytes that are not UTF-8 are a validation error."""
        _err(b'{"Statement": "\xff\xfe"}')

    def test_nul_byte_in_a_value(self) -> None:
        """Control characters such as NUL are not allowed in policy text."""
        _err(doc(allow(action="s3:Get\x00Object")))

    def test_deep_nesting(self) -> None:
        """Absurdly deep nesting is rejected, not a RecursionError."""
        _err("[" * 100_000 + "]" * 100_000)

    def test_unknown_policy_type(self) -> None:
        """An unknown policy type is a validation error."""
        _err(doc(allow()), "bucket-ish")


def _sized(n_chars: int) -> dict[str, Any]:
    """An identity policy whose whitespace-free JSON is exactly `n_chars` long."""
    base = doc(allow("s3:GetObject", "arn:aws:s3:::"))
    overhead = len(json.dumps(base, separators=(",", ":")))
    return doc(allow("s3:GetObject", "arn:aws:s3:::" + "b" * (n_chars - overhead)))


class TestSizeLimits:
    """AWS quotas per policy type, counted without whitespace."""

    @pytest.mark.parametrize(
        ("ptype", "limit"),
        [("identity", 6144), ("inline_user", 2048), ("inline_group", 5120),
         ("inline_role", 10240), ("session", 2048), ("scp", 5120), ("boundary", 6144)],
    )
    def test_limit_is_inclusive(self, ptype: str, limit: int) -> None:
        """A document at the limit parses; one character more is rejected."""
        assert parse_policy(_sized(limit), ptype)
        with pytest.raises(PolicyValidationError, match="size limit"):
            parse_policy(_sized(limit + 1), ptype)

    def test_whitespace_does_not_count(self) -> None:
        """Pretty-printing a document at the limit keeps it within the limit."""
        assert parse_policy(json.dumps(_sized(2048), indent=8), "inline_user")

    def test_trust_limit_and_override(self) -> None:
        """Trust policies default to 2,048 characters; callers may raise it (quota increase)."""
        big = doc(trust({"AWS": [f"arn:aws:iam::111122223333:user/u{i:04d}" for i in range(60)]}))
        with pytest.raises(PolicyValidationError):
            parse_policy(big, "trust")
        assert parse_policy(big, "trust", max_size=4096)

    def test_bucket_policy_limit(self) -> None:
        """Bucket policies may be up to 20 KB."""
        stmt = allow("s3:GetObject", S3, Principal="*")
        assert parse_policy(doc(*[stmt] * 100), "resource")
        with pytest.raises(PolicyValidationError):
            parse_policy(doc(*[stmt] * 400), "resource")

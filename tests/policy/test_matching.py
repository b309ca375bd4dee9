"""Action, resource-ARN and wildcard matching as the IAM User Guide defines them."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.policy import arn_match, wildcard_match
from tests.policy._helpers import allow, decide, doc


class TestWildcardMatch:
    """`*` matches any run of characters, `?` exactly one."""

    @pytest.mark.parametrize(
        ("expected", "pattern", "value"),
        [
            (True, "*", ""),
            (True, "a*c", "abbbc"),
            (True, "a*c", "ac"),
            (False, "a?c", "ac"),
            (True, "a?c", "abc"),
            (False, "abc", "ABC"),
            (True, "a*", "a:b/c"),
            (True, "x.y", "x.y"),
            (False, "x.y", "xzy"),
        ],
    )
    def test_table(self, expected: bool, pattern: str, value: str) -> None:
        """Glob semantics; regex metacharacters are literal."""
        assert expected == wildcard_match(pattern, value)

    @settings(max_examples=300)
    @given(st.text(alphabet="ab*?.:/", max_size=8), st.text(alphabet="ab.:/", max_size=10))
    def test_against_regex_reference(self, pattern: str, value: str) -> None:
        """Agrees with a reference built from Python regular expressions."""
        ref = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        assert (re.fullmatch(ref, value, re.DOTALL) is not None) == wildcard_match(pattern, value)


class TestArnMatch:
    """ARN patterns are compared segment by segment."""

    @pytest.mark.parametrize(
        ("expected", "pattern", "value"),
        [
            (True, "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c"),
            (False, "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket2/a"),
            (True, "arn:aws:iam::*:user/*", "arn:aws:iam::111122223333:user/x"),
            # a wildcard inside a leading field does not cross a colon
            (False, "arn:aws:ec2:us-*:instance/i-1",
             "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
            (False, "arn:aws:s3:::*", "arn:aws:s3:eu-west-1:111122223333:x"),
            (True, "arn:aws:sqs:*:*:queue-?", "arn:aws:sqs:us-east-1:111122223333:queue-7"),
            (False, "arn:aws:sqs:*:*:queue-?", "arn:aws:sqs:us-east-1:111122223333:queue-77"),
            (True, "*", "arn:aws:s3:::bucket"),
            # the resource part is case-sensitive
            (False, "arn:aws:iam::111122223333:user/Bob", "arn:aws:iam::111122223333:user/bob"),
            # a trailing `*` of the last given segment may expand across colons
            (True, "arn:aws:logs:*", "arn:aws:logs:us-east-1:111122223333:log-group:g"),
        ],
    )
    def test_table(self, expected: bool, pattern: str, value: str) -> None:
        """Segment rules from the IAM User Guide (Resource element, ArnLike)."""
        assert expected == arn_match(pattern, value)

    def test_arn_like_is_segmented_but_string_like_is_not(self) -> None:
        """`arn:aws:s3:*` with StringLike spans colons, with ArnLike the region is one field."""
        value = "arn:aws:sqs:us-east-1:111122223333:q"
        pattern = "arn:aws:sqs:*:q"
        assert (True, False) == (wildcard_match(pattern, value), arn_match(pattern, value))

    @settings(max_examples=200)
    @given(st.lists(st.text(alphabet="ab*?/", max_size=4), min_size=6, max_size=6),
           st.lists(st.text(alphabet="ab/", max_size=4), min_size=6, max_size=6))
    def test_segmented_reference(self, pats: list[str], vals: list[str]) -> None:
        """Six-field patterns match iff each leading field and the resource part match."""
        pats[0], vals[0] = "arn", "arn"
        pattern, value = ":".join(pats), ":".join(vals)

        def seg(p: str, v: str, colon_ok: bool) -> bool:
            rx = "".join(("[^:]*" if not colon_ok else ".*") if c == "*" else
                         ("[^:]" if not colon_ok else ".") if c == "?" else re.escape(c)
                         for c in p)
            return re.fullmatch(rx, v, re.DOTALL) is not None

        expected = all(seg(p, v, False) for p, v in zip(pats[:5], vals[:5], strict=False)) and seg(
            pats[5], vals[5], True)
        assert expected == arn_match(pattern, value, fold_prefix=False)


class TestActionsInPolicies:
    """Action names are case-insensitive and may use `*` and `?`."""

    @pytest.mark.parametrize(
        ("expected", "policy_action", "request_action"),
        [
            ("allowed", "s3:GetObject", "S3:getobject"),
            ("allowed", "IAM:listaccesskeys", "iam:ListAccessKeys"),
            ("allowed", "s3:Get*", "s3:GetObjectAcl"),
            ("implicitDeny", "s3:Get*", "s3:PutObject"),
            ("allowed", "s3:?etObject", "s3:GetObject"),
            ("allowed", "*", "ec2:RunInstances"),
            ("allowed", "s3:*", "s3:ListBucket"),
            ("implicitDeny", "s3:*", "s3express:CreateSession"),
            ("implicitDeny", "s3:GetObject", "s3:GetObjectAcl"),
        ],
    )
    def test_action_matching(self, expected: str, policy_action: str, request_action: str) -> None:
        """Actions compare case-insensitively with glob wildcards."""
        d = decide(action=request_action, identity=[doc(allow(policy_action, "*"))])
        assert expected == d.eval_decision

    def test_not_action_allow_over_grants(self) -> None:
        """Allow + NotAction allows every other action (documented over-grant)."""
        d = decide(action="ec2:TerminateInstances",
                   identity=[doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})])
        assert "allowed" == d.eval_decision

    def test_not_action_excludes_listed(self) -> None:
        """NotAction does not match the actions it lists."""
        d = decide(action="iam:CreateUser",
                   identity=[doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})])
        assert "implicitDeny" == d.eval_decision


class TestResourcesInPolicies:
    """Resource / NotResource matching in statements."""

    @pytest.mark.parametrize(
        ("expected", "pattern", "resource"),
        [
            ("allowed", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b.txt"),
            ("implicitDeny", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket"),
            ("implicitDeny", "arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/a"),
            ("allowed", "arn:aws:s3:::*log*", "arn:aws:s3:::carlossalazar-logs/x"),
            ("allowed", "arn:AWS:S3:::bucket/a", "arn:aws:s3:::bucket/a"),
            ("implicitDeny", "arn:aws:s3:::bucket/a", "*"),
            ("allowed", "*", "*"),
        ],
    )
    def test_resource_matching(self, expected: str, pattern: str, resource: str) -> None:
        """ARN segment rules, case-sensitive resource part, `*` for resource-less actions."""
        d = decide(resource=resource, resource_account="111122223333",
                   identity=[doc(allow("s3:*", pattern))])
        assert expected == d.eval_decision

    def test_not_resource(self) -> None:
        """Deny + NotResource denies everything except the listed resources."""
        pol = doc(allow("s3:*", "*"),
                  {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::safe/*"})
        inside = decide(resource="arn:aws:s3:::safe/k", resource_account="111122223333",
                        identity=[pol])
        outside = decide(resource="arn:aws:s3:::other/k", resource_account="111122223333",
                         identity=[pol])
        assert ("allowed", "explicitDeny") == (inside.eval_decision, outside.eval_decision)

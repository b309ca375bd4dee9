"""Policy variables: substitution, defaults, escapes and version gating."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policy._helpers import ALICE, allow, decide, doc

HOME = "arn:aws:s3:::home/${aws:username}/*"


def allowed(version: str | None, resource: str, pattern: str = HOME,
            context: dict[str, Any] | None = None, principal: str = ALICE,
            condition: dict[str, Any] | None = None) -> bool:
    extra = {"Condition": condition} if condition else {}
    d = decide(principal=principal, resource=resource, resource_account="111122223333",
               context=context, identity=[doc(allow("s3:*", pattern, **extra), version=version)])
    return d.eval_decision == "allowed"


class TestSubstitution:
    """`${key}` is replaced by the request context value."""

    def test_username_in_resource(self) -> None:
        """aws:username, derived from the IAM user, scopes a home folder."""
        assert (True, False) == (allowed("2012-10-17", "arn:aws:s3:::home/alice/f"),
                                 allowed("2012-10-17", "arn:aws:s3:::home/bob/f"))

    @pytest.mark.parametrize("version", [None, "2008-10-17"])
    def test_literal_without_2012_version(self, version: str | None) -> None:
        """Without Version 2012-10-17 the text `${aws:username}` is literal."""
        assert (False, True) == (
            allowed(version, "arn:aws:s3:::home/alice/f"),
            allowed(version, "arn:aws:s3:::home/${aws:username}/f"),
        )

    def test_principal_tag_in_condition(self) -> None:
        """A variable in a condition value is resolved from the context."""
        c = {"StringEquals": {"s3:prefix": "${aws:PrincipalTag/team}"}}
        assert (True, False) == (
            allowed("2012-10-17", "arn:aws:s3:::b/x", "*", {"aws:PrincipalTag/team": "red",
                                                           "s3:prefix": "red"}, condition=c),
            allowed("2012-10-17", "arn:aws:s3:::b/x", "*", {"aws:PrincipalTag/team": "red",
                                                           "s3:prefix": "blue"}, condition=c),
        )

    def test_missing_variable_matches_nothing(self) -> None:
        """A variable whose key is absent makes that value match nothing."""
        c = {"StringEquals": {"s3:prefix": "${aws:PrincipalTag/team}"}}
        assert not allowed("2012-10-17", "arn:aws:s3:::b/x", "*", {"s3:prefix": ""},
                           condition=c)

    def test_missing_username_for_role(self) -> None:
        """aws:username does not exist for a role session, so the home pattern matches nothing."""
        sess = "arn:aws:sts::111122223333:assumed-role/R/alice"
        assert not allowed("2012-10-17", "arn:aws:s3:::home/alice/f", principal=sess)

    def test_default_value(self) -> None:
        """`${key, 'default'}` uses the default when the key is absent."""
        pat = "arn:aws:s3:::home/${aws:PrincipalTag/team, 'none'}/*"
        assert (True, True) == (
            allowed("2012-10-17", "arn:aws:s3:::home/none/x", pat),
            allowed("2012-10-17", "arn:aws:s3:::home/red/x", pat, {"aws:PrincipalTag/team": "red"}),
        )

    @pytest.mark.parametrize(
        ("expected", "resource"),
        [(True, "arn:aws:s3:::b/a*b?c$d"), (False, "arn:aws:s3:::b/aXXbYc$d")],
    )
    def test_escapes_are_literal(self, expected: bool, resource: str) -> None:
        """`${*}`, `${?}` and `${$}` stand for the literal characters, not wildcards."""
        assert expected == allowed("2012-10-17", resource, "arn:aws:s3:::b/a${*}b${?}c${$}d")

    def test_substituted_value_is_literal(self) -> None:
        """A context value containing `*` is not a wildcard after substitution."""
        c = {"StringLike": {"s3:prefix": "${aws:PrincipalTag/p}"}}
        assert not allowed("2012-10-17", "arn:aws:s3:::b/x", "*",
                           {"aws:PrincipalTag/p": "a*", "s3:prefix": "abc"}, condition=c)

    def test_explicit_context_wins_over_derived(self) -> None:
        """An explicit aws:username in the context overrides the derived one."""
        assert allowed("2012-10-17", "arn:aws:s3:::home/carol/f",
                       context={"aws:username": "carol"})

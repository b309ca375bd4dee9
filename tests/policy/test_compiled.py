"""Compiled policies: the analysis API (coverage, named principals) and the caller-owned compile cache."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import ValidationError
from ledger.policy import (
    CompiledPolicy,
    NamedPrincipals,
    PolicyCompiler,
    PolicyEntry,
    PolicySet,
    PolicyType,
    Request,
    compile_policy,
    evaluate,
    parse_policy,
    principal_from_arn,
)
from tests.policy._helpers import ALICE, A, B, allow, deny, doc, trust

BUCKET_OBJ = "arn:aws:s3:::bucket/key"
USER_ID = "AIDAJQABLZS4A3QDU576Q"


def compiled(d: dict[str, Any], ptype: PolicyType = PolicyType.IDENTITY) -> CompiledPolicy:
    return CompiledPolicy(parse_policy(d, ptype, max_size=100_000))


def bucket_policy(*statements: dict[str, Any]) -> CompiledPolicy:
    return compiled(doc(*statements), PolicyType.RESOURCE)


def granting(principal: Any, effect: str = "Allow", key: str = "Principal",
             action: str = "s3:GetObject") -> dict[str, Any]:
    return {"Effect": effect, key: principal, "Action": action, "Resource": "arn:aws:s3:::bucket/*"}


class TestAllowStatementsFor:
    """`allow_statements_for(action)`: the Allow statements whose Action/NotAction covers it."""

    def test_only_allows_covering_the_action_in_document_order(self) -> None:
        """Deny statements and statements for other actions are left out; order is kept."""
        pol = compiled(doc(
            allow("s3:Get*", Sid="Wild"),
            deny("s3:GetObject", Sid="No"),
            allow("s3:PutObject", Sid="Other"),
            {"Sid": "Not", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            allow("s3:GetObject", Sid="Exact"),
        ))
        assert ["Wild", "Not", "Exact"] == [st.shape.sid for st in pol.allow_statements_for("s3:GetObject")]

    def test_action_is_case_insensitive(self) -> None:
        """AWS compares actions case-insensitively, and so does the analysis."""
        pol = compiled(doc(allow("s3:getobject", Sid="A")))
        assert ["A"] == [st.shape.sid for st in pol.allow_statements_for("S3:GetObject")]

    def test_not_action_excluding_the_action_is_left_out(self) -> None:
        """Allow+NotAction covers every action except the listed ones."""
        pol = compiled(doc({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}))
        assert () == pol.allow_statements_for("s3:GetObject")


class TestStatementShape:
    """`statement.shape`: what one statement covers, answered without a request."""

    def test_star_and_trust_statements_cover_every_resource(self) -> None:
        """Resource "*" and a trust statement (no Resource element) cover every resource."""
        star = compiled(doc(allow("s3:GetObject", ["arn:aws:s3:::a/*", "*"]))).statements[0].shape
        trusted = compiled(doc(trust({"AWS": ALICE})), PolicyType.TRUST).statements[0].shape
        assert (True, frozenset({"*"})) == (star.covers_every_resource, star.resource_services)
        assert (True, frozenset({"*"})) == (trusted.covers_every_resource, trusted.resource_services)

    def test_not_resource_star_covers_nothing_and_leaves_the_service_open(self) -> None:
        """NotResource "*" excludes everything, yet its shape never narrows the service."""
        shape = compiled(doc({"Effect": "Allow", "Action": "s3:*", "NotResource": "*"})).statements[0].shape
        assert (False, frozenset({"*"})) == (shape.covers_every_resource, shape.resource_services)

    def test_resource_services_are_lower_cased_and_open_on_wildcards(self) -> None:
        """Each pattern names its service; a wildcard in the service field names any service."""
        shape = compiled(doc(allow("*", ["arn:aws:S3:::b/*", "arn:aws:sqs:us-east-1:111122223333:q",
                                         "arn:aws:s*:::x"]))).statements[0].shape
        assert frozenset({"s3", "sqs", "*"}) == shape.resource_services

    def test_policy_variables_are_reported_only_under_the_2012_version(self) -> None:
        """`${aws:username}` is a variable under 2012-10-17 and literal text otherwise."""
        pattern = "arn:aws:s3:::home/${aws:username}/*"
        with_vars = compiled(doc(allow("s3:GetObject", pattern))).statements[0].shape
        literal = compiled(doc(allow("s3:GetObject", pattern), version="2008-10-17")).statements[0].shape
        assert (True, False) == (with_vars.resource_uses_variables, literal.resource_uses_variables)

    def test_condition_keys_as_first_written_including_variables(self) -> None:
        """Condition keys keep their first spelling; variable keys come lower-cased."""
        st = allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*", Condition={
            "StringEquals": {"aws:SourceVpc": "vpc-1"}, "StringLike": {"AWS:SOURCEVPC": "vpc-*"},
            "Bool": {"aws:SecureTransport": "true"}})
        shape = compiled(doc(st)).statements[0].shape
        assert ("aws:SourceVpc", "aws:SecureTransport", "aws:username") == shape.condition_keys

    def test_identity_statement_names_no_principal(self) -> None:
        """An identity policy statement has no Principal element and excludes nobody."""
        shape = compiled(doc(allow(Sid="S"))).statements[0].shape
        assert (0, "S", True, None, False) == (shape.index, shape.sid, shape.allows, shape.principals,
                                               shape.excludes_principals)

    def test_principal_values_are_classified(self) -> None:
        """Accounts (bare or :root), ARNs, unique ids, providers and services are told apart."""
        pol = bucket_policy(granting({
            "AWS": [A, f"arn:aws:iam::{B}:root", ALICE, USER_ID],
            "Federated": "cognito-identity.amazonaws.com",
            "Service": "MediaConvert.amazonaws.com",
            "CanonicalUser": "79a59df900b949e55d96a1e698fbaced",
        }))
        expected = NamedPrincipals(
            everyone=False,
            accounts=frozenset({A, B}),
            arns=frozenset({ALICE}),
            unique_ids=frozenset({USER_ID}),
            federated=frozenset({"cognito-identity.amazonaws.com"}),
            canonical_users=frozenset({"79a59df900b949e55d96a1e698fbaced"}),
            services=frozenset({"mediaconvert.amazonaws.com"}),
        )
        assert expected == pol.statements[0].shape.principals

    def test_not_principal_is_reported_as_excluding(self) -> None:
        """A NotPrincipal statement has no Principal element and excludes principals."""
        shape = bucket_policy(granting({"AWS": ALICE}, effect="Deny", key="NotPrincipal")).statements[0].shape
        assert (None, True) == (shape.principals, shape.excludes_principals)


class TestMatchesArn:
    """`statement.matches_arn(resource)`: Resource matching with no request context."""

    @pytest.mark.parametrize(("pattern", "resource", "expected"), [
        ("arn:aws:s3:::bucket/*", BUCKET_OBJ, True),
        ("arn:aws:s3:::bucket/k?y", BUCKET_OBJ, True),
        ("arn:aws:s3:::bucket/KEY", BUCKET_OBJ, False),
        ("arn:aws:s3:::other/*", BUCKET_OBJ, False),
    ])
    def test_patterns(self, pattern: str, resource: str, expected: bool) -> None:
        """Wildcards match, and resource ARNs are case-sensitive after the account field."""
        assert expected == compiled(doc(allow("s3:GetObject", pattern))).statements[0].matches_arn(resource)

    def test_not_resource_inverts(self) -> None:
        """NotResource matches every resource it does not list."""
        st = compiled(doc({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::bucket/*"}))
        assert (False, True) == (st.statements[0].matches_arn(BUCKET_OBJ),
                                 st.statements[0].matches_arn("arn:aws:s3:::other/key"))

    def test_variable_takes_its_default_or_matches_nothing(self) -> None:
        """Without context a variable uses its default value; without a default it matches nothing."""
        pol = compiled(doc(allow("s3:GetObject", "arn:aws:s3:::bucket/${aws:username, 'key'}"),
                           allow("s3:GetObject", "arn:aws:s3:::bucket/${aws:username}")))
        assert [True, False] == [st.matches_arn(BUCKET_OBJ) for st in pol.statements]

    def test_agrees_with_a_request_without_context(self) -> None:
        """It answers as `matches_resource` does for a request carrying no context at all."""
        pol = compiled(doc(allow("s3:GetObject", "arn:aws:s3:::bucket/${aws:username, 'key'}"),
                           allow("s3:GetObject", "arn:aws:s3:::b*/k*"),
                           {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::x/*"}))
        probe = Request(principal_from_arn(ALICE), "s3:GetObject", BUCKET_OBJ, derive_context=False)
        assert [st.matches_resource(probe) for st in pol.statements] == \
            [st.matches_arn(BUCKET_OBJ) for st in pol.statements]


class TestUnconditionalDenyEverywhere:
    """`unconditional_deny_everywhere(action)`: a Deny for the action that nothing can escape."""

    @pytest.mark.parametrize(("statement", "expected"), [
        (deny("*", "*"), True),
        (deny("s3:Get*", "*"), True),
        (deny("s3:GetObject", "arn:aws:s3:::bucket/*"), False),
        (deny("s3:GetObject", "*", Condition={"Bool": {"aws:SecureTransport": "false"}}), False),
        ({"Effect": "Deny", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::x/*"}, False),
        (deny("s3:PutObject", "*"), False),
        (allow("s3:GetObject", "*"), False),
    ])
    def test_cases(self, statement: dict[str, Any], expected: bool) -> None:
        """Only an unconditional Deny covering the action on every resource counts."""
        assert expected == compiled(doc(statement)).unconditional_deny_everywhere("s3:GetObject")


class TestNamedPrincipals:
    """`named_principals(action=None)`: whom a resource policy's Allow statements name together."""

    def test_union_of_allow_statements_ignoring_denies(self) -> None:
        """Allow statements add up; a Deny statement names nobody who gains access."""
        pol = bucket_policy(granting({"AWS": ALICE}), granting({"AWS": f"arn:aws:iam::{B}:root"}),
                            granting({"AWS": USER_ID}, effect="Deny"))
        named = pol.named_principals()
        assert (False, frozenset({B}), frozenset({ALICE})) == (named.everyone, named.accounts, named.identifiers)

    @pytest.mark.parametrize("statement", [
        granting("*"),
        granting({"AWS": ["*", A]}),
        granting({"AWS": ALICE}, key="NotPrincipal"),
    ])
    def test_everyone_when_one_allow_is_open(self, statement: dict[str, Any]) -> None:
        """A "*" principal or a NotPrincipal Allow statement lets any caller match."""
        assert bucket_policy(granting({"AWS": ALICE}), statement).named_principals().everyone

    def test_identity_policy_names_everyone(self) -> None:
        """A statement without a Principal element does not narrow the callers."""
        assert compiled(doc(allow())).named_principals().everyone

    def test_restricted_to_statements_covering_the_action(self) -> None:
        """With an action, only the Allow statements covering it count."""
        pol = bucket_policy(granting({"AWS": ALICE}), granting("*", action="s3:PutObject"))
        assert (False, True) == (pol.named_principals("S3:GetObject").everyone,
                                 pol.named_principals().everyone)

    def test_identifiers_hold_every_non_account_value(self) -> None:
        """ARNs, unique ids, providers and canonical users, but not accounts or services."""
        named = NamedPrincipals(accounts=frozenset({A}), arns=frozenset({ALICE}),
                                unique_ids=frozenset({USER_ID}), federated=frozenset({"p"}),
                                canonical_users=frozenset({"c"}), services=frozenset({"s"}))
        assert frozenset({ALICE, USER_ID, "p", "c"}) == named.identifiers


class TestPolicyCompiler:
    """`PolicyCompiler`: a bounded compile cache the caller owns."""

    def test_equal_documents_share_one_compiled_policy(self) -> None:
        """A document equal to one compiled before is served from the cache."""
        compiler = PolicyCompiler()
        first = compiler.compile(parse_policy(doc(allow("s3:GetObject"))))
        again = compiler.compile(parse_policy(doc(allow("s3:GetObject"))))
        assert (True, 1) == (first is again, len(compiler))

    def test_policy_type_is_part_of_the_key(self) -> None:
        """The same text used as two policy types compiles twice."""
        compiler = PolicyCompiler()
        d = doc(allow("s3:GetObject"))
        a = compiler.compile(parse_policy(d, PolicyType.IDENTITY))
        b = compiler.compile(parse_policy(d, PolicyType.BOUNDARY))
        assert (False, 2) == (a is b, len(compiler))

    def test_least_recently_used_is_evicted_beyond_the_bound(self) -> None:
        """Above `max_size` the policy used longest ago is dropped; a hit counts as a use."""
        compiler = PolicyCompiler(max_size=2)
        docs = [parse_policy(doc(allow(f"s3:Action{i}"))) for i in range(3)]
        first = compiler.compile(docs[0])
        second = compiler.compile(docs[1])
        compiler.compile(docs[0])
        compiler.compile(docs[2])  # evicts docs[1], not the recently used docs[0]
        assert (2, True, False) == (len(compiler), compiler.compile(docs[0]) is first,
                                    compiler.compile(docs[1]) is second)

    def test_compilers_are_independent(self) -> None:
        """Each compiler has its own cache; `clear` empties only that one."""
        one, two = PolicyCompiler(), PolicyCompiler()
        d = parse_policy(doc(allow("s3:GetObject")))
        a = one.compile(d)
        one.clear()
        assert (0, False, True) == (len(one), two.compile(d) is a, one.compile(d) is not a)

    def test_module_level_compile_uses_a_shared_cache(self) -> None:
        """`compile_policy` keeps working and returns the same object for equal documents."""
        assert compile_policy(parse_policy(doc(allow("s3:ListBucket")))) is \
            compile_policy(parse_policy(doc(allow("s3:ListBucket"))))

    @pytest.mark.parametrize("size", [0, -1])
    def test_bound_must_hold_one_policy(self, size: int) -> None:
        """A compiler that could hold nothing is refused with a typed error."""
        with pytest.raises(ValidationError):
            PolicyCompiler(max_size=size)


LAZY_ACTIONS = ["s3:GetObject", "s3:Get*", "s3:*", "ec2:*", "*", "ec2:Describe?nstances", "iam:PassRole"]
LAZY_RESOURCES = ["*", "arn:aws:s3:::b/*", "arn:aws:s3:::b/${aws:username}/*", "arn:aws:ec2:*:*:instance/*"]
lazy_statement = st.builds(
    lambda effect, key, action, rkey, resource, cond: {
        "Effect": effect, key: action, rkey: resource,
        **({"Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}} if cond else {})},
    st.sampled_from(["Allow", "Deny"]), st.sampled_from(["Action", "NotAction"]),
    st.sampled_from(LAZY_ACTIONS), st.sampled_from(["Resource", "NotResource"]),
    st.sampled_from(LAZY_RESOURCES), st.booleans())


class TestLazyCompile:
    """Statements are compiled when a request's action first selects them, and answer alike."""

    def test_statements_for_other_actions_stay_uncompiled(self) -> None:
        """Asking about s3:GetObject compiles the s3 statements only."""
        pol = compiled(doc(allow("s3:GetObject", Sid="S3"), allow("ec2:*", Sid="Ec2"), allow("s3:*", Sid="All")))
        pol.candidates("s3:getobject")
        assert [True, False, True] == [st is not None for st in pol._statements]

    @settings(max_examples=150)
    @given(st.lists(lazy_statement, min_size=1, max_size=6),
           st.lists(st.tuples(st.sampled_from(["s3:GetObject", "ec2:DescribeInstances", "iam:PassRole"]),
                              st.sampled_from(["arn:aws:s3:::b/alice/k", "arn:aws:ec2:us-east-1:1:instance/i"])),
                    min_size=1, max_size=4))
    def test_lazy_equals_eager(self, statements: list[dict[str, Any]], requests: list[tuple[str, str]]) -> None:
        """A policy compiled on demand decides every request as one compiled up front."""
        document = parse_policy(doc(*statements), max_size=100_000)
        lazy, eager = CompiledPolicy(document), CompiledPolicy(document)
        assert len(eager.statements) == len(statements)
        principal = principal_from_arn(ALICE)
        for action, resource in requests:
            req = Request(principal, action, resource, A, {"aws:RequestedRegion": "eu-west-1"})
            decisions = [evaluate(req, PolicySet(identity=[PolicyEntry(p, "p", "user")])).to_dict()
                         for p in (lazy, eager)]
            assert decisions[0] == decisions[1]

    def test_documents_equal_after_parsing_share_a_compiled_policy(self) -> None:
        """The compiler keys by the parsed document: a string Action and a one-item list are equal."""
        compiler = PolicyCompiler()
        one = compiler.compile(parse_policy(doc(allow("s3:GetObject"))))
        listed = compiler.compile(parse_policy(doc(allow(["s3:GetObject"]))))
        assert one is listed

"""Property tests: deny monotonicity and robustness against malformed input."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from ledger.policy import parse_policy, simulate_lines
from tests.policy._helpers import A, decide, doc

ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:Get*", "s3:*", "ec2:*", "*", "iam:PassRole"]
RESOURCES = ["*", "arn:aws:s3:::b/*", "arn:aws:s3:::b/k", "arn:aws:s3:::*", "arn:aws:s3:::c/*"]
CONDS = [None, {"StringEquals": {"k": "v"}}, {"StringNotEquals": {"k": "v"}},
         {"Null": {"k": "true"}}, {"BoolIfExists": {"aws:SecureTransport": "true"}}]

statement = st.builds(
    lambda effect, action, resource, cond: {
        "Effect": effect, "Action": action, "Resource": resource,
        **({"Condition": cond} if cond else {})},
    st.sampled_from(["Allow", "Deny"]), st.sampled_from(ACTIONS),
    st.sampled_from(RESOURCES), st.sampled_from(CONDS))
request = st.tuples(st.sampled_from(["s3:GetObject", "s3:PutObject", "ec2:RunInstances"]),
                    st.sampled_from(["arn:aws:s3:::b/k", "arn:aws:s3:::c/k"]),
                    st.sampled_from([{}, {"k": "v"}, {"k": "w"}]))
RANK = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}


def run(stmts: list[dict[str, Any]], req: tuple[str, str, dict[str, str]]) -> str:
    action, res, ctx = req
    return decide(action=action, resource=res, resource_account=A, context=ctx,
                  identity=[doc(*stmts)] if stmts else None).eval_decision


class TestMonotonicity:
    """Adding statements moves decisions only in the documented direction."""

    @settings(max_examples=300)
    @given(st.lists(statement, max_size=6), statement, request)
    def test_adding_deny_never_loosens(self, stmts: list[dict[str, Any]],
                                       extra: dict[str, Any], req: Any) -> None:
        """A Deny never turns a denial into allowed nor explicitDeny into implicitDeny."""
        extra = dict(extra, Effect="Deny")
        assert RANK[run([*stmts, extra], req)] >= RANK[run(stmts, req)]

    @settings(max_examples=300)
    @given(st.lists(statement, max_size=6), statement, request)
    def test_adding_allow_never_undoes_explicit_deny(self, stmts: list[dict[str, Any]],
                                                     extra: dict[str, Any], req: Any) -> None:
        """An Allow never changes an explicitDeny."""
        extra = dict(extra, Effect="Allow")
        before = run(stmts, req)
        if before == "explicitDeny":
            assert "explicitDeny" == run([*stmts, extra], req)

    @settings(max_examples=200)
    @given(st.lists(statement, max_size=6), request)
    def test_matching_deny_anywhere_is_explicit(self, stmts: list[dict[str, Any]],
                                                req: Any) -> None:
        """An unconditional Deny matching the action and resource always gives explicitDeny."""
        action, res, _ = req
        assert "explicitDeny" == run(
            [*stmts, {"Effect": "Deny", "Action": action, "Resource": res}], req)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["Version", "Statement", "Effect", "Action", "Resource", "Principal",
                         "Condition", "Sid", "NotAction", "StringEquals", "x"]) | st.text(max_size=5),
        inner, max_size=4),
    max_leaves=25)


class TestMalformedInput:
    """Fuzzed documents and scenarios produce typed errors, never other exceptions."""

    @settings(max_examples=400)
    @given(json_values, st.sampled_from(["identity", "resource", "trust", "scp", "session"]))
    def test_random_json_documents(self, value: Any, ptype: str) -> None:
        """Random JSON is either a valid policy or a LedgerError."""
        with contextlib.suppress(LedgerError):
            parse_policy(value if isinstance(value, dict) else json.dumps(value), ptype)

    @settings(max_examples=200)
    @given(st.binary(max_size=200))
    def test_random_bytes(self, data: bytes) -> None:
        """Arbitrary bytes (invalid UTF-8, NULs) are a LedgerError or a policy."""
        with contextlib.suppress(LedgerError):
            parse_policy(data, "identity")

    def test_huge_and_deep_inputs(self) -> None:
        """Huge or deeply nested documents are rejected with a typed error."""
        for bad in ['{"Statement":' * 5000 + "1" + "}" * 5000, "x" * 3_000_000,
                    {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}] * 5000}]:
            try:
                parse_policy(bad, "identity")
            except LedgerError:
                continue
            raise AssertionError("accepted")

    @settings(max_examples=300)
    @given(st.dictionaries(
        st.sampled_from(["id", "principal", "principal_account", "action", "resource",
                         "resource_account", "identity_policies", "resource_policy",
                         "permission_boundaries", "session_policy", "scps", "context"]),
        json_values, max_size=8))
    def test_random_scenarios_give_lines(self, scenario: dict[str, Any]) -> None:
        """Every random scenario yields exactly one JSON line with an id and an error field."""
        out = list(simulate_lines([json.dumps(scenario)]))
        assert 1 == len(out)
        assert {"id", "EvalDecision", "MatchedStatements", "MissingContextValues",
                "error"} <= set(json.loads(out[0]))

    @settings(max_examples=200)
    @given(st.text(max_size=100) | st.binary(max_size=100))
    def test_random_lines(self, line: Any) -> None:
        """Arbitrary text or bytes lines never raise out of simulate_lines."""
        out = list(simulate_lines([line]))
        assert len(out) <= 1

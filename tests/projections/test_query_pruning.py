"""who_can evaluates only candidate callers: on Hypothesis histories its answers (paths and
chains included) equal evaluating every caller; cross-account trust delegates to the account."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.projections._support import OPS, QUERIES, A, B, doc, fresh_ledger, setup, t
from tests.projections.test_properties import _record, _times

BACKENDS = ["sqlite", "postgres"]
HISTORIES = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 3), st.integers(0, 5)),
                     min_size=3, max_size=16)
SETTINGS = settings(max_examples=6)
ROLE = f"arn:aws:iam::{A}:role/R"
QUESTIONS = [
    ("s3:PutObject", "arn:aws:s3:::data-b/k"),
    ("s3:GetObject", "arn:aws:s3:::data-a/k"),
    ("s3:DeleteObject", "arn:aws:s3:::data-b/k"),
    ("sts:AssumeRole", ROLE),
]


@pytest.mark.parametrize("backend", BACKENDS)
class TestPruningKeepsAnswers:
    @SETTINGS
    @given(ops=HISTORIES)
    def test_pruned_who_can_equals_evaluating_every_caller(self, backend: str, ops: list[tuple[str, int, int]]) -> None:
        """who_can with and without candidate pruning agree, paths and role chains included."""
        with fresh_ledger(backend) as ledger:
            last = _record(ledger, ops)
            rs = ledger.read_side()
            for at in _times(last)[::2]:
                for action, resource in QUESTIONS:
                    for paths in (False, True):
                        expected = rs.who_can(action, resource, at=at, paths=paths, prune=False)
                        assert expected == rs.who_can(action, resource, at=at, paths=paths), (at, action, paths)


def _trusting(ledger: Any, principal: Any) -> None:
    setup(ledger)
    ledger.update_assume_role_policy(A, "R", doc({"Effect": "Allow", "Principal": {"AWS": principal},
                                                  "Action": "sts:AssumeRole"}), at=t(30))


class TestCrossAccountTrust:
    def test_trusted_foreign_account_is_listed_as_delegated(self, ledger: Any) -> None:
        """A trust policy naming another account's root lists that account as a delegated entry."""
        _trusting(ledger, f"arn:aws:iam::{B}:root")
        found = {p["principal"]: p for p in ledger.who_can("sts:AssumeRole", ROLE, at=t(31))["principals"]}
        entry = found[f"arn:aws:iam::{B}:root"]
        assert (True, True, "allowed") == (entry["delegated"], entry["conditional"], entry["EvalDecision"])
        assert entry["reason"].startswith(f"the trust policy names account {B}")

    def test_bare_account_id_trusts_the_account_too(self, ledger: Any) -> None:
        """Naming the bare account id is the same as naming its root."""
        _trusting(ledger, B)
        found = {p["principal"] for p in ledger.who_can("sts:AssumeRole", ROLE, at=t(31))["principals"]}
        assert f"arn:aws:iam::{B}:root" in found

    def test_known_foreign_user_needs_an_identity_allow(self, ledger: Any) -> None:
        """carol (account B, s3:* only) cannot assume the role until she is allowed sts:AssumeRole."""
        _trusting(ledger, f"arn:aws:iam::{B}:root")
        carol = f"arn:aws:iam::{B}:user/carol"
        assert "implicitDeny" == ledger.can(carol, "sts:AssumeRole", ROLE, at=t(31)).eval_decision
        ledger.put_user_policy(B, "carol", "assume", doc({"Effect": "Allow", "Action": "sts:AssumeRole",
                                                          "Resource": ROLE}), at=t(32))
        assert "allowed" == ledger.can(carol, "sts:AssumeRole", ROLE, at=t(33)).eval_decision
        found = {p["principal"] for p in ledger.who_can("sts:AssumeRole", ROLE, at=t(33))["principals"]}
        assert {carol, f"arn:aws:iam::{B}:root"} <= found

    def test_root_cannot_call_assume_role_and_the_answer_says_why(self, ledger: Any) -> None:
        """can(root, sts:AssumeRole) stays implicitDeny, with notes naming the STS rule."""
        _trusting(ledger, f"arn:aws:iam::{B}:root")
        d = ledger.can(f"arn:aws:iam::{B}:root", "sts:AssumeRole", ROLE, at=t(31))
        assert "implicitDeny" == d.eval_decision
        notes = d.to_dict()["Notes"]
        assert "root user cannot call sts:AssumeRole" in notes[0]
        assert f"names account {B}" in notes[1]

    def test_role_that_names_no_account_has_no_delegated_entry(self, ledger: Any) -> None:
        """A trust policy naming only a user lists no account."""
        _trusting(ledger, f"arn:aws:iam::{A}:user/alice")
        found = ledger.who_can("sts:AssumeRole", ROLE, at=t(31))["principals"]
        assert [] == [p for p in found if p.get("delegated")]

    def test_cli_shows_the_delegated_account_and_the_root_note(self, ledger: Any) -> None:
        """who-can prints the delegated account with its reason; can prints why root is denied."""
        import importlib

        from typer.testing import CliRunner

        from ledger.cli.app import app

        importlib.import_module("ledger.cli.registry")  # registers the commands

        _trusting(ledger, f"arn:aws:iam::{B}:root")
        url = str(ledger.store.url.url)
        at = t(31).isoformat()
        who = CliRunner().invoke(app, ["--db", url, "who-can", "sts:AssumeRole", ROLE, "--at", at])
        assert 0 == who.exit_code, who.output
        assert "delegated" in who.output
        body = CliRunner().invoke(app, ["--db", url, "who-can", "sts:AssumeRole", ROLE, "--at", at, "--json"])
        assert [f"arn:aws:iam::{B}:root"] == [p["principal"] for p in json.loads(body.stdout)["principals"]
                                               if p.get("delegated")]
        can = CliRunner().invoke(app, ["--db", url, "can", f"arn:aws:iam::{B}:root", "sts:AssumeRole", ROLE,
                                       "--at", at])
        assert 1 == can.exit_code
        assert "root user cannot call" in " ".join(can.output.split())


@pytest.mark.parametrize("backend", BACKENDS)
class TestSharedGroupEntries:
    @SETTINGS
    @given(ops=HISTORIES)
    def test_matched_statements_equal_unshared_entries(self, backend: str, ops: list[tuple[str, int, int]]) -> None:
        """Group policies shared across members explain a decision exactly as per-member entries do
        (membership included in each matched statement's origin)."""
        from ledger.policy import evaluate
        from projections.assemble import build_inputs
        from projections.view import Snapshot

        with fresh_ledger(backend) as ledger:
            last = _record(ledger, ops)
            rs = ledger.read_side()
            for at in _times(last)[::3]:
                for principal, action, resource in QUERIES:
                    got = ledger.can(principal, action, resource, at=at).decision
                    snap, _ = rs.snapshot(at)
                    inputs = build_inputs(Snapshot(snap.source, snap.at_us), principal, action, resource)
                    assert inputs.request is not None
                    expected = evaluate(inputs.request, inputs.policies)
                    if not inputs.errors:
                        assert [m.to_dict() for m in expected.matched_statements] == \
                            [m.to_dict() for m in got.matched_statements]

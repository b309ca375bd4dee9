"""An unknown policy is not an allow (issue 15, item 3): a decision resting on a policy whose
document the ledger never saw is qualified ("allowed, unless ..."), in can, its exit code,
who-can, and enforcing mode."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import ledger.cli.registry  # noqa: F401  (registers the commands)
from ledger import Ledger
from ledger.cli.app import app
from ledger.domain import events as ev
from ledger.errors import AccessDeniedError
from tests.projections._support import A, allow, deny, doc, t

ALICE = f"arn:aws:iam::{A}:user/alice"
BOB = f"arn:aws:iam::{A}:user/bob"
UNKNOWN = "arn:aws:iam::aws:policy/AdministratorAccess"
OBJ = "arn:aws:s3:::data-a/k"
runner = CliRunner()


def _attach_unknown(ledger: Ledger, user: str, user_arn: str) -> None:
    """An import names a managed policy the ledger never saw the document of."""
    user_id = ledger.account_state(A).user_by_name(user).user_id  # type: ignore[union-attr]
    ledger.record([ev.PolicyAttached(
        originator_id=ev.account_stream_id(A), originator_version=1, occurred_at=t(3), recorded_at=t(3),
        account_id=A, source="snapshot", principal_kind="user", principal_id=user_id, principal_arn=user_arn,
        policy_id="ANPAUNKNOWNPOLICY", policy_arn=UNKNOWN)])


def _world(ledger: Ledger) -> None:
    """alice: a known allow plus an unknown policy; bob: only the unknown policy."""
    ledger.create_account(A, "media", at=t(1))
    ledger.create_bucket(A, "data-a", at=t(1))
    for name in ("alice", "bob"):
        ledger.create_user(A, name, at=t(1))
    ledger.put_user_policy(A, "alice", "read", doc(allow("s3:GetObject")), at=t(2))
    _attach_unknown(ledger, "alice", ALICE)
    _attach_unknown(ledger, "bob", BOB)


class TestCan:
    def test_a_known_allow_beside_an_unknown_policy_is_allowed_unless(self, ledger: Ledger) -> None:
        """The known policies allow; the unknown one might deny: not an unqualified allow."""
        _world(ledger)
        d = ledger.can(ALICE, "s3:GetObject", OBJ, at=t(5))
        assert ("allowed", False) == (d.eval_decision, d.allowed)
        assert d.unless is not None and "denies" in d.unless
        body = d.to_dict()
        assert [UNKNOWN] == [u["policy_arn"] for u in body["UnknownPolicies"]]
        assert body["Qualification"].startswith("allowed, unless")

    def test_only_an_unknown_policy_is_denied_unless_it_allows(self, ledger: Ledger) -> None:
        """bob's only grant could be the unknown policy: denied on what is known, unless it allows."""
        _world(ledger)
        d = ledger.can(BOB, "s3:GetObject", OBJ, at=t(5))
        assert ("implicitDeny", False) == (d.eval_decision, d.allowed)
        assert d.to_dict()["Qualification"].startswith("implicitDeny, unless")

    def test_an_explicit_deny_does_not_depend_on_an_unknown_policy(self, ledger: Ledger) -> None:
        """No policy can lift an explicit deny: the answer is certain."""
        _world(ledger)
        ledger.put_user_policy(A, "alice", "no", doc(deny("s3:GetObject")), at=t(4))
        d = ledger.can(ALICE, "s3:GetObject", OBJ, at=t(5))
        assert ("explicitDeny", None) == (d.eval_decision, d.unless)
        assert "Qualification" not in d.to_dict()


class TestWhoCan:
    def test_entries_resting_on_unknown_policies_are_conditional_and_name_them(self, ledger: Ledger) -> None:
        """alice (allowed unless) and bob (denied unless) are both listed, conditional, with the policy."""
        _world(ledger)
        found = {p.principal: p for p in ledger.who_can("s3:GetObject", OBJ, at=t(5)).principals}
        for who in (ALICE, BOB):
            assert (True, (UNKNOWN,)) == (found[who].conditional, found[who].unknown_policies), who
            assert [UNKNOWN] == found[who].to_dict()["unknown_policies"]
        unpruned = ledger.read_side().who_can("s3:GetObject", OBJ, at=t(5), prune=False)
        assert unpruned == ledger.who_can("s3:GetObject", OBJ, at=t(5))


class TestCommandLine:
    @pytest.mark.parametrize(("who", "code", "words"), [
        (ALICE, 3, "allowed, unless"), (BOB, 3, "implicitDeny, unless")])
    def test_a_qualified_answer_exits_3(self, ledger: Ledger, who: str, code: int, words: str) -> None:
        """Exit code 3: the answer depends on a policy the ledger never saw (documented in --help)."""
        _world(ledger)
        out = runner.invoke(app, ["--db", str(ledger.store.url.url), "can", who, "s3:GetObject", OBJ,
                                  "--at", t(5).isoformat()])
        assert code == out.exit_code, out.output
        assert words in out.output and UNKNOWN in out.output
        body = json.loads(runner.invoke(app, ["--db", str(ledger.store.url.url), "can", who, "s3:GetObject", OBJ,
                                              "--at", t(5).isoformat(), "--json"]).stdout)
        assert body["Qualification"].startswith(words)
        assert "3" in runner.invoke(app, ["can", "--help"]).output


class TestEnforcingMode:
    def test_a_permission_resting_on_an_unknown_policy_is_refused(self, store_url: str) -> None:
        """Enforcing mode fails closed: a grant the ledger cannot see the whole of lets nothing through."""
        with Ledger.open(store_url) as setup:
            setup.create_account(A, "media", at="2024-01-01T00:00:00Z")
            setup.create_user(A, "alice", at="2024-01-01T00:01:00Z")
            setup.put_user_policy(A, "alice", "iam", doc(allow("iam:*")), at="2024-01-01T00:02:00Z")
            _attach_unknown(setup, "alice", ALICE)
        with Ledger.open(store_url, enforcing=True) as ledger, pytest.raises(AccessDeniedError):
            ledger.create_user(A, "mallory", actor=ALICE, at=t(10))

"""Resources the ledger never saw, and answers that explain themselves (issue 10, items 5, 7, 14):
an unseen bucket follows SimulatePrincipalPolicy's ResourceOwner convention and says so; a deleted
one stays denied with its note; a decision keeps its errors; empty answers say why."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

import ledger.cli.registry  # noqa: F401  (registers the commands)
from ledger import Ledger
from ledger.cli.app import app
from ledger.errors import LedgerError
from tests.projections._support import A, B, allow, deny, doc, t

ALICE = f"arn:aws:iam::{A}:user/alice"
CAROL = f"arn:aws:iam::{B}:user/carol"
ROOT_A, ROOT_B = f"arn:aws:iam::{A}:root", f"arn:aws:iam::{B}:root"
UNSEEN = "arn:aws:s3:::never-recorded/reports/q1.csv"
GONE = "arn:aws:s3:::gone-bucket/k"

# IAM API Reference, SimulatePrincipalPolicy, ResourceOwner.
RESOURCE_OWNER_QUOTE = ("An Amazon Web Services account ID that specifies the owner of any simulated resource that "
                        "does not identify its owner in the resource ARN. Examples of resource ARNs include an S3 "
                        "bucket or object. ... If the ResourceOwner parameter is not specified, then the owner of "
                        "the resources and the resource policy defaults to the account of the identity provided in "
                        "CallerArn.")

runner = CliRunner()


def _iam_only(ledger: Ledger) -> None:
    """An account snapshot: identities and their policies, no S3 bucket recorded."""
    ledger.create_account(A, "media", at=t(1))
    ledger.create_user(A, "alice", at=t(1))
    ledger.put_user_policy(A, "alice", "s3", doc(allow("s3:PutObject", "arn:aws:s3:::*")), at=t(2))


def _who(ledger: Ledger, resource: str, **kwargs: Any) -> Any:
    return ledger.who_can("s3:PutObject", resource, at=t(5), **kwargs)


class TestUnseenBucket:
    def test_is_owned_by_the_callers_account_and_the_answer_says_so(self, ledger: Ledger) -> None:
        """With no bucket recorded, alice's identity allow decides, and the decision notes the assumption."""
        _iam_only(ledger)
        assert RESOURCE_OWNER_QUOTE
        d = ledger.can(ALICE, "s3:PutObject", UNSEEN, at=t(5))
        assert ("allowed", ()) == (d.eval_decision, d.decision.errors)
        assert any("never recorded bucket never-recorded" in n and A in n for n in d.notes)
        assert "Notes" in d.to_dict()

    def test_who_can_lists_the_account_and_notes_the_assumption(self, ledger: Ledger) -> None:
        """who-can answers as if the ledger's only account owned it: its root and alice, with the note."""
        _iam_only(ledger)
        result = _who(ledger, UNSEEN)
        assert {ROOT_A, ALICE} == {p.principal for p in result.principals}
        assert any("never recorded bucket never-recorded" in n for n in result.notes)
        assert result.to_dict()["notes"] == list(result.notes)

    def test_a_given_resource_owner_makes_the_request_cross_account(self, ledger: Ledger) -> None:
        """Owned by B (given), with no bucket policy: alice's identity allow is not enough."""
        _iam_only(ledger)
        ledger.create_account(B, "partner", at=t(1))
        ledger.create_user(B, "carol", at=t(1))
        ledger.put_user_policy(B, "carol", "s3", doc(allow("s3:PutObject")), at=t(2))
        assert "implicitDeny" == ledger.can(ALICE, "s3:PutObject", UNSEEN, at=t(5), resource_owner=B).eval_decision
        assert ledger.can(CAROL, "s3:PutObject", UNSEEN, at=t(5), resource_owner=f"arn:aws:iam::{B}:root").allowed
        assert {ROOT_B, CAROL} == {p.principal for p in _who(ledger, UNSEEN, resource_owner=B).principals}

    def test_without_a_given_owner_every_account_answers_for_itself(self, ledger: Ledger) -> None:
        """With two accounts and no owner given, each caller is answered as the owner's (never nobody)."""
        _iam_only(ledger)
        ledger.create_account(B, "partner", at=t(1))
        ledger.create_user(B, "carol", at=t(1))
        ledger.put_user_policy(B, "carol", "s3", doc(allow("s3:PutObject")), at=t(2))
        assert {ROOT_A, ROOT_B, ALICE, CAROL} == {p.principal for p in _who(ledger, UNSEEN).principals}

    def test_a_malformed_resource_owner_is_a_typed_error(self, ledger: Ledger) -> None:
        """A resource owner must be a 12-digit account id or its root ARN."""
        _iam_only(ledger)
        for bad in ("1234", "arn:aws:iam::abc:root", "alice"):
            with pytest.raises(LedgerError):
                ledger.can(ALICE, "s3:PutObject", UNSEEN, at=t(5), resource_owner=bad)


class TestRecordedBuckets:
    def test_a_deleted_bucket_stays_denied_with_its_note(self, ledger: Ledger) -> None:
        """A bucket the ledger saw deleted does not exist at T: implicitDeny, and who-can says why."""
        _iam_only(ledger)
        ledger.create_bucket(A, "gone-bucket", at=t(2))
        ledger.delete_bucket(A, "gone-bucket", at=t(3))
        d = ledger.can(ALICE, "s3:PutObject", GONE, at=t(5))
        assert "implicitDeny" == d.eval_decision
        assert ["bucket gone-bucket does not exist at this time"] == list(d.decision.errors)
        result = _who(ledger, GONE)
        assert () == result.principals
        assert ["bucket gone-bucket does not exist at this time"] == list(result.notes)

    def test_a_bucket_created_after_t_does_not_exist_at_t(self, ledger: Ledger) -> None:
        """The ledger knows the bucket's history: before its creation it is not an unseen resource."""
        _iam_only(ledger)
        ledger.create_bucket(A, "gone-bucket", at=t(9))
        assert ["bucket gone-bucket does not exist at this time"] == \
            list(ledger.can(ALICE, "s3:PutObject", GONE, at=t(5)).decision.errors)

    def test_an_explicit_deny_keeps_the_errors_of_its_inputs(self, ledger: Ledger) -> None:
        """A decision always carries decision + reasons + errors, an explicitDeny too (item 5)."""
        _iam_only(ledger)
        ledger.put_user_policy(A, "alice", "no", doc(deny("s3:*")), at=t(2))
        ledger.create_bucket(A, "gone-bucket", at=t(2))
        ledger.delete_bucket(A, "gone-bucket", at=t(3))
        body = ledger.can(ALICE, "s3:PutObject", GONE, at=t(5)).to_dict()
        assert "explicitDeny" == body["EvalDecision"]
        assert ["bucket gone-bucket does not exist at this time"] == body["Errors"]
        assert ["no"] == [m["SourcePolicyId"] for m in body["MatchedStatements"]]


class TestEmptyAnswersExplainThemselves:
    def test_who_can_on_a_role_that_does_not_exist_says_so(self, ledger: Ledger) -> None:
        """Nobody may assume a role that does not exist; the answer names the reason."""
        _iam_only(ledger)
        result = ledger.who_can("sts:AssumeRole", f"arn:aws:iam::{A}:role/Nope", at=t(5))
        assert () == result.principals
        assert [f"role arn:aws:iam::{A}:role/Nope does not exist at this time"] == list(result.notes)

    def test_what_can_for_an_unknown_principal_gives_the_note_can_gives(self, ledger: Ledger) -> None:
        """what-can names the missing principal exactly as can does."""
        _iam_only(ledger)
        ghost = f"arn:aws:iam::{A}:user/ghost"
        errors = list(ledger.can(ghost, "s3:GetObject", "*", at=t(5)).decision.errors)
        assert errors == list(ledger.what_can(ghost, at=t(5)).errors)

    def test_what_can_checks_of_an_unseen_bucket_carry_the_assumption(self, ledger: Ledger) -> None:
        """Each effective check on an unseen bucket notes the assumed owner."""
        _iam_only(ledger)
        ledger.put_user_policy(A, "alice", "one", doc(allow("s3:GetObject", "arn:aws:s3:::never-recorded/*")), at=t(2))
        checks = [e for g in ledger.what_can(ALICE, at=t(5)).allows for e in g.effective or ()
                  if e.resource.startswith("arn:aws:s3:::never-recorded")]
        assert checks and all(any("never recorded bucket never-recorded" in n for n in e.notes) for e in checks)


def _cli(ledger: Ledger, *args: str) -> Any:
    return runner.invoke(app, ["--db", str(ledger.store.url.url), *args])


class TestCommandLine:
    def test_can_and_who_can_take_a_resource_owner(self, ledger: Ledger) -> None:
        """`--resource-owner ACCOUNT` is AWS's ResourceOwner for can and who-can."""
        _iam_only(ledger)
        ledger.create_account(B, "partner", at=t(1))
        at = t(5).isoformat()
        denied = _cli(ledger, "can", ALICE, "s3:PutObject", UNSEEN, "--at", at, "--resource-owner", B)
        assert 1 == denied.exit_code, denied.output
        allowed = _cli(ledger, "can", ALICE, "s3:PutObject", UNSEEN, "--at", at)
        assert 0 == allowed.exit_code and "never recorded bucket" in allowed.output
        who = _cli(ledger, "who-can", "s3:PutObject", UNSEEN, "--at", at, "--resource-owner", B, "--json")
        assert [ROOT_B] == [p["principal"] for p in json.loads(who.stdout)["principals"]]
        assert 2 == _cli(ledger, "can", ALICE, "s3:PutObject", UNSEEN, "--resource-owner", "x").exit_code

    def test_who_can_and_what_can_print_their_notes(self, ledger: Ledger) -> None:
        """The terminal answers show the same notes as the JSON."""
        _iam_only(ledger)
        at = t(5).isoformat()
        who = _cli(ledger, "who-can", "sts:AssumeRole", f"arn:aws:iam::{A}:role/Nope", "--at", at)
        assert 0 == who.exit_code and "does not exist at this time" in who.output
        what = _cli(ledger, "what-can", f"arn:aws:iam::{A}:user/ghost", "--at", at)
        assert 0 == what.exit_code and "does not exist at this time" in what.output


class TestCrossAccountDenialsExplainThemselves:
    def test_the_terminal_shows_each_sides_decision(self) -> None:
        """The table view prints AWS's EvalDecisionDetails, one line per side, as the JSON holds it."""
        from types import SimpleNamespace

        from ledger.cli.app import console
        from ledger.cli.audit import _explain

        body = {"EvalDecisionDetails": {"IdentityPolicy": "allowed", "ResourcePolicy": "implicitDeny"}}
        fake = SimpleNamespace(to_dict=lambda: body, all_notes=[], unknown_policies=[],
                               decision=SimpleNamespace(missing_context_values=(), errors=()))
        with console.capture() as captured:
            _explain(fake)  # type: ignore[arg-type]
        assert ["detail: IdentityPolicy allowed", "detail: ResourcePolicy implicitDeny"] == \
            captured.get().strip().splitlines()

    def test_a_cross_account_implicit_deny_says_which_side_failed(self, ledger: Ledger) -> None:
        """alice's identity policy allows; B's bucket has no policy naming her: the JSON and the
        table of `can` carry the engine's EvalDecisionDetails (when the engine gives them)."""
        _iam_only(ledger)
        ledger.create_account(B, "partner", at=t(1))
        ledger.create_bucket(B, "partner-bucket", at=t(2))
        target = "arn:aws:s3:::partner-bucket/k"
        body = ledger.can(ALICE, "s3:PutObject", target, at=t(5)).to_dict()
        if "EvalDecisionDetails" not in body:
            pytest.skip("the policy engine does not give EvalDecisionDetails yet (p2-engine)")
        assert ("implicitDeny", {"IdentityPolicy": "allowed", "ResourcePolicy": "implicitDeny"}) == \
            (body["EvalDecision"], body["EvalDecisionDetails"])
        shown = _cli(ledger, "can", ALICE, "s3:PutObject", target, "--at", t(5).isoformat())
        assert 1 == shown.exit_code and "detail: ResourcePolicy implicitDeny" in shown.output

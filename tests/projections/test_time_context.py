"""Time is known: the read side answers "as of T", so the time keys of the request context are
T itself, absent, or the interval AWS allows, never an open question (issue 10, item 6)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ledger import Ledger
from tests.projections._support import A, allow, doc, t

ALICE = f"arn:aws:iam::{A}:user/alice"
ROOT = f"arn:aws:iam::{A}:root"
ROLE = f"arn:aws:iam::{A}:role/R"
OBJ = "arn:aws:s3:::media-out/k"
TRUST = doc({"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sts:AssumeRole"})

# IAM User Guide, Condition operators (date example): quoted in tests/policy/cases too.
TOKEN_ISSUE_QUOTE = ("The aws:TokenIssueTime key is present in the request context only when the principal uses "
                     "temporary credentials to make the request. The key is not present in AWS CLI, AWS API, or "
                     "AWS SDK requests that are made using access keys.")
# API Gateway developer guide, "AWS condition keys that can be used in API Gateway resource policies".
MFA_AGE_QUOTE = "aws:MultiFactorAuthAge | Key is present only if MFA is present in the requests."
# IAM User Guide, global condition context keys, aws:CurrentTime.
CURRENT_TIME_QUOTE = ("Use this key to compare the date and time of the request with the date and time that you "
                      "specify in the policy.")
# STS API Reference, AssumeRole, DurationSeconds.
DURATION_QUOTE = ("The value specified can range from 900 seconds (15 minutes) up to the maximum session duration "
                  "set for the role. The maximum session duration setting can have a value from 1 hour to 12 hours.")


def _world(ledger: Ledger, condition: dict[str, Any], max_session: int = 3600) -> None:
    """alice (an IAM user) and role R both hold `s3:PutObject` on the bucket under `condition`."""
    ledger.create_account(A, "media", at=t(1))
    ledger.create_bucket(A, "media-out", at=t(1))
    ledger.create_user(A, "alice", at=t(1))
    ledger.put_user_policy(A, "alice", "put", doc(allow("s3:PutObject", "*", Condition=condition)), at=t(2))
    ledger.create_role(A, "R", TRUST, max_session_duration=max_session, at=t(2))
    ledger.put_role_policy(A, "R", "put", doc(allow("s3:PutObject", "*", Condition=condition)), at=t(2))


def _who(ledger: Ledger, at: Any, **kwargs: Any) -> dict[str, Any]:
    return {p.principal: p for p in ledger.who_can("s3:PutObject", OBJ, at=at, **kwargs).principals}


class TestTokenIssueTime:
    def test_a_grant_for_tokens_issued_years_before_t_grants_nothing_at_t(self, ledger: Ledger) -> None:
        """DateLessThan aws:TokenIssueTime 2019: alice has no token (access keys), R's sessions at T
        were issued at most an hour before T; neither is allowed, and who-can lists neither."""
        _world(ledger, {"DateLessThan": {"aws:TokenIssueTime": "2019-01-01T00:00:00Z"}})
        assert TOKEN_ISSUE_QUOTE and DURATION_QUOTE
        assert {ROOT} == set(_who(ledger, t(3)))
        assert {ROOT} == set(_who(ledger, t(3), paths=True))
        assert "implicitDeny" == ledger.can(ALICE, "s3:PutObject", OBJ, at=t(3)).eval_decision
        assert "implicitDeny" == ledger.can(ROLE, "s3:PutObject", OBJ, at=t(3)).eval_decision

    def test_a_role_session_is_issued_within_its_maximum_duration_before_t(self, ledger: Ledger) -> None:
        """Issued after T-2h holds for every session of a role whose sessions last at most 1 h:
        settled, not conditional; a 12 h role's session may be older, so it stays conditional."""
        after = (t(60) - timedelta(hours=2)).isoformat()
        _world(ledger, {"DateGreaterThan": {"aws:TokenIssueTime": after}})
        role = _who(ledger, t(60))[ROLE]
        assert (False, ()) == (role.conditional, role.missing_context)
        ledger.create_role(A, "Long", TRUST, max_session_duration=12 * 3600, at=t(3))
        ledger.put_role_policy(A, "Long", "put", doc(allow("s3:PutObject", "*", Condition={
            "DateGreaterThan": {"aws:TokenIssueTime": after}})), at=t(3))
        long = _who(ledger, t(60))[f"arn:aws:iam::{A}:role/Long"]
        assert (True, ("aws:TokenIssueTime",)) == (long.conditional, long.missing_context)

    def test_a_grant_that_needs_temporary_credentials_excludes_the_access_key_user(self, ledger: Ledger) -> None:
        """Null aws:TokenIssueTime false (a token must exist): R's sessions have one, alice has none."""
        _world(ledger, {"Null": {"aws:TokenIssueTime": "false"}})
        found = _who(ledger, t(3))
        assert {ROOT, ROLE} == set(found)
        assert found[ROLE].conditional is False

    def test_a_recorded_session_carries_its_real_issue_time(self, ledger: Ledger) -> None:
        """A session the ledger recorded is judged by the time it was issued."""
        _world(ledger, {"DateLessThan": {"aws:TokenIssueTime": t(5).isoformat()}})

        ledger.assume_role(ALICE, ROLE, "early", 3600, at=t(4))
        ledger.assume_role(ALICE, ROLE, "late", 3600, at=t(6))
        early = f"arn:aws:sts::{A}:assumed-role/R/early"
        late = f"arn:aws:sts::{A}:assumed-role/R/late"
        assert ledger.can(early, "s3:PutObject", OBJ, at=t(7)).allowed
        assert "implicitDeny" == ledger.can(late, "s3:PutObject", OBJ, at=t(7)).eval_decision


class TestMultiFactorAuthAge:
    def test_access_keys_carry_no_mfa_age_and_a_session_may_or_may_not(self, ledger: Ledger) -> None:
        """NumericLessThan aws:MultiFactorAuthAge 3600: alice (access keys) is out; whether R's session
        used MFA is not recorded, so R stays conditional on the key."""
        _world(ledger, {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}})
        assert MFA_AGE_QUOTE
        found = _who(ledger, t(3))
        assert ALICE not in found
        assert (True, ("aws:MultiFactorAuthAge",)) == (found[ROLE].conditional, found[ROLE].missing_context)


class TestCurrentTime:
    def test_a_grant_that_starts_after_t_grants_nothing_at_t(self, ledger: Ledger) -> None:
        """DateGreaterThan aws:CurrentTime 2030: at T (2024) nobody holds it, in who-can and what-can."""
        _world(ledger, {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})
        assert CURRENT_TIME_QUOTE
        assert {ROOT} == set(_who(ledger, t(3)))
        checks = [e for grant in ledger.what_can(ALICE, at=t(3)).allows for e in grant.effective or ()]
        assert ["implicitDeny"] == [e.eval_decision for e in checks]

    def test_a_time_the_caller_supplies_wins(self, ledger: Ledger) -> None:
        """With aws:CurrentTime given in the context, the grant is judged at that time instead."""
        _world(ledger, {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})
        found = _who(ledger, t(3), context={"aws:CurrentTime": "2031-01-01T00:00:00Z"})
        assert {ROOT, ALICE, ROLE} == set(found)
        assert ledger.can(ALICE, "s3:PutObject", OBJ, {"aws:CurrentTime": "2031-01-01T00:00:00Z"}, at=t(3)).allowed

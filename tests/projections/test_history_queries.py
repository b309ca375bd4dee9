"""History questions on both stores: a timeline never invents the present, lineage is history (the
session stays after it expires; a job answers for itself), and diff reports every change of access."""

from __future__ import annotations

import pytest

from ledger import Ledger
from ledger.errors import LedgerError, NotFoundError, ValidationError
from ledger.timeaxis import iso, to_us
from tests.projections._support import A
from tests.projections.test_mediaconvert_guide import ALICE, OBJ, ROLE, story, t

POLICY = f"arn:aws:iam::{A}:policy/MC"


class TestTimelineEndsAtItsEnd:
    def test_a_grant_revoked_after_end_ends_at_end_not_now(self, ledger: Ledger) -> None:
        """Detached at t(10), asked up to t(9.5): the allowed interval ends at --end, no "now"."""
        story(ledger)
        tl = ledger.timeline(ALICE, "mediaconvert:CreateJob", "*", start=t(0), end=t(9.5))
        last = tl.intervals[-1]
        assert ("allowed", iso(to_us(t(9.5))), to_us(t(9.5))) == (last.eval_decision, last.end, last.end_us)
        assert last.ended_by is None
        assert all(iv.end is not None for iv in tl.intervals)

    def test_an_interval_closed_before_end_ends_at_its_event(self, ledger: Ledger) -> None:
        """Detached at t(10), asked up to t(20): the allowed interval ends at the detach."""
        story(ledger)
        tl = ledger.timeline(ALICE, "mediaconvert:CreateJob", "*", start=t(0), end=t(20))
        allowed = tl.intervals[1]
        assert (iso(to_us(t(10))), ["PolicyDetached"]) == (allowed.end, [c.event_type for c in allowed.ended_by or ()])
        assert iso(to_us(t(20))) == tl.intervals[-1].end

    def test_terminal_and_html_show_the_end_not_now(self, ledger: Ledger) -> None:
        """Neither the HTML page nor its rows say "now" for a window with an end."""
        from ledger.cli.timeline_html import timeline_html

        story(ledger)
        page = timeline_html(ledger.timeline(ALICE, "mediaconvert:CreateJob", "*", start=t(0), end=t(9.5)))
        assert "now" not in page.replace("known", "")

    def test_start_after_end_is_a_typed_error(self, ledger: Ledger) -> None:
        """An empty window is a mistake, said once."""
        story(ledger)
        with pytest.raises(ValidationError):
            ledger.timeline(ALICE, "mediaconvert:CreateJob", "*", start=t(9), end=t(1))


class TestLineageIsHistory:
    def test_the_session_step_stays_after_the_session_expires(self, ledger: Ledger) -> None:
        """The RoleAssumed behind the write is shown at any --at once the object exists."""
        story(ledger)
        early = ledger.lineage(OBJ, at=t(8.5))
        late = ledger.lineage(OBJ, at=t(60 * 24 * 30))
        assert early.session is not None and late.session is not None
        assert early.session.to_dict() == late.session.to_dict()
        assert "RoleAssumed" == late.session.issued["event_type"]

    def test_a_job_arn_answers_for_the_job(self, ledger: Ledger) -> None:
        """Given the job's ARN: its creator, passed role, session, outputs and owning account."""
        s = story(ledger)
        answer = ledger.lineage(s["job"], at=t(60 * 24))
        assert (s["job"], ALICE, ROLE) == (answer.job.arn, answer.job.creator, answer.job.passed_role)
        assert [OBJ] == [o.object_arn for o in answer.outputs]
        assert answer.session is not None and answer.session.arn.endswith("/MediaConvert")
        assert A == answer.owner.owner_account
        assert {"job", "session", "outputs", "owner", "as_of"} == set(answer.to_dict())

    def test_a_job_before_its_creation_does_not_exist(self, ledger: Ledger) -> None:
        """At a time before the job was created, the job is not found."""
        s = story(ledger)
        with pytest.raises(NotFoundError):
            ledger.lineage(s["job"], at=t(6))

    @pytest.mark.parametrize("text", ["media-out/out/a.mp4", "alice", "arn:aws:s3:::media-out",
                                      f"arn:aws:iam::{A}:user/alice"])
    def test_a_non_object_non_job_is_a_typed_error(self, ledger: Ledger, text: str) -> None:
        """Neither an object ARN nor a job ARN: a ValidationError, not a lookup."""
        story(ledger)
        with pytest.raises(ValidationError):
            ledger.lineage(text)
        assert issubclass(ValidationError, LedgerError)


NOBODY = f"arn:aws:iam::{A}:user/nobody"
UNSEEN = "arn:aws:s3:::never-recorded/k"


class TestUnknownNamesExplainThemselves:
    def test_timeline_of_an_unknown_principal_says_what_can_says(self, ledger: Ledger) -> None:
        """An unknown caller's timeline carries can's note that it does not exist."""
        story(ledger)
        said = ledger.can(NOBODY, "s3:GetObject", OBJ, at=t(9)).decision.errors
        tl = ledger.timeline(NOBODY, "s3:GetObject", OBJ, start=t(0), end=t(20))
        assert said and set(said) <= set(tl.notes)
        assert "notes" in tl.to_dict()

    def test_timeline_on_a_bucket_never_recorded_carries_the_assumption(self, ledger: Ledger) -> None:
        """A bucket the ledger never saw: the timeline says whose it took it to be, as can does."""
        story(ledger)
        said = ledger.can(ALICE, "s3:GetObject", UNSEEN, at=t(9)).notes
        tl = ledger.timeline(ALICE, "s3:GetObject", UNSEEN, start=t(0), end=t(20))
        assert said and set(said) <= set(tl.notes)

    def test_who_can_and_what_can_name_the_unknown(self, ledger: Ledger) -> None:
        """who-can on an unseen bucket and what-can of an unknown caller each say so."""
        story(ledger)
        assert any("never-recorded" in n for n in ledger.who_can("s3:GetObject", UNSEEN, at=t(9)).notes)
        assert any("does not exist" in e for e in ledger.what_can(NOBODY, at=t(9)).errors)

    def test_a_cross_account_deny_says_which_side_failed(self, ledger: Ledger) -> None:
        """admin (account A) may do anything by its identity policy, but no statement of account B's
        bucket policy names it: EvalDecisionDetails names each side (AWS's shape)."""
        story(ledger)
        d = ledger.can(f"arn:aws:iam::{A}:user/admin", "s3:GetObject", OBJ, at=t(9))
        assert "implicitDeny" == d.eval_decision
        details = d.to_dict()["EvalDecisionDetails"]
        assert details and "allowed" in details.values() and "implicitDeny" in details.values()


class TestDiffReportsEveryChange:
    def test_a_conditional_passrole_detached_is_lost(self, ledger: Ledger) -> None:
        """PassRole allowed only with iam:PassedToService: the detach shows allowed-conditional → denied,
        caused by the PolicyDetached with its time and actor."""
        story(ledger)
        lost = {(i.principal, i.action, i.resource): i for i in ledger.diff(t(9), t(11)).lost}
        item = lost[(ALICE, "iam:PassRole", ROLE)]
        assert ("allowed-conditional", "denied") == (item.before_state, item.after_state)
        assert [("PolicyDetached", iso(to_us(t(10))), f"arn:aws:iam::{A}:user/admin")] == \
            [(c.event_type, c.occurred_at, c.actor) for c in item.caused_by]
        assert "iam:PassedToService" in item.missing_context

    def test_losing_the_passrole_path_to_the_bucket_is_lost(self, ledger: Ledger) -> None:
        """alice's PassRole→MediaConvert path to the output bucket goes with the detach, with its path."""
        story(ledger)
        lost = {(i.principal, i.action, i.resource): i for i in ledger.diff(t(9), t(11)).lost}
        item = lost[(ALICE, "s3:PutObject", OBJ)]
        assert item.path and ["iam:PassRole", "mediaconvert:CreateJob"] == [s.action for s in item.path][:2]

    def test_objects_of_one_bucket_are_one_row_with_a_count(self, ledger: Ledger) -> None:
        """Three objects written to media-out, one lost grant: one row per action with count 3."""
        s = story(ledger)
        for key in ("out/b.mp4", "out/c.mp4"):
            ledger.write_output(s["job"], "media-out", key, at=t(8.5))
        lost = [i for i in ledger.diff(t(9), t(11)).lost if i.principal == ALICE and i.action == "s3:PutObject"]
        assert [("arn:aws:s3:::media-out/*", 3)] == [(i.resource, i.count) for i in lost]

    def test_t1_after_t2_is_a_typed_error(self, ledger: Ledger) -> None:
        """diff T2 T1 with T2 later is refused, naming both times."""
        story(ledger)
        with pytest.raises(ValidationError, match="after"):
            ledger.diff(t(11), t(9))

    def test_nothing_changes_outside_the_window(self, ledger: Ledger) -> None:
        """A window with no event in it is empty."""
        story(ledger)
        result = ledger.diff(t(11), t(30))
        assert ((), ()) == (result.gained, result.lost)

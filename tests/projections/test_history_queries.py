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

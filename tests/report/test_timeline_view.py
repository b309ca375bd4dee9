"""The terminal timeline: the window's own range on a dated axis, one character per answer, each
column showing the interval in force at that column's time."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ledger.cli.timeline_view import CHARS, timeline_lines
from ledger.timeaxis import parse_iso, to_us
from projections.results import Interval, TimelineResult

US_PER_DAY = 86_400_000_000


def _result(spans: list[tuple[str, str | None, str, bool]], start: str, end: str) -> TimelineResult:
    ivs = tuple(Interval(start=s, start_us=to_us(parse_iso(s)), end=e, end_us=to_us(parse_iso(e)) if e else None,
                         eval_decision=d, allowed=a, started_by=(), matched=()) for s, e, d, a in spans)
    return TimelineResult(as_of={}, principal="p", action="a", resource="r", start=start, end=end, intervals=ivs)


class TestTheBar:
    """Each column shows the answer in force at its time; denials and allows read without colour."""

    def test_columns_follow_the_intervals(self) -> None:
        """Allowed from March 10 to March 20 inside March 1..31: '#' there, '.' elsewhere, 'X' for a Deny."""
        result = _result([("2024-03-01T00:00:00Z", "2024-03-10T00:00:00Z", "implicitDeny", False),
                          ("2024-03-10T00:00:00Z", "2024-03-20T00:00:00Z", "allowed", True),
                          ("2024-03-20T00:00:00Z", None, "explicitDeny", False)],
                         "2024-03-01T00:00:00Z", "2024-03-31T00:00:00Z")
        bar = timeline_lines(result, 60)[0]
        lo = to_us(parse_iso("2024-03-01T00:00:00Z"))
        for col, ch in enumerate(bar):
            mid = lo + (col + 0.5) * 30 * US_PER_DAY / 60
            expected = "#" if lo + 9 * US_PER_DAY <= mid < lo + 19 * US_PER_DAY else "." if mid < lo + 9 * US_PER_DAY else "X"
            assert expected == ch, col
        assert {CHARS["allowed"], CHARS["implicitDeny"], CHARS["explicitDeny"]} == set(bar)

    def test_a_conditional_allow_has_its_own_character(self) -> None:
        """An interval allowed only under a condition is drawn with '~'."""
        iv = _result([("2024-03-01T00:00:00Z", None, "allowed", True)], "2024-03-01T00:00:00Z",
                     "2024-03-02T00:00:00Z").intervals[0]
        result = TimelineResult(as_of={}, principal="p", action="a", resource="r", start="2024-03-01T00:00:00Z",
                                end="2024-03-02T00:00:00Z", intervals=(replace(iv, conditional=True),))
        assert "~" * 30 == timeline_lines(result, 30)[0]

    def test_the_demo_roles_put_is_conditional_once_its_policy_exists(self, tmp_path: Any) -> None:
        """MediaConvertRole's s3:PutObject into the archive needs s3:x-amz-acl (the story's bucket
        policy): the timeline says conditional, with that key, from the grant on, never plain deny."""
        from ledger import Ledger
        from ledger.application.demo import ROLE_ARN, record_story

        with Ledger.open(f"sqlite:///{tmp_path / 'demo.db'}") as ledger:
            record_story(ledger)
            tl = ledger.timeline(ROLE_ARN, "s3:PutObject", "arn:aws:s3:::archive-media-out/x.mp4",
                                 start="2024-01-01T00:00:00Z", end="2024-04-01T00:00:00Z")
            can = ledger.can(ROLE_ARN, "s3:PutObject", "arn:aws:s3:::archive-media-out/x.mp4",
                             at="2024-03-01T00:00:00Z")
        last = tl.intervals[-1]
        assert (True, ("s3:x-amz-acl",)) == (last.conditional, last.missing_context)
        assert ("implicitDeny", ("s3:x-amz-acl",)) == (can.eval_decision, can.decision.missing_context_values)
        assert "~" in timeline_lines(tl, 60)[0]

    def test_a_short_interval_still_shows(self) -> None:
        """A minute-long allow in a month-long window gets at least one column."""
        result = _result([("2024-03-01T00:00:00Z", "2024-03-15T00:00:00Z", "implicitDeny", False),
                          ("2024-03-15T00:00:00Z", "2024-03-15T00:01:00Z", "allowed", True),
                          ("2024-03-15T00:01:00Z", None, "implicitDeny", False)],
                         "2024-03-01T00:00:00Z", "2024-03-31T00:00:00Z")
        assert 1 <= timeline_lines(result, 40)[0].count("#")


class TestTheAxis:
    """The axis spans the window's own range and its dates are where the ticks are."""

    def test_first_and_last_dates_are_the_window(self) -> None:
        """The first label is the window's start date, the last its end date (not today)."""
        result = _result([("2024-02-01T00:00:00Z", None, "allowed", True)], "2024-02-01T00:00:00Z",
                         "2024-04-01T00:00:00Z")
        bar, ticks, labels, legend = timeline_lines(result, 72)
        assert labels.startswith("2024-02-01") and labels.endswith("2024-04-01")
        assert 72 == len(bar) == len(ticks) and ticks[0] == "|" == ticks[-1]
        assert "#" in legend and "~" in legend and "." in legend and "X" in legend

    def test_short_windows_label_hours(self) -> None:
        """A window under two days is labelled with times of day."""
        result = _result([("2024-03-01T08:00:00Z", None, "allowed", True)], "2024-03-01T08:00:00Z",
                         "2024-03-01T20:00:00Z")
        labels = timeline_lines(result, 60)[2]
        assert labels.startswith("03-01 08:00") and labels.endswith("03-01 20:00")

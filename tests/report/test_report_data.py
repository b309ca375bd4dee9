"""`Ledger.report` on the demo story: its rows and intervals against `can` asked per principal and
time, the revocation's interval, the changes, the outputs and the provenance footer's facts."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import Ledger
from ledger.errors import LedgerError, ValidationError
from projections.queries.report import target
from tests.report._reference import covering, directly_allowed, known_principals, path_holds, sample_times

Story = tuple[Ledger, Any, dict[str, Any]]


def _expected_at(ledger: Ledger, report: dict[str, Any], at_us: int) -> dict[tuple[str, str], bool]:
    """(principal, action) → allowed at T: directly by `can`, or through a who_can path every step
    of which `can` allows."""
    from ledger.timeaxis import from_us

    out: dict[tuple[str, str], bool] = {}
    for pair in report["actions"]:
        action, resource = pair["action"], pair["resource"]
        paths = {e.principal: e.to_dict()["path"] for e in ledger.who_can(action, resource, at=from_us(at_us),
                                                                            paths=True).principals}
        for principal in known_principals(ledger, at_us):
            via_path = principal in paths and len(paths[principal]) > 1 and path_holds(ledger, paths[principal],
                                                                                       at_us)
            out[(principal, action)] = directly_allowed(ledger, principal, action, resource, at_us) or via_path
    return out


class TestRowsAgainstTheReference:
    """Every interval the report draws is where `can` says access was, and nowhere else."""

    def test_each_sampled_time_matches_can_per_principal(self, story: Story) -> None:
        """At the window's start, each change point and between them, the report covers exactly the
        (principal, action) pairs the reference allows."""
        ledger, _, report = story
        for at_us in sample_times(report):
            expected = _expected_at(ledger, report, at_us)
            drawn = {key: covering(report, *key, at_us) is not None for key in expected}
            assert expected == drawn, at_us

    def test_one_row_per_principal_who_could_act(self, story: Story) -> None:
        """The rows are the principals with at least one interval, grouped by account."""
        _, _, report = story
        rows = [p["arn"] for p in report["principals"]]
        assert sorted({i["principal"] for i in report["intervals"]}) == sorted(rows)
        accounts = [p["account"] for p in report["principals"]]
        assert sorted(accounts) == accounts


class TestTheRevocation:
    """Bob's access through the service role ends when admin removes him from the group."""

    def test_bobs_bar_ends_at_the_removal_event(self, story: Story) -> None:
        """The interval's end is the UserRemovedFromGroup event's valid time, and it names that event."""
        ledger, facts, report = story
        [removal] = [e for e in ledger.history(facts.bob_arn) if e.event_type == "UserRemovedFromGroup"]
        [bar] = [i for i in report["intervals"] if i["principal"] == facts.bob_arn and i["action"] == "s3:PutObject"]
        assert removal.occurred_at.isoformat().replace("+00:00", "Z") == bar["end"]
        assert [removal.position] == [e["position"] for e in bar["closed_by"]]
        assert removal.actor == bar["closed_by"][0]["actor"]
        assert ("conditional", "service role") == (bar["status"], bar["how"])

    def test_the_change_lists_the_loss_with_its_actor(self, story: Story) -> None:
        """'What changed' has the removal, its actor and bob's lost access."""
        _, facts, report = story
        [change] = [c for c in report["changes"] if any(e["event_type"] == "UserRemovedFromGroup" for e in c["events"])]
        assert facts.admin_arn == change["events"][0]["actor"]
        assert [(facts.bob_arn, "s3:PutObject")] == [(x["principal"], x["action"]) for x in change["lost"]]


class TestOutputsAndProvenance:
    """Objects written in the window come with their lineage; the footer's facts are the store's."""

    def test_outputs_match_lineage(self, story: Story) -> None:
        """Each object written in the window is listed with the lineage the `lineage` query gives."""
        ledger, facts, report = story
        assert sorted([facts.first_output, facts.second_output]) == sorted(o["object"] for o in report["outputs"])
        for row in report["outputs"]:
            reference = ledger.lineage(row["object"], at="2024-03-31T23:59:59.999999Z").to_dict()
            assert reference["job"] == row["job"]
            assert reference["owner"]["owner_account"] == row["owner"]["owner_account"]

    def test_provenance_names_the_checkpoint_and_verify(self, story: Story) -> None:
        """Positions 1..last, the newest stored checkpoint's root, and verify's result."""
        from ledger.application.trust import stored_checkpoints

        ledger, _, report = story
        newest = max(stored_checkpoints(ledger.store), key=lambda c: c.tree_size)
        footer = report["provenance"]
        assert {"first": 1, "last": ledger.store.max_position()} == footer["positions"]
        assert newest.root_hash == footer["checkpoint"]["root_hash"]
        assert (True, True) == (footer["verify"]["run"], footer["verify"]["ok"])


class TestTargets:
    """The actions that matter for a resource's kind, and refusals."""

    def test_default_actions_per_kind(self) -> None:
        """A bucket: read, list, write, delete, policy; a role: assume and pass; a queue: create, get, cancel."""
        bucket = target("arn:aws:s3:::b")
        assert ("s3:PutObject", "arn:aws:s3:::b/*") in bucket.pairs
        assert ("s3:PutBucketPolicy", "arn:aws:s3:::b") in bucket.pairs
        role = target("arn:aws:iam::111122223333:role/r")
        assert ["sts:AssumeRole", "iam:PassRole"] == [a for a, _ in role.pairs]
        queue = target("arn:aws:mediaconvert:us-east-1:111122223333:queues/Default")
        assert ["mediaconvert:CreateJob", "mediaconvert:GetJob", "mediaconvert:CancelJob"] == [a for a, _ in queue.pairs]

    @pytest.mark.parametrize("resource", ["not-an-arn", "arn:aws:s3:::", "arn:aws:sqs:us-east-1:111122223333:q"])
    def test_bad_resources_are_refused(self, resource: str) -> None:
        """Not an ARN, or a kind with no default actions and none given: a typed error."""
        with pytest.raises(ValidationError):
            target(resource)

    def test_an_empty_window_is_refused(self, story: Story) -> None:
        """--to not after --from is a typed error."""
        ledger, _, _ = story
        with pytest.raises(LedgerError):
            ledger.report("arn:aws:s3:::archive-media-out", start="2024-03-01T00:00:00Z", end="2024-03-01T00:00:00Z")

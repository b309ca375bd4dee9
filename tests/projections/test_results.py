"""The typed query results: their JSON shape (keys and order), key access, immutability, light import."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import ledger as public
from ledger import Ledger
from tests.projections._support import B, doc, fresh_ledger, t
from tests.projections.test_mediaconvert_guide import ALICE, OBJ, ROLE, story

AT = t(9)


@pytest.fixture(scope="module")
def told() -> Iterator[Ledger]:
    """The guide's story, plus a trust policy that also names account B (a delegated entry) and
    a Deny for alice."""
    with fresh_ledger("sqlite") as ledger:
        story(ledger)
        ledger.put_user_policy("111111111111", "alice", "no-delete", doc(
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}), at=t(8.7))
        ledger.update_assume_role_policy("111111111111", "MCRole", doc(
            {"Effect": "Allow", "Principal": {"Service": "mediaconvert.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"}, "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"sts:ExternalId": "x"}}}), at=t(8.5))
        yield ledger


def keys(d: dict[str, Any]) -> list[str]:
    return list(d)


class TestWhoCanShape:
    def test_entries_and_steps_keep_their_keys_in_order(self, told: Ledger) -> None:
        """A path entry lists principal, decision, conditional, path, missing context; the steps a
        path adds before the target carry `conditional` after their statements, then the context
        the path supplies them (PassRole's iam:PassedToService, MediaConvert's aws:SourceAccount);
        the target's step has neither."""
        body = told.who_can("s3:PutObject", OBJ, at=AT, paths=True).to_dict()
        assert ["as_of", "action", "resource", "principals"] == keys(body)
        alice = next(p for p in body["principals"] if p["principal"] == ALICE)
        assert ["principal", "EvalDecision", "conditional", "path", "missing_context"] == keys(alice)
        step_keys = [keys(step) for step in alice["path"]]
        with_flag = ["principal", "action", "resource", "EvalDecision", "via", "conditional"]
        assert [[*with_flag, "context"], with_flag, [*with_flag, "context"], with_flag[:-1]] == step_keys

    def test_a_delegated_entry_has_its_own_key_order(self, told: Ledger) -> None:
        """The delegated account entry names its reason between missing context and an empty path."""
        body = told.who_can("sts:AssumeRole", ROLE, at=AT).to_dict()
        entry = next(p for p in body["principals"] if p.get("delegated"))
        assert ["principal", "EvalDecision", "conditional", "delegated", "missing_context", "reason", "path"] == \
            keys(entry)
        assert (f"arn:aws:iam::{B}:root", ["sts:ExternalId"], []) == \
            (entry["principal"], entry["missing_context"], entry["path"])


class TestWhatCanShape:
    def test_allows_carry_effective_checks_and_denies_do_not(self, told: Ledger) -> None:
        """An Allow statement's summary ends with its effective checks; a Deny's has none."""
        body = told.what_can(ALICE, at=AT).to_dict()
        assert ["as_of", "principal", "allows", "denies", "errors", "unknown_policies"] == keys(body)
        summary = ["policy", "policy_type", "sid", "actions", "resources", "origin", "conditions"]
        assert [*summary, "effective"] == keys(body["allows"][0])
        assert summary == keys(body["denies"][0])
        assert ["action", "resource", "EvalDecision", "conditional", "missing_context", "boundary",
                "organizations", "cut_by"] == keys(body["allows"][0]["effective"][0])


class TestHistoryShape:
    def test_closed_intervals_end_with_ended_by_and_the_last_does_not(self, told: Ledger) -> None:
        """Each interval but the last says what ended it, after its matched statements."""
        body = told.timeline(ALICE, "mediaconvert:CreateJob", "*", start=t(0), end=t(20)).to_dict()
        # `notes` (extension): before t(3) alice does not exist yet, which the timeline says as can does
        assert ["as_of", "principal", "action", "resource", "start", "end", "intervals", "notes"] == keys(body)
        interval = ["start", "start_us", "end", "end_us", "EvalDecision", "allowed", "started_by", "matched"]
        extension = ["conditional", "MissingContextValues"]
        assert [[*interval, "ended_by", *extension]] * 2 + [[*interval, *extension]] == [
            keys(iv) for iv in body["intervals"]]
        assert ["position", "event_type", "fact", "change"] == keys(body["intervals"][1]["started_by"][0])

    def test_diff_items_name_before_after_causes_and_statements(self, told: Ledger) -> None:
        """A lost grant lists the request, both decisions, its causes and the statements that allowed it."""
        body = told.diff(AT, t(11)).to_dict()
        assert ["as_of", "t1", "t2", "gained", "lost", "universe"] == keys(body)
        lost = next(item for item in body["lost"] if "path" not in item)
        assert ["principal", "action", "resource", "before", "after", "caused_by", "via", "before_state",
                "after_state", "missing_context", "count"] == keys(lost)
        assert ["position", "event_type", "fact", "change", "occurred_at", "actor"] == keys(lost["caused_by"][0])
        assert ["principals", "pairs"] == keys(body["universe"])


class TestOwnershipShape:
    def test_owner_of_an_object_embeds_its_lineage_third(self, told: Ledger) -> None:
        """The owner answer keeps `lineage` after resource and as_of; for a bucket it is None."""
        body = told.owner_of(OBJ, at=AT).to_dict()
        assert ["resource", "as_of", "lineage", "owner_account", "reason", "evidence"] == keys(body)
        assert ["object", "written", "writer", "writer_account", "acl", "object_ownership_at_write", "job",
                "session"] == keys(body["lineage"])
        assert None is told.owner_of("arn:aws:s3:::media-out", at=AT).to_dict()["lineage"]

    def test_lineage_ends_with_its_owner_without_a_nested_lineage(self, told: Ledger) -> None:
        """The lineage answer appends the owner (without repeating the lineage) and its as_of."""
        body = told.lineage(OBJ, at=AT).to_dict()
        assert ["object", "written", "writer", "writer_account", "acl", "object_ownership_at_write", "job",
                "session", "owner", "as_of"] == keys(body)
        assert ["resource", "as_of", "owner_account", "reason", "evidence"] == keys(body["owner"])


class TestKeyAccess:
    def test_keys_read_the_same_values_as_to_dict(self, told: Ledger) -> None:
        """`result[key]`, `get`, `in` and `dict(result)` all read the JSON form."""
        for result in (told.who_can("s3:PutObject", OBJ, at=AT, paths=True), told.what_can(ALICE, at=AT),
                       told.timeline(ALICE, "mediaconvert:CreateJob", "*", start=t(0), end=t(20)),
                       told.diff(AT, t(11)), told.owner_of(OBJ, at=AT), told.lineage(OBJ, at=AT)):
            body = result.to_dict()
            assert body == dict(result)
            assert all(body[key] == result[key] for key in body)
            assert ("fallback", False) == (result.get("no-such-key", "fallback"), "no-such-key" in result)
            with pytest.raises(KeyError):
                result["no-such-key"]

    def test_attributes_are_the_typed_view_of_the_same_answer(self, told: Ledger) -> None:
        """Attribute access reaches what the keys hold, with typed nested results."""
        who = told.who_can("s3:PutObject", OBJ, at=AT, paths=True)
        alice = next(p for p in who.principals if p.principal == ALICE)
        assert ["iam:PassRole", "mediaconvert:CreateJob", "sts:AssumeRole", "s3:PutObject"] == \
            [step.action for step in alice.path]
        lineage = told.lineage(OBJ, at=AT)
        assert lineage.job is not None and lineage.owner is not None
        assert (ALICE, lineage["owner"]["owner_account"]) == (lineage.job.creator, lineage.owner.owner_account)

    def test_the_json_form_serialises_without_help(self, told: Ledger) -> None:
        """`to_dict()` holds only JSON types: it dumps without a default hook and loads back equal."""
        body = told.who_can("s3:PutObject", OBJ, at=AT, paths=True).to_dict()
        assert body == json.loads(json.dumps(body))


class TestResultsAreValues:
    def test_results_are_frozen(self, told: Ledger) -> None:
        """A result cannot be changed after the query returns it."""
        who = told.who_can("s3:PutObject", OBJ, at=AT)
        with pytest.raises(dataclasses.FrozenInstanceError):
            who.action = "s3:GetObject"  # type: ignore[misc]

    def test_the_public_package_exports_the_result_types(self, told: Ledger) -> None:
        """`ledger` exports each query's result type, and the queries return them."""
        assert isinstance(told.who_can("s3:PutObject", OBJ, at=AT), public.WhoCanResult)
        assert isinstance(told.what_can(ALICE, at=AT), public.WhatCanResult)
        assert isinstance(told.timeline(ALICE, "mediaconvert:CreateJob", "*", end=t(20)), public.TimelineResult)
        assert isinstance(told.diff(AT, t(11)), public.DiffResult)
        assert isinstance(told.owner_of(OBJ, at=AT), public.OwnerResult)
        assert isinstance(told.lineage(OBJ, at=AT), public.LineageResult)

    def test_the_results_module_loads_no_heavy_package(self) -> None:
        """Importing the result types loads neither SQLAlchemy, pydantic nor the policy engine."""
        code = ("import sys, projections.results; "
                "print(sorted(m for m in ('sqlalchemy', 'pydantic', 'ledger') if m in sys.modules))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert "[]" == out.stdout.strip()

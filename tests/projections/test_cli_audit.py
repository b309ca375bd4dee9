"""The audit CLI on both stores: exit codes, JSON shapes, charts, rebuild and project."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

import ledger.cli.registry  # noqa: F401  (registers the commands)
from ledger.cli.app import app
from tests.projections.test_mediaconvert_guide import ALICE, CAROL, OBJ, story

runner = CliRunner()


def run(url: str, *args: str) -> Any:
    return runner.invoke(app, ["--db", url, *args])


@pytest.fixture
def url(ledger: Any) -> str:
    story(ledger)
    return str(ledger.store.url.url)


class TestCanCommand:
    def test_exit_codes_and_json_shape(self, url: str) -> None:
        """can exits 0 when allowed, 1 when denied, 2 on error; JSON carries AWS keys and as_of."""
        allowed = run(url, "can", ALICE, "mediaconvert:CreateJob", "*", "--at", "2024-03-01T00:09:00Z", "--json")
        assert 0 == allowed.exit_code, allowed.output
        body = json.loads(allowed.stdout)
        assert {"EvalDecision", "MatchedStatements", "MissingContextValues", "as_of"} <= set(body)
        assert "PolicyAttached" == body["MatchedStatements"][0]["Origin"]["event_type"]
        denied = run(url, "can", ALICE, "mediaconvert:CreateJob", "*", "--at", "2024-03-01T00:11:00Z")
        assert 1 == denied.exit_code
        assert 2 == run(url, "can", "not-an-arn", "s3:GetObject", "*").exit_code
        assert 2 == run(url, "can", ALICE, "s3:GetObject", "*", "--at", "tomorrow").exit_code

    def test_context_and_known_at_options(self, url: str) -> None:
        """--context KEY=VALUE feeds conditions; --known-at @P restricts to recorded history."""
        ok = run(url, "can", ALICE, "iam:PassRole", "arn:aws:iam::111111111111:role/MCRole", "--at",
                 "2024-03-01T00:09:00Z", "--context", "iam:PassedToService=mediaconvert.amazonaws.com")
        assert 0 == ok.exit_code, ok.output
        early = run(url, "can", ALICE, "mediaconvert:CreateJob", "*", "--known-at", "@3", "--json")
        assert "implicitDeny" == json.loads(early.stdout)["EvalDecision"]


class TestQueryCommands:
    def test_who_can_json(self, url: str) -> None:
        """who-can lists principals with decision, path and missing context."""
        out = run(url, "who-can", "s3:PutObject", OBJ, "--at", "2024-03-01T00:09:00Z", "--paths", "--json")
        assert 0 == out.exit_code, out.output
        body = json.loads(out.stdout)
        assert {"as_of", "principals"} <= set(body)
        alice = next(p for p in body["principals"] if p["principal"] == ALICE)
        assert {"principal", "EvalDecision", "path", "missing_context"} <= set(alice)

    def test_owner_lineage_what_can_diff_timeline(self, url: str, tmp_path: Any) -> None:
        """owner/lineage/what-can/diff/timeline answer in JSON and render tables and HTML."""
        owner = json.loads(run(url, "owner", OBJ, "--json").stdout)
        assert ("222222222222", ALICE) == (owner["owner_account"], owner["lineage"]["job"]["creator"])
        assert 0 == run(url, "owner", OBJ).exit_code
        lineage = run(url, "lineage", OBJ, "--json")
        assert "arn:aws:iam::111111111111:role/MCRole" == json.loads(lineage.stdout)["job"]["passed_role"]
        assert 0 == run(url, "lineage", OBJ).exit_code
        what = run(url, "what-can", CAROL, "--json")
        assert "s3:GetObject" == json.loads(what.stdout)["allows"][0]["effective"][0]["action"]
        assert 0 == run(url, "what-can", CAROL).exit_code
        diff = json.loads(run(url, "diff", "2024-03-01T00:09:00Z", "2024-03-01T00:11:00Z", "--json").stdout)
        assert ALICE in {item["principal"] for item in diff["lost"]}
        assert 0 == run(url, "diff", "2024-03-01T00:09:00Z", "2024-03-01T00:11:00Z").exit_code
        page = tmp_path / "t.html"
        shown = run(url, "timeline", ALICE, "mediaconvert:CreateJob", "*", "--html", str(page))
        assert 0 == shown.exit_code, shown.output
        html = page.read_text()
        assert "<svg" in html and "PolicyDetached" in html and "http" not in html.split("<svg", 1)[1].split("xmlns", 1)[0]
        body = json.loads(run(url, "timeline", ALICE, "mediaconvert:CreateJob", "*", "--json").stdout)
        assert ["implicitDeny", "allowed", "implicitDeny"] == [iv["EvalDecision"] for iv in body["intervals"]]


class TestProjectionCommands:
    def test_rebuild_and_project(self, url: str) -> None:
        """rebuild re-folds the whole log; project catches up (nothing left to do here)."""
        rebuilt = run(url, "rebuild", "--json")
        assert 0 == rebuilt.exit_code, rebuilt.output
        assert json.loads(rebuilt.stdout)["events"] > 10
        assert 0 == run(url, "rebuild").exit_code
        projected = json.loads(run(url, "project", "--json").stdout)
        assert 0 == projected["events"]

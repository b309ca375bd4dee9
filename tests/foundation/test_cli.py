"""The CLI's core commands and its error contract: one readable line, non-zero exit, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ledger.cli.registry  # noqa: F401  (registers every command)
from ledger import Ledger
from ledger.cli.app import app

runner = CliRunner()


def ledger_cli(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, exactly as a user would."""
    return subprocess.run(
        [sys.executable, "-c", "from ledger.cli import main; main()", *args],
        capture_output=True, text=True, cwd=cwd, input=stdin, timeout=120,
        env={**os.environ, "LEDGER_DB": ""},
    )


class TestDemo:
    def test_demo_records_the_mediaconvert_story_in_a_fresh_sqlite_file(self, tmp_path: Path) -> None:
        """`ledger demo` writes the story into a new SQLite file and lists its events."""
        result = ledger_cli("demo", "--json", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        payload = json.loads(result.stdout)
        types = [e["event"] for e in payload["events"]]
        assert {"AccountCreated", "RoleCreated", "JobCreated", "RoleAssumed", "OutputWritten",
                "UserRemovedFromGroup", "BucketOwnershipChanged"} <= set(types)
        with Ledger.open(f"sqlite:///{tmp_path / 'ledger-demo.db'}") as ledger:
            assert len(list(ledger.events())) == len(types)

    def test_running_the_demo_twice_starts_from_a_fresh_file(self, tmp_path: Path) -> None:
        """The demo never appends to a previous run's history."""
        first = json.loads(ledger_cli("demo", "--json", cwd=tmp_path).stdout)
        second = json.loads(ledger_cli("demo", "--json", cwd=tmp_path).stdout)
        assert len(first["events"]) == len(second["events"])


class TestHistoryAndLog:
    def test_history_of_a_user_lists_its_events_as_json(self, tmp_path: Path) -> None:
        """`ledger history ARN --json` lists the events that touched the entity."""
        url = f"sqlite:///{tmp_path / 'l.db'}"
        with Ledger.open(url) as ledger:
            ledger.create_account("111122223333", "a")
            ledger.create_user("111122223333", "alice")
            ledger.create_access_key("111122223333", "alice")
        result = runner.invoke(app, ["--db", url, "history", "arn:aws:iam::111122223333:user/alice", "--json"])
        assert result.exit_code == 0, result.output
        events = json.loads(result.stdout)["events"]
        assert [e["event"] for e in events] == ["UserCreated", "AccessKeyCreated"]

    def test_log_pages_through_positions(self, tmp_path: Path) -> None:
        """`ledger log --after N --limit K` returns the next K events after position N."""
        url = f"sqlite:///{tmp_path / 'l.db'}"
        with Ledger.open(url) as ledger:
            ledger.create_account("111122223333", "a")
            for name in ("a", "b", "c"):
                ledger.create_user("111122223333", name)
        result = runner.invoke(app, ["--db", url, "log", "--after", "1", "--limit", "2", "--json"])
        assert [e["position"] for e in json.loads(result.stdout)["events"]] == [2, 3]


class TestSimulateCommand:
    def test_simulate_reads_json_lines_and_answers_in_order(self, tmp_path: Path) -> None:
        """`ledger simulate` answers one line per scenario, in input order, errors inline."""
        allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
        scenario = {
            "principal": "arn:aws:iam::111122223333:user/alice", "principal_account": "111122223333",
            "action": "s3:GetObject", "resource": "arn:aws:s3:::b/k", "resource_account": "111122223333",
            "identity_policies": [allow],
        }
        lines = [json.dumps({**scenario, "id": 1}), "not json", json.dumps({**scenario, "id": 3, "action": "s3:PutObject"})]
        result = ledger_cli("simulate", stdin="\n".join(lines) + "\n")
        answers = [json.loads(line) for line in result.stdout.splitlines()]
        assert [a["id"] for a in answers] == [1, None, 3]
        assert [a["EvalDecision"] for a in answers] == ["allowed", None, "implicitDeny"]
        assert answers[1]["error"]


class TestErrorsAreOneLine:
    @pytest.mark.parametrize("args", [
        ["--db", "mysql://nope", "log"],
        ["--db", "sqlite:////no/such/directory/x.db", "log"],
        ["log", "--limit", "0"],
        ["simulate", "--input", "/no/such/file.jsonl"],
    ])
    def test_bad_input_gives_one_line_and_exit_2(self, args: list[str], tmp_path: Path) -> None:
        """Bad URLs, arguments and files give a single error line, exit code 2, no traceback."""
        result = ledger_cli(*args, cwd=tmp_path)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1

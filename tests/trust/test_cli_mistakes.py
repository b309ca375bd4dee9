"""Mistakes are loud: a read-only command never creates a store, a missing PostgreSQL database
says so, an empty import is an error, unknown log levels are refused, `--json` errors are JSON,
and hostile names or positions get one typed line, never a traceback (both stores)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.application.facade import Ledger
from ledger.timeaxis import MAX_POSITION
from tests.conftest import postgres_base_url
from tests.trust._support import CliResult, raw, run_cli

BOB = "arn:aws:iam::111122223333:user/bob"
HUGE = str(MAX_POSITION + 1)
T = "2024-03-01T14:00:00Z"

# Every command that only reads, with arguments that would be valid on a real ledger.
READ_ONLY = {
    "can": ["can", BOB, "s3:GetObject", "*"],
    "who-can": ["who-can", "s3:GetObject", "*"],
    "what-can": ["what-can", BOB],
    "timeline": ["timeline", BOB, "s3:GetObject", "*"],
    "diff": ["diff", "2024-01-01T00:00:00Z", T],
    "owner": ["owner", "arn:aws:s3:::b/k"],
    "lineage": ["lineage", "arn:aws:s3:::b/k"],
    "history": ["history", BOB],
    "log": ["log"],
    "verify": ["verify"],
    "checkpoint": ["checkpoint"],
    "prove": ["prove", "1"],
    "drift": ["drift"],
    "report": ["report", "arn:aws:s3:::b"],
}


def one_error_line(result: CliResult) -> str:
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert 1 == len(lines), result.err
    assert "Traceback" not in result.err and "internal error" not in result.err
    return lines[0]


def _exists(url: str) -> bool:
    if url.startswith("sqlite"):
        return Path(url.removeprefix("sqlite:///")).exists()
    with raw(url) as db:
        return db.table_exists()


class TestReadOnlyCommandsRefuseAMissingStore:
    """A typo in --db must not create an empty ledger that answers 'nobody' with confidence."""

    @pytest.mark.parametrize("name", list(READ_ONLY))
    def test_read_only_command_refuses_and_creates_nothing(self, store_url: str, name: str) -> None:
        """Exit 2, one line naming the place, and no store left behind."""
        result = run_cli("--db", store_url, *READ_ONLY[name])
        assert 2 == result.code, result.out + result.err
        line = one_error_line(result)
        assert "NoSuchStore" in line
        where = store_url.removeprefix("sqlite:///") if store_url.startswith("sqlite") else "PostgreSQL"
        assert where in line
        assert _exists(store_url) is False

    def test_every_command_declares_whether_it_only_reads(self) -> None:
        """The registry knows each command; the read-only ones are exactly those that only read."""
        from ledger.cli import registry  # noqa: F401  (registers the commands)
        from ledger.cli.app import COMMANDS

        assert set(READ_ONLY) == {name for name, read_only in COMMANDS.items() if read_only}
        assert {"demo", "import cloudtrail", "import snapshot", "import config", "import organization",
                "import buckets", "rebuild", "project", "bench generate",
                "keygen", "simulate"} == {name for name, read_only in COMMANDS.items() if not read_only}

    def test_a_writing_command_creates_the_store(self, store_url: str, tmp_path: Path) -> None:
        """Commands that write still create a new store (here: an import of an empty snapshot)."""
        trail = tmp_path / "trail.json"
        trail.write_text(json.dumps({"Records": [{
            "eventVersion": "1.08", "eventID": "e1", "eventTime": "2024-03-01T14:00:00Z",
            "eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "awsRegion": "us-east-1",
            "recipientAccountId": "111122223333",
            "userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"},
            "requestParameters": {"userName": "zed"},
            "responseElements": {"user": {"userName": "zed", "userId": "AIDAZZZZZZZZZZZZZZZZZ",
                                          "arn": "arn:aws:iam::111122223333:user/zed", "path": "/"}}}]}))
        result = run_cli("--db", store_url, "import", "cloudtrail", str(trail), "--json")
        assert 0 == result.code, result.err
        assert _exists(store_url) is True


class TestStoreAndInputMistakes:
    """Mistakes about where the store is and what to import are named, not timed out or ignored."""

    @pytest.mark.parametrize("args", [["log"], ["import", "snapshot", "/dev/null", "--at", T]])
    def test_a_missing_postgres_database_is_named(self, args: list[str]) -> None:
        """Not "couldn't get a connection after 5.00 sec": the database does not exist."""
        base = postgres_base_url()
        if base is None:
            pytest.skip("LEDGER_TEST_POSTGRES_URL is not set")
        url = base.split("?", 1)[0].rsplit("/", 1)[0] + "/no_such_database_p2trust"
        result = run_cli("--db", url, *args)
        assert 2 == result.code
        assert "'no_such_database_p2trust' does not exist" in one_error_line(result)

    @pytest.mark.parametrize("kind", ["empty directory", "empty file", "no records"])
    def test_an_import_that_finds_nothing_says_so_and_exits_1(self, store_url: str, tmp_path: Path,
                                                               kind: str) -> None:
        """Nothing found is not a silent success."""
        target = tmp_path / "trail"
        if kind == "empty directory":
            target.mkdir()
        elif kind == "empty file":
            target.write_text("")
        else:
            target.write_text('{"Records": []}')
        result = run_cli("--db", store_url, "import", "cloudtrail", str(target))
        assert 1 == result.code, result.out + result.err
        assert "no CloudTrail records found" in result.err

    def test_an_unknown_log_level_is_refused(self, tmp_path: Path) -> None:
        """--log-level accepts debug, info, warning and error only."""
        result = run_cli("--db", f"sqlite:///{tmp_path}/x.db", "--log-level", "loud", "log")
        assert 2 == result.code
        assert "loud" in result.err and "--log-level" in result.err


class TestJsonErrors:
    """With --json, an error is a JSON object on stderr, with the same exit code."""

    @pytest.mark.parametrize("args", [
        ["--json", "log"],
        ["log", "--json"],
        ["can", BOB, "s3:GetObject", "*", "--json"],
    ])
    def test_errors_are_json_on_stderr(self, tmp_path: Path, args: list[str]) -> None:
        """{"error": {"code": ..., "message": ...}} and exit 2, nothing on stdout."""
        result = run_cli("--db", f"sqlite:///{tmp_path}/missing.db", *args)
        assert (2, "") == (result.code, result.out)
        body = json.loads(result.err)
        assert "NoSuchStore" == body["error"]["code"]
        assert "missing.db" in body["error"]["message"]

    def test_usage_errors_are_json_too(self, tmp_path: Path) -> None:
        """A command line that does not parse, with --json, still answers in JSON (exit 2)."""
        result = run_cli("--json", "--db", f"sqlite:///{tmp_path}/x.db", "log", "--limit", "many")
        assert 2 == result.code
        assert "UsageError" == json.loads(result.err)["error"]["code"]


@pytest.fixture
def demo_url(store_url: str) -> Iterator[str]:
    from ledger.application.demo import record_story

    with Ledger.open(store_url) as ledger:
        record_story(ledger)
        ledger.create_bucket("111122223333", "odd-keys", at="2024-01-03T09:00:00Z")
    yield store_url


MARKUP = "arn:aws:s3:::odd-keys/a[/]b[bold]c[/bold]"
UNDECODABLE = b"arn:aws:s3:::b/\xff\xfe".decode("utf-8", "surrogateescape")


class TestHostileTextAndPositions:
    """User text is never markup; positions beyond the log's range are typed errors (issue 15 §12)."""

    @pytest.mark.parametrize("args", [
        ["can", BOB, "s3:GetObject", MARKUP, "--at", T],
        ["who-can", "s3:GetObject", MARKUP, "--at", T],
        ["history", MARKUP],
        ["timeline", BOB, "s3:GetObject", MARKUP],
        ["what-can", "arn:aws:iam::111122223333:user/[/]"],
        ["owner", MARKUP],
    ])
    def test_square_brackets_in_names_print_as_typed(self, demo_url: str, args: list[str]) -> None:
        """`[/]` is legal in an S3 key: printed literally, never a MarkupError."""
        result = run_cli("--db", demo_url, *args)
        assert result.code in (0, 1, 2), result.err
        assert "MarkupError" not in result.err and "internal error" not in result.err
        if result.code != 2:
            assert "[/]" in result.out

    @pytest.mark.parametrize("args", [
        ["can", BOB, "s3:GetObject", "*", "--known-at", f"@{HUGE}"],
        ["can", BOB, "s3:GetObject", "*", "--at", f"@{HUGE}"],
        ["who-can", "s3:GetObject", "*", "--known-at", f"@{HUGE}"],
        ["log", "--after", HUGE],
        ["log", "--limit", HUGE],
        ["log", "--offset", HUGE],
        ["diff", f"@{HUGE}", T],
        ["diff", "@1", T, "--known-at", f"@{HUGE}"],
        ["timeline", BOB, "s3:GetObject", "*", "--end", f"@{HUGE}"],
        ["timeline", BOB, "s3:GetObject", "*", "--start", f"@{HUGE}"],
        ["prove", HUGE],
    ])
    def test_positions_beyond_range_are_one_typed_line(self, demo_url: str, args: list[str]) -> None:
        """Positions ≥ 2^63 never reach the database as an overflowing integer."""
        result = run_cli("--db", demo_url, *args)
        assert 2 == result.code, result.out + result.err
        assert "OverflowError" not in one_error_line(result)

    @pytest.mark.parametrize("args", [
        ["lineage", UNDECODABLE],
        ["owner", UNDECODABLE],
        ["can", BOB, "s3:GetObject", UNDECODABLE],
        ["history", UNDECODABLE],
    ])
    def test_arguments_that_are_not_utf8_are_one_typed_line(self, demo_url: str, args: list[str]) -> None:
        """Bytes that are not UTF-8 on the command line (kept by Python as lone surrogates) are
        refused before any work: one InvalidArgument line, exit 2, never an internal error."""
        result = run_cli("--db", demo_url, *args)
        assert 2 == result.code, result.out + result.err
        assert "InvalidArgument" in one_error_line(result)

    @pytest.mark.parametrize("call", ["lineage", "owner_of", "history_like_can"])
    def test_library_queries_refuse_lone_surrogates(self, demo_url: str, call: str) -> None:
        """The library's queries refuse text that is not valid Unicode with a typed ValidationError."""
        from ledger.errors import ValidationError

        with Ledger.open(demo_url) as ledger, pytest.raises(ValidationError, match="not valid Unicode"):
            if call == "lineage":
                ledger.lineage(UNDECODABLE)
            elif call == "owner_of":
                ledger.owner_of(UNDECODABLE)
            else:
                ledger.can(BOB, "s3:GetObject", UNDECODABLE)

    @pytest.mark.parametrize("target", ["missing directory", "a directory"])
    def test_timeline_html_into_a_bad_place_is_one_line(self, demo_url: str, tmp_path: Path,
                                                         target: str) -> None:
        """A missing directory or a directory as the file: one line, exit 2."""
        where = tmp_path / "no" / "such" / "t.html" if target == "missing directory" else tmp_path
        result = run_cli("--db", demo_url, "timeline", BOB, "s3:GetObject", "*", "--html", str(where))
        assert 2 == result.code
        assert str(where) in one_error_line(result)

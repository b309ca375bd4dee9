"""Output a person can read: no ARN cut or mistaken at 80 columns, every option explained, the
log in pages, what-can's allowed apart from its denied, the demo's cast and answers first."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.application.demo import MEDIA, record_story
from ledger.application.facade import Ledger
from tests.trust._support import run_cli

BOB = f"arn:aws:iam::{MEDIA}:user/bob"
ALICE = f"arn:aws:iam::{MEDIA}:user/alice"
OUTPUT = "arn:aws:s3:::archive-media-out/renditions/keynote/keynote_1080p.mp4"
T = "2024-03-01T14:00:00Z"
CONTINUED = "↩"
# What an ARN may be made of, and what ends a token in a table or a sentence.
_TOKEN = re.compile(r"(?:arn:|…/)[^\s│┃|,;()\[\]]*")


@pytest.fixture
def story_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path}/story.db"
    with Ledger.open(url) as ledger:
        record_story(ledger)
    yield url


def _arns(value: object) -> set[str]:
    return set(re.findall(r"arn:aws:[^\s\"']*", json.dumps(value)))


def _shown_arns(text: str) -> list[str]:
    """Every ARN the text shows as complete (a token that does not end in the continuation mark),
    with `…/` expanded by the caption that defines it."""
    homes = re.findall(r"…/ stands for (arn:aws:iam::\d{12}:)", text)
    out = []
    for line in text.splitlines():
        if "stands for" in line:
            continue
        for token in _TOKEN.findall(line):
            if token.endswith(CONTINUED) or token in ("…/",):
                continue
            token = token.rstrip(".:")
            if token.startswith("…/"):
                assert homes, f"{token!r} is shortened but no caption says what …/ stands for"
                token = homes[0] + token[2:]
            out.append(token)
    return out


COMMANDS = {
    "can": (["can", BOB, "mediaconvert:CreateJob", "*", "--at", T], True),
    "who-can": (["who-can", "s3:PutObject", OUTPUT, "--at", T, "--paths"], True),
    "what-can": (["what-can", ALICE, "--at", T], True),
    "history": (["history", BOB], True),
    "log": (["log"], True),
    "owner": (["owner", OUTPUT, "--at", "2024-03-02T00:00:00Z"], True),
    "lineage": (["lineage", OUTPUT], True),
    "diff": (["diff", T, "2024-03-20T00:00:00Z"], True),
}


class TestNoArnIsCutAt80Columns:
    """Piped at 80 columns, every ARN shown whole is a real one; broken ones are marked."""

    @pytest.mark.parametrize("name", list(COMMANDS))
    def test_every_complete_arn_shown_is_real(self, story_url: str, name: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
        """No ellipsis cut; a line that breaks an ARN ends with the continuation mark."""
        monkeypatch.setenv("COLUMNS", "80")
        args, _ = COMMANDS[name]
        text = run_cli("--db", story_url, *args)
        data = run_cli("--db", story_url, "--json", *args)
        real = _arns(json.loads(data.out))
        assert text.code in (0, 1), text.err
        assert all(len(line) <= 80 for line in text.out.splitlines() if "│" in line or "┃" in line)
        assert "…" not in text.out.replace("…/", "")
        assert [] == [arn for arn in _shown_arns(text.out) if arn not in real]

    def test_the_demo_at_80_columns(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The demo's tables too: nothing cut, every complete ARN real."""
        monkeypatch.setenv("COLUMNS", "80")
        monkeypatch.chdir(tmp_path)
        text = run_cli("demo")
        recorded = run_cli("--db", f"sqlite:///{tmp_path}/ledger-demo.db", "--json", "log", "--limit", "1000")
        real = _arns(json.loads(recorded.out))
        assert 0 == text.code
        assert "…" not in text.out.replace("…/", "")
        assert [] == [arn for arn in _shown_arns(text.out) if arn not in real]


class TestEveryOptionIsExplained:
    """Every option and argument of every command has help text; --json shows as a flag."""

    def test_every_parameter_has_help(self) -> None:
        """Walking the whole command tree finds no parameter without help."""
        import typer

        from ledger.cli import registry  # noqa: F401  (registers the commands)
        from ledger.cli.app import app

        missing = []

        def walk(cmd: object, path: str) -> None:
            for param in getattr(cmd, "params", []):
                if param.name != "help" and not getattr(param, "help", None):
                    missing.append(f"{path} {param.name}")
            for name, sub in (getattr(cmd, "commands", None) or {}).items():
                walk(sub, f"{path} {name}".strip())

        walk(typer.main.get_command(app), "ledger")
        assert [] == missing

    def test_json_is_shown_as_a_flag(self) -> None:
        """`ledger log --help` lists --json with its help and no value placeholder."""
        result = run_cli("log", "--help")
        line = next(line for line in result.out.splitlines() if "--json" in line)
        assert "<bool>" not in line and "JSON" in line


class TestLogPages:
    """`ledger log` shows a page and says how to get the next."""

    def test_log_says_which_page_it_shows(self, tmp_path: Path) -> None:
        """With 3 events and --limit 2: showing 1–2 of 3, next page --offset 2; then 3–3 of 3."""
        url = f"sqlite:///{tmp_path}/l.db"
        with Ledger.open(url) as ledger:
            ledger.create_account("111122223333", "a")
            ledger.create_user("111122223333", "u1")
            ledger.create_user("111122223333", "u2")
        first = run_cli("--db", url, "log", "--limit", "2")
        assert "showing 1–2 of 3" in first.out and "--offset 2 --limit 2" in first.out
        second = run_cli("--db", url, "log", "--offset", "2", "--limit", "2", "--json")
        body = json.loads(second.out)
        assert ([3], 3) == ([e["position"] for e in body["events"]], body["total"])
        assert "showing 3–3 of 3" in run_cli("--db", url, "log", "--offset", "2").out


class TestWhatCanSeparatesAllowedFromDenied:
    """Only what is allowed (or conditional) is listed as what the principal can do."""

    def test_denied_entries_go_under_their_own_heading(self, tmp_path: Path) -> None:
        """An action an Allow names but a Deny cuts appears only in the denied section."""
        url = f"sqlite:///{tmp_path}/w.db"
        doc = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:DeleteObject"], "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]}
        with Ledger.open(url) as ledger:
            ledger.create_account("111122223333", "a", at="2024-01-01T00:00:00Z")
            ledger.create_user("111122223333", "dee", at="2024-01-01T00:00:01Z")
            ledger.put_user_policy("111122223333", "dee", "P", doc, at="2024-01-01T00:00:02Z")
        out = run_cli("--db", url, "what-can", "arn:aws:iam::111122223333:user/dee").out
        can_do, _, denied = out.partition("denied in the end")
        assert "s3:GetObject" in can_do and "s3:DeleteObject" not in can_do
        assert "s3:DeleteObject" in denied and "explicitDeny" in denied


class TestDemoReadsInOrder:
    """The demo introduces its cast, answers first, and lists events one line each."""

    def test_cast_then_answers_then_one_line_per_event(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """admin, alice, bob, the librarian and both accounts come before answer 1; the events
        after answer 5, one line each; --events gives the full table."""
        monkeypatch.chdir(tmp_path)
        out = run_cli("demo").out
        events = json.loads(run_cli("demo", "--json").out)["events"]
        first_answer, fifth_answer = out.index("1. Who could"), out.index("5. The state")
        for name in ("admin", "alice", "bob", "librarian", "111122223333", "444455556666"):
            assert out.index(name) < first_answer
        listing = out[fifth_answer:]
        lines = [line for line in listing.splitlines() if re.match(r"#\d+ +\d{4}-", line)]
        assert [f"#{e['position']}" for e in events] == [line.split()[0] for line in lines]
        assert f"The story's {len(events)} events, recorded in" in run_cli("demo", "--events").out

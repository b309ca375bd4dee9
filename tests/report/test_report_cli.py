"""`ledger report` and the demo's report on the command line: the JSON is the whole report, the
page is written where asked, bad input is one error line with nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.foundation.test_cli import ledger_cli
from tests.report._reference import DEMO_BUCKET, DEMO_WINDOW

Story = tuple[Any, Any, dict[str, Any]]


def _db(story: Story) -> str:
    return str(story[0].store.url.url)


class TestReportCommand:
    """The command prints a summary, writes the page, or gives the data as JSON."""

    def test_json_is_the_whole_report(self, story: Story) -> None:
        """--json has every section, and the same intervals the library call returns."""
        done = ledger_cli("--db", _db(story), "report", DEMO_BUCKET, "--from", DEMO_WINDOW[0], "--to", DEMO_WINDOW[1],
                          "--json")
        assert 0 == done.returncode, done.stderr
        data = json.loads(done.stdout)
        assert {"resource", "actions", "window", "principals", "intervals", "changes", "graph", "outputs",
                "provenance"} <= set(data)
        assert story[2]["intervals"] == data["intervals"]

    def test_html_page_is_written_and_self_contained(self, story: Story, tmp_path: Path) -> None:
        """--html writes one page that loads nothing from the network and embeds the data and tables."""
        page = tmp_path / "r.html"
        done = ledger_cli("--db", _db(story), "report", DEMO_BUCKET, "--action", "s3:PutObject", "--from",
                          DEMO_WINDOW[0], "--to", DEMO_WINDOW[1], "--html", str(page))
        assert 0 == done.returncode, done.stderr
        assert str(page) in done.stdout
        text = page.read_text(encoding="utf-8")
        assert "<script src" not in text and "<link" not in text and "@import" not in text
        assert 'id="access-table"' in text and 'id="provenance"' in text
        assert "arn:aws:iam::111122223333:user/bob" in text

    def test_bad_input_is_one_line_and_writes_nothing(self, story: Story, tmp_path: Path) -> None:
        """A resource that is not an ARN, an empty window or a missing directory: exit 2, no traceback, no page."""
        page = tmp_path / "nowhere" / "r.html"
        for args in (["not-an-arn"], [DEMO_BUCKET, "--from", "2024-03-01T00:00:00Z", "--to", "2024-02-01T00:00:00Z"],
                     [DEMO_BUCKET, "--from", "yesterday"], [DEMO_BUCKET, "--action", "PutObject"]):
            done = ledger_cli("--db", _db(story), "report", *args, "--html", str(tmp_path / "bad.html"))
            assert 2 == done.returncode, args
            assert 1 == len(done.stderr.strip().splitlines()) and "Traceback" not in done.stderr, done.stderr
            assert not (tmp_path / "bad.html").exists()
        done = ledger_cli("--db", _db(story), "report", DEMO_BUCKET, "--from", DEMO_WINDOW[0], "--to",
                          DEMO_WINDOW[1], "--no-verify", "--html", str(page))
        assert 2 == done.returncode and "does not exist" in done.stderr

    def test_no_verify_says_so(self, story: Story) -> None:
        """--no-verify leaves verify out and the footer data says it was not run."""
        done = ledger_cli("--db", _db(story), "report", DEMO_BUCKET, "--from", DEMO_WINDOW[0], "--to",
                          DEMO_WINDOW[1], "--no-verify", "--json")
        assert {"run": False, "ok": None, "reason": "not run (--no-verify)"} == json.loads(done.stdout)["provenance"]["verify"]


class TestDemoReport:
    """`ledger demo` ends by writing the output bucket's report and saying where."""

    def test_demo_writes_the_report(self, tmp_path: Path) -> None:
        """The page exists, is about the output bucket, and the last lines name its path."""
        done = ledger_cli("demo", "--db-file", str(tmp_path / "d.db"), cwd=tmp_path)
        assert 0 == done.returncode, done.stderr
        page = tmp_path / "ledger-demo-report.html"
        assert "arn:aws:s3:::archive-media-out" in page.read_text(encoding="utf-8")
        assert str(page.resolve()) in done.stdout.replace("\n", "")

"""Hostile input: names, ARNs, account ids, times, policy documents, CloudTrail files and CLI
arguments yield typed errors only, write nothing when rejected, and cannot reach the SQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application.facade import Ledger
from ledger.application.importing.runner import ImportSummary, import_cloudtrail
from tests.trust._cloudtrail import data_event
from tests.trust._hostile import hostile_policy, hostile_text, json_value, typed_or_ok
from tests.trust._support import ACCOUNT, raw, run_cli

FUZZ = settings(max_examples=300, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    """A ledger with one account, a user and a policy, on each backend."""
    opened = Ledger.open(store_url)
    opened.create_account(ACCOUNT, "target")
    opened.create_user(ACCOUNT, "alice")
    opened.create_policy(ACCOUNT, "Base", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    try:
        yield opened
    finally:
        opened.close()


def _log_intact(url: str, fingerprint: list[tuple[object, ...]]) -> None:
    with raw(url) as db:
        assert db.table_exists()
        assert fingerprint == db.fingerprint()


class TestHostileCommands:
    """Commands given hostile names, ARNs, ids and times raise typed errors only."""

    @FUZZ
    @given(account=hostile_text, name=hostile_text, arn=hostile_text, when=hostile_text)
    def test_names_arns_ids_and_times(
        self, ledger: Ledger, store_url: str, account: str, name: str, arn: str, when: str
    ) -> None:
        """Each command either succeeds or raises a LedgerError having written nothing."""
        typed_or_ok(ledger, ledger.create_user, account, name)
        typed_or_ok(ledger, ledger.create_user, ACCOUNT, name, at=when)
        typed_or_ok(ledger, ledger.attach_user_policy, ACCOUNT, "alice", arn)
        typed_or_ok(ledger, ledger.delete_policy, arn)
        typed_or_ok(ledger, ledger.create_group, ACCOUNT, name, path=arn)
        typed_or_ok(ledger, ledger.assume_role, arn, arn, name)

    @FUZZ
    @given(document=hostile_policy, name=st.one_of(st.just("P"), hostile_text))
    def test_policy_documents(self, ledger: Ledger, document: object, name: str) -> None:
        """Malformed, huge or deeply nested documents are rejected with typed errors."""
        typed_or_ok(ledger, ledger.create_policy, ACCOUNT, name, document)
        typed_or_ok(ledger, ledger.put_user_policy, ACCOUNT, "alice", "inline", document)

    @settings(FUZZ, max_examples=150)
    @given(arn=hostile_text)
    def test_hostile_queries_read_and_alter_nothing(self, ledger: Ledger, store_url: str, arn: str) -> None:
        """History lookups by hostile ARNs leave the table and every stored byte in place and
        return only events that really mention the ARN."""
        with raw(store_url) as db:
            before = db.fingerprint()
        found = ledger.history(arn)
        assert all(arn in e.entity_refs() or f"account:{arn}" in e.entity_refs() for e in found)
        _log_intact(store_url, before)


def _import_one(ledger: Ledger, path: Path) -> tuple[ImportSummary, int]:
    """Import one file; any exception, typed or not, fails the test (a bad file belongs in the
    summary's errors). Returns the summary and how many events reached the log."""
    before = ledger.store.max_position()
    summary = import_cloudtrail(ledger, [path])
    return summary, ledger.store.max_position() - before


def _assert_rejected_whole(summary: ImportSummary, written: int, path: Path) -> None:
    assert [str(path)] == [error["path"] for error in summary.errors]
    assert (0, 0, 0) == (summary.records, summary.events, written)


def _assert_accepted(summary: ImportSummary, written: int, records: int) -> None:
    assert [] == summary.errors
    assert records == summary.records
    assert records == summary.imported + summary.duplicates + sum(summary.skipped.values())
    assert summary.events == written


_GOOD = json.dumps(data_event(7)).encode()
HOSTILE_FILES = {
    "a UTF-16 byte order mark": (b'\xff\xfe{"Records": []}', "not UTF-8 text: invalid start byte at byte 0"),
    "invalid UTF-8 inside a value": (b'{"Records": [{"eventTime": "\xc3\x28"}]}',
                                     "not UTF-8 text: invalid continuation byte at byte 28"),
    "gzip magic, then garbage": (b"\x1f\x8b\x08garbage", "corrupt or truncated gzip: "),
    "a trail truncated mid-record": (b'{"Records": [' + _GOOD[:100], "invalid JSON: "),
    "a good record, then a number": (b'{"Records": [' + _GOOD + b", 1]}", "record 2 is not a JSON object"),
    "Records is an object": (b'{"Records": {"not": "a list"}}', '"Records" is not a list'),
    "records that are not objects": (b'{"Records": [1, "x", null]}', "record 1 is not a JSON object"),
    "a thousand empty objects in a row": (b"{}" * 1000, "wrong shape: "),
    "arrays nested 50,000 deep": (b"[" * 50_000 + b"]" * 50_000, "JSON nested too deeply to be an AWS export"),
}


class TestHostileImports:
    """CloudTrail records and files: a file is imported whole or rejected whole, never a crash."""

    @FUZZ
    @given(field=st.sampled_from(["userIdentity", "eventTime", "eventName", "eventSource", "eventID",
                                  "requestParameters", "responseElements", "recipientAccountId",
                                  "resources", "sharedEventID", "errorCode"]),
           value=json_value)
    def test_mutated_records(self, ledger: Ledger, tmp_path_factory: pytest.TempPathFactory,
                             field: str, value: object) -> None:
        """A record with any field replaced by hostile JSON is imported or skipped (counted once),
        or its file is reported in the summary's errors having written nothing (a lone surrogate
        escape among them: "record 1 holds text that is not Unicode"); never an exception."""
        record = data_event(7)
        record[field] = value
        path = tmp_path_factory.mktemp("ct") / "trail.json"
        path.write_text(json.dumps({"Records": [record]}), encoding="utf-8", errors="surrogatepass")
        summary, written = _import_one(ledger, path)
        if summary.errors:
            _assert_rejected_whole(summary, written, path)
        else:
            _assert_accepted(summary, written, records=1)

    @pytest.mark.parametrize(("content", "reason"), list(HOSTILE_FILES.values()), ids=list(HOSTILE_FILES))
    def test_hostile_files_are_rejected_whole(self, ledger: Ledger, tmp_path: Path, content: bytes,
                                              reason: str) -> None:
        """Invalid UTF-8, broken gzip, truncated, mis-shaped and deeply nested files are each
        reported with their reason, and no record of them (not even a good one) is written."""
        path = tmp_path / "trail.json"
        path.write_bytes(content)
        summary, written = _import_one(ledger, path)
        _assert_rejected_whole(summary, written, path)
        assert summary.errors[0]["reason"].startswith(reason), summary.errors

    @settings(FUZZ, max_examples=100)
    @given(content=st.binary(max_size=200))
    def test_random_bytes_are_rejected_whole_or_hold_no_record(
        self, ledger: Ledger, tmp_path_factory: pytest.TempPathFactory, content: bytes
    ) -> None:
        """Random bytes never crash an import nor write anything: bytes that are not UTF-8 are
        rejected; the rest are rejected or (blank, `[]`) hold no record."""
        path = tmp_path_factory.mktemp("ct") / "trail.json"
        path.write_bytes(content)
        summary, written = _import_one(ledger, path)
        try:
            content.decode("utf-8-sig")
        except UnicodeDecodeError:
            assert summary.errors, "bytes that are not UTF-8 were accepted"
        if summary.errors:
            _assert_rejected_whole(summary, written, path)
        else:
            _assert_accepted(summary, written, records=0)

    def test_deeply_nested_file(self, ledger: Ledger, tmp_path: Path) -> None:
        """A file nested 50,000 arrays deep (and never closed) is reported as nested too deeply."""
        path = tmp_path / "deep.json"
        path.write_bytes(b'{"Records": [' + b"[" * 50_000)
        summary, written = _import_one(ledger, path)
        assert [{"path": str(path), "reason": "JSON nested too deeply to be an AWS export"}] == summary.errors
        _assert_rejected_whole(summary, written, path)


class TestHostileCli:
    """The CLI answers hostile arguments with one line and exit 1/2, never a traceback."""

    @settings(FUZZ, max_examples=120)
    @given(argument=hostile_text.filter(lambda s: "\x00" not in s), command=st.sampled_from(
        ["history", "prove", "verify-checkpoint", "log-after", "import", "checkpoint-sign"]))
    def test_arguments(self, store_url: str, tmp_path_factory: pytest.TempPathFactory,
                       argument: str, command: str) -> None:
        """Exit code 0, 1 or 2; errors are one line; the log is unchanged."""
        with Ledger.open(store_url) as ledger:
            if ledger.store.max_position() == 0:
                ledger.create_account(ACCOUNT, "target")
        with raw(store_url) as db:
            before = db.fingerprint()
        folder = tmp_path_factory.mktemp("cli")
        hostile_file = folder / "hostile.json"
        try:
            hostile_file.write_bytes(argument.encode("utf-8", "surrogateescape"))
        except UnicodeEncodeError:
            hostile_file.write_bytes(argument.encode("utf-8", "surrogatepass"))
        args = {
            "history": ["history", argument],
            "prove": ["prove", argument],
            "verify-checkpoint": ["verify", "--checkpoint", str(hostile_file)],
            "log-after": ["log", "--after", argument],
            "import": ["import", "cloudtrail", str(hostile_file)],
            "checkpoint-sign": ["checkpoint", "--sign", str(hostile_file)],
        }[command]
        result = run_cli("--db", store_url, *args)
        assert result.code in (0, 1, 2)
        assert "Traceback" not in result.out + result.err
        if result.code == 2:  # the one error line, or typer's usage message for a malformed argument
            assert result.err.startswith(("error: ", "Usage: ")), result.err
        if result.err.startswith("error: "):
            assert [result.err.rstrip("\n")] == result.err.rstrip("\n").split("\n")
        _log_intact(store_url, before)

    def test_nul_byte_arguments_from_a_real_process(self, store_url: str) -> None:
        """A shell cannot pass NUL; a quote-and-SQL argument through a real process is one line."""
        import subprocess
        import sys

        Ledger.open(store_url).close()  # `history` only reads: it needs a ledger to read
        proc = subprocess.run(
            [sys.executable, "-c", "from ledger.cli import main; main()", "--db", store_url, "history",
             "'; DROP TABLE ledger_events; --"],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )
        assert proc.returncode in (0, 1, 2)
        assert "Traceback" not in proc.stdout + proc.stderr
        with raw(store_url) as db:
            assert db.table_exists()


_SQL_CALL = re.compile(r"""\.(execute|executemany)\(\s*(f["']|["'][^"']*["']\s*(%|\+|\.format))""")
# f-strings may interpolate only identifiers that never come from a request: module constants
# naming tables, placeholder lists, the schema name (StoreUrl.parse rejects anything but
# [a-z_][a-z0-9_]*) and eventsourcing's channel name (derived from that schema and table).
_ALLOWED = re.compile(
    r"\{(EVENTS_TABLE|SOURCE_KEYS_TABLE|self\.table|[A-Z_]+_TABLE|schema|channel"
    r"|','\.join\('\?' \* len\(chunk\)\))\}"
)


class TestNoSqlByConcatenation:
    """No SQL in the code base is built from values by string formatting."""

    def test_execute_calls_format_only_table_constants(self) -> None:
        """Every formatted execute() in ledger/ and projections/ interpolates only constants."""
        offenders = []
        for path in [*ROOT.joinpath("ledger").rglob("*.py"), *ROOT.joinpath("projections").rglob("*.py")]:
            text = path.read_text(encoding="utf-8")
            for match in _SQL_CALL.finditer(text):
                statement = text[match.start(): text.find(")", match.end()) + 1]
                line = text.count("\n", 0, match.start()) + 1
                fields = re.findall(r"\{[^}]*\}", statement)
                if any(not _ALLOWED.fullmatch(f) for f in fields) or "%" in statement.split(",")[0][-3:]:
                    offenders.append(f"{path.relative_to(ROOT)}:{line}: {statement[:120]}")
        assert [] == offenders

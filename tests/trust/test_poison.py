"""No input can poison or stall the ledger: a NUL, a bad account id, a lone surrogate, a huge
number or a decompression bomb in one record or file is refused or reported with its reason, the
other files still import, and every query keeps working afterwards, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import gzip
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger import Ledger
from ledger.application.importing.runner import import_cloudtrail
from tests.trust._cloudtrail import MEDIA, data_event, secret_bearing_records

ROOT = f"arn:aws:iam::{MEDIA}:root"
TRUST_MC = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "mediaconvert.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    with Ledger.open(store_url) as opened:
        yield opened


def trail(folder: Path, name: str, records: list[dict[str, Any]]) -> Path:
    path = folder / name
    path.write_text(json.dumps({"Records": records}), encoding="utf-8", errors="surrogatepass")
    return path


def create_user_record(name: str, event_id: str) -> dict[str, Any]:
    record = copy.deepcopy(secret_bearing_records()[0])
    record["requestParameters"] = {"userName": name}
    record["responseElements"] = {"user": {"path": "/", "userName": name, "userId": "AIDAPOISON0000000001",
                                           "arn": f"arn:aws:iam::{MEDIA}:user/{name}"}}
    record["eventID"] = event_id
    return record


def queries_answer(ledger: Ledger) -> None:
    """can, who_can, diff and a rebuild all answer (none raises)."""
    ledger.can(f"arn:aws:iam::{MEDIA}:user/u1", "s3:GetObject", "arn:aws:s3:::media-out/k1")
    ledger.who_can("s3:GetObject", "arn:aws:s3:::media-out/k1")
    ledger.diff("2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z")
    ledger.rebuild()
    ledger.who_can("s3:GetObject", "arn:aws:s3:::media-out/k1")


class TestNulCannotWedgeTheProjection:
    def test_a_nul_user_name_in_cloudtrail_is_skipped_with_its_reason(self, ledger: Ledger, tmp_path: Path) -> None:
        """IAM names cannot contain NUL: that record is skipped and counted; the rest import."""
        path = trail(tmp_path, "t.json", [create_user_record("a\x00b", "nul-1"), data_event(1)])
        summary = import_cloudtrail(ledger, [path])
        assert (1, 1) == (summary.imported, sum(summary.skipped.values()))
        assert ["invalid user name 'a\\x00b'"] == [r.split(":")[0] for r in summary.skipped_reasons]
        queries_answer(ledger)

    def test_a_nul_in_an_object_key_is_stored_and_its_fact_reported(self, ledger: Ledger) -> None:
        """S3 keys may hold NUL: the event is stored; the one fact PostgreSQL text cannot hold is
        left out and counted on both stores, and every query still answers."""
        ledger.create_account(MEDIA, "media")
        ledger.create_bucket(MEDIA, "media-out")
        ledger.create_role(MEDIA, "MC", TRUST_MC)
        job = ledger.create_job(MEDIA, ROOT, f"arn:aws:iam::{MEDIA}:role/MC", outputs=["s3://media-out/"])[0]
        written = ledger.write_output(job.job_arn, "media-out", "k\x00ey")
        assert "k\x00ey" == written[0].key
        queries_answer(ledger)
        assert {"object": 1} == dict(ledger.read_side().projector.unstorable)


class TestAccountIdsAreTwelveDigits:
    @pytest.mark.parametrize("account", ["1", "abc", "\u0661" * 12, "111122223333\n"])
    def test_a_record_with_a_bad_recipient_account_is_skipped(self, ledger: Ledger, tmp_path: Path,
                                                              account: str) -> None:
        """The record is skipped with its reason; who-can and diff answer for the whole ledger."""
        bad = data_event(2)
        bad["recipientAccountId"] = account
        path = trail(tmp_path, "t.json", [bad, data_event(1)])
        summary = import_cloudtrail(ledger, [path])
        assert (1, {"recipientAccountId is not a 12-digit account id": 1}) == (
            summary.imported, dict(summary.skipped_reasons))
        queries_answer(ledger)

    def test_a_record_with_a_bad_caller_account_is_skipped(self, ledger: Ledger, tmp_path: Path) -> None:
        """userIdentity.accountId is checked too."""
        bad = data_event(2)
        bad["userIdentity"]["accountId"] = "abc"
        summary = import_cloudtrail(ledger, [trail(tmp_path, "t.json", [bad, data_event(1)])])
        assert 1 == summary.imported
        queries_answer(ledger)


class TestOneBadFileDoesNotLoseTheOthers:
    def test_a_lone_surrogate_rejects_its_file_and_the_good_file_imports(self, ledger: Ledger, tmp_path: Path) -> None:
        """A "\\ud800" escape is not Unicode text: that file is listed with its reason, the other imports."""
        bad = data_event(2)
        bad["requestParameters"]["key"] = "\ud800"
        bad_path = trail(tmp_path, "a-bad.json", [data_event(3), bad])
        good_path = trail(tmp_path, "b-good.json", [data_event(1)])
        summary = import_cloudtrail(ledger, [bad_path, good_path])
        assert [{"path": str(bad_path), "reason": "record 2 holds text that is not Unicode (an unpaired "
                                                   "surrogate escape such as \\ud800)"}] == summary.errors
        assert (1, 1) == (summary.imported, ledger.store.max_position() > 0)

    def test_a_huge_duration_skips_its_record_and_the_run_goes_on(self, ledger: Ledger, tmp_path: Path) -> None:
        """durationSeconds 10**30 is no session STS issues: the record is skipped, not an OverflowError."""
        assume = copy.deepcopy(secret_bearing_records()[3])
        assume["requestParameters"]["durationSeconds"] = 10**30
        assume["responseElements"]["credentials"]["expiration"] = "not a time"
        bad_path = trail(tmp_path, "a.json", [assume])
        good_path = trail(tmp_path, "b.json", [data_event(1)])
        summary = import_cloudtrail(ledger, [bad_path, good_path])
        assert ([], 1, ["durationSeconds"]) == (summary.errors, summary.imported,
                                                [r.split(" ")[0] for r in summary.skipped_reasons])


class TestBoundedDecompression:
    def test_a_file_over_the_cap_is_rejected_with_a_typed_reason(self, ledger: Ledger, tmp_path: Path) -> None:
        """A gzip bomb over `max_file_bytes` is listed as too large; the good file imports."""
        bomb = tmp_path / "a-bomb.json.gz"
        bomb.write_bytes(gzip.compress(b'{"Records": [' + b" " * (4 << 20) + b"]}"))
        good = trail(tmp_path, "b.json", [data_event(1)])
        summary = import_cloudtrail(ledger, [bomb, good], max_file_bytes=1 << 20)
        assert [str(bomb)] == [e["path"] for e in summary.errors]
        assert summary.errors[0]["reason"].startswith("holds more than 1,048,576 bytes (decompressed)")
        assert 1 == summary.imported

    def test_whitespace_is_streamed_not_held(self, ledger: Ledger, tmp_path: Path) -> None:
        """A 64 MiB run of whitespace around a record (a 64 KB .gz) is read in bounded memory."""
        path = tmp_path / "padded.json.gz"
        record = json.dumps(data_event(1)).encode()
        path.write_bytes(gzip.compress(b'{"Records": [' + b" " * (32 << 20) + record + b" " * (32 << 20) + b"]}"))
        tracemalloc.start()
        try:
            summary = import_cloudtrail(ledger, [path])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert ([], 1) == (summary.errors, summary.imported)
        assert peak < 24 << 20, f"peak {peak:,} bytes"


class TestSimulateBatchGoesOn:
    def test_a_lone_surrogate_id_gets_an_error_line_and_the_batch_goes_on(self) -> None:
        """The scenario with "id": "\\ud800" is answered with an error line written as UTF-8, and
        the next scenario is still evaluated (no UnicodeEncodeError stops the batch)."""
        import io

        from ledger.policy import run_simulate

        lines = ('{"id": "\\ud800", "principal": "arn:aws:iam::111122223333:user/a", "action": "s3:GetObject", '
                 '"resource": "*"}\n{"id": "next", "principal": "arn:aws:iam::111122223333:user/a", '
                 '"action": "s3:GetObject", "resource": "*"}\n')
        raw = io.BytesIO()
        out = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
        status = run_simulate(io.StringIO(lines), out)
        answers = [json.loads(line) for line in raw.getvalue().decode("utf-8").splitlines()]
        assert (1, [None, "next"], ["InvalidScenario", None]) == (
            status, [a["id"] for a in answers], [a["error"] and a["error"].split(":")[0] for a in answers])


def gaad(users: list[str], account: str = MEDIA) -> dict[str, Any]:
    """A one-page `get-account-authorization-details` dump with these users."""
    return {"UserDetailList": [{"UserName": name, "UserId": f"AIDASNAP{i:012d}", "Path": "/",
                                "Arn": f"arn:aws:iam::{account}:user/{name}"} for i, name in enumerate(users)],
            "GroupDetailList": [], "RoleDetailList": [], "Policies": [], "IsTruncated": False}


class TestSnapshotNames:
    def test_names_equal_but_for_case_are_reported_as_a_conflict(self, ledger: Ledger, tmp_path: Path) -> None:
        """alice and ALICE cannot both exist in one IAM account: the import says so."""
        from ledger.application.importing.runner import import_snapshot

        path = tmp_path / "gaad.json"
        path.write_text(json.dumps(gaad(["alice", "ALICE"])))
        summary = import_snapshot(ledger, [path], at="2024-03-01T00:00:00Z", account=MEDIA)
        assert ["conflict: users 'alice' and 'ALICE' differ only in case"] == [
            w.split(", which")[0] for w in summary.warnings if w.startswith("conflict")]

    def test_a_nul_name_is_left_out_and_queries_still_answer(self, ledger: Ledger, tmp_path: Path) -> None:
        """An entity whose name IAM would refuse is left out with a warning; the rest import."""
        from ledger.application.importing.runner import import_snapshot

        path = tmp_path / "gaad.json"
        path.write_text(json.dumps(gaad(["a\x00b", "bob"])))
        summary = import_snapshot(ledger, [path], at="2024-03-01T00:00:00Z", account=MEDIA)
        assert (["user left out: invalid user name 'a\\x00b'"], ["bob"]) == (
            [w.split(":")[0] + ":" + w.split(":")[1] for w in summary.warnings],
            [u.name for u in ledger.account_state(MEDIA).users.values()])
        queries_answer(ledger)

    def test_an_account_of_other_digits_is_not_inferred(self, ledger: Ledger, tmp_path: Path) -> None:
        """ARNs whose account field is Arabic-Indic digits name no account."""
        from ledger.application.importing.runner import import_snapshot

        path = tmp_path / "gaad.json"
        path.write_text(json.dumps(gaad(["alice"], account="\u0661" * 12)))
        summary = import_snapshot(ledger, [path], at="2024-03-01T00:00:00Z")
        assert (["cannot tell the account: pass --account"], 0) == (
            [e["reason"] for e in summary.errors], ledger.store.max_position())

    def test_a_snapshot_holding_a_lone_surrogate_is_rejected(self, ledger: Ledger, tmp_path: Path) -> None:
        """A "\\ud800" escape in a dump is not Unicode: the file is listed, nothing is written."""
        from ledger.application.importing.runner import import_snapshot

        path = tmp_path / "gaad.json"
        path.write_text(json.dumps(gaad(["alice"])).replace('"AIDASNAP000000000000"', '"\\ud800"'))
        summary = import_snapshot(ledger, [path], at="2024-03-01T00:00:00Z", account=MEDIA)
        assert ([str(path)], 0) == ([e["path"] for e in summary.errors], ledger.store.max_position())


class TestQueriesRefuseNul:
    @pytest.mark.parametrize("query", ["can", "owner_of", "what_can", "who_can", "timeline"])
    def test_a_nul_argument_is_a_typed_error_on_every_store(self, ledger: Ledger, query: str) -> None:
        """PostgreSQL cannot bind text holding NUL: the query refuses it as a ValidationError."""
        from ledger.errors import ValidationError

        ledger.create_account(MEDIA, "media")
        calls = {"can": lambda: ledger.can(f"arn:aws:iam::{MEDIA}:user/a\x00b", "s3:GetObject", "*"),
                 "owner_of": lambda: ledger.owner_of("arn:aws:s3:::b/k\x00"),
                 "what_can": lambda: ledger.what_can(f"arn:aws:iam::{MEDIA}:user/a\x00b"),
                 "who_can": lambda: ledger.who_can("s3:GetObject", "arn:aws:s3:::b\x00/k"),
                 "timeline": lambda: ledger.timeline(f"arn:aws:iam::{MEDIA}:user/a\x00", "s3:GetObject", "*")}
        with pytest.raises(ValidationError, match="NUL"):
            calls[query]()

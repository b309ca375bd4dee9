"""The batched import runner: duplicates across files and batches, malformed records, process state."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest

from ledger import Ledger
from ledger.application.importing import import_cloudtrail, runner
from ledger.errors import DuplicateSourceError

ACCOUNT = "111122223333"


def _record(event_id: str, second: int, **extra: Any) -> dict[str, Any]:
    return {
        "eventTime": f"2024-01-01T00:00:{second:02d}Z", "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
        "eventID": event_id, "recipientAccountId": ACCOUNT, "awsRegion": "us-east-1",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAALICE", "accountId": ACCOUNT,
                         "arn": f"arn:aws:iam::{ACCOUNT}:user/alice", "userName": "alice"},
        "requestParameters": {"bucketName": "b", "key": f"k/{event_id}"}, **extra,
    }


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"Records": records}))
    return path


def _count_refused_batches(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Batches the store refused as holding an already-recorded key (the runner's fallback)."""
    refused = [0]
    record = ledger.record

    def counting(*args: Any, **kwargs: Any) -> list[int]:
        try:
            return record(*args, **kwargs)
        except DuplicateSourceError:
            refused[0] += 1
            raise

    monkeypatch.setattr(ledger, "record", counting)
    return refused


def _stored_source_ids(ledger: Ledger) -> list[str]:
    return sorted(e.source_id or "" for e in ledger.events() if type(e).__name__ == "AccessObserved")


class TestDuplicates:
    def test_a_record_waiting_in_a_batch_flushed_mid_file_is_still_a_duplicate(
        self, ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A key pending when a file starts stays known after the batch is written during that file."""
        monkeypatch.setattr(runner, "BATCH_EVENTS", 5)
        refused = _count_refused_batches(ledger, monkeypatch)
        _write(tmp_path / "1.json", [_record("a1", 1), _record("a2", 2), _record("a3", 3)])
        _write(tmp_path / "2.json", [_record("b1", 11), _record("b2", 12), _record("b3", 13), _record("a3", 14)])
        summary = import_cloudtrail(ledger, [tmp_path])
        assert (6, 1, [0]) == (summary.imported, summary.duplicates, refused)
        assert ["a1", "a2", "a3", "b1", "b2", "b3"] == _stored_source_ids(ledger)

    def test_the_same_record_in_many_files_and_batches_is_one_fact(
        self, ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Copies of a record in every file, with batches written between them, are recorded once."""
        monkeypatch.setattr(runner, "BATCH_EVENTS", 2)
        refused = _count_refused_batches(ledger, monkeypatch)
        for number in range(4):
            _write(tmp_path / f"{number}.json", [_record("same", 30), _record(f"own{number}", number)])
        summary = import_cloudtrail(ledger, [tmp_path])
        assert (5, 3, [0]) == (summary.imported, summary.duplicates, refused)
        assert ["own0", "own1", "own2", "own3", "same"] == _stored_source_ids(ledger)


class TestMalformedRecords:
    def test_a_record_unreadable_in_the_first_pass_is_skipped_not_fatal(self, ledger: Ledger, tmp_path: Path) -> None:
        """A caller whose sessionContext is not an object is counted as skipped; the rest imports."""
        bad = _record("bad", 1)
        bad["userIdentity"] = {**bad["userIdentity"], "type": "AssumedRole", "sessionContext": "oops"}
        summary = import_cloudtrail(ledger, [_write(tmp_path / "t.json", [bad, _record("good", 2)])])
        assert ([], 1, {"s3.amazonaws.com:GetObject": 1}) == (summary.errors, summary.imported, dict(summary.skipped))


class TestProcessState:
    @pytest.mark.parametrize("enabled", [True, False])
    def test_garbage_collection_is_left_as_it_was(self, ledger: Ledger, tmp_path: Path, enabled: bool) -> None:
        """The import pauses automatic collection and restores the caller's setting afterwards."""
        was = gc.isenabled()
        try:
            gc.enable() if enabled else gc.disable()
            import_cloudtrail(ledger, [_write(tmp_path / "t.json", [_record("r", 1)])])
            assert enabled == gc.isenabled()
        finally:
            gc.enable() if was else gc.disable()

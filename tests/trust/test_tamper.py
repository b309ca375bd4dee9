"""Tamper suite: edits made directly in the database behind the ledger's back are detected by
`verify` (library and CLI) against a checkpoint taken before, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest

from ledger.adapters.integrity_store import checkpoint_store, verify_store
from ledger.adapters.store import EventStore
from ledger.application.facade import Ledger
from ledger.integrity import Checkpoint
from tests.trust._support import RawDb, raw, record_history, run_cli

# Each case: (name, tamper(db, positions) -> expected first bad position)
Tamper = Callable[[RawDb, list[int]], int]


def _edit(db: RawDb, p: list[int]) -> int:
    db.edit_field(p[10])
    return p[10]


def _edit_byte(db: RawDb, p: list[int]) -> int:
    db.edit_byte(p[3])
    return p[3]


def _delete(db: RawDb, p: list[int]) -> int:
    db.delete(p[12])
    return p[13]  # the event now at index 12 is the one after the deleted one


def _swap(db: RawDb, p: list[int]) -> int:
    db.swap(p[5], p[20])
    return p[5]


def _insert_before_first(db: RawDb, p: list[int]) -> int:
    db.insert_forged(p[0] - 1, like=p[4])
    return p[0] - 1


def _truncate(db: RawDb, p: list[int]) -> int:
    db.truncate_after(p[-6])
    return p[-6] + 1


def _delete_last(db: RawDb, p: list[int]) -> int:
    db.delete(p[-1])
    return p[-2] + 1


CASES: dict[str, Tamper] = {
    "edit a field of a stored event": _edit,
    "edit one byte, same length": _edit_byte,
    "delete an event": _delete,
    "swap two events": _swap,
    "insert a forged event before the first": _insert_before_first,
    "truncate the tail": _truncate,
    "delete the last event": _delete_last,
}


def _history_with_checkpoint(url: str, *, gap: bool = False) -> tuple[Checkpoint, bytes, list[int]]:
    with Ledger.open(url) as ledger:
        record_history(ledger)
        if gap:
            with raw(url) as db:
                db.make_gap()
            ledger.create_user("111122223333", "after-gap", at="2024-04-01T00:00:00Z")
    store = EventStore(url)
    try:
        cp, leaves = checkpoint_store(store, keep_leaf_hashes=True)
    finally:
        store.close()
    assert leaves is not None
    with raw(url) as db:
        positions = db.positions()
    return cp, leaves, positions


def _verify(url: str, checkpoints: list[Checkpoint], leaves: bytes | None = None):  # type: ignore[no-untyped-def]
    store = EventStore(url)
    try:
        return verify_store(store, checkpoints, leaf_manifest=leaves)
    finally:
        store.close()


class TestTamperDetectedByLibrary:
    """Every direct-database tampering fails `verify_store` against an earlier checkpoint."""

    def test_untampered_log_verifies(self, store_url: str) -> None:
        """A log nobody touched reproduces its checkpoint."""
        cp, _, positions = _history_with_checkpoint(store_url)
        report = _verify(store_url, [cp])
        assert (True, len(positions)) == (report.ok, report.tree_size)

    @pytest.mark.parametrize("case", list(CASES))
    def test_tampering_is_detected_at_the_first_bad_position(self, store_url: str, case: str) -> None:
        """Detected with chunk roots alone; located exactly with the leaf manifest."""
        cp, leaves, positions = _history_with_checkpoint(store_url)
        with raw(store_url) as db:
            expected = CASES[case](db, positions)
        plain = _verify(store_url, [cp])
        exact = _verify(store_url, [cp], leaves)
        assert plain.ok is False
        assert (False, expected) == (exact.ok, exact.first_bad_position)

    def test_forged_event_in_a_position_gap_is_detected(self, store_url: str) -> None:
        """PostgreSQL positions have gaps after rollbacks; filling one is detected."""
        if not store_url.startswith("postgres"):
            pytest.skip("SQLite rowids have no gaps")
        cp, leaves, positions = _history_with_checkpoint(store_url, gap=True)
        gap = next(p + 1 for p, q in pairwise(positions) if q != p + 1)
        with raw(store_url) as db:
            db.insert_forged(gap, like=positions[2])
        report = _verify(store_url, [cp], leaves)
        assert (False, gap) == (report.ok, report.first_bad_position)

    def test_tampering_between_two_checkpoints_spares_the_older(self, store_url: str) -> None:
        """An edit after the first checkpoint's range fails only the newer checkpoint."""
        cp1, _, positions1 = _history_with_checkpoint(store_url)
        with Ledger.open(store_url) as ledger:
            ledger.create_user("111122223333", "dave", at="2024-04-02T00:00:00Z")
            ledger.create_group("111122223333", "auditors", at="2024-04-02T00:01:00Z")
        store = EventStore(store_url)
        cp2, _ = checkpoint_store(store)
        store.close()
        with raw(store_url) as db:
            late = db.positions()[-1]
            db.edit_field(late)
        report = _verify(store_url, [cp1, cp2])
        assert [True, False] == [c.ok for c in report.checkpoints]
        low, high = report.checkpoints[1].suspect_positions or (0, 0)
        assert report.ok is False and low <= late <= high
        assert late > positions1[-1]

    def test_checkpoint_of_a_forked_log_is_inconsistent(self, store_url: str, tmp_path: Path) -> None:
        """A checkpoint made by another ledger with a different history does not verify, and a
        pair (ours, theirs) fails the consistency check."""
        cp_ours, _, _ = _history_with_checkpoint(store_url)
        fork_url = f"sqlite:///{tmp_path}/fork.db"
        with Ledger.open(fork_url) as fork:
            record_history(fork)  # same commands, different recorded_at/ids: a different log
            fork.create_user("111122223333", "eve", at="2024-04-03T00:00:00Z")
        fork_store = EventStore(fork_url)
        cp_theirs, _ = checkpoint_store(fork_store)
        fork_store.close()
        with Ledger.open(store_url) as ledger:
            ledger.create_user("111122223333", "frank", at="2024-04-03T00:00:00Z")
        report = _verify(store_url, [cp_ours, cp_theirs])
        assert report.ok is False
        assert [True, False] == [c.ok for c in report.checkpoints]
        assert [False] == [c.ok for c in report.consistency]


class TestTamperDetectedByCli:
    """`ledger verify` exits 1 and names the first bad position; 0 when untouched."""

    @pytest.mark.parametrize("case", ["edit a field of a stored event", "delete an event",
                                      "swap two events", "truncate the tail",
                                      "insert a forged event before the first"])
    def test_cli_verify_exits_1_naming_the_position(
        self, store_url: str, tmp_path: Path, case: str
    ) -> None:
        """The CLI, given a signed checkpoint and its manifest, names the exact position."""
        with Ledger.open(store_url) as ledger:
            record_history(ledger)
        key = tmp_path / "signing.pem"
        cp_file, manifest = tmp_path / "cp.json", tmp_path / "cp.leaves"
        assert 0 == run_cli("keygen", str(key)).code
        made = run_cli("--db", store_url, "checkpoint", "--sign", str(key), "--out", str(cp_file),
                       "--manifest", str(manifest))
        assert 0 == made.code, made.err
        assert Checkpoint.from_json(made.out).signature is not None
        ok = run_cli("--db", store_url, "verify", "--checkpoint", str(cp_file),
                     "--public-key", f"{key}.pub", "--manifest", str(manifest))
        assert (0, "") == (ok.code, ok.err)
        with raw(store_url) as db:
            expected = CASES[case](db, db.positions())
        bad = run_cli("--db", store_url, "verify", "--checkpoint", str(cp_file),
                      "--public-key", f"{key}.pub", "--manifest", str(manifest))
        assert 1 == bad.code
        assert f"first bad position {expected}:" in bad.out

    def test_cli_verify_without_manifest_names_the_chunk(self, store_url: str, tmp_path: Path) -> None:
        """Chunk roots alone bound the first bad position to a range containing it."""
        with Ledger.open(store_url) as ledger:
            record_history(ledger)
        cp_file = tmp_path / "cp.json"
        assert 0 == run_cli("--db", store_url, "checkpoint", "--out", str(cp_file)).code
        with raw(store_url) as db:
            target = db.positions()[7]
            db.edit_field(target)
        bad = run_cli("--db", store_url, "--json", "verify", "--checkpoint", str(cp_file))
        assert 1 == bad.code
        import json

        report = json.loads(bad.out)
        low, high = report["checkpoints"][0]["suspect_positions"]
        assert low <= target <= high

    def test_cli_prove_fails_for_a_tampered_event(self, store_url: str, tmp_path: Path) -> None:
        """An inclusion proof of an edited event does not reach the checkpoint's root."""
        with Ledger.open(store_url) as ledger:
            record_history(ledger)
        cp_file = tmp_path / "cp.json"
        assert 0 == run_cli("--db", store_url, "checkpoint", "--out", str(cp_file)).code
        with raw(store_url) as db:
            positions = db.positions()
        good = run_cli("--db", store_url, "prove", str(positions[4]), "--checkpoint", str(cp_file))
        assert 0 == good.code
        with raw(store_url) as db:
            db.edit_field(positions[4])
        bad = run_cli("--db", store_url, "prove", str(positions[4]), "--checkpoint", str(cp_file))
        assert 1 == bad.code

"""Tamper suite, read side: edits of the projection tables, the source-id table and the tracked
position, made directly in the database, are detected and located by `verify` (library and
CLI), on SQLite and PostgreSQL. Each attack first shows that it changes an answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.adapters.store import EventStore
from ledger.application.demo import ARCHIVE, MEDIA, record_story
from ledger.application.facade import Ledger
from ledger.application.trust import LedgerVerification, verify_ledger
from ledger.timeaxis import FOREVER
from tests.trust._support import RawDb, raw, run_cli

BOB = f"arn:aws:iam::{MEDIA}:user/bob"
ALICE = f"arn:aws:iam::{MEDIA}:user/alice"
LIBRARIAN = f"arn:aws:iam::{ARCHIVE}:user/librarian"
AFTER_REVOKE = "2024-03-20T00:00:00Z"
NO_DELETES = {"Version": "2012-10-17", "Statement": [
    {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]}
ALL_OF_S3 = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Everything", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
TRAIL = Path(__file__).resolve().parents[1] / "fixtures" / "cloudtrail" / "synthetic" / "media_account_111111111111.jsonl"


def story(url: str) -> None:
    """The demo story plus an explicit Deny for alice (next to an Allow), projected."""
    with Ledger.open(url) as ledger:
        record_story(ledger)
        ledger.put_user_policy(MEDIA, "alice", "AllOfS3", ALL_OF_S3, at="2024-03-02T00:00:00Z")
        ledger.put_user_policy(MEDIA, "alice", "NoDeletes", NO_DELETES, at="2024-03-02T00:00:00Z")
        ledger.can(ALICE, "s3:GetObject", "*")


def verify(url: str, *, quick: bool = False, checkpoints: tuple[object, ...] = ()) -> LedgerVerification:
    store = EventStore(url)
    try:
        return verify_ledger(store, list(checkpoints), quick=quick)  # type: ignore[arg-type]
    finally:
        store.close()


def decision(url: str, principal: str, action: str, resource: str = "*", at: str = AFTER_REVOKE) -> str:
    with Ledger.open(url) as ledger:
        return ledger.can(principal, action, resource, at=at).eval_decision


def user_id(db: RawDb, name: str) -> str:
    return str(db.execute("SELECT subject FROM {facts} WHERE kind = 'principal' AND ref LIKE ?",
                          (f"%:user/{name}",))[0][0])


@dataclass(frozen=True)
class Attack:
    """One edit behind the ledger's back, the answer it flips, and where verify must point."""

    tamper: Callable[[RawDb], None]
    question: tuple[str, str, str]
    before: str
    after: str
    kind: str
    table: str = "facts"


def _extend_bobs_membership(db: RawDb) -> None:
    db.execute("UPDATE {facts} SET valid_to = ?, closed_position = NULL, closed_type = NULL "
               "WHERE kind = 'member' AND subject = ?", (FOREVER, user_id(db, "bob")))


def _delete_alices_deny(db: RawDb) -> None:
    db.execute("DELETE FROM {facts} WHERE kind = 'inline' AND subject = ? AND ref = 'NoDeletes'",
               (user_id(db, "alice"),))


def _grant_the_librarian_admin(db: RawDb) -> None:
    admin, librarian = user_id(db, "admin"), user_id(db, "librarian")
    row = db.execute("SELECT fact_key, kind, subject, ref, valid_from, valid_to, opened_position, opened_type, "
                     "closed_position, closed_type, payload FROM {facts} WHERE kind = 'inline' AND subject = ?",
                     (admin,))[0]
    forged = (row[0].replace(admin, librarian), row[1], librarian, *row[3:])
    db.execute("INSERT INTO {facts} (fact_key, kind, subject, ref, valid_from, valid_to, opened_position, "
               "opened_type, closed_position, closed_type, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", forged)


def _widen_the_librarians_policy(db: RawDb) -> None:
    payload = json.loads(db.execute("SELECT payload FROM {facts} WHERE kind = 'inline' AND ref = 'ReadArchive'")[0][0])
    payload["document"]["Statement"][0]["Action"] = ["s3:*"]
    db.execute("UPDATE {facts} SET payload = ? WHERE kind = 'inline' AND ref = 'ReadArchive'",
               (json.dumps(payload, separators=(",", ":")),))


ARCHIVE_OBJECT = "arn:aws:s3:::archive-media-out/k.mp4"
ATTACKS = {
    "edit a validity interval (bob stays in the group)": Attack(
        _extend_bobs_membership, (BOB, "mediaconvert:CreateJob", "*"), "implicitDeny", "allowed", "member"),
    "delete a deny (alice may delete)": Attack(
        _delete_alices_deny, (ALICE, "s3:DeleteObject", "arn:aws:s3:::media-in-111122223333/x"),
        "explicitDeny", "allowed", "inline"),
    "insert a grant (the librarian becomes administrator)": Attack(
        _grant_the_librarian_admin, (LIBRARIAN, "iam:CreateUser", f"arn:aws:iam::{ARCHIVE}:user/x"),
        "implicitDeny", "allowed", "inline"),
    "change a payload (the librarian may write)": Attack(
        _widen_the_librarians_policy, (LIBRARIAN, "s3:PutObject", ARCHIVE_OBJECT), "implicitDeny", "allowed",
        "inline"),
}


class TestProjectionAttacksAreDetectedAndLocated:
    """Each attack flips an answer; `verify` then fails, naming the fact, its key and its events."""

    @pytest.mark.parametrize("name", list(ATTACKS))
    def test_attack_flips_an_answer_and_verify_locates_it(self, store_url: str, name: str) -> None:
        """Before: the log's answer, verify ok. After: another answer, verify names the fact."""
        attack = ATTACKS[name]
        story(store_url)
        assert (attack.before, True) == (decision(store_url, *attack.question), verify(store_url).ok)
        with raw(store_url) as db:
            attack.tamper(db)
        assert attack.after == decision(store_url, *attack.question)
        report = verify(store_url)
        first = report.projection.first
        assert (True, False) == (report.log.ok, report.projection.ok)
        assert first is not None and (attack.table, attack.kind) == (first.table, first.kind)
        assert first.key is not None and first.key in report.projection.reason and first.events

    def test_the_issue_reproduction_is_caught_by_the_cli(self, store_url: str) -> None:
        """The issue's reproduction: bob's membership extended in one row; `ledger verify` exits 1
        naming the member fact and the events #19 (added) and #25 (removed) that bound it."""
        story(store_url)
        with raw(store_url) as db:
            _extend_bobs_membership(db)
        can = run_cli("--db", store_url, "can", BOB, "mediaconvert:CreateJob", "*", "--at", AFTER_REVOKE)
        assert 0 == can.code  # the attack works: the answer comes from the projection
        result = run_cli("--db", store_url, "verify")
        assert 1 == result.code, result.out + result.err
        assert "TAMPERED projection: the member fact member:" in result.out
        assert "#19, #25" in result.out


class TestBookkeepingAttacks:
    """The source-id table and the tracked position are verified too (issue 11 §5)."""

    def test_deleted_source_ids_are_detected_before_a_reimport_duplicates(self, store_url: str) -> None:
        """Without its source ids a re-import would record every event again; verify says so first."""
        from ledger.application.importing.runner import import_cloudtrail

        with Ledger.open(store_url) as ledger:
            first = import_cloudtrail(ledger, [TRAIL])
        assert first.events > 0 and verify(store_url).ok
        with raw(store_url) as db:
            db.execute("DELETE FROM {source_keys}")
            earliest = db.positions()[0]
        report = verify(store_url)
        assert report.projection.ok is False and report.projection.first is not None
        assert ("source_ids", earliest) == (report.projection.first.table, report.projection.first.position)
        with Ledger.open(store_url) as ledger:
            again = import_cloudtrail(ledger, [TRAIL])
        # What the check warns about: every record is imported again, its events recorded twice.
        assert (first.imported, 0) == (again.imported, again.duplicates) and again.events > 0

    def test_a_tracking_position_moved_forward_is_detected_before_and_after_the_next_event(
        self, store_url: str
    ) -> None:
        """Moved past the log's end it claims events that do not exist; the next real event (the
        Deny removed) is then skipped by the projection, and verify names that event."""
        story(store_url)
        with raw(store_url) as db:
            last = db.positions()[-1]
            db.execute("UPDATE {tracking} SET position = ?", (last + 5,))
        before = verify(store_url)
        assert before.projection.first is not None
        assert ("tracking", False) == (before.projection.first.table, before.projection.ok)
        with Ledger.open(store_url) as ledger:
            [removed] = ledger.delete_user_policy(MEDIA, "alice", "NoDeletes", at="2024-03-03T00:00:00Z")
        question = (ALICE, "s3:DeleteObject", "arn:aws:s3:::media-in-111122223333/x")
        assert "explicitDeny" == decision(store_url, *question)  # the removal was skipped
        after = verify(store_url)
        first = after.projection.first
        assert first is not None and (first.table, first.position) == ("changes", removed.position)


class TestCheckpointVouchesForTheProjection:
    """A checkpoint's projection digest detects an edit made after it without folding the log,
    while facts closed later by newer events (even late, older ones) still verify."""

    def test_later_events_closing_old_facts_still_verify_quickly(self, store_url: str, tmp_path: Path) -> None:
        """Events after the checkpoint close a fact opened before it and re-derive another key
        (a late event with an older time): `verify --quick` is ok."""
        story(store_url)
        cp_file = tmp_path / "cp.json"
        assert 0 == run_cli("--db", store_url, "checkpoint", "--out", str(cp_file)).code
        with Ledger.open(store_url) as ledger:
            ledger.remove_user_from_group(MEDIA, "alice", "video-editors", at="2024-04-01T00:00:00Z")
            ledger.add_user_to_group(MEDIA, "bob", "video-editors", at="2024-03-10T00:00:00Z")  # late, older
            ledger.can(ALICE, "s3:GetObject", "*")
        quick = run_cli("--db", store_url, "verify", "--quick", "--checkpoint", str(cp_file))
        assert (0, "") == (quick.code, quick.err), quick.out
        assert verify(store_url).ok

    @pytest.mark.parametrize("table", ["facts", "changes"])
    def test_an_edit_of_a_fact_vouched_for_is_detected_quickly(self, store_url: str, table: str) -> None:
        """An interval or a change row of an event the checkpoint covers, edited afterwards."""
        story(store_url)
        store = EventStore(store_url)
        try:
            from ledger.application.trust import checkpoint_ledger

            cp, _ = checkpoint_ledger(store, save=False)
        finally:
            store.close()
        with raw(store_url) as db:
            if table == "facts":
                _extend_bobs_membership(db)
            else:
                db.execute("UPDATE {changes} SET at = at - 1 WHERE kind = 'member' AND op = 'clear'")
        report = verify(store_url, quick=True, checkpoints=(cp,))
        assert (True, False, "quick") == (report.log.ok, report.projection.ok, report.projection.mode)
        first = report.projection.first
        assert first is not None and first.kind == "member"


class TestUnreadableProjection:
    """Bytes that are not UTF-8, planted in a projection table (SQLite stores whatever it is
    given), are a finding of tampering, not a crash."""

    def test_invalid_utf8_in_a_fact_is_reported_as_tampering(self, tmp_path: Path) -> None:
        """verify exits 1 and says the projection's tables cannot be read; the log still verifies."""
        url = f"sqlite:///{tmp_path}/bad.db"
        story(url)
        with raw(url) as db:
            db.execute("UPDATE {facts} SET payload = CAST(X'7B22C3' AS TEXT) WHERE kind = 'member'")
        result = run_cli("--db", url, "verify")
        assert 1 == result.code, result.out + result.err
        assert "log ok" in result.out and "cannot be read" in result.out

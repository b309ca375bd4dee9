"""Answers carry their proof: `can`/`who-can --prove` attach an inclusion proof of every event an
answer cites against the newest checkpoint, and `verify` says plainly when no checkpoint vouches
for anything (both stores)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.application.demo import MEDIA, record_story
from ledger.application.facade import Ledger
from ledger.application.proofs import cited_positions
from tests.trust._support import raw, run_cli

BOB = f"arn:aws:iam::{MEDIA}:user/bob"
OUTPUT_BUCKET_OBJECT = "arn:aws:s3:::archive-media-out/renditions/keynote/keynote_1080p.mp4"
T = "2024-03-01T14:00:00Z"


@pytest.fixture
def story_url(store_url: str) -> Iterator[str]:
    with Ledger.open(store_url) as ledger:
        record_story(ledger)
    yield store_url


def _events_of(url: str) -> dict[int, str]:
    body = json.loads(run_cli("--db", url, "--json", "log", "--limit", "1000").out)
    return {e["position"]: e["event"] for e in body["events"]}


class TestCanAndWhoCanProve:
    """Every cited event (attachment, policy document, membership) is proven in the checkpoint."""

    def test_can_proves_each_cited_event_against_the_stored_checkpoint(self, story_url: str) -> None:
        """bob's CreateJob rests on the policy's creation, the attachment and his membership."""
        assert 0 == run_cli("--db", story_url, "checkpoint").code
        result = run_cli("--db", story_url, "can", BOB, "mediaconvert:CreateJob", "*", "--at", T, "--prove", "--json")
        assert 0 == result.code, result.err
        body = json.loads(result.out)
        events = _events_of(story_url)
        cited = cited_positions(body)
        assert ["ManagedPolicyCreated", "PolicyAttached", "UserAddedToGroup"] == sorted(events[p] for p in cited)
        proofs = body["Proofs"]
        assert ("store", True) == (proofs["checkpoint"]["source"], proofs["verified"])
        assert cited == [p["position"] for p in proofs["proofs"]]
        assert all(p["verified"] and p["path"] for p in proofs["proofs"])

    def test_a_tampered_cited_event_fails_its_proof(self, story_url: str, tmp_path: Path) -> None:
        """Edit the attachment event after the checkpoint: its proof fails and `can` exits 1."""
        cp = tmp_path / "cp.json"
        assert 0 == run_cli("--db", story_url, "checkpoint", "--out", str(cp), "--no-save").code
        attachment = next(p for p, kind in _events_of(story_url).items() if kind == "PolicyAttached")
        with raw(story_url) as db:
            db.edit_field(attachment)
        result = run_cli("--db", story_url, "can", BOB, "mediaconvert:CreateJob", "*", "--at", T,
                         "--prove", "--checkpoint", str(cp))
        assert 1 == result.code
        assert f"event #{attachment}: 0 hashes" not in result.out
        assert f"event #{attachment}:" in result.out and "DOES NOT VERIFY" in result.out

    def test_who_can_proves_every_path_it_shows(self, story_url: str) -> None:
        """Each path step's matched statements are cited and proven."""
        assert 0 == run_cli("--db", story_url, "checkpoint").code
        result = run_cli("--db", story_url, "--json", "who-can", "s3:PutObject", OUTPUT_BUCKET_OBJECT,
                         "--at", T, "--paths", "--prove")
        assert 0 == result.code, result.err
        body = json.loads(result.out)
        assert cited_positions(body) == [p["position"] for p in body["Proofs"]["proofs"]]
        assert len(body["Proofs"]["proofs"]) >= 5 and body["Proofs"]["verified"] is True

    def test_without_a_checkpoint_the_proof_says_it_vouches_for_nothing(self, story_url: str) -> None:
        """Proofs against the current log are shown with a note, never as if vouched for."""
        result = run_cli("--db", story_url, "can", BOB, "mediaconvert:CreateJob", "*", "--at", T, "--prove")
        assert 0 == result.code
        assert "vouches for nothing" in result.out


class TestVerifySaysWhatIsVouchedFor:
    """Without a checkpoint nothing is vouched for: a warning, and --require-checkpoint fails."""

    def test_no_checkpoint_warns_and_require_checkpoint_exits_1(self, story_url: str) -> None:
        """Exit 0 with a warning line; with --require-checkpoint exit 1; once a checkpoint is
        kept in the store, no warning."""
        plain = run_cli("--db", story_url, "verify")
        assert 0 == plain.code
        assert "warning: no checkpoint: nothing is vouched for" in plain.out
        assert 1 == run_cli("--db", story_url, "verify", "--require-checkpoint").code
        assert 0 == run_cli("--db", story_url, "checkpoint").code
        kept = run_cli("--db", story_url, "verify", "--require-checkpoint")
        assert (0, False) == (kept.code, "nothing is vouched for" in kept.out)
        assert "1 kept in the store" in kept.out
        assert 1 == run_cli("--db", story_url, "verify", "--require-checkpoint", "--no-stored").code

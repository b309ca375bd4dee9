"""verify_log detects every kind of tampering against earlier checkpoints and says where."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.integrity import (
    Checkpoint,
    CheckpointBuilder,
    Record,
    build_checkpoint,
    generate_signing_key,
    prove_consistency,
    prove_inclusion,
    sign_checkpoint,
    verify_log,
)
from tests.integrity._records import make_records

NOW = "2024-03-01T14:00:00+00:00"
LATER = "2024-03-02T14:00:00+00:00"
CHUNK = 8
N = 50


def checkpoint_and_manifest(records: Sequence[Record]) -> tuple[Checkpoint, bytes]:
    builder = CheckpointBuilder(CHUNK, keep_leaf_hashes=True)
    builder.extend(records)
    return builder.checkpoint(NOW), builder.leaf_hashes


def edit(records: list[Record], i: int, field: int, value: object) -> list[Record]:
    out = list(records)
    rec: list[object] = list(out[i])
    rec[field] = value
    out[i] = tuple(rec)  # type: ignore[assignment]
    return out


@pytest.fixture
def log() -> list[Record]:
    return make_records(N, gap_every=5)


class TestUntouchedLog:
    """An authentic log passes every check."""

    def test_log_matches_its_checkpoints(self, log: list[Record]) -> None:
        """Checkpoints taken along the way all verify, and are pairwise consistent."""
        cps = [build_checkpoint(log[:n], NOW, chunk_size=CHUNK) for n in (0, 1, 13, 32, N)]
        report = verify_log(iter(log), cps)
        assert report.ok, report.reason
        assert (N, log[-1][0], None) == (
            report.tree_size,
            report.last_position,
            report.first_bad_position,
        )
        assert cps[-1].root_hash == report.root_hash
        assert all(c.ok for c in report.checkpoints)
        assert 4 == len(report.consistency) and all(p.ok for p in report.consistency)

    def test_log_grown_since_checkpoint_passes(self, log: list[Record]) -> None:
        """Events appended after a checkpoint do not make it fail."""
        cp = build_checkpoint(log[:20], NOW, chunk_size=CHUNK)
        assert verify_log(log, [cp]).ok

    def test_no_checkpoints_reports_current_root(self, log: list[Record]) -> None:
        """Without checkpoints the report still states size and root."""
        report = verify_log(log, [])
        assert report.ok
        assert build_checkpoint(log, NOW).root_hash == report.root_hash


TAMPERS: dict[str, tuple[Callable[[list[Record]], list[Record]], int]] = {
    # name: (tamper, index of the first event that differs from the checkpointed log)
    "state edited": (lambda r: edit(r, 17, 4, b'{"i": 17, "policy": "*"}'), 17),
    "topic edited": (lambda r: edit(r, 17, 3, "ledger.events:PolicyDetached"), 17),
    "stream moved": (lambda r: edit(r, 17, 1, uuid.UUID(int=99)), 17),
    "version edited": (lambda r: edit(r, 17, 2, 42), 17),
    "deleted": (lambda r: r[:17] + r[18:], 17),
    "swapped contents": (
        lambda r: [*r[:17], (r[17][0], *r[30][1:]), *r[18:30], (r[30][0], *r[17][1:]), *r[31:]],
        17,
    ),
    "inserted in a gap": (lambda r: [*r[:5], (6, uuid.UUID(int=1), 99, r[0][3], b"{}"), *r[5:]], 5),
}


class TestTamperingIsLocated:
    """Each tampering is detected against a checkpoint taken before, at the right place."""

    @pytest.mark.parametrize("name", list(TAMPERS))
    def test_chunk_roots_bound_the_first_bad_event(self, log: list[Record], name: str) -> None:
        """Without a manifest, the first bad event lies in the reported chunk."""
        tamper, bad = TAMPERS[name]
        cp, _ = checkpoint_and_manifest(log)
        report = verify_log(tamper(log), [cp])
        check = report.checkpoints[0]
        assert not report.ok and not check.ok and not check.root_ok
        assert (bad // CHUNK) * CHUNK == check.first_bad_index
        assert check.suspect_positions is not None
        lo, hi = check.suspect_positions
        assert lo <= log[bad][0] <= hi
        assert check.first_bad_position == report.first_bad_position

    @pytest.mark.parametrize("name", list(TAMPERS))
    def test_manifest_names_the_exact_event(self, log: list[Record], name: str) -> None:
        """With the leaf manifest, the exact first bad event and its position are reported."""
        tamper, bad = TAMPERS[name]
        cp, manifest = checkpoint_and_manifest(log)
        tampered = tamper(log)
        check = verify_log(tampered, [cp], leaf_manifest=manifest).checkpoints[0]
        assert (bad, True) == (check.first_bad_index, check.exact)
        assert tampered[bad][0] == check.first_bad_position
        assert log[bad - 1][0] == check.last_good_position

    def test_swapped_records_break_position_order(self, log: list[Record]) -> None:
        """Swapping two whole records (positions included) is also an ordering issue."""
        swapped = list(log)
        swapped[10], swapped[11] = swapped[11], swapped[10]
        report = verify_log(swapped, [build_checkpoint(log, NOW, chunk_size=CHUNK)])
        assert not report.ok
        assert [swapped[11][0]] == [i.first_bad_position for i in report.issues]
        assert 8 == report.first_bad_index

    def test_edited_position_is_detected(self, log: list[Record]) -> None:
        """Renumbering an event (still in order) changes its leaf."""
        cp, manifest = checkpoint_and_manifest(log)
        moved = edit(log, 4, 0, log[4][0] + 1)  # position 5 -> 6, into the gap
        report = verify_log(moved, [cp], leaf_manifest=manifest)
        assert not report.ok and not report.issues
        assert (4, 6) == (report.first_bad_index, report.first_bad_position)

    def test_edit_after_checkpoint_is_not_blamed_on_it(self, log: list[Record]) -> None:
        """An event appended after the checkpoint can change without failing it."""
        cp = build_checkpoint(log[:20], NOW, chunk_size=CHUNK)
        assert verify_log(edit(log, 30, 4, b"{}"), [cp]).ok

    def test_smaller_checkpoint_narrows_search_without_chunks(self, log: list[Record]) -> None:
        """A checkpoint without chunk roots is bounded by an earlier one the log matches."""
        early = build_checkpoint(log[:16], NOW)
        late = build_checkpoint(log, NOW).model_copy(update={"chunk_roots": ()})
        report = verify_log(edit(log, 20, 4, b"{}"), [early, late])
        check = report.checkpoints[1]
        assert (16, False) == (check.first_bad_index, check.exact)
        assert log[15][0] == check.last_good_position


class TestTruncation:
    """A log shorter than a checkpoint is reported as truncated."""

    def test_truncated_at_chunk_boundary_is_exact(self, log: list[Record]) -> None:
        """Cutting the tail at a chunk boundary names the first missing event exactly."""
        cp, _ = checkpoint_and_manifest(log)
        report = verify_log(log[:40], [cp])
        check = report.checkpoints[0]
        assert not report.ok and "truncated" in check.reason
        assert (40, True) == (check.first_bad_index, check.exact)
        assert log[39][0] + 1 == check.first_bad_position

    def test_truncated_mid_chunk_with_manifest(self, log: list[Record]) -> None:
        """With a manifest, a cut inside a chunk is exact too."""
        cp, manifest = checkpoint_and_manifest(log)
        check = verify_log(log[:37], [cp], leaf_manifest=manifest).checkpoints[0]
        assert (37, True, log[36][0]) == (
            check.first_bad_index,
            check.exact,
            check.last_good_position,
        )

    def test_truncated_mid_chunk_without_manifest(self, log: list[Record]) -> None:
        """Without one, the suspect range spans the partial chunk."""
        cp, _ = checkpoint_and_manifest(log)
        check = verify_log(log[:37], [cp]).checkpoints[0]
        assert (32, False) == (check.first_bad_index, check.exact)

    def test_truncated_and_edited_reports_the_edit(self, log: list[Record]) -> None:
        """A truncation after an edit reports the edit, the earlier problem."""
        cp, manifest = checkpoint_and_manifest(log)
        tampered = edit(log, 3, 4, b"{}")[:40]
        assert 3 == verify_log(tampered, [cp], leaf_manifest=manifest).first_bad_index

    def test_emptied_log(self, log: list[Record]) -> None:
        """A log with every event deleted fails at event #0 with no position to name."""
        cp, _ = checkpoint_and_manifest(log)
        report = verify_log([], [cp])
        assert (False, 0, None) == (report.ok, report.first_bad_index, report.first_bad_position)

    def test_consistency_with_truncated_log_fails(self, log: list[Record]) -> None:
        """Checkpoints beyond the log's end cannot be proven consistent."""
        cps = [build_checkpoint(log[:n], NOW, chunk_size=CHUNK) for n in (20, N)]
        report = verify_log(log[:30], cps)
        assert [True, False] == [c.ok for c in report.checkpoints]
        assert not report.consistency[0].ok


class TestSummary:
    """The report's headline names the earliest, most precise finding."""

    def test_exact_finding_sharpens_an_earlier_suspect_range(self, log: list[Record]) -> None:
        """A manifest-backed exact event inside a chunk-level range of another checkpoint wins."""
        half = CheckpointBuilder(CHUNK, keep_leaf_hashes=True)
        half.extend(log[:30])
        full = build_checkpoint(log, NOW, chunk_size=CHUNK)
        report = verify_log(
            edit(log, 19, 4, b"{}"), [full, half.checkpoint(NOW)], leaf_manifest=half.leaf_hashes
        )
        assert [16, 19] == [c.first_bad_index for c in report.checkpoints]
        assert (19, log[19][0]) == (report.first_bad_index, report.first_bad_position)


class TestForks:
    """Checkpoints from a different history are caught, including by consistency."""

    def test_checkpoint_from_forked_history_fails(self, log: list[Record]) -> None:
        """A checkpoint of a history that diverges at event 20 fails and is not consistent."""
        forked = edit(log, 20, 4, b'{"forged": true}')
        good = build_checkpoint(log[:30], NOW, chunk_size=CHUNK)
        fork = build_checkpoint(forked[:45], LATER, chunk_size=CHUNK)
        report = verify_log(log, [good, fork])
        assert [True, False] == [c.ok for c in report.checkpoints]
        assert 16 == report.checkpoints[1].first_bad_index
        assert not report.consistency[0].ok

    def test_log_rewritten_and_recheckpointed_is_a_fork(self, log: list[Record]) -> None:
        """An old checkpoint exposes a rewrite that a fresh checkpoint covers up."""
        old = build_checkpoint(log[:30], NOW, chunk_size=CHUNK)
        rewritten = edit(log, 10, 4, b"{}")
        new = build_checkpoint(rewritten, LATER, chunk_size=CHUNK)
        report = verify_log(rewritten, [new, old])
        assert [True, False] == [c.ok for c in report.checkpoints]
        assert "fork" in report.consistency[0].reason
        assert rewritten[8][0] == report.first_bad_position

    def test_two_checkpoints_of_same_size_disagreeing(self, log: list[Record]) -> None:
        """Two checkpoints of equal size with different roots are a fork."""
        a = build_checkpoint(log, NOW, chunk_size=CHUNK)
        b = build_checkpoint(edit(log, 0, 4, b"{}"), NOW, chunk_size=CHUNK)
        report = verify_log(log, [a, b])
        assert not report.ok and not report.consistency[0].ok


class TestAlteredCheckpoints:
    """A checkpoint edited after the fact is itself reported."""

    def test_altered_last_position(self, log: list[Record]) -> None:
        """A last_position that the log contradicts fails even when the root matches."""
        cp = build_checkpoint(log, NOW).model_copy(update={"last_position": 10**6})
        check = verify_log(log, [cp]).checkpoints[0]
        assert (False, True, False) == (check.ok, check.root_ok, check.last_position_ok)

    def test_altered_chunk_roots(self, log: list[Record]) -> None:
        """Chunk roots that do not fold to the root are reported and not trusted."""
        cp = build_checkpoint(log, NOW, chunk_size=CHUNK)
        roots = list(cp.chunk_roots)
        roots[0] = "ab" * 32
        check = verify_log(log, [cp.model_copy(update={"chunk_roots": tuple(roots)})]).checkpoints[
            0
        ]
        assert (False, False, True) == (check.ok, check.chunks_ok, check.root_ok)

    def test_forged_manifest_is_ignored(self, log: list[Record]) -> None:
        """A manifest that does not reproduce the root cannot shift the blame."""
        cp, manifest = checkpoint_and_manifest(log)
        forged = manifest[: 5 * 32] + bytes(32) + manifest[6 * 32 :]
        check = verify_log(edit(log, 17, 4, b"{}"), [cp], leaf_manifest=forged).checkpoints[0]
        assert (16, False) == (check.first_bad_index, check.exact)


class TestSignatures:
    """With a public key, every checkpoint must carry a valid signature."""

    def test_signed_checkpoints_pass(self, log: list[Record], tmp_path: object) -> None:
        """Checkpoints signed by the key verify."""
        key = generate_signing_key(f"{tmp_path}/k")
        cps = [build_checkpoint(log[:n], NOW, signing_key=key) for n in (10, N)]
        report = verify_log(log, cps, key.public_key())
        assert report.ok and all(c.signature_ok for c in report.checkpoints)

    def test_tampered_signature_fails(self, log: list[Record], tmp_path: object) -> None:
        """A checkpoint whose signature was altered fails verification."""
        key = generate_signing_key(f"{tmp_path}/k")
        cp = build_checkpoint(log, NOW, signing_key=key)
        raw = bytearray(base64.b64decode(cp.signature or ""))
        raw[-1] ^= 0x80
        bad = cp.model_copy(update={"signature": base64.b64encode(bytes(raw)).decode()})
        report = verify_log(log, [bad], key.public_key())
        assert not report.ok and report.checkpoints[0].signature_ok is False
        assert report.checkpoints[0].root_ok

    def test_forged_root_with_stripped_signature_fails(
        self, log: list[Record], tmp_path: object
    ) -> None:
        """An unsigned checkpoint is refused when a key is given."""
        key = generate_signing_key(f"{tmp_path}/k")
        report = verify_log(log, [build_checkpoint(log, NOW)], key.public_key())
        assert not report.ok and "not signed" in report.reason

    def test_resigned_by_another_key_fails(self, log: list[Record], tmp_path: object) -> None:
        """A checkpoint re-signed by an attacker's key fails under the real key."""
        key = generate_signing_key(f"{tmp_path}/k")
        mallory = generate_signing_key(f"{tmp_path}/m")
        cp = sign_checkpoint(build_checkpoint(log, NOW), mallory)
        assert not verify_log(log, [cp], key.public_key()).ok


class TestUnencodableRecords:
    """Records that cannot be encoded are reported, never crash verification."""

    def test_null_state_is_an_issue(self, log: list[Record]) -> None:
        """A NULL state is reported at its position."""
        report = verify_log(edit(log, 3, 4, None), [build_checkpoint(log, NOW)])
        assert not report.ok
        assert log[3][0] == report.issues[0].first_bad_position
        assert not report.checkpoints[0].root_ok


class TestProofs:
    """Inclusion and consistency proofs from records verify against checkpoints."""

    def test_inclusion_proof_verifies_against_checkpoint(self, log: list[Record]) -> None:
        """An event's proof leads to the checkpoint root; another root refuses it."""
        cp = build_checkpoint(log[:40], NOW)
        proof = prove_inclusion(log, log[17][0], 40)
        assert proof.verify(cp.root_hash)
        assert not proof.verify(build_checkpoint(log, NOW).root_hash)

    def test_consistency_proof_between_checkpoints(self, log: list[Record]) -> None:
        """A consistency proof links two checkpoints' roots."""
        old, new = build_checkpoint(log[:13], NOW), build_checkpoint(log, NOW)
        proof = prove_consistency(log, 13)
        assert (old.root_hash, new.root_hash) == (proof.old_root, proof.new_root)
        assert proof.verify()

    def test_report_items_are_plain_data(self, log: list[Record]) -> None:
        """The report converts to plain dicts for JSON output."""
        report = verify_log(log, [build_checkpoint(log, NOW)])
        assert N == dataclasses.asdict(report)["tree_size"]


@st.composite
def tampering(draw: st.DrawFn) -> tuple[list[Record], list[Record], int]:
    n = draw(st.integers(min_value=1, max_value=120))
    log = make_records(n, gap_every=3)
    i = draw(st.integers(min_value=0, max_value=n - 1))
    kind = draw(st.sampled_from(["edit", "delete", "insert", "swap", "truncate"]))
    if kind == "edit":
        return log, edit(log, i, 4, b"tampered"), i
    if kind == "delete":
        return log, log[:i] + log[i + 1 :], i
    if kind == "insert":
        return log, [*log[:i], (log[i][0], uuid.UUID(int=5), 1, "x", b""), *log[i:]], i
    if kind == "swap":
        j = draw(st.integers(min_value=0, max_value=n - 1))
        if log[i][1:] == log[j][1:]:
            return log, edit(log, i, 4, b"tampered"), i
        lo, hi = min(i, j), max(i, j)
        swapped = list(log)
        swapped[lo], swapped[hi] = (log[lo][0], *log[hi][1:]), (log[hi][0], *log[lo][1:])
        return log, swapped, lo
    return log, log[:i], i


class TestTamperingProperties:
    """For any single tampering, detection is certain and localisation is sound."""

    @settings(max_examples=150)
    @given(tampering())
    def test_detected_and_bounded(self, case: tuple[list[Record], list[Record], int]) -> None:
        """The log fails, and the first bad event is never placed after the true one."""
        log, tampered, bad = case
        cp, manifest = checkpoint_and_manifest(log)
        report = verify_log(tampered, [cp])
        assert not report.ok
        check = report.checkpoints[0]
        assert check.first_bad_index is not None and check.first_bad_index <= bad
        exact = verify_log(tampered, [cp], leaf_manifest=manifest).checkpoints[0]
        assert (bad, True) == (exact.first_bad_index, exact.exact)

"""Checkpoints: model, JSON, keys, Ed25519 signatures, chunk roots and leaf manifests."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ledger.errors import EntityAlreadyExistsError, NotFoundError, ValidationError
from ledger.integrity import (
    Checkpoint,
    CheckpointBuilder,
    build_checkpoint,
    generate_signing_key,
    key_id,
    load_public_key,
    load_signing_key,
    public_key_path,
    read_leaf_manifest,
    record_leaf_hash,
    sign_checkpoint,
    tree_root,
    verify_checkpoint_signature,
    write_leaf_manifest,
)
from tests.integrity._records import make_records

NOW = "2024-03-01T14:00:00+00:00"


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.key"
    generate_signing_key(path)
    return path


class TestBuildCheckpoint:
    """A checkpoint states size, root, last position and chunk roots of the records."""

    @pytest.mark.parametrize("n", [0, 1, 5, 8, 9, 64, 100])
    def test_root_is_merkle_root_of_leaves(self, n: int) -> None:
        """The root equals the RFC 6962 root of the records' leaf hashes."""
        records = make_records(n, gap_every=3)
        cp = build_checkpoint(records, NOW, chunk_size=8)
        assert tree_root([record_leaf_hash(*r) for r in records]).hex() == cp.root_hash
        assert n == cp.tree_size
        assert (records[-1][0] if records else None) == cp.last_position

    @pytest.mark.parametrize("n", [1, 7, 8, 9, 17, 64, 100])
    def test_chunk_roots_fold_to_root(self, n: int) -> None:
        """Chunk roots are authenticated by the root they fold to."""
        cp = build_checkpoint(make_records(n), NOW, chunk_size=8)
        assert -(-n // 8) == len(cp.chunk_roots)
        assert cp.chunks_authenticated()

    def test_altered_chunk_root_is_not_authenticated(self) -> None:
        """Changing one chunk root breaks the fold."""
        cp = build_checkpoint(make_records(40), NOW, chunk_size=8)
        roots = list(cp.chunk_roots)
        roots[2] = "00" * 32
        assert not cp.model_copy(update={"chunk_roots": tuple(roots)}).chunks_authenticated()

    def test_out_of_order_records_are_refused(self) -> None:
        """The builder refuses positions that do not strictly increase."""
        records = make_records(3)
        with pytest.raises(ValidationError):
            build_checkpoint([records[1], records[0]], NOW)

    def test_builder_keeps_leaf_hashes_on_request(self) -> None:
        """With keep_leaf_hashes the builder exposes 32 bytes per record."""
        builder = CheckpointBuilder(4, keep_leaf_hashes=True)
        builder.extend(make_records(10))
        assert 320 == len(builder.leaf_hashes)


class TestCheckpointModel:
    """The model is frozen, validated and round-trips through JSON."""

    def test_json_round_trip(self, key_path: Path) -> None:
        """to_json then from_json gives an equal checkpoint, signature included."""
        cp = sign_checkpoint(
            build_checkpoint(make_records(20), NOW, chunk_size=4), load_signing_key(key_path)
        )
        assert cp == Checkpoint.from_json(cp.to_json())

    def test_malformed_json_raises_ledger_error(self) -> None:
        """A bad root hash is reported as a ledger ValidationError naming the field."""
        with pytest.raises(ValidationError, match="root_hash"):
            Checkpoint.from_json(
                json.dumps(
                    {"tree_size": 1, "root_hash": "xyz", "last_position": 1, "created_at": NOW}
                )
            )

    def test_unknown_fields_are_refused(self) -> None:
        """Extra fields are refused rather than silently ignored."""
        doc = build_checkpoint(make_records(2), NOW).model_dump()
        doc["note"] = "hi"
        with pytest.raises(ValidationError):
            Checkpoint.from_json(json.dumps(doc))

    def test_created_at_must_be_iso8601(self) -> None:
        """A created_at that is not ISO-8601 is refused."""
        with pytest.raises(ValidationError, match="created_at"):
            Checkpoint.from_json(
                build_checkpoint(make_records(1), NOW).to_json().replace(NOW, "yesterday")
            )

    def test_empty_tree_checkpoint(self) -> None:
        """An empty log has the empty root and no last position."""
        cp = build_checkpoint([], NOW)
        assert (0, None, ()) == (cp.tree_size, cp.last_position, cp.chunk_roots)


class TestKeys:
    """Ed25519 keys live in PEM files: private PKCS#8 at path, public at path.pub."""

    def test_public_key_is_written_next_to_private(self, key_path: Path) -> None:
        """The .pub file holds the public key of the private key."""
        pub = load_public_key(public_key_path(key_path))
        assert key_id(load_signing_key(key_path).public_key()) == key_id(pub)
        assert b"BEGIN PUBLIC KEY" in public_key_path(key_path).read_bytes()
        assert b"BEGIN PRIVATE KEY" in key_path.read_bytes()

    def test_private_key_file_is_owner_only(self, key_path: Path) -> None:
        """The private key is not readable by group or others."""
        assert 0o600 == key_path.stat().st_mode & 0o777

    def test_existing_key_is_not_overwritten(self, key_path: Path) -> None:
        """Generating over an existing key refuses."""
        with pytest.raises(EntityAlreadyExistsError):
            generate_signing_key(key_path)

    def test_public_key_derivable_from_private_file(self, key_path: Path) -> None:
        """load_public_key accepts the private key file too."""
        assert key_id(load_public_key(key_path)) == key_id(
            load_public_key(public_key_path(key_path))
        )

    def test_missing_and_malformed_key_files(self, tmp_path: Path) -> None:
        """A missing key is NotFound, a non-key file a ValidationError."""
        with pytest.raises(NotFoundError):
            load_signing_key(tmp_path / "nope")
        junk = tmp_path / "junk.pem"
        junk.write_text("not a key")
        with pytest.raises(ValidationError):
            load_signing_key(junk)
        with pytest.raises(ValidationError):
            load_public_key(junk)


class TestSignatures:
    """Signatures cover size, root, last position and time, and nothing verifies by accident."""

    def test_signature_round_trip(self, key_path: Path) -> None:
        """A signed checkpoint verifies under its public key."""
        cp = sign_checkpoint(build_checkpoint(make_records(5), NOW), load_signing_key(key_path))
        assert verify_checkpoint_signature(cp, load_public_key(public_key_path(key_path)))

    @pytest.mark.parametrize(
        "change",
        [
            {"tree_size": 4},
            {"root_hash": "11" * 32},
            {"last_position": 99},
            {"created_at": "2024-03-01T14:00:01+00:00"},
        ],
    )
    def test_tampered_field_fails(self, key_path: Path, change: dict[str, object]) -> None:
        """Changing any signed field invalidates the signature."""
        cp = sign_checkpoint(build_checkpoint(make_records(5), NOW), load_signing_key(key_path))
        tampered = cp.model_copy(update=change)
        assert not verify_checkpoint_signature(tampered, load_signing_key(key_path).public_key())

    def test_tampered_signature_fails(self, key_path: Path) -> None:
        """A signature with one flipped bit does not verify."""
        cp = sign_checkpoint(build_checkpoint(make_records(5), NOW), load_signing_key(key_path))
        raw = bytearray(base64.b64decode(cp.signature or ""))
        raw[0] ^= 1
        bad = cp.model_copy(update={"signature": base64.b64encode(bytes(raw)).decode()})
        assert not verify_checkpoint_signature(bad, load_signing_key(key_path).public_key())

    def test_other_key_and_unsigned_fail(self, key_path: Path, tmp_path: Path) -> None:
        """Another key's public key, or no signature at all, does not verify."""
        other = generate_signing_key(tmp_path / "other.key")
        cp = build_checkpoint(make_records(5), NOW)
        assert not verify_checkpoint_signature(cp, other.public_key())
        signed = sign_checkpoint(cp, load_signing_key(key_path))
        assert not verify_checkpoint_signature(signed, other.public_key())
        assert not verify_checkpoint_signature(
            signed.model_copy(update={"key_id": None}), other.public_key()
        )


class TestLeafManifest:
    """Leaf manifests round-trip and refuse damaged files."""

    def test_round_trip(self, tmp_path: Path) -> None:
        """What is written is read back."""
        hashes = bytes(range(64))
        write_leaf_manifest(tmp_path / "m", hashes)
        assert hashes == read_leaf_manifest(tmp_path / "m")

    def test_truncated_file_is_refused(self, tmp_path: Path) -> None:
        """A manifest cut short is a ValidationError."""
        write_leaf_manifest(tmp_path / "m", bytes(64))
        data = (tmp_path / "m").read_bytes()
        (tmp_path / "m").write_bytes(data[:-1])
        with pytest.raises(ValidationError):
            read_leaf_manifest(tmp_path / "m")

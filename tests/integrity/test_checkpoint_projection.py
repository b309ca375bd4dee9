"""Checkpoints that vouch for the projection: digests per chunk of events and per fact kind,
authenticated by the projection digest, which the v2 signature covers; v1 checkpoints unchanged."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ledger.errors import ValidationError
from ledger.integrity import (
    Checkpoint,
    CheckpointBuilder,
    generate_signing_key,
    load_public_key,
    sign_checkpoint,
    verify_checkpoint_signature,
)
from ledger.integrity.checkpoint import projection_root
from ledger.integrity.merkle import tree_root
from projections.digest import ProjectionDigest
from tests.integrity._records import make_records

NOW = "2024-03-01T14:00:00+00:00"
ROW = ("member:u:g", "member", "u", "g", "set", 10, 1, 0, "UserAddedToGroup", "{}")


def _checkpoint(n: int = 10, chunk: int = 4) -> Checkpoint:
    builder = CheckpointBuilder(chunk)
    digest = ProjectionDigest(chunk)
    for i, record in enumerate(make_records(n)):
        builder.add(record)
        digest.add([(*ROW[:6], record[0], 0, *ROW[8:])] if i % 3 == 0 else [])
    return builder.checkpoint(NOW, None, digest.finish())


class TestProjectionDigestLayout:
    """The digests follow the documented byte layout exactly (every checkpoint commits to it)."""

    def test_chunk_and_kind_digests_are_as_documented(self) -> None:
        """Chunk j: SHA-256("pl-changes v1\\n" + JSON rows); kind: SHA-256 over b"j:" + JSON + b"\\n"."""
        digest = ProjectionDigest(2)
        digest.add([ROW])
        digest.add([])
        digest.add([])
        chunks, kinds, root = digest.finish()
        rows = json.dumps([list(ROW)], separators=(",", ":")).encode()
        expected_chunks = (hashlib.sha256(b"pl-changes v1\n" + rows).hexdigest(),
                           hashlib.sha256(b"pl-changes v1\n[]").hexdigest())
        assert expected_chunks == chunks
        assert {"member": hashlib.sha256(b"0:" + rows + b"\n").hexdigest()} == kinds
        leaves = [bytes.fromhex(c) for c in chunks]
        body = b"pl-projection v1\n" + tree_root(leaves).hex().encode() + b"\n" + f"member {kinds['member']}\n".encode()
        assert hashlib.sha256(body).hexdigest() == root == projection_root(leaves, kinds)

    def test_one_chunk_per_chunk_of_events(self) -> None:
        """Chunks follow the log's events (the checkpoint's chunks), rows or not."""
        cp = _checkpoint(n=10, chunk=4)
        assert (3, 3) == (len(cp.chunk_roots), len(cp.projection_chunks))
        assert cp.projection_authenticated()


class TestProjectionDigestInTheCheckpoint:
    """The projection digest is signed; its chunks and kinds are authenticated by folding."""

    def test_the_signature_covers_the_projection_digest(self, tmp_path: Path) -> None:
        """A v2 checkpoint's signature fails when its projection digest is replaced."""
        key = generate_signing_key(tmp_path / "k.pem")
        public = load_public_key(tmp_path / "k.pem.pub")
        signed = sign_checkpoint(_checkpoint(), key)
        assert signed.signing_payload().startswith(b"permission-ledger checkpoint v2\n")
        assert verify_checkpoint_signature(signed, public)
        forged = signed.model_copy(update={"projection_digest": "0" * 64})
        assert verify_checkpoint_signature(forged, public) is False

    def test_an_altered_kind_digest_no_longer_folds(self) -> None:
        """Changing one kind digest (or a chunk digest) breaks the fold to the projection digest."""
        cp = _checkpoint()
        altered = cp.model_copy(update={"projection_kinds": {"member": "1" * 64}})
        rechunked = cp.model_copy(update={"projection_chunks": ("2" * 64, *cp.projection_chunks[1:])})
        assert (True, False, False) == (cp.projection_authenticated(), altered.projection_authenticated(),
                                        rechunked.projection_authenticated())

    def test_a_checkpoint_without_projection_signs_as_before(self, tmp_path: Path) -> None:
        """v1 checkpoints keep their payload, so every signature issued before still verifies."""
        cp = CheckpointBuilder(4).checkpoint(NOW)
        assert cp.signing_payload().startswith(b"permission-ledger checkpoint v1\n")
        assert b"projection" not in cp.signing_payload()
        assert cp.projection_authenticated() is False

    @pytest.mark.parametrize("update", [
        {"projection_chunks": ("a" * 64,)},
        {"projection_kinds": {"Bad Kind": "a" * 64}, "projection_digest": "a" * 64},
        {"projection_digest": "XYZ"},
    ])
    def test_malformed_projection_fields_are_rejected(self, update: dict[str, object]) -> None:
        """Wrong chunk count, a bad kind name or a non-hex digest: a typed error on load."""
        data = json.loads(_checkpoint().to_json())
        data.update(update)
        with pytest.raises(ValidationError):
            Checkpoint.from_json(json.dumps(data))

"""Checkpoints of the event log (size, root, last position, time), their Ed25519 signatures,
chunk roots that let `verify_log` locate tampering, and the optional leaf-hash manifest.

Pure apart from the key and manifest files it is told to read or write: it must never read the
event store, a clock (the caller passes `created_at`) or a logger.

Keys live in `ledger.integrity.keys` (re-exported here); `key_id` is recorded in the checkpoint
as a hint for choosing the key, not as proof.

What is signed. The UTF-8 bytes of::

    permission-ledger checkpoint v1
    tree_size <n>
    root_hash <64 lowercase hex>
    last_position <n or "none">
    created_at <ISO-8601 as given>

(each line ends with a newline). A checkpoint that also vouches for the projection says
`permission-ledger checkpoint v2` and adds the line `projection_digest <64 lowercase hex>`.
No field can contain a newline (validated), so the encoding is unambiguous. The chunk roots
are *not* signed: they are authenticated by the root itself, because folding them as a Merkle
tree must reproduce `root_hash` (see below); a checkpoint whose chunk roots do not fold to its
root is reported as tampered and its chunks are ignored.

Chunk roots. With `chunk_size` C a power of two, chunk j is the leaves [jC, min((j+1)C, n)).
Every full chunk is an aligned complete subtree of the RFC 6962 tree, and the tree's
largest-power-of-two splits above them fall on chunk boundaries, so MTH(D[n]) equals the
RFC 6962 tree built over the chunk roots taken as leaf hashes. 1M events at C = 1024 cost 977
roots (about 64 kB of JSON).

Projection digests (optional, see `projections.digest`): one digest of the fact changes per
chunk of events and one per fact kind; like the chunk roots they are not signed but
authenticated, by folding to `projection_digest` (`projection_root`), which is signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import struct
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from ledger.errors import NotFoundError, ValidationError
from ledger.integrity.keys import (
    generate_signing_key,
    key_id,
    load_public_key,
    load_signing_key,
    public_key_path,
)
from ledger.integrity.leaves import Record, record_leaf_hash
from ledger.integrity.merkle import EMPTY_ROOT, HASH_SIZE, MerkleAccumulator

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "Checkpoint",
    "CheckpointBuilder",
    "build_checkpoint",
    "generate_signing_key",
    "key_id",
    "load_public_key",
    "load_signing_key",
    "projection_root",
    "public_key_path",
    "read_leaf_manifest",
    "sign_checkpoint",
    "verify_checkpoint_signature",
    "write_leaf_manifest",
]

DEFAULT_CHUNK_SIZE = 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
_PAYLOAD_HEADER = "permission-ledger checkpoint v1"
_PAYLOAD_HEADER_V2 = "permission-ledger checkpoint v2"
_KIND = re.compile(r"[a-z_]{1,32}")
_PROJECTION_HEAD = b"pl-projection v1\n"


def projection_root(chunk_digests: Sequence[bytes], kinds: dict[str, str]) -> str:
    """The projection digest (hex): SHA-256 of a header, the RFC 6962 root of the chunk digests
    (as leaf hashes, hex) and one `<kind> <hex>` line per fact kind, sorted by kind."""
    acc = MerkleAccumulator()
    acc.extend(chunk_digests)
    body = _PROJECTION_HEAD + acc.root().hex().encode() + b"\n"
    body += b"".join(f"{kind} {digest}\n".encode() for kind, digest in sorted(kinds.items()))
    return hashlib.sha256(body).hexdigest()


class Checkpoint(BaseModel):
    """A signed-or-not statement: "the first `tree_size` events have Merkle root `root_hash`"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tree_size: int = Field(ge=0)
    root_hash: str
    last_position: int | None
    created_at: str
    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunk_roots: tuple[str, ...] = ()
    key_id: str | None = None
    signature: str | None = None
    projection_digest: str | None = None
    projection_chunks: tuple[str, ...] = ()
    projection_kinds: dict[str, str] = Field(default_factory=dict)

    @field_validator("root_hash")
    @classmethod
    def _hex_root(cls, value: str) -> str:
        if not _HEX64.fullmatch(value):
            raise ValueError("root_hash must be 64 lowercase hex digits")
        return value

    @field_validator("chunk_roots", "projection_chunks")
    @classmethod
    def _hex_chunks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not all(_HEX64.fullmatch(h) for h in value):
            raise ValueError("chunk digests must be 64 lowercase hex digits each")
        return value

    @field_validator("projection_digest")
    @classmethod
    def _hex_digest(cls, value: str | None) -> str | None:
        if value is not None and not _HEX64.fullmatch(value):
            raise ValueError("projection_digest must be 64 lowercase hex digits")
        return value

    @field_validator("projection_kinds")
    @classmethod
    def _kinds(cls, value: dict[str, str]) -> dict[str, str]:
        if not all(_KIND.fullmatch(k) and _HEX64.fullmatch(h) for k, h in value.items()):
            raise ValueError("projection_kinds maps fact kinds (a-z, _) to 64 lowercase hex digits")
        return value

    @field_validator("created_at")
    @classmethod
    def _iso_time(cls, value: str) -> str:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("created_at must be an ISO-8601 date-time") from None
        if "\n" in value or "\r" in value:
            raise ValueError("created_at must be one line")
        return value

    @field_validator("chunk_size")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value < 1 or value & (value - 1):
            raise ValueError("chunk_size must be a power of two")
        return value

    @field_validator("signature")
    @classmethod
    def _base64(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                base64.b64decode(value, validate=True)
            except binascii.Error:
                raise ValueError("signature must be base64") from None
        return value

    @model_validator(mode="after")
    def _shape(self) -> Checkpoint:
        if (self.tree_size == 0) != (self.last_position is None):
            raise ValueError("last_position is null exactly when tree_size is 0")
        if self.tree_size == 0 and self.root_hash != EMPTY_ROOT.hex():
            raise ValueError("an empty tree's root is SHA-256 of the empty string")
        if self.chunk_roots and len(self.chunk_roots) != -(-self.tree_size // self.chunk_size):
            raise ValueError("chunk_roots must hold one root per chunk of chunk_size leaves")
        if self.key_id is not None and ("\n" in self.key_id or not self.key_id):
            raise ValueError("key_id must be a non-empty single line")
        if self.projection_chunks and len(self.projection_chunks) != -(-self.tree_size // self.chunk_size):
            raise ValueError("projection_chunks must hold one digest per chunk of chunk_size events")
        if (self.projection_chunks or self.projection_kinds) and self.projection_digest is None:
            raise ValueError("projection chunks and kinds need their projection_digest")
        return self

    @property
    def root(self) -> bytes:
        """`root_hash` as 32 bytes."""
        return bytes.fromhex(self.root_hash)

    def chunk_root_bytes(self) -> list[bytes]:
        """The chunk roots as 32-byte hashes (empty when the checkpoint carries none)."""
        return [bytes.fromhex(h) for h in self.chunk_roots]

    def chunks_authenticated(self) -> bool:
        """True iff the checkpoint has chunk roots and they fold to `root_hash`."""
        if not self.chunk_roots:
            return False
        acc = MerkleAccumulator()
        acc.extend(self.chunk_root_bytes())
        return acc.root() == self.root

    def projection_authenticated(self) -> bool:
        """True iff the checkpoint carries projection digests and they fold to its digest."""
        if self.projection_digest is None or (not self.projection_chunks and self.tree_size):
            return False
        chunks = [bytes.fromhex(h) for h in self.projection_chunks]
        return projection_root(chunks, self.projection_kinds) == self.projection_digest

    def signing_payload(self) -> bytes:
        """The canonical bytes the signature covers (see the module docstring)."""
        last = "none" if self.last_position is None else str(self.last_position)
        header = _PAYLOAD_HEADER if self.projection_digest is None else _PAYLOAD_HEADER_V2
        tail = "" if self.projection_digest is None else f"projection_digest {self.projection_digest}\n"
        return (
            f"{header}\n"
            f"tree_size {self.tree_size}\n"
            f"root_hash {self.root_hash}\n"
            f"last_position {last}\n"
            f"created_at {self.created_at}\n"
            f"{tail}"
        ).encode()

    def to_json(self) -> str:
        """The checkpoint as a JSON document (what a user keeps out of band)."""
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> Checkpoint:
        """Parse `to_json` output; a malformed document raises `ValidationError`."""
        try:
            return cls.model_validate_json(text)
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "checkpoint"
            raise ValidationError(f"malformed checkpoint: {where}: {first['msg']}") from None


# -- keys and signatures ---------------------------------------------------------------------------


def sign_checkpoint(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> Checkpoint:
    """A copy of `checkpoint` carrying `key`'s id and Ed25519 signature over its payload."""
    signature = key.sign(checkpoint.signing_payload())
    return checkpoint.model_copy(
        update={
            "key_id": key_id(key.public_key()),
            "signature": base64.b64encode(signature).decode("ascii"),
        }
    )


def verify_checkpoint_signature(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    """True iff the checkpoint is signed and the signature verifies under `public_key`."""
    if checkpoint.signature is None:
        return False
    if checkpoint.key_id is not None and checkpoint.key_id != key_id(public_key):
        return False
    try:
        public_key.verify(base64.b64decode(checkpoint.signature), checkpoint.signing_payload())
    except InvalidSignature:
        return False
    return True


# -- building checkpoints ---------------------------------------------------------------------------


class CheckpointBuilder:
    """Streams records (in position order) into a checkpoint, one pass, O(log n) memory.

    With `keep_leaf_hashes=True` it also keeps the concatenated leaf hashes (32 bytes per event)
    for a leaf manifest, which lets `verify_log` name the exact first tampered event later.
    """

    def __init__(
        self, chunk_size: int = DEFAULT_CHUNK_SIZE, *, keep_leaf_hashes: bool = False
    ) -> None:
        if chunk_size < 1 or chunk_size & (chunk_size - 1):
            raise ValidationError("chunk_size must be a power of two")
        self._chunk_size = chunk_size
        self._chunk = MerkleAccumulator()
        self._chunk_roots: list[bytes] = []
        self._leaves: bytearray | None = bytearray() if keep_leaf_hashes else None
        self._size = 0
        self._last_position: int | None = None

    @property
    def size(self) -> int:
        """How many records were added."""
        return self._size

    @property
    def leaf_hashes(self) -> bytes:
        """The concatenated leaf hashes (only when built with `keep_leaf_hashes=True`)."""
        if self._leaves is None:
            raise ValidationError("this builder was not asked to keep leaf hashes")
        return bytes(self._leaves)

    def add(self, record: Record) -> None:
        """Add the next record; positions must strictly increase."""
        position = record[0]
        if self._last_position is not None and position <= self._last_position:
            raise ValidationError(
                f"position {position} does not follow {self._last_position}: records must be "
                "given in strictly increasing position order",
                position=position,
            )
        self.add_leaf_hash(record_leaf_hash(*record), position)

    def add_leaf_hash(self, leaf_hash: bytes, position: int) -> None:
        """Add an already computed leaf hash (e.g. from a stored hash column)."""
        self._chunk.append(leaf_hash)
        if self._leaves is not None:
            self._leaves += leaf_hash
        self._size += 1
        self._last_position = position
        if self._chunk.size == self._chunk_size:
            self._chunk_roots.append(self._chunk.root())
            self._chunk = MerkleAccumulator()

    def extend(self, records: Iterable[Record]) -> None:
        """Add every record of `records`, in order."""
        for record in records:
            self.add(record)

    def checkpoint(
        self,
        created_at: str,
        signing_key: Ed25519PrivateKey | None = None,
        projection: tuple[tuple[str, ...], dict[str, str], str] | None = None,
    ) -> Checkpoint:
        """The checkpoint of everything added so far (signed when a key is given), vouching for
        the projection too when given its (chunk digests, kind digests, digest)."""
        roots = list(self._chunk_roots)
        if self._chunk.size:
            roots.append(self._chunk.root())
        acc = MerkleAccumulator()
        acc.extend(roots)
        cp = Checkpoint(
            tree_size=self._size,
            root_hash=acc.root().hex(),
            last_position=self._last_position,
            created_at=created_at,
            chunk_size=self._chunk_size,
            chunk_roots=tuple(r.hex() for r in roots),
        )
        if projection is not None:
            chunks, kinds, digest = projection
            cp = Checkpoint.model_validate({**cp.model_dump(), "projection_chunks": chunks,
                                            "projection_kinds": dict(kinds), "projection_digest": digest})
        return sign_checkpoint(cp, signing_key) if signing_key is not None else cp


def build_checkpoint(
    records: Iterable[Record],
    created_at: str,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    signing_key: Ed25519PrivateKey | None = None,
) -> Checkpoint:
    """The checkpoint of `records` (an iterator in position order), optionally signed."""
    builder = CheckpointBuilder(chunk_size)
    builder.extend(records)
    return builder.checkpoint(created_at, signing_key)


# -- leaf manifests ---------------------------------------------------------------------------------

_MANIFEST_MAGIC = b"PLLEAVES1\n"
_COUNT = struct.Struct(">Q")


def write_leaf_manifest(path: str | os.PathLike[str], leaf_hashes: bytes) -> None:
    """Write concatenated 32-byte leaf hashes to `path` (magic, count, hashes)."""
    if len(leaf_hashes) % HASH_SIZE:
        raise ValidationError("leaf hashes must be a whole number of 32-byte hashes")
    Path(path).write_bytes(
        _MANIFEST_MAGIC + _COUNT.pack(len(leaf_hashes) // HASH_SIZE) + leaf_hashes
    )


def read_leaf_manifest(path: str | os.PathLike[str]) -> bytes:
    """The concatenated leaf hashes of the manifest at `path`; untrusted until `verify_log`
    finds that they reproduce a checkpoint's root."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"leaf manifest {path} does not exist") from None
    head = len(_MANIFEST_MAGIC) + _COUNT.size
    if not data.startswith(_MANIFEST_MAGIC) or len(data) < head:
        raise ValidationError(f"{path} is not a leaf manifest")
    (count,) = _COUNT.unpack_from(data, len(_MANIFEST_MAGIC))
    body = data[head:]
    if len(body) != count * HASH_SIZE:
        raise ValidationError(f"leaf manifest {path} is truncated or padded")
    return body

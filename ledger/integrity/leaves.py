"""The canonical bytes of one stored event record, and its Merkle leaf hash.

Pure and stable: the encoding must never change meaning without a new format byte, because every
checkpoint ever issued commits to it; it must never depend on a store, a clock or a decoder.

Layout (big-endian, version 1)::

    0x01                      format byte
    int64   position          global notification id (gaps allowed, order is the tree's order)
    0x01 ‖ 16 bytes           originator id as a UUID            (or, for a non-UUID str id:
                              0x02 ‖ uint32 length ‖ UTF-8 bytes)
    int64   originator_version
    uint32  length of topic   ‖ uint64 length of state
    topic (UTF-8) ‖ state

Every variable-length field is length-prefixed and every other field has a fixed width, so the
encoding is injective: editing any field, moving an event to another position or another
stream, or splitting bytes between topic and state always yields different bytes. A `str`
originator id that parses as a UUID is encoded as that UUID, so a store that hands back ids
as text (SQLite read directly) and one that hands back `UUID` objects agree.
"""

from __future__ import annotations

import hashlib
import struct
from typing import TypeAlias
from uuid import UUID

from ledger.errors import ValidationError

__all__ = ["FORMAT_VERSION", "Record", "encode_record", "record_leaf_hash"]

FORMAT_VERSION = 1

Record: TypeAlias = tuple[int, UUID | str, int, str, bytes]
"""One stored event as the store yields it: (position, originator_id, version, topic, state)."""

_UUID_HEAD = struct.Struct(">BqB16sqIQ")
_STR_ID_HEAD = struct.Struct(">BqBI")
_TAIL_HEAD = struct.Struct(">qIQ")
_sha256 = hashlib.sha256


def _uuid_bytes(originator_id: UUID | str | bytes) -> bytes | None:
    if isinstance(originator_id, UUID):
        return originator_id.bytes
    if isinstance(originator_id, str):
        # SQLite keeps ids as 32 hex digits: for exactly those, bytes.fromhex gives UUID's bytes
        # several times faster (alphanumerics only, so no whitespace it would skip).
        if len(originator_id) == 32 and originator_id.isascii() and originator_id.isalnum():
            try:
                return bytes.fromhex(originator_id)
            except ValueError:
                return None
        try:
            return UUID(originator_id).bytes
        except ValueError:
            return None
    if isinstance(originator_id, bytes | bytearray) and len(originator_id) == 16:
        return bytes(originator_id)
    raise ValidationError(f"originator id {originator_id!r} is neither a UUID nor a string")


def encode_record(
    position: int,
    originator_id: UUID | str,
    originator_version: int,
    topic: str,
    state: bytes,
) -> bytes:
    """The canonical, unambiguous bytes of one stored event (the Merkle leaf's data)."""
    try:
        topic_b = topic.encode("utf-8")
        if not isinstance(state, bytes):
            state = bytes(state)  # memoryview from psycopg, bytearray
        raw_id = _uuid_bytes(originator_id)
        if raw_id is not None:
            head = _UUID_HEAD.pack(
                FORMAT_VERSION, position, 1, raw_id, originator_version, len(topic_b), len(state)
            )
            return head + topic_b + state
        id_b = str(originator_id).encode("utf-8")
        return b"".join(
            (
                _STR_ID_HEAD.pack(FORMAT_VERSION, position, 2, len(id_b)),
                id_b,
                _TAIL_HEAD.pack(originator_version, len(topic_b), len(state)),
                topic_b,
                state,
            )
        )
    except (struct.error, AttributeError, TypeError, UnicodeError) as exc:
        raise ValidationError(
            f"event record at position {position!r} cannot be encoded: {exc}", position=position
        ) from None


def record_leaf_hash(
    position: int,
    originator_id: UUID | str,
    originator_version: int,
    topic: str,
    state: bytes,
) -> bytes:
    """SHA-256(0x00 ‖ encode_record(...)): the RFC 6962 leaf hash of one stored event."""
    return _sha256(
        b"\x00" + encode_record(position, originator_id, originator_version, topic, state)
    ).digest()

"""The canonical leaf encoding of stored event records is stable and unambiguous."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import ValidationError
from ledger.integrity.leaves import encode_record, record_leaf_hash
from ledger.integrity.merkle import leaf_hash

STREAM = uuid.UUID("6f0a8c2e-1b7d-4c3e-9a51-2d7f0e4b8c19")

records = st.tuples(
    st.integers(min_value=0, max_value=2**63 - 1),
    st.uuids(),
    st.integers(min_value=0, max_value=2**63 - 1),
    st.text(max_size=20),
    st.binary(max_size=40),
)


class TestEncoding:
    """The byte layout is fixed and every field matters."""

    def test_known_encoding(self) -> None:
        """A fixed record encodes to the documented version-1 layout."""
        expected = (
            b"\x01"
            + (5).to_bytes(8, "big")
            + b"\x01"
            + STREAM.bytes
            + (2).to_bytes(8, "big")
            + (3).to_bytes(4, "big")
            + (2).to_bytes(8, "big")
            + b"t.X"
            + b"{}"
        )
        assert expected == encode_record(5, STREAM, 2, "t.X", b"{}")

    def test_leaf_hash_is_rfc6962_leaf_of_encoding(self) -> None:
        """The leaf hash is SHA-256(0x00 || encoding)."""
        assert leaf_hash(encode_record(5, STREAM, 2, "t.X", b"{}")) == record_leaf_hash(
            5, STREAM, 2, "t.X", b"{}"
        )

    @given(records, records)
    def test_distinct_records_encode_differently(
        self, a: tuple[int, uuid.UUID, int, str, bytes], b: tuple[int, uuid.UUID, int, str, bytes]
    ) -> None:
        """The encoding is injective: different records never share bytes."""
        if a != b:
            assert encode_record(*a) != encode_record(*b)

    def test_bytes_moved_between_topic_and_state_change_the_leaf(self) -> None:
        """Shifting a byte from the topic into the state is detected."""
        assert record_leaf_hash(1, STREAM, 1, "ab", b"c") != record_leaf_hash(
            1, STREAM, 1, "a", b"bc"
        )

    def test_moved_position_changes_the_leaf(self) -> None:
        """The same event at another position has another leaf."""
        assert record_leaf_hash(1, STREAM, 1, "t", b"s") != record_leaf_hash(
            2, STREAM, 1, "t", b"s"
        )


class TestOriginatorIds:
    """UUIDs given as objects, text or raw bytes encode alike; other strings stay distinct."""

    def test_uuid_text_and_object_agree(self) -> None:
        """A store that returns ids as text yields the same leaf as one returning UUIDs."""
        assert encode_record(1, STREAM, 1, "t", b"") == encode_record(1, str(STREAM), 1, "t", b"")

    @given(st.uuids(), st.sampled_from([str, lambda u: u.hex, lambda u: u.hex.upper(), lambda u: f"{{{u}}}"]))
    def test_every_text_form_of_a_uuid_agrees_with_the_uuid(self, stream: uuid.UUID, form: object) -> None:
        """Hyphenated, 32 hex digits (SQLite's form, either case) or braced: the UUID's leaf."""
        text = form(stream)  # type: ignore[operator]
        assert encode_record(1, stream, 1, "t", b"") == encode_record(1, text, 1, "t", b"")

    @pytest.mark.parametrize("text", ["g" * 32, "0123456789abcdef0123456789abcdeZ", "a" * 31 + "-"])
    def test_thirty_two_characters_that_are_not_hex_stay_text(self, text: str) -> None:
        """A 32-character id that is not 32 hex digits is encoded as a string id, as before."""
        assert b"\x02" == encode_record(1, text, 1, "t", b"")[9:10]

    def test_non_uuid_string_id_is_encoded_as_text(self) -> None:
        """A non-UUID string id is accepted and differs from any other id."""
        assert encode_record(1, "user-1", 1, "t", b"") != encode_record(1, "user-2", 1, "t", b"")

    def test_memoryview_state_is_accepted(self) -> None:
        """State read as a memoryview (psycopg) encodes like bytes."""
        assert encode_record(1, STREAM, 1, "t", memoryview(b"ab")) == encode_record(  # type: ignore[arg-type]
            1, STREAM, 1, "t", b"ab"
        )


class TestUnencodable:
    """Records that cannot be encoded raise the ledger's ValidationError."""

    @pytest.mark.parametrize(
        "record",
        [
            (2**63, STREAM, 1, "t", b""),
            (1, STREAM, 1, "t", None),
            (1, 42, 1, "t", b""),
            (1, STREAM, 1, None, b""),
        ],
    )
    def test_bad_field_raises(self, record: tuple[object, ...]) -> None:
        """An out-of-range position, a missing state, topic or id raises ValidationError."""
        with pytest.raises(ValidationError):
            encode_record(*record)  # type: ignore[arg-type]

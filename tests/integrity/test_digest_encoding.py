"""The projection digest's bytes are the committed layout's: `json.dumps` of the rows with
`ensure_ascii` and no spaces, whichever encoder produced them (the fast one is a shortcut)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from projections.digest import _json

_VALUES = st.one_of(st.text(), st.text(alphabet=st.characters(max_codepoint=0x7F)), st.integers(), st.none())
_ROWS = st.lists(st.lists(_VALUES, min_size=1, max_size=10).map(tuple), max_size=8)


class TestDigestEncodingIsTheLayout:
    @given(rows=_ROWS)
    def test_rows_encode_to_the_standard_librarys_bytes(self, rows: list[tuple[object, ...]]) -> None:
        """Any rows of text (ASCII, control characters, DEL, non-ASCII, lone surrogates), integers
        of any size and nulls encode to exactly `json.dumps(..., separators=(",", ":"))`."""
        assert json.dumps(rows, separators=(",", ":")).encode("ascii") == _json(rows)

    def test_the_characters_the_fast_encoder_leaves_raw_are_escaped(self) -> None:
        """DEL, non-ASCII and a lone surrogate come out escaped, as the layout has them."""
        rows = [("a\x7fb", "é", "\ud800", "\x01\n", 2**80, None)]
        assert b'[["a\\u007fb","\\u00e9","\\ud800","\\u0001\\n",1208925819614629174706176,null]]' == _json(rows)

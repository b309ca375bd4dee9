"""Whole-document loading (snapshots, Config files) decodes small well-formed files in one msgspec
call and everything else through the capped stream: the value or the error never depends on which."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application.importing import files
from ledger.application.importing.config_items import _json_object
from ledger.errors import ImportFormatError, ImportTooLargeError


def _by_stream(path: Path, monkeypatch: pytest.MonkeyPatch, max_bytes: int | None = None) -> Any:
    """The reference: the same file read with the one-call path switched off."""
    with monkeypatch.context() as patched:
        patched.setattr(files, "WHOLE_DOCUMENT", -1)
        return files.load_json(path, max_bytes)


def _outcome(load: Any) -> tuple[str, Any]:
    try:
        return "value", load()
    except (ImportFormatError, ImportTooLargeError) as error:
        return type(error).__name__, error.message


def _write(path: Path, data: bytes, zipped: bool) -> Path:
    target = path.with_suffix(".json.gz" if zipped else ".json")
    target.write_bytes(gzip.compress(data) if zipped else data)
    return target


EDGE_CASES = {
    "config history": json.dumps({"fileVersion": "1.0", "configurationItems": [
        {"configurationItemVersion": "1.3", "configuration": "{\"a\": 1}", "tags": {}}]}).encode(),
    "byte order mark": b"\xef\xbb\xbf{\"a\": [1, 2.5, null, true]}",
    "NaN and Infinity (json reads them)": b'{"a": NaN, "b": -Infinity}',
    "number beyond a double": b'{"a": 1e400}',
    "big integer": b'{"a": 123456789012345678901234567890}',
    "surrogate pair": b'{"a": "\\ud83d\\ude00"}',
    "lone surrogate": b'{"a": "\\ud800"}',
    "duplicate keys": b'{"a": 1, "a": 2}',
    "trailing data": b'{"a": 1} {"b": 2}',
    "trailing comma": b'{"a": [1,]}',
    "not UTF-8": b'{"a": "\xff"}',
    "control character in a string": b'{"a": "x\x01y"}',
    "nested too deeply": b"[" * 100_000 + b"]" * 100_000,
    "empty": b"",
    "blank": b"  \n ",
}


class TestOneCallDecodeMatchesTheStream:
    @pytest.mark.parametrize("zipped", [False, True], ids=["plain", "gzip"])
    @pytest.mark.parametrize("name", sorted(EDGE_CASES))
    def test_edge_case_gives_the_streams_value_or_error(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        name: str, zipped: bool) -> None:
        """Each edge case loads to the value, or fails with the error, that the stream gives."""
        path = _write(tmp_path / "doc", EDGE_CASES[name], zipped)
        assert _outcome(lambda: _by_stream(path, monkeypatch)) == _outcome(lambda: files.load_json(path))

    def test_a_well_formed_config_file_is_decoded_in_one_call(self, tmp_path: Path) -> None:
        """The fast path is taken for the common case: a well-formed gzipped Config history file."""
        path = _write(tmp_path / "doc", EDGE_CASES["config history"], zipped=True)
        assert json.loads(EDGE_CASES["config history"]) == files._decoded_whole(path, None)

    def test_truncated_gzip_is_the_streams_error(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A cut-off .gz fails as the stream says, never as a half-read document."""
        path = tmp_path / "cut.json.gz"
        path.write_bytes(gzip.compress(json.dumps({"configurationItems": list(range(5000))}).encode())[:200])
        expected = _outcome(lambda: _by_stream(path, monkeypatch))
        assert "ImportFormatError" == expected[0]
        assert expected == _outcome(lambda: files.load_json(path))

    def test_a_file_over_the_cap_is_too_large_either_way(self, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
        """The decompressed-size cap holds for the one-call path too."""
        path = _write(tmp_path / "big", json.dumps({"a": "x" * 5000}).encode(), zipped=True)
        expected = _outcome(lambda: _by_stream(path, monkeypatch, max_bytes=1000))
        assert "ImportTooLargeError" == expected[0]
        assert expected == _outcome(lambda: files.load_json(path, 1000))

    @settings(max_examples=150)
    @given(document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20))
    def test_any_json_document_loads_to_the_same_value(self, tmp_path_factory: pytest.TempPathFactory,
                                                       document: Any) -> None:
        """Arbitrary JSON loads to the same value through either path."""
        path = tmp_path_factory.mktemp("doc") / "doc.json"
        path.write_bytes(json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        one_call = _outcome(lambda: files.load_json(path))
        saved = files.WHOLE_DOCUMENT
        files.WHOLE_DOCUMENT = -1
        try:
            assert _outcome(lambda: files.load_json(path)) == one_call
        finally:
            files.WHOLE_DOCUMENT = saved


def _json_reference(text: str) -> Any:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


class TestConfigurationTextDecoding:
    @pytest.mark.parametrize("text", [*(data.decode("utf-8", "replace") for data in EDGE_CASES.values()),
                                      '{"a": NaN}', '{"a": 1e400}', '{"a": "\\udc00"}', "[1]", "{}", '"x"'])
    def test_edge_cases_decode_as_json_does(self, text: str) -> None:
        """A `configuration` given as JSON text decodes exactly as `json.loads` would (or not at all)."""
        assert repr(_json_reference(text)) == repr(_json_object(text))

    @given(document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20))
    def test_any_json_text_decodes_as_json_does(self, document: Any) -> None:
        """Arbitrary JSON text (Infinity included) decodes to what `json.loads` gives."""
        text = json.dumps({"c": document})
        assert repr(_json_reference(text)) == repr(_json_object(text))

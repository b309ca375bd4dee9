"""Finding and loading import files: CloudTrail `{"Records": [...]}`, bare arrays and JSON Lines,
plain or gzipped, read as record streams and validated; it never writes anything anywhere.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from ledger.application.importing.jsonstream import (
    CHUNK,
    JsonStream,
    has_lone_surrogate,
    max_file_bytes,
    open_stream,
)
from ledger.errors import ImportFormatError
from ledger.timeaxis import parse_iso_or_none

SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz")


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Files named on the command line (whatever their suffix) and, under directories, every
    `.json`/`.json.gz`/`.jsonl(.gz)` file, recursively, in a stable (sorted) order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)))
        else:
            found.append(path)
    return list(dict.fromkeys(found))


# A document up to this size (decompressed) is decoded in one msgspec call: its bytes are small
# beside the objects decoded from them. Larger ones, and every malformed one, take the stream.
WHOLE_DOCUMENT = 64 << 20
_BOM = b"\xef\xbb\xbf"
_decode = msgspec.json.Decoder().decode
_NOT_DECODED = object()


def _decoded_whole(path: Path, max_bytes: int | None) -> Any:
    """The document decoded in one call, or `_NOT_DECODED` when the stream must read it: too
    large, unreadable, or anything msgspec refuses. msgspec refuses everything `json` would
    refuse and also NaN, Infinity, out-of-range numbers and lone surrogate escapes; the stream
    then gives the same value or the same error as before, so only the speed differs."""
    limit = min(max_file_bytes(max_bytes), WHOLE_DOCUMENT)
    handle, stream = open_stream(path, max_bytes)
    with handle:
        try:
            data = stream.raw.read(limit + 1)
        except (OSError, EOFError, zlib.error):
            return _NOT_DECODED
    if len(data) > limit:
        return _NOT_DECODED
    try:
        return _decode(data[3:] if data.startswith(_BOM) else data)
    except (msgspec.DecodeError, RecursionError):
        return _NOT_DECODED


def load_json(path: Path, max_bytes: int | None = None) -> Any:
    """A whole JSON document (snapshots, Config files), decoded in one call when it is small and
    well-formed, otherwise read through the capped stream (which names what is wrong and where)."""
    document = _decoded_whole(path, max_bytes)
    if document is not _NOT_DECODED:
        return document
    handle, stream = open_stream(path, max_bytes)
    with handle:
        document, odd = stream.value()
        if odd and has_lone_surrogate(document):
            raise stream.fail("holds text that is not Unicode (an unpaired surrogate escape such as \\ud800)")
        if stream.skip_blank() is not None:
            line, column = stream.where(stream.pos)
            raise stream.fail(f"invalid JSON: Extra data at line {line} column {column}")
    return document


def load_records(path: Path, max_bytes: int | None = None) -> list[dict[str, Any]]:
    """Every CloudTrail record of one file, validated; raises `ImportFormatError` naming the
    reason if any part of the file is malformed (so nothing of a bad file is ever written).
    The file is read as a stream of records: its text is never held whole, and its
    decompressed size is capped (`ImportTooLargeError`)."""
    handle, stream = open_stream(path, max_bytes)
    records: list[dict[str, Any]] = []
    with handle:
        for number, (record, odd) in enumerate(_stream_records(stream), 1):
            _check_record(record, number, path, odd)
            records.append(record)
    return records


def _stream_records(stream: JsonStream) -> Iterator[tuple[Any, bool]]:
    """(record, whether its text held a surrogate escape) for `{"Records": [...]}`, a bare
    array of records, one record object, or JSON Lines of any of these."""
    first = stream.skip_blank()
    if first is None:
        return
    if first == "[":
        yield from stream.elements()
    elif first == "{":
        yield from _object_records(stream)
    else:
        value, _ = stream.value()
        _records_of(value, stream.path)
    while True:  # JSON Lines: each further value on a line of its own
        line = stream.where(stream.pos)[0]
        if stream.skip_blank() is None:
            return
        if stream.where(stream.pos)[0] == line:
            line, column = stream.where(stream.pos)
            raise stream.fail(f"invalid JSON: Extra data at line {line} column {column}")
        value, odd = stream.value()
        stream.compact(CHUNK)
        yield from ((record, odd) for record in _records_of(value, stream.path))


def _object_records(stream: JsonStream) -> Iterator[tuple[Any, bool]]:
    """The records of an object value: its "Records" array streamed element by element, or the
    object itself when it is one record."""
    stream.expect("{", "'{'")
    members: dict[str, Any] = {}
    odd = streamed = False
    if stream.skip_blank() == "}":
        stream.pos += 1
    else:
        while True:
            if stream.skip_blank() != '"':
                line, column = stream.where(stream.pos)
                raise stream.fail(f"invalid JSON: Expecting property name enclosed in double quotes "
                                  f"at line {line} column {column}")
            key, key_odd = stream.value()
            stream.expect(":", "':' delimiter")
            if key == "Records" and stream.skip_blank() == "[":
                streamed = True
                yield from stream.elements()
            else:
                members[key], value_odd = stream.value()
                odd = odd or key_odd or value_odd
            following = stream.skip_blank()
            stream.pos += 1
            if following == "}":
                break
            if following != ",":
                line, column = stream.where(stream.pos - 1)
                raise stream.fail(f"invalid JSON: Expecting ',' delimiter at line {line} column {column}")
    if not streamed:
        yield from ((record, odd) for record in _records_of(members, stream.path))


def _records_of(document: Any, path: Path) -> list[dict[str, Any]]:
    if isinstance(document, dict) and "Records" in document:
        document = document["Records"]
        if not isinstance(document, list):
            raise ImportFormatError('"Records" is not a list', path=str(path))
    elif isinstance(document, dict) and "eventName" in document:
        document = [document]
    if not isinstance(document, list):
        raise ImportFormatError(
            'wrong shape: expected {"Records": [...]}, a JSON array of records, or JSON Lines',
            path=str(path),
        )
    return document


def _check_record(record: Any, number: int, path: Path, surrogate_escapes: bool = False) -> None:
    if not isinstance(record, dict):
        raise ImportFormatError(f"record {number} is not a JSON object", path=str(path))
    if surrogate_escapes and has_lone_surrogate(record):
        # Not Unicode text: it could never be stored, so the file is rejected before anything is.
        raise ImportFormatError(f"record {number} holds text that is not Unicode (an unpaired surrogate "
                                f"escape such as \\ud800)", path=str(path))
    for key in ("eventTime", "eventName", "eventSource"):
        if not isinstance(record.get(key), str) or not record[key]:
            raise ImportFormatError(f"record {number} has no {key}", path=str(path))
    when = parse_iso_or_none(record["eventTime"])
    if when is None:
        raise ImportFormatError(f"record {number} has an invalid eventTime {record['eventTime'][:40]!r}",
                                path=str(path))
    record["_at"] = when
    if not isinstance(record.get("eventID"), str) or not record["eventID"]:
        # Deterministic, so a re-import of the same record is still recognised as a duplicate.
        canonical = json.dumps({k: v for k, v in record.items() if k != "_at"}, sort_keys=True, default=str)
        record["eventID"] = "sha256-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
    for key in ("userIdentity", "requestParameters", "responseElements"):
        if record.get(key) is not None and not isinstance(record[key], dict):
            raise ImportFormatError(f"record {number}: {key} is not an object", path=str(path))

"""Finding and loading import files: CloudTrail `{"Records": [...]}`, bare arrays and JSON Lines,
plain or gzipped. Reads whole files and validates them; it never writes anything anywhere.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ledger.errors import ImportFormatError
from ledger.timeaxis import parse_iso_or_none

SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz")
_GZIP_MAGIC = b"\x1f\x8b"


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


def read_text(path: Path) -> str:
    """The decoded text of a file, gunzipped when it is gzip (by magic bytes, not by name)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImportFormatError(f"cannot read: {error.strerror or error}", path=str(path)) from None
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise ImportFormatError(f"corrupt or truncated gzip: {error}", path=str(path)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFormatError(f"not UTF-8 text: {error.reason} at byte {error.start}", path=str(path)) from None


def _loads(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise ImportFormatError("JSON nested too deeply to be an AWS export", path=str(path)) from None


def load_json(path: Path) -> Any:
    """A whole JSON document (snapshots)."""
    text = read_text(path)
    try:
        return _loads(text, path)
    except json.JSONDecodeError as error:
        raise ImportFormatError(
            f"invalid JSON: {error.msg} at line {error.lineno} column {error.colno}", path=str(path)
        ) from None


def load_records(path: Path) -> list[dict[str, Any]]:
    """Every CloudTrail record of one file, validated; raises `ImportFormatError` naming the
    reason if any part of the file is malformed (so nothing of a bad file is ever written)."""
    text = read_text(path)
    stripped = text.strip()
    if not stripped:
        return []
    try:
        records = _records_of(_loads(stripped, path), path)
    except json.JSONDecodeError as whole_error:
        records = _json_lines(stripped, path, whole_error)
    for number, record in enumerate(records, 1):
        _check_record(record, number, path)
    return records


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


def _json_lines(text: str, path: Path, whole_error: json.JSONDecodeError) -> list[dict[str, Any]]:
    lines = text.splitlines()
    if len(lines) < 2:
        raise ImportFormatError(
            f"invalid JSON: {whole_error.msg} at line {whole_error.lineno} column {whole_error.colno}",
            path=str(path),
        )
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = _loads(line, path)
        except json.JSONDecodeError as error:
            raise ImportFormatError(
                f"invalid JSON on line {number}: {error.msg} at column {error.colno}", path=str(path)
            ) from None
        records.extend(_records_of(value, path))
    return records


def _check_record(record: Any, number: int, path: Path) -> None:
    if not isinstance(record, dict):
        raise ImportFormatError(f"record {number} is not a JSON object", path=str(path))
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

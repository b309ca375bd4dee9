"""Reads an import file as a stream of JSON values: gunzipped by magic bytes, decoded as UTF-8
incrementally, with the decompressed size capped, holding one value's text at a time.

It never holds a whole file's text and never writes; every malformation is an `ImportFormatError`.
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

from ledger.errors import ImportFormatError, ImportTooLargeError

# Decompressed bytes one import file may hold; a larger file is rejected with ImportTooLargeError.
# CloudTrail delivers a file about every five minutes per region, rarely over a few tens of MB.
# Override with the LEDGER_IMPORT_MAX_FILE_BYTES environment variable or `max_bytes=`.
DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_FILE_BYTES_ENV = "LEDGER_IMPORT_MAX_FILE_BYTES"
CHUNK = 1 << 20
# Arrays shorter than this (in characters) are decoded whole: most CloudTrail files are.
WHOLE_ARRAY = 8 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_NOT_BLANK = re.compile(r"[^ \t\n\r]")
# A \uD800-\uDFFF escape: only then can a decoded string hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_scan = json.JSONDecoder().raw_decode


def max_file_bytes(configured: int | None = None) -> int:
    """The cap in force: `configured`, else the environment variable, else the default."""
    if configured is not None:
        return configured
    raw = os.environ.get(MAX_FILE_BYTES_ENV, "")
    return int(raw) if raw.isascii() and raw.isdigit() else DEFAULT_MAX_FILE_BYTES


class JsonStream:
    """The decoded text of one file, read chunk by chunk, and the JSON values in it."""

    def __init__(self, path: Path, raw: IO[bytes], limit: int) -> None:
        self.path = path
        self.raw = raw
        self.limit = limit
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.bytes_in = 0
        self.lines_before = 0  # newlines in text already dropped from `buf`
        self.column_base = 0  # characters after the last dropped newline

    def fail(self, reason: str) -> ImportFormatError:
        return ImportFormatError(reason, path=str(self.path))

    # -- reading --------------------------------------------------------------------------

    def _read(self, size: int) -> bytes:
        try:
            data = self.raw.read(size)
        except (OSError, EOFError, zlib.error) as error:
            raise self.fail(f"corrupt or truncated gzip: {error}") from None
        self.bytes_in += len(data)
        if self.bytes_in > self.limit:
            raise ImportTooLargeError(
                f"holds more than {self.limit:,} bytes (decompressed); raise the limit with "
                f"{MAX_FILE_BYTES_ENV} if the file is genuine",
                path=str(self.path), limit=self.limit,
            )
        return data

    def fill(self, at_least: int = CHUNK) -> bool:
        """Append at least `at_least` more characters' worth of bytes; False at the end."""
        if self.eof:
            return False
        data = self._read(max(at_least, CHUNK))
        pending = len(self.decoder.getstate()[0])
        try:
            text = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            offset = self.bytes_in - len(data) - pending + error.start
            raise self.fail(f"not UTF-8 text: {error.reason} at byte {offset}") from None
        if not data:
            self.eof = True
        self.compact()
        self.buf += text
        return bool(data) or bool(text)

    def compact(self, beyond: int = 0) -> None:
        """Drop the consumed text (once more than `beyond` characters of it), keeping the line
        count for messages."""
        if self.pos <= beyond:
            return
        dropped = self.buf[: self.pos]
        newlines = dropped.count("\n")
        if newlines:
            self.lines_before += newlines
            self.column_base = len(dropped) - dropped.rfind("\n") - 1
        else:
            self.column_base += len(dropped)
        self.buf = self.buf[self.pos :]
        self.pos = 0

    def where(self, index: int) -> tuple[int, int]:
        """(line, column), 1-based, of `buf[index]` in the whole file."""
        before = self.buf.count("\n", 0, index)
        if before:
            return self.lines_before + before + 1, index - self.buf.rfind("\n", 0, index)
        return self.lines_before + 1, self.column_base + index + 1

    # -- tokens ---------------------------------------------------------------------------

    def skip_blank(self) -> str | None:
        """The next non-blank character (not consumed), or None at the end of the file."""
        while True:
            found = _NOT_BLANK.search(self.buf, self.pos)
            if found is not None:
                self.pos = found.start()
                return self.buf[self.pos]
            self.pos = len(self.buf)
            if not self.fill():
                return None

    def expect(self, char: str, what: str) -> None:
        if self.skip_blank() != char:
            line, column = self.where(self.pos)
            raise self.fail(f"invalid JSON: Expecting {what} at line {line} column {column}")
        self.pos += 1

    def value(self) -> tuple[Any, bool]:
        """The next JSON value (consumed), and whether its text held a surrogate escape."""
        if self.skip_blank() is None:
            line, column = self.where(self.pos)
            raise self.fail(f"invalid JSON: Expecting value at line {line} column {column}")
        while True:
            try:
                value, end = _scan(self.buf, self.pos)
            except RecursionError:
                raise self.fail("JSON nested too deeply to be an AWS export") from None
            except json.JSONDecodeError as error:
                if not self.eof:  # maybe only cut off by the chunk: read as much again, retry
                    self.fill(len(self.buf) - self.pos)
                    continue
                line, column = self.where(error.pos)
                raise self.fail(f"invalid JSON: {error.msg} at line {line} column {column}") from None
            if end == len(self.buf) and not self.eof:
                self.fill(len(self.buf) - self.pos)  # a number or literal may go on in the next chunk
                continue
            odd = _SURROGATE_ESCAPE.search(self.buf, self.pos, end) is not None
            self.pos = end
            return value, odd

    def elements(self) -> Iterator[tuple[Any, bool]]:
        """The elements of the array whose `[` is next, each as `value` returns it. An array that
        ends within `WHOLE_ARRAY` characters is decoded in one call (the decoder then shares
        one string per key across records: half the memory); a longer one element by element."""
        self.skip_blank()
        start = self.pos
        while not self.eof and len(self.buf) - start < WHOLE_ARRAY:
            self.fill()
            start = self.pos
        if self.eof:
            try:
                whole, end = _scan(self.buf, start)
            except (json.JSONDecodeError, RecursionError):
                pass  # element by element below, to say exactly where and what is wrong
            else:
                if isinstance(whole, list):
                    odd = _SURROGATE_ESCAPE.search(self.buf, start, end) is not None
                    self.pos = end
                    yield from ((element, odd) for element in whole)
                    return
        self.expect("[", "'['")
        if self.skip_blank() == "]":
            self.pos += 1
            return
        while True:
            yield self.value()
            self.compact(CHUNK)
            following = self.skip_blank()
            self.pos += 1
            if following == "]":
                return
            if following != ",":
                line, column = self.where(self.pos - 1)
                raise self.fail(f"invalid JSON: Expecting ',' delimiter at line {line} column {column}")


def open_stream(path: Path, max_bytes: int | None = None) -> tuple[IO[bytes], JsonStream]:
    """The file opened (gunzipping when it starts with gzip's magic bytes) and its stream."""
    try:
        handle: IO[bytes] = path.open("rb")
    except OSError as error:
        raise ImportFormatError(f"cannot read: {error.strerror or error}", path=str(path)) from None
    try:
        magic = handle.read(2)
        handle.seek(0)
    except OSError as error:
        handle.close()
        raise ImportFormatError(f"cannot read: {error.strerror or error}", path=str(path)) from None
    raw = cast(IO[bytes], gzip.GzipFile(fileobj=handle, mode="rb")) if magic == _GZIP_MAGIC else handle
    return handle, JsonStream(path, raw, max_file_bytes(max_bytes))


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string in `value` (keys included) holds a surrogate not part of a pair."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False

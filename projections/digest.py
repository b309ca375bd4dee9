"""Digests of the projection's fact changes, for checkpoints: one per chunk of log events (the
checkpoint's own chunks) and one per fact kind, folded into one projection digest.

Pure and stable: the byte layout below is committed to by every checkpoint ever issued, so it
must never change meaning; it must never read a store, a clock or a logger.

Why changes and not intervals: the change rows of events up to a checkpoint never change again
(later events only add rows), while the intervals they produce can be closed or re-derived by
later events, including late imports of older history. The facts as derivable at the
checkpoint are a function of exactly these rows, and `verify` checks separately that the
stored intervals are the derivation of the stored changes.

Layout. A change row is the JSON array `[key, kind, subject, ref, op, at, position, seq, cause,
payload]` (payload: the stored JSON text), `json.dumps` with `ensure_ascii` and no spaces.
- chunk j (events [jC, (j+1)C) of the log, C the checkpoint's chunk size):
  SHA-256(b"pl-changes v1\\n" ‖ JSON array of the chunk's rows in (position, seq) order);
- kind k: SHA-256 over each chunk j that has rows of k, in order, of
  b"<j>:" ‖ JSON array of those rows ‖ b"\\n";
- the projection digest: `ledger.integrity.checkpoint.projection_root` of those (it lives with
  the checkpoint, which must authenticate its digests without knowing the fold).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from ledger.integrity.checkpoint import projection_root

__all__ = ["ChangeRow", "ProjectionDigest"]

# key, kind, subject, ref, op, at, position, seq, cause, payload (JSON text)
ChangeRow = tuple[str, str, str, str, str, int, int, int, str, str]

_CHUNK_HEAD = b"pl-changes v1\n"
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_fast = msgspec.json.Encoder().encode


def _json(rows: Sequence[Any]) -> bytes:
    # msgspec writes the very bytes of `json.dumps` (ensure_ascii, no spaces) for rows of str,
    # int and None, except that it leaves non-ASCII and DEL (0x7f) unescaped: any output holding
    # either is encoded again by the standard library, whose bytes the layout is defined by.
    try:
        out = _fast(rows)
    except (TypeError, ValueError, UnicodeError):  # e.g. a lone surrogate: json escapes it
        out = b"\x80"
    if out.isascii() and b"\x7f" not in out:
        return out
    return _dumps(rows).encode("ascii")


class ProjectionDigest:
    """Streams change rows, event by event in log order, into chunk and kind digests."""

    def __init__(self, chunk_size: int) -> None:
        self.chunk_size = chunk_size
        self.chunks: list[bytes] = []
        self._rows: list[ChangeRow] = []
        self._events = 0
        self._kinds: dict[str, Any] = {}

    def add(self, rows: Iterable[ChangeRow]) -> None:
        """The change rows of the next event of the log (none for most events)."""
        self._rows.extend(rows)
        self._events += 1
        if self._events % self.chunk_size == 0:
            self._close_chunk()

    def _close_chunk(self) -> None:
        rows, self._rows = self._rows, []
        j = len(self.chunks)
        self.chunks.append(hashlib.sha256(_CHUNK_HEAD + _json(rows)).digest())
        by_kind: dict[str, list[ChangeRow]] = {}
        for row in rows:
            by_kind.setdefault(row[1], []).append(row)
        for kind, kind_rows in by_kind.items():
            hasher = self._kinds.get(kind)
            if hasher is None:
                hasher = self._kinds[kind] = hashlib.sha256()
            hasher.update(b"%d:" % j + _json(kind_rows) + b"\n")

    @property
    def events(self) -> int:
        return self._events

    def finish(self) -> tuple[tuple[str, ...], dict[str, str], str]:
        """(chunk digests, kind digests, projection digest), all hex, of everything added."""
        if self._events % self.chunk_size or self._rows:
            self._close_chunk()
        kinds = {kind: hasher.hexdigest() for kind, hasher in sorted(self._kinds.items())}
        return tuple(c.hex() for c in self.chunks), kinds, projection_root(self.chunks, kinds)

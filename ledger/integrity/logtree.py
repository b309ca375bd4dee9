"""The Merkle tree of an event log with each leaf's position, built in one streaming pass, and the
RFC 6962 inclusion and consistency proofs drawn from it.

Pure: it takes an iterator of records and returns plain data; it must never read the store, a
clock or a logger. A record that cannot be encoded, or a position out of order, is a `LogIssue`
(a finding), never an exception.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from ledger.errors import LedgerError, ProofError
from ledger.integrity.leaves import Record, encode_record
from ledger.integrity.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion

__all__ = [
    "ConsistencyProof",
    "InclusionProof",
    "LogIssue",
    "LogTree",
    "build_log_tree",
    "prove_consistency",
    "prove_inclusion",
]

# Data starting 0xff can never be an encoded record (format byte 1), so this leaf never matches
# a checkpoint built from real records: an unencodable record always counts as tampered.
_UNENCODABLE_LEAF = leaf_hash(b"\xffunencodable record")
_sha256 = hashlib.sha256


@dataclass(frozen=True)
class LogIssue:
    """A defect of the log on its own: positions out of order, a record that cannot be encoded."""

    ok: bool
    first_bad_position: int | None
    reason: str
    index: int


class LogTree:
    """The Merkle tree of a log plus the position of each leaf, built in one streaming pass."""

    def __init__(self) -> None:
        self.tree = MerkleTree()
        self.positions = array("q")
        self.issues: list[LogIssue] = []

    @property
    def size(self) -> int:
        """Number of events (leaves)."""
        return self.tree.size

    def extend(self, records: Iterable[Record]) -> None:
        """Hash and append `records` (in the store's position order), noting defects."""
        append_leaf = self.tree.append
        positions = self.positions
        append_position = positions.append
        issues = self.issues
        prev: int | None = positions[-1] if positions else None
        index = len(positions)
        for record in records:
            try:
                h = _sha256(b"\x00" + encode_record(*record)).digest()
                position = record[0]
                append_position(position)
            except (LedgerError, ValueError, TypeError, OverflowError, IndexError) as exc:
                bad = record[0] if isinstance(record, tuple) and record else None
                issues.append(
                    LogIssue(
                        ok=False,
                        first_bad_position=bad if isinstance(bad, int) else None,
                        reason=f"event #{index} cannot be encoded: {exc}",
                        index=index,
                    )
                )
                h = _UNENCODABLE_LEAF
                append_position(prev if prev is not None else -1)
            else:
                if prev is not None and position <= prev:
                    issues.append(
                        LogIssue(
                            ok=False,
                            first_bad_position=position,
                            reason=(
                                f"position {position} follows position {prev}: positions must "
                                "strictly increase"
                            ),
                            index=index,
                        )
                    )
                prev = position
            append_leaf(h)
            index += 1

    def index_of(self, position: int) -> int:
        """The leaf index of the event at `position` (positions increase, gaps allowed)."""
        i = bisect_left(self.positions, position)
        if i == len(self.positions) or self.positions[i] != position:
            raise ProofError(f"no event at position {position}", position=position)
        return i

    def position_after(self, index: int) -> int | None:
        """The position of leaf `index`, or the first position after the log when past its end."""
        if index < len(self.positions):
            return self.positions[index]
        return self.positions[-1] + 1 if self.positions else None


def build_log_tree(records: Iterable[Record]) -> LogTree:
    """Stream `records` once into a `LogTree`."""
    log = LogTree()
    log.extend(records)
    return log


@dataclass(frozen=True)
class InclusionProof:
    """RFC 6962 audit path showing the event at `position` is leaf `index` of the tree `root_hash`."""

    position: int
    index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    path: tuple[str, ...]

    def verify(self, root_hash: str | None = None) -> bool:
        """True iff the path leads from the leaf to `root_hash` (default: the one recorded)."""
        return verify_inclusion(
            bytes.fromhex(self.leaf_hash),
            self.index,
            self.tree_size,
            [bytes.fromhex(p) for p in self.path],
            bytes.fromhex(root_hash or self.root_hash),
        )


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 6962 proof that the tree of `old_size` events is a prefix of the one of `new_size`."""

    old_size: int
    new_size: int
    old_root: str
    new_root: str
    path: tuple[str, ...]

    def verify(self) -> bool:
        """True iff the proof links `old_root` to `new_root`."""
        return verify_consistency(
            self.old_size,
            self.new_size,
            bytes.fromhex(self.old_root),
            bytes.fromhex(self.new_root),
            [bytes.fromhex(p) for p in self.path],
        )


def prove_inclusion(
    records: Iterable[Record] | LogTree, position: int, tree_size: int | None = None
) -> InclusionProof:
    """Inclusion proof of the event at `position` in the first `tree_size` events (default all)."""
    log = records if isinstance(records, LogTree) else build_log_tree(records)
    size = log.size if tree_size is None else tree_size
    index = log.index_of(position)
    path = log.tree.inclusion_proof(index, size)
    return InclusionProof(
        position=position,
        index=index,
        tree_size=size,
        leaf_hash=log.tree.leaf_hash(index).hex(),
        root_hash=log.tree.root(size).hex(),
        path=tuple(p.hex() for p in path),
    )


def prove_consistency(
    records: Iterable[Record] | LogTree, old_size: int, new_size: int | None = None
) -> ConsistencyProof:
    """Consistency proof between the trees of the first `old_size` and `new_size` events."""
    log = records if isinstance(records, LogTree) else build_log_tree(records)
    size = log.size if new_size is None else new_size
    path = log.tree.consistency_proof(old_size, size)
    return ConsistencyProof(
        old_size=old_size,
        new_size=size,
        old_root=log.tree.root(old_size).hex(),
        new_root=log.tree.root(size).hex(),
        path=tuple(p.hex() for p in path),
    )

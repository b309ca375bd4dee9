"""Verification of a stored event log against checkpoints, and proofs about it, in one pass.

Pure: it takes an iterator of records and returns plain data; it must never read the store, a
clock or a logger, and never raises on tampering (tampering is a finding, reported, not an error).

Locating the first bad event. A checkpoint root alone only says "something in the first n
events changed". Three sources narrow it down, each sound (never blames an authentic event):

1. Chunk roots (always written by `CheckpointBuilder`): the roots of consecutive aligned chunks
   of `chunk_size` events. They are trusted only if they fold to the checkpoint root, so they
   need no signature of their own. The first chunk whose root differs from the log's holds the
   first bad event; every event before it is proven authentic. Precision: one chunk (default
   1024 events), reported as `suspect_positions` with `exact=False`.
2. A leaf-hash manifest (optional, 32 bytes per event, written at checkpoint time): trusted only
   if its first `tree_size` hashes reproduce the checkpoint root; then the first differing leaf
   is the exact first bad event (`exact=True`).
3. Other checkpoints: a smaller checkpoint that the log reproduces proves its prefix, which
   bounds the search when a checkpoint carries neither chunks nor a manifest.

`first_bad_position` is the position of the first event of the current log that the checkpoint
does not vouch for (the lower end of the suspect range when inexact); when the log simply
ends early it is the position just after the last surviving event. `last_good_position` is the
last event proven authentic.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.errors import LedgerError, ProofError
from ledger.integrity.checkpoint import Checkpoint, verify_checkpoint_signature
from ledger.integrity.leaves import Record, encode_record
from ledger.integrity.merkle import (
    HASH_SIZE,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "CheckpointCheck",
    "ConsistencyCheck",
    "ConsistencyProof",
    "InclusionProof",
    "LogIssue",
    "LogTree",
    "VerificationReport",
    "build_log_tree",
    "prove_consistency",
    "prove_inclusion",
    "verify_log",
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


@dataclass(frozen=True)
class CheckpointCheck:
    """Whether the log's first `tree_size` events reproduce one checkpoint, and where not."""

    ok: bool
    first_bad_position: int | None
    reason: str
    tree_size: int
    root_hash: str
    created_at: str
    root_ok: bool
    last_position_ok: bool
    signature_ok: bool | None
    chunks_ok: bool | None
    first_bad_index: int | None = None
    exact: bool = False
    last_good_position: int | None = None
    suspect_positions: tuple[int, int] | None = None
    suspect_indexes: tuple[int, int] | None = None


@dataclass(frozen=True)
class ConsistencyCheck:
    """Whether an older checkpoint is a prefix of a newer one, proven from the log's leaves."""

    ok: bool
    first_bad_position: int | None
    reason: str
    old_size: int
    new_size: int
    proof: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerificationReport:
    """Everything `verify_log` found; `ok` only if every check passed."""

    ok: bool
    first_bad_position: int | None
    reason: str
    tree_size: int
    root_hash: str
    last_position: int | None
    checkpoints: tuple[CheckpointCheck, ...]
    consistency: tuple[ConsistencyCheck, ...]
    issues: tuple[LogIssue, ...]
    first_bad_index: int | None = None


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


# -- verification ---------------------------------------------------------------------------------


def verify_log(
    records: Iterable[Record],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey | None = None,
    *,
    leaf_manifest: bytes | None = None,
) -> VerificationReport:
    """Check the log (records in position order) against every checkpoint, in one pass.

    With `public_key`, every checkpoint must carry a valid signature by it (an unsigned one
    fails: stripping a signature must not be a way to forge a root). `leaf_manifest` (the
    concatenated leaf hashes saved at checkpoint time) sharpens localisation to one event.
    """
    log = build_log_tree(records)
    manifest = _manifest_tree(leaf_manifest)
    ordered = sorted(checkpoints, key=lambda c: c.tree_size)
    # A checkpoint the log reproduces vouches for its prefix, which bounds the search in others.
    matched = [
        cp.tree_size
        for cp in ordered
        if cp.tree_size <= log.size and log.tree.root(cp.tree_size) == cp.root
    ]
    checks = {
        id(cp): _check_checkpoint(
            log,
            cp,
            public_key,
            manifest,
            max((s for s in matched if s < cp.tree_size), default=0),
        )
        for cp in ordered
    }
    consistency = tuple(
        _check_pair(log, old, new, checks[id(old)], checks[id(new)])
        for old, new in pairwise(ordered)
    )
    checkpoint_checks = tuple(checks[id(cp)] for cp in checkpoints)
    issues = tuple(log.issues)
    return _summarise(log, checkpoint_checks, consistency, issues)


def _manifest_tree(leaf_manifest: bytes | None) -> MerkleTree | None:
    if leaf_manifest is None or len(leaf_manifest) % HASH_SIZE:
        return None
    return MerkleTree.from_concatenated(leaf_manifest)


def _check_checkpoint(
    log: LogTree,
    cp: Checkpoint,
    public_key: Ed25519PublicKey | None,
    manifest: MerkleTree | None,
    proven: int,
) -> CheckpointCheck:
    n = log.size
    problems: list[str] = []
    signature_ok = None if public_key is None else verify_checkpoint_signature(cp, public_key)
    if signature_ok is False:
        problems.append(
            "the checkpoint is not signed"
            if cp.signature is None
            else "the checkpoint's signature does not verify under the given key"
        )
    chunks_ok = cp.chunks_authenticated() if cp.chunk_roots else None
    if chunks_ok is False:
        problems.append("its chunk roots do not fold to its root (the checkpoint was altered)")

    truncated = cp.tree_size > n
    root_ok = not truncated and log.tree.root(cp.tree_size) == cp.root
    last_ok = not truncated and (
        cp.tree_size == 0 or log.positions[cp.tree_size - 1] == cp.last_position
    )
    located: _Location | None = None
    if truncated or not root_ok:
        located = _locate(log, cp, manifest, proven, chunks_ok)
        problems.insert(0, _mismatch_reason(log, cp, truncated, located))
    elif not last_ok:
        problems.append(
            f"the log reproduces its root but event #{cp.tree_size - 1} is at position "
            f"{log.positions[cp.tree_size - 1]}, not {cp.last_position} as recorded "
            "(the checkpoint was altered)"
        )

    ok = not problems
    return CheckpointCheck(
        ok=ok,
        first_bad_position=None if located is None else log.position_after(located.index),
        reason="ok" if ok else "; ".join(problems),
        tree_size=cp.tree_size,
        root_hash=cp.root_hash,
        created_at=cp.created_at,
        root_ok=root_ok,
        last_position_ok=last_ok,
        signature_ok=signature_ok,
        chunks_ok=chunks_ok,
        first_bad_index=None if located is None else located.index,
        exact=located is not None and located.exact,
        last_good_position=(
            None if located is None or located.index == 0 else log.positions[located.index - 1]
        ),
        suspect_positions=None if located is None else located.suspect,
        suspect_indexes=None if located is None else (located.index, located.upper),
    )


@dataclass(frozen=True)
class _Location:
    index: int  # first leaf not vouched for (== log size when only missing events remain)
    exact: bool
    upper: int  # first bad index is in [index, upper]
    suspect: tuple[int, int] | None
    how: str


def _locate(
    log: LogTree, cp: Checkpoint, manifest: MerkleTree | None, proven: int, chunks_ok: bool | None
) -> _Location:
    n = log.size
    limit = min(cp.tree_size, n)
    if (
        manifest is not None
        and manifest.size >= cp.tree_size
        and (manifest.root(cp.tree_size) == cp.root)
    ):
        index = _first_difference(log.tree.leaf_hashes(), manifest.leaf_hashes(), limit)
        return _location(log, index, index, True, "leaf manifest")
    if chunks_ok:
        size = cp.chunk_size
        for j, expected in enumerate(cp.chunk_root_bytes()):
            lo, hi = j * size, min((j + 1) * size, cp.tree_size)
            if lo >= n:
                return _location(log, n, n, True, "chunk roots")
            if hi > n:
                return _location(log, lo, n, False, "chunk roots")
            if log.tree.subtree_root(lo, hi) != expected:
                return _location(log, lo, hi - 1, hi - lo == 1, "chunk roots")
    # Only the proven prefix (from a smaller checkpoint) narrows it down.
    return _location(log, proven, limit, proven == limit, "other checkpoints")


def _location(log: LogTree, lo: int, hi: int, exact: bool, how: str) -> _Location:
    n = log.size
    suspect = None
    if not exact and lo < n:
        suspect = (log.positions[lo], log.positions[min(hi, n - 1)])
    return _Location(lo, exact, hi, suspect, how)


def _first_difference(current: bytes, expected: bytes, limit: int) -> int:
    """The first leaf index below `limit` where the two hash buffers differ, else `limit`."""
    block = 2048 * HASH_SIZE
    stop = limit * HASH_SIZE
    # Compare big blocks in C, then leaves only inside the first differing block.
    for start in range(0, stop, block):
        end = min(start + block, stop)
        if current[start:end] != expected[start:end]:
            for offset in range(start, end, HASH_SIZE):
                if current[offset : offset + HASH_SIZE] != expected[offset : offset + HASH_SIZE]:
                    return offset // HASH_SIZE
    return limit


def _mismatch_reason(log: LogTree, cp: Checkpoint, truncated: bool, at: _Location) -> str:
    n = log.size
    if truncated:
        head = (
            f"the log has only {n} of the {cp.tree_size} events the checkpoint covers "
            f"(up to position {cp.last_position})"
        )
        if at.index >= n and at.exact:
            after = f"after position {log.positions[n - 1]}" if n else "from the start"
            return f"{head}; every surviving event is authentic: the log was truncated {after}"
    else:
        head = f"the log's first {cp.tree_size} events do not reproduce the checkpoint root"
    if at.exact:
        where = f"first bad event #{at.index} at position {log.position_after(at.index)}"
    elif at.suspect is not None:
        where = (
            f"first bad event among #{at.index}..#{min(at.upper, n - 1)} "
            f"(positions {at.suspect[0]}..{at.suspect[1]})"
        )
    else:
        where = f"first bad event at or after #{at.index}"
    return (
        f"{head}; {where}, located by {at.how} (an event was edited, deleted, inserted or "
        "moved there, or the checkpoint comes from a different history)"
    )


def _check_pair(
    log: LogTree,
    old: Checkpoint,
    new: Checkpoint,
    old_check: CheckpointCheck,
    new_check: CheckpointCheck,
) -> ConsistencyCheck:
    def result(ok: bool, reason: str, proof: Sequence[bytes] = ()) -> ConsistencyCheck:
        bad = None if ok else _first_bad(old_check, new_check)
        return ConsistencyCheck(
            ok=ok,
            first_bad_position=bad,
            reason=reason,
            old_size=old.tree_size,
            new_size=new.tree_size,
            proof=tuple(p.hex() for p in proof),
        )

    sizes = f"checkpoints of {old.tree_size} and {new.tree_size} events"
    if old.tree_size == new.tree_size:
        if old.root_hash == new.root_hash:
            return result(True, "ok")
        return result(False, f"two checkpoints of {old.tree_size} events disagree (a fork)")
    if new.tree_size > log.size:
        return result(
            False, f"{sizes}: cannot be checked, the log has only {log.size} events (truncated)"
        )
    proof = log.tree.consistency_proof(old.tree_size, new.tree_size)
    if verify_consistency(old.tree_size, new.tree_size, old.root, new.root, proof):
        return result(True, "ok", proof)
    if new_check.root_ok and not old_check.root_ok:
        reason = (
            f"{sizes}: the older is not a prefix of the newer one as this log proves it: "
            "history was rewritten between them (a fork)"
        )
    elif old_check.root_ok and not new_check.root_ok:
        reason = f"{sizes}: the log matches the older one but no longer extends to the newer one"
    else:
        reason = f"{sizes}: the log reproduces neither, so it cannot prove them consistent"
    return result(False, reason, proof)


def _first_bad(*checks: CheckpointCheck) -> int | None:
    found = [c for c in checks if c.first_bad_index is not None]
    if not found:
        return None
    return min(found, key=lambda c: c.first_bad_index or 0).first_bad_position


def _summarise(
    log: LogTree,
    checks: tuple[CheckpointCheck, ...],
    consistency: tuple[ConsistencyCheck, ...],
    issues: tuple[LogIssue, ...],
) -> VerificationReport:
    n = log.size
    # (lowest, highest possible first bad index, its position, reason, exact from a checkpoint)
    candidates: list[tuple[int, int, int | None, str, bool]] = []
    for c in checks:
        if not c.ok:
            lo, hi = c.suspect_indexes or (n, n)
            reason = f"checkpoint {c.tree_size}: {c.reason}"
            candidates.append((lo, hi, c.first_bad_position, reason, c.exact))
    for issue in issues:
        candidates.append((issue.index, issue.index, issue.first_bad_position, issue.reason, False))
    failed_pairs = [p for p in consistency if not p.ok]
    ok = not candidates and not failed_pairs
    first_index: int | None = None
    first_position: int | None = None
    if ok:
        reason = f"ok: {n} events, consistent with {len(checks)} checkpoint(s)"
    elif candidates:
        lo, hi, first_position, reason, exact = min(candidates, key=lambda c: (c[0], not c[4]))
        first_index = lo
        if not exact:
            # Checkpoints of one history all diverge from the log at the same event, so an
            # exact finding (leaf manifest) inside the earliest suspect range pins it down.
            sharper = [c for c in candidates if c[4] and lo <= c[0] <= hi]
            if sharper:
                first_index, _, first_position, reason, _ = min(sharper)
    else:
        reason = failed_pairs[0].reason
        first_position = failed_pairs[0].first_bad_position
    return VerificationReport(
        ok=ok,
        first_bad_position=first_position,
        reason=reason,
        tree_size=n,
        root_hash=log.tree.root().hex(),
        last_position=log.positions[-1] if n else None,
        checkpoints=checks,
        consistency=consistency,
        issues=issues,
        first_bad_index=first_index,
    )


# -- proofs ---------------------------------------------------------------------------------------


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

"""Locating the first bad event when the log does not reproduce a checkpoint's root.

Pure: it reads a `LogTree`, a checkpoint and optional evidence; it must never read the store, a
clock or a logger, and must never blame an event it cannot prove bad.

A checkpoint root alone only says "something in the first n events changed". Three sources
narrow it down, each sound (never blames an authentic event):

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
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.integrity.checkpoint import Checkpoint
from ledger.integrity.logtree import LogTree
from ledger.integrity.merkle import HASH_SIZE, MerkleTree


@dataclass(frozen=True)
class Location:
    """Where the first event a checkpoint does not vouch for lies, and how that was found."""

    index: int  # first leaf not vouched for (== log size when only missing events remain)
    exact: bool
    upper: int  # first bad index is in [index, upper]
    suspect: tuple[int, int] | None
    how: str


def locate(
    log: LogTree, cp: Checkpoint, manifest: MerkleTree | None, proven: int, chunks_ok: bool | None
) -> Location:
    """The first leaf of `log` that `cp` does not vouch for, as precisely as the evidence allows."""
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


def _location(log: LogTree, lo: int, hi: int, exact: bool, how: str) -> Location:
    n = log.size
    suspect = None
    if not exact and lo < n:
        suspect = (log.positions[lo], log.positions[min(hi, n - 1)])
    return Location(lo, exact, hi, suspect, how)


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


def mismatch_reason(log: LogTree, cp: Checkpoint, truncated: bool, at: Location) -> str:
    """Why the log does not reproduce `cp`, and where the first bad event is, in words."""
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


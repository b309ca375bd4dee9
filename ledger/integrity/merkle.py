"""RFC 6962 Merkle tree hashing, inclusion and consistency proofs, over 32-byte leaf hashes.

Pure arithmetic on bytes: it must never read a store, a clock or a logger, nor know what a leaf means.

Three layers, each checked against the one before it by the tests:

* the module functions (`tree_root`, `inclusion_proof`, `consistency_proof`) follow the recursive
  definitions of RFC 6962 §2.1 literally; they are the reference, fine for small trees;
* `MerkleAccumulator` keeps only the O(log n) stack of complete subtree roots (the "frontier"),
  so a root over a million leaves costs one pass and no memory;
* `MerkleTree` keeps every complete aligned subtree root, level by level, in one `bytearray`
  per level (2n hashes in all: 64 MB for 1M leaves, no per-node Python objects), so roots at any
  earlier size and proofs cost O(log n) lookups after one linear build.

The verifiers (`verify_inclusion`, `verify_consistency`) are the iterative algorithms of
RFC 9162 §2.1.3.2 and §2.1.4.2, which never rebuild a tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from ledger.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleAccumulator",
    "MerkleTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
_sha256 = hashlib.sha256
EMPTY_ROOT: bytes = _sha256(b"").digest()
"""MTH({}) = SHA-256 of the empty string (RFC 6962 §2.1)."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d): the hash of one leaf's bytes."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than `n` (n >= 2): RFC 6962's `k`."""
    return 1 << ((n - 1).bit_length() - 1)


# -- reference: the recursive definitions of RFC 6962 §2.1 ----------------------------------------


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[lo]
    k = _split(n)
    return node_hash(_mth(leaves, lo, lo + k), _mth(leaves, lo + k, hi))


def tree_root(leaf_hashes: Sequence[bytes], tree_size: int | None = None) -> bytes:
    """MTH of the first `tree_size` leaf hashes (all of them by default); recursive reference."""
    size = len(leaf_hashes) if tree_size is None else tree_size
    _check_size(size, len(leaf_hashes))
    return _mth(leaf_hashes, 0, size)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    """PATH(index, D[tree_size]) of RFC 6962 §2.1.1: the audit path, leaf level first."""
    _check_size(tree_size, len(leaf_hashes))
    if not 0 <= index < tree_size:
        raise ProofError(
            f"leaf index {index} is outside a tree of size {tree_size}",
            index=index,
            tree_size=tree_size,
        )
    path: list[bytes] = []
    lo, hi = 0, tree_size
    # Walking down collects siblings root-first; the RFC lists them leaf-first.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(_mth(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            path.append(_mth(leaf_hashes, lo, lo + k))
            lo = lo + k
    path.reverse()
    return path


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 6962 §2.1.2 (the SUBPROOF algorithm).

    Empty when `old_size` is 0 or equal to `new_size`: there is nothing to prove.
    """
    _check_sizes(old_size, new_size, len(leaf_hashes))
    if old_size in (0, new_size):
        return []
    return _subproof(leaf_hashes, old_size, 0, new_size, True)


def _subproof(leaves: Sequence[bytes], m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        # The old tree is this subtree: the verifier knows its hash unless it is only part of it.
        return [] if whole else [_mth(leaves, lo, hi)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves, m, lo, lo + k, whole), _mth(leaves, lo + k, hi)]
    return [*_subproof(leaves, m - k, lo + k, hi, False), _mth(leaves, lo, lo + k)]


def _check_size(tree_size: int, available: int) -> None:
    if not 0 <= tree_size <= available:
        raise ProofError(
            f"tree size {tree_size} is outside 0..{available} known leaves",
            tree_size=tree_size,
            available=available,
        )


def _check_sizes(old_size: int, new_size: int, available: int) -> None:
    _check_size(new_size, available)
    if not 0 <= old_size <= new_size:
        raise ProofError(
            f"old size {old_size} must be between 0 and the new size {new_size}",
            old_size=old_size,
            new_size=new_size,
        )


# -- verification: RFC 9162 §2.1.3.2 and §2.1.4.2 --------------------------------------------------


def _all_hashes(*items: bytes) -> bool:
    return all(isinstance(h, bytes | bytearray) and len(h) == HASH_SIZE for h in items)


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True iff `proof` shows the leaf with hash `leaf_hash` at `index` in the tree `root`."""
    if not 0 <= index < tree_size or not _all_hashes(leaf_hash, root, *proof):
        return False
    fn, sn = index, tree_size - 1
    r = bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            return False  # the path is longer than the tree is deep
        if fn & 1 or fn == sn:
            r = _sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True iff `proof` shows the tree `old_root` of `old_size` leaves is a prefix of `new_root`.

    Stricter than the RFC at the edges: size 0 requires `old_root` to be the empty-tree root
    and an empty proof; equal sizes require equal roots and an empty proof.
    """
    if not 0 <= old_size <= new_size or not _all_hashes(old_root, new_root, *proof):
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is a complete left subtree: SUBPROOF leaves its root out of the proof.
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = bytes(path[0])
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _sha256(b"\x01" + c + fr).digest()
            sr = _sha256(b"\x01" + c + sr).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


# -- incremental builders ------------------------------------------------------------------------


class MerkleAccumulator:
    """Appends leaf hashes one at a time, keeping only the roots of the complete subtrees.

    The stack holds one root per set bit of `size`, largest (leftmost) first; folding it from
    the right gives MTH of everything appended so far. Any sequence of 32-byte hashes works, so
    the same class folds chunk roots into a tree root (see `ledger.integrity.checkpoint`).
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        """How many leaf hashes were appended."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Add the next leaf hash; amortised one interior hash per leaf."""
        n = self._size
        self._size = n + 1
        stack = self._stack
        h = leaf_hash
        # Each trailing 1 bit of the old size is a complete subtree the new leaf now pairs with.
        while n & 1:
            h = _sha256(b"\x01" + stack.pop() + h).digest()
            n >>= 1
        stack.append(h)

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append every hash of `leaf_hashes`, in order."""
        for h in leaf_hashes:
            self.append(h)

    def frontier(self) -> tuple[bytes, ...]:
        """The complete subtree roots, largest first (one per set bit of `size`)."""
        return tuple(self._stack)

    def root(self) -> bytes:
        """MTH of the leaves appended so far (EMPTY_ROOT when none)."""
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        r = stack[-1]
        for left in reversed(stack[:-1]):
            r = _sha256(b"\x01" + left + r).digest()
        return r


class MerkleTree:
    """An append-only tree that keeps every complete, aligned subtree root for fast proofs.

    Level `L` is one `bytearray` holding the roots of the aligned perfect subtrees of 2**L
    leaves, in order (level 0 is the leaf hashes). The roots of incomplete right edges are never
    stored: they are folded from the levels on demand, so any earlier tree size can be served.
    """

    __slots__ = ("_levels", "_size")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        self.extend(leaf_hashes)

    @classmethod
    def from_concatenated(cls, data: bytes | bytearray | memoryview) -> MerkleTree:
        """A tree over a buffer of concatenated 32-byte leaf hashes (e.g. a leaf manifest)."""
        if len(data) % HASH_SIZE:
            raise ProofError("a leaf-hash buffer must be a whole number of 32-byte hashes")
        view = memoryview(data)
        return cls(bytes(view[i : i + HASH_SIZE]) for i in range(0, len(view), HASH_SIZE))

    @property
    def size(self) -> int:
        """How many leaves the tree holds."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Add the next leaf hash; amortised one interior hash per leaf."""
        levels = self._levels
        level = levels[0]
        level += leaf_hash
        n = self._size = self._size + 1
        h = leaf_hash
        depth = 0
        # A new complete pair appears at each level where the count becomes even.
        while not n & 1:
            left = level[-2 * HASH_SIZE : -HASH_SIZE]
            h = _sha256(b"\x01" + left + h).digest()
            depth += 1
            if depth == len(levels):
                levels.append(bytearray())
            level = levels[depth]
            level += h
            n >>= 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append every hash of `leaf_hashes`, in order."""
        for h in leaf_hashes:
            self.append(h)

    def leaf_hash(self, index: int) -> bytes:
        """The hash of leaf `index`."""
        if not 0 <= index < self._size:
            raise ProofError(f"leaf index {index} is outside a tree of size {self._size}")
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def leaf_hashes(self) -> bytes:
        """All leaf hashes, concatenated (the content of a leaf manifest)."""
        return bytes(self._levels[0])

    def _node(self, depth: int, index: int) -> bytes:
        start = index * HASH_SIZE
        return bytes(self._levels[depth][start : start + HASH_SIZE])

    def subtree_root(self, lo: int, hi: int) -> bytes:
        """MTH of the leaves [lo, hi); O(log n) when `lo` is aligned as in RFC 6962 splits."""
        if not 0 <= lo <= hi <= self._size:
            raise ProofError(f"range [{lo}, {hi}) is outside a tree of size {self._size}")
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            return self._node(n.bit_length() - 1, lo // n)
        k = _split(n)
        return node_hash(self.subtree_root(lo, lo + k), self.subtree_root(lo + k, hi))

    def root(self, tree_size: int | None = None) -> bytes:
        """MTH of the first `tree_size` leaves (all of them by default)."""
        size = self._size if tree_size is None else tree_size
        _check_size(size, self._size)
        return self.subtree_root(0, size)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """PATH(index, D[tree_size]), leaf level first; equals `inclusion_proof` above."""
        size = self._size if tree_size is None else tree_size
        _check_size(size, self._size)
        if not 0 <= index < size:
            raise ProofError(
                f"leaf index {index} is outside a tree of size {size}",
                index=index,
                tree_size=size,
            )
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self.subtree_root(lo + k, hi))
                hi = lo + k
            else:
                path.append(self.subtree_root(lo, lo + k))
                lo = lo + k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[new_size]); equals `consistency_proof` above."""
        size = self._size if new_size is None else new_size
        _check_sizes(old_size, size, self._size)
        if old_size in (0, size):
            return []
        proof: list[bytes] = []
        m, lo, hi, whole = old_size, 0, size, True
        while m != hi - lo:
            k = _split(hi - lo)
            if m <= k:
                proof.append(self.subtree_root(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.subtree_root(lo, lo + k))
                m, lo, whole = m - k, lo + k, False
        if not whole:
            proof.append(self.subtree_root(lo, hi))
        proof.reverse()
        return proof

"""Merkle laws over random trees: proofs verify, any flipped bit fails, builders agree."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.integrity.merkle import (
    MerkleAccumulator,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    tree_root,
    verify_consistency,
    verify_inclusion,
)


def _leaves(n: int, salt: int = 0) -> list[bytes]:
    return [hashlib.sha256(b"%d:%d" % (salt, i)).digest() for i in range(n)]


def _flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    size = draw(st.integers(min_value=1, max_value=300))
    index = draw(st.integers(min_value=0, max_value=size - 1))
    return _leaves(size, draw(st.integers(0, 3))), index, size


@st.composite
def tree_and_sizes(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    new = draw(st.integers(min_value=1, max_value=300))
    old = draw(st.integers(min_value=1, max_value=new))
    return _leaves(new, draw(st.integers(0, 3))), old, new


class TestInclusionProofLaws:
    """Every inclusion proof verifies, and no altered proof or root does."""

    @given(tree_and_index())
    def test_every_proof_verifies(self, case: tuple[list[bytes], int, int]) -> None:
        """The audit path of any leaf leads to the root."""
        leaves, index, size = case
        proof = inclusion_proof(leaves, index, size)
        assert verify_inclusion(leaves[index], index, size, proof, tree_root(leaves, size))

    @given(tree_and_index())
    def test_tree_proof_equals_reference(self, case: tuple[list[bytes], int, int]) -> None:
        """The level-stored tree builds the same path as the recursive reference."""
        leaves, index, size = case
        assert inclusion_proof(leaves, index, size) == MerkleTree(leaves).inclusion_proof(
            index, size
        )

    @given(tree_and_index(), st.integers(min_value=0), st.integers(min_value=0))
    def test_flipped_bit_in_proof_fails(
        self, case: tuple[list[bytes], int, int], which: int, bit: int
    ) -> None:
        """Flipping any bit of any path node breaks the proof."""
        leaves, index, size = case
        proof = inclusion_proof(leaves, index, size)
        if not proof:
            return
        i = which % len(proof)
        proof[i] = _flip(proof[i], bit)
        assert not verify_inclusion(leaves[index], index, size, proof, tree_root(leaves, size))

    @given(tree_and_index(), st.integers(min_value=0))
    def test_flipped_bit_in_root_or_leaf_fails(
        self, case: tuple[list[bytes], int, int], bit: int
    ) -> None:
        """Flipping any bit of the root or of the leaf hash breaks the proof."""
        leaves, index, size = case
        proof = inclusion_proof(leaves, index, size)
        root = tree_root(leaves, size)
        assert not verify_inclusion(leaves[index], index, size, proof, _flip(root, bit))
        assert not verify_inclusion(_flip(leaves[index], bit), index, size, proof, root)


class TestConsistencyProofLaws:
    """Every consistency proof verifies, and no altered proof or root does."""

    @given(tree_and_sizes())
    def test_every_proof_verifies(self, case: tuple[list[bytes], int, int]) -> None:
        """Any prefix is proven consistent with any longer prefix."""
        leaves, old, new = case
        proof = consistency_proof(leaves, old, new)
        assert verify_consistency(old, new, tree_root(leaves, old), tree_root(leaves, new), proof)

    @given(tree_and_sizes())
    def test_tree_proof_equals_reference(self, case: tuple[list[bytes], int, int]) -> None:
        """The level-stored tree builds the same proof as the recursive reference."""
        leaves, old, new = case
        assert consistency_proof(leaves, old, new) == MerkleTree(leaves).consistency_proof(old, new)

    @given(tree_and_sizes(), st.integers(min_value=0), st.integers(min_value=0))
    def test_flipped_bit_in_proof_fails(
        self, case: tuple[list[bytes], int, int], which: int, bit: int
    ) -> None:
        """Flipping any bit of any proof node breaks the proof."""
        leaves, old, new = case
        proof = consistency_proof(leaves, old, new)
        if not proof:
            return
        i = which % len(proof)
        proof[i] = _flip(proof[i], bit)
        assert not verify_consistency(
            old, new, tree_root(leaves, old), tree_root(leaves, new), proof
        )

    @given(tree_and_sizes(), st.integers(min_value=0))
    def test_flipped_bit_in_either_root_fails(
        self, case: tuple[list[bytes], int, int], bit: int
    ) -> None:
        """Flipping any bit of the old or the new root breaks the proof."""
        leaves, old, new = case
        proof = consistency_proof(leaves, old, new)
        r1, r2 = tree_root(leaves, old), tree_root(leaves, new)
        assert not verify_consistency(old, new, _flip(r1, bit), r2, proof)
        assert not verify_consistency(old, new, r1, _flip(r2, bit), proof)

    @given(tree_and_sizes(), st.integers(min_value=0))
    def test_rewritten_history_fails(self, case: tuple[list[bytes], int, int], at: int) -> None:
        """A new tree whose first `old` leaves differ is never proven consistent."""
        leaves, old, new = case
        forked = list(leaves)
        forked[at % old] = _flip(forked[at % old], 0)
        proof = consistency_proof(forked, old, new)
        assert not verify_consistency(
            old, new, tree_root(leaves, old), tree_root(forked, new), proof
        )


class TestBuildersAgree:
    """The accumulator and the level-stored tree equal the recursive root at every size."""

    @settings(max_examples=30)
    @given(st.integers(min_value=0, max_value=600), st.integers(0, 3))
    def test_accumulator_equals_reference_at_every_size(self, n: int, salt: int) -> None:
        """Appending one leaf at a time, the root always equals MTH of the prefix."""
        leaves = _leaves(n, salt)
        acc = MerkleAccumulator()
        tree = MerkleTree()
        assert tree_root(leaves, 0) == acc.root() == tree.root()
        for size, h in enumerate(leaves, start=1):
            acc.append(h)
            tree.append(h)
            expected = tree_root(leaves, size)
            assert expected == acc.root()
            assert expected == tree.root()
        assert n.bit_count() == len(acc.frontier())

    @given(st.integers(min_value=0, max_value=600), st.data())
    def test_tree_serves_every_earlier_root(self, n: int, data: st.DataObject) -> None:
        """A tree of n leaves gives the root of any earlier size and any aligned subtree."""
        leaves = _leaves(n)
        tree = MerkleTree(leaves)
        size = data.draw(st.integers(min_value=0, max_value=n))
        assert tree_root(leaves, size) == tree.root(size)

"""RFC 6962 Merkle hashing and proofs against the Certificate Transparency test vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.integrity.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "rfc6962" / "vectors.json").read_text()
)
LEAVES = [bytes.fromhex(h) for h in VECTORS["leaves_hex"]]
LEAF_HASHES = [leaf_hash(x) for x in LEAVES]
ROOTS = {int(size): bytes.fromhex(h) for size, h in VECTORS["roots_by_size"].items()}


def _hashes(items: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in items]


class TestHasher:
    """Leaf, node and empty-tree hashes match the reference hasher vectors."""

    @pytest.mark.parametrize("case", VECTORS["hasher"], ids=lambda c: c["kind"])
    def test_hash_matches_vector(self, case: dict[str, str]) -> None:
        """Each hasher vector reproduces exactly."""
        if case["kind"] == "empty_root":
            got = EMPTY_ROOT
        elif case["kind"] == "leaf":
            got = leaf_hash(bytes.fromhex(case["input_hex"]))
        else:
            got = node_hash(bytes.fromhex(case["left_hex"]), bytes.fromhex(case["right_hex"]))
        assert case["hash"] == got.hex()

    def test_empty_root_differs_from_empty_leaf(self) -> None:
        """The empty tree and a tree of one empty leaf have different roots."""
        assert EMPTY_ROOT != leaf_hash(b"")


class TestRootsBySize:
    """Every builder reproduces the published root for every prefix of the 8 leaves."""

    @pytest.mark.parametrize("size", range(9))
    def test_recursive_root(self, size: int) -> None:
        """The recursive reference MTH matches."""
        assert ROOTS[size] == tree_root(LEAF_HASHES, size)

    @pytest.mark.parametrize("size", range(9))
    def test_accumulator_root(self, size: int) -> None:
        """The frontier accumulator matches."""
        acc = MerkleAccumulator()
        acc.extend(LEAF_HASHES[:size])
        assert ROOTS[size] == acc.root()

    @pytest.mark.parametrize("size", range(9))
    def test_tree_root_at_earlier_size(self, size: int) -> None:
        """A full tree serves the root of any earlier size."""
        assert ROOTS[size] == MerkleTree(LEAF_HASHES).root(size)


class TestInclusionVectors:
    """Published audit paths are produced and verified."""

    @pytest.mark.parametrize(
        "case", VECTORS["inclusion_proofs"], ids=lambda c: f"{c['index']}-of-{c['tree_size']}"
    )
    def test_reference_proof_matches(self, case: dict[str, Any]) -> None:
        """The reference PATH algorithm yields the published path."""
        assert _hashes(case["proof"]) == inclusion_proof(
            LEAF_HASHES, case["index"], case["tree_size"]
        )

    @pytest.mark.parametrize(
        "case", VECTORS["inclusion_proofs"], ids=lambda c: f"{c['index']}-of-{c['tree_size']}"
    )
    def test_tree_proof_matches(self, case: dict[str, Any]) -> None:
        """The level-stored tree yields the published path."""
        tree = MerkleTree(LEAF_HASHES)
        assert _hashes(case["proof"]) == tree.inclusion_proof(case["index"], case["tree_size"])

    @pytest.mark.parametrize(
        "case", VECTORS["inclusion_proofs"], ids=lambda c: f"{c['index']}-of-{c['tree_size']}"
    )
    def test_published_proof_verifies(self, case: dict[str, Any]) -> None:
        """The RFC 9162 verifier accepts the published path against the published root."""
        assert verify_inclusion(
            LEAF_HASHES[case["index"]],
            case["index"],
            case["tree_size"],
            _hashes(case["proof"]),
            ROOTS[case["tree_size"]],
        )

    @pytest.mark.parametrize(
        "case", VECTORS["inclusion_proofs"], ids=lambda c: f"{c['index']}-of-{c['tree_size']}"
    )
    def test_wrong_index_or_size_is_rejected(self, case: dict[str, Any]) -> None:
        """The same path fails for a neighbouring index or a doubled or halved size."""
        index, size, proof = case["index"], case["tree_size"], _hashes(case["proof"])
        root, leaf = ROOTS[size], LEAF_HASHES[index]
        for i, n in [
            (index - 1, size),
            (index + 1, size),
            (index ^ 2, size),
            (index, size * 2),
            (index, size // 2),
        ]:
            if (i, n) != (index, size):
                assert not verify_inclusion(leaf, i, n, proof, root)


class TestConsistencyVectors:
    """Published consistency proofs are produced and verified."""

    @pytest.mark.parametrize(
        "case", VECTORS["consistency_proofs"], ids=lambda c: f"{c['old_size']}-{c['new_size']}"
    )
    def test_reference_proof_matches(self, case: dict[str, Any]) -> None:
        """The reference SUBPROOF algorithm yields the published proof."""
        assert _hashes(case["proof"]) == consistency_proof(
            LEAF_HASHES, case["old_size"], case["new_size"]
        )

    @pytest.mark.parametrize(
        "case", VECTORS["consistency_proofs"], ids=lambda c: f"{c['old_size']}-{c['new_size']}"
    )
    def test_tree_proof_matches(self, case: dict[str, Any]) -> None:
        """The level-stored tree yields the published proof."""
        tree = MerkleTree(LEAF_HASHES)
        assert _hashes(case["proof"]) == tree.consistency_proof(case["old_size"], case["new_size"])

    @pytest.mark.parametrize(
        "case", VECTORS["consistency_proofs"], ids=lambda c: f"{c['old_size']}-{c['new_size']}"
    )
    def test_published_proof_verifies(self, case: dict[str, Any]) -> None:
        """The RFC 9162 verifier accepts the published proof between the published roots."""
        m, n = case["old_size"], case["new_size"]
        assert verify_consistency(m, n, ROOTS[m], ROOTS[n], _hashes(case["proof"]))

    @pytest.mark.parametrize(
        "case",
        [c for c in VECTORS["consistency_proofs"] if c["proof"]],
        ids=lambda c: f"{c['old_size']}-{c['new_size']}",
    )
    def test_corrupted_proof_is_rejected(self, case: dict[str, Any]) -> None:
        """Swapped roots, wrong sizes, a dropped, prepended or appended node all fail."""
        m, n, proof = case["old_size"], case["new_size"], _hashes(case["proof"])
        r1, r2 = ROOTS[m], ROOTS[n]
        assert not verify_consistency(m, n, r2, r1, proof)
        assert not verify_consistency(m - 1, n, r1, r2, proof)
        assert not verify_consistency(m + 1, n, r1, r2, proof)
        assert not verify_consistency(m, n * 2, r1, r2, proof)
        assert not verify_consistency(m, n, r1, r2, proof[:-1])
        assert not verify_consistency(m, n, r1, r2, [r1, *proof])
        assert not verify_consistency(m, n, r1, r2, [*proof, r2])
        assert not verify_consistency(m, n, r1, r2, [])


class TestTrivialConsistency:
    """Edge sizes follow RFC 9162, strictly."""

    def test_empty_old_tree_is_consistent_with_anything(self) -> None:
        """Size 0 with the empty root and an empty proof is consistent with any tree."""
        assert verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [])

    def test_equal_sizes_need_equal_roots(self) -> None:
        """Equal sizes verify only with equal roots and an empty proof."""
        assert verify_consistency(5, 5, ROOTS[5], ROOTS[5], [])
        assert not verify_consistency(5, 5, ROOTS[5], ROOTS[6], [])
        assert not verify_consistency(5, 5, ROOTS[5], ROOTS[5], [ROOTS[5]])

    def test_shrinking_tree_is_rejected(self) -> None:
        """A newer tree cannot be smaller than the older one."""
        assert not verify_consistency(6, 5, ROOTS[6], ROOTS[5], [])

"""Tamper evidence for the event log: RFC 6962 Merkle trees, signed checkpoints, verification.

Pure: nothing here reads the store, a clock or a logger; the store side only passes an
iterator of `(position, originator_id, originator_version, topic, state)` records.
"""

from ledger.integrity.checkpoint import (
    DEFAULT_CHUNK_SIZE,
    Checkpoint,
    CheckpointBuilder,
    build_checkpoint,
    generate_signing_key,
    key_id,
    load_public_key,
    load_signing_key,
    public_key_path,
    read_leaf_manifest,
    sign_checkpoint,
    verify_checkpoint_signature,
    write_leaf_manifest,
)
from ledger.integrity.leaves import Record, encode_record, record_leaf_hash
from ledger.integrity.logtree import (
    ConsistencyProof,
    InclusionProof,
    LogIssue,
    LogTree,
    build_log_tree,
    prove_consistency,
    prove_inclusion,
)
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
from ledger.integrity.verify import CheckpointCheck, ConsistencyCheck, VerificationReport, verify_log

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "EMPTY_ROOT",
    "Checkpoint",
    "CheckpointBuilder",
    "CheckpointCheck",
    "ConsistencyCheck",
    "ConsistencyProof",
    "InclusionProof",
    "LogIssue",
    "LogTree",
    "MerkleAccumulator",
    "MerkleTree",
    "Record",
    "VerificationReport",
    "build_checkpoint",
    "build_log_tree",
    "consistency_proof",
    "encode_record",
    "generate_signing_key",
    "inclusion_proof",
    "key_id",
    "leaf_hash",
    "load_public_key",
    "load_signing_key",
    "node_hash",
    "prove_consistency",
    "prove_inclusion",
    "public_key_path",
    "read_leaf_manifest",
    "record_leaf_hash",
    "sign_checkpoint",
    "tree_root",
    "verify_checkpoint_signature",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
    "write_leaf_manifest",
]

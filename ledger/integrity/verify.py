"""Verification of a stored event log against checkpoints, in one pass: each checkpoint's root,
signature and chunk roots, the consistency between successive ones, and one report of it all.

Pure: it takes an iterator of records and returns plain data; it must never read the store, a
clock or a logger, and never raises on tampering (tampering is a finding, reported, not an error).

`first_bad_position` is the position of the first event of the current log that the checkpoint
does not vouch for (the lower end of the suspect range when inexact, see `locate`); when the log
simply ends early it is the position just after the last surviving event. `last_good_position`
is the last event proven authentic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.integrity.checkpoint import Checkpoint, verify_checkpoint_signature
from ledger.integrity.leaves import Record
from ledger.integrity.locate import Location, locate, mismatch_reason
from ledger.integrity.logtree import LogIssue, LogTree, build_log_tree
from ledger.integrity.merkle import HASH_SIZE, MerkleTree, verify_consistency

__all__ = [
    "CheckpointCheck",
    "ConsistencyCheck",
    "VerificationReport",
    "verify_log",
]


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
    located: Location | None = None
    if truncated or not root_ok:
        located = locate(log, cp, manifest, proven, chunks_ok)
        problems.insert(0, mismatch_reason(log, cp, truncated, located))
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


"""Trust in the answers, not only the log: one pass over a store snapshot verifies the event log
against checkpoints and the projection against the fold of that log (or, quickly, against a
checkpoint's projection digest); checkpoints vouch for both; answers carry inclusion proofs.

It reads the store and writes only a checkpoint it is asked to save; it never repairs anything.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.adapters.integrity_store import save_checkpoint
from ledger.adapters.store import EventStore, source_key_digest
from ledger.adapters.store_snapshot import StoreSnapshot, UndecodableTextError, open_snapshot
from ledger.errors import IntegrityError, ValidationError
from ledger.integrity import DEFAULT_CHUNK_SIZE, Checkpoint, CheckpointBuilder, Record, VerificationReport, verify_log
from projections.digest import ProjectionDigest
from projections.facts import FactRow
from projections.verify import Divergence, ProjectionCheck, ProjectionReport, change_rows, locate_facts
from projections.verify_pool import ParallelCheck, full_check

__all__ = ["LedgerVerification", "checkpoint_ledger", "stored_checkpoints", "verify_ledger"]

_NO_PROJECTION = ProjectionReport(ok=True, checked=False, reason="no projection yet: nothing to check",
                                  tracked_position=0, events=0, not_yet_projected=0, divergences=0, first=None)


@dataclass(frozen=True)
class LedgerVerification:
    """The log's verification, the projection's, and which checkpoints vouched for them."""

    log: VerificationReport
    projection: ProjectionReport
    given_checkpoints: int
    stored_checkpoints: int
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.log.ok and self.projection.ok

    @property
    def vouched(self) -> bool:
        """Whether any checkpoint vouched for the log (without one, nothing is vouched for)."""
        return bool(self.log.checkpoints)


class _SourceIds:
    """Every event's source id must be in the source-id table, or a re-import records it again."""

    def __init__(self) -> None:
        self.expected: dict[bytes, int] = {}

    def add(self, position: int, state: bytes) -> None:
        at = state.find(b'"source_id":')
        if at < 0 or state.startswith(b"null", at + 12):
            return
        try:
            data = json.loads(state)
        except ValueError:
            return  # a damaged event is the log check's finding
        source, source_id = data.get("source"), data.get("source_id")
        if isinstance(source, str) and isinstance(source_id, str):
            self.expected.setdefault(source_key_digest(f"{source}:{source_id}"), position)

    def finish(self, stored: Iterable[bytes]) -> list[Divergence]:
        for digest in stored:
            self.expected.pop(digest, None)
        missing = sorted(self.expected.values())
        out = []
        for position in missing[:20]:
            out.append(Divergence(
                "source_ids", f"the source id of event #{position} is missing from the source-id table: "
                "re-importing its record would record it again", position, events=(position,)))
        if len(missing) > 20:
            out.append(Divergence("source_ids", f"{len(missing) - 20} more source ids are missing", missing[20]))
        return out


def _parse_stored(bodies: Sequence[str]) -> tuple[list[Checkpoint], list[str]]:
    found, warnings = [], []
    for index, body in enumerate(bodies):
        try:
            found.append(Checkpoint.from_json(body))
        except ValidationError as error:
            warnings.append(f"stored checkpoint #{index + 1} is malformed and was ignored: {error.message}")
    return found, warnings


def stored_checkpoints(store: EventStore) -> list[Checkpoint]:
    """The checkpoints saved in the store, oldest first (as trustworthy as the store itself,
    unless signed by a key the verifier holds)."""
    with open_snapshot(store) as snapshot:
        return _parse_stored(snapshot.checkpoints())[0]


def verify_ledger(
    store: EventStore,
    checkpoints: Sequence[Checkpoint] = (),
    public_key: Ed25519PublicKey | None = None,
    *,
    leaf_manifest: bytes | None = None,
    quick: bool = False,
    use_stored: bool = True,
) -> LedgerVerification:
    """Verify the log against `checkpoints` (and the store's own, unless `use_stored` is False)
    and the projection against the log, in one pass over one snapshot of the store.

    `quick` checks the projection's change rows against the newest checkpoint that carries a
    projection digest instead of folding the whole log (rows of later events are vouched for
    by nobody), and the intervals against those rows, as the full check does."""
    given = list(checkpoints)
    with open_snapshot(store) as snap:
        stored, warnings = _parse_stored(snap.checkpoints()) if use_stored else ([], [])
        every = given + stored
        warnings += [f"checkpoint of {cp.tree_size} events: its projection digests do not fold to its "
                     "projection digest (the checkpoint was altered)" for cp in every
                     if cp.projection_digest is not None and not cp.projection_authenticated()]
        vouching = _quick_checkpoint(every) if quick else None
        if quick and vouching is None:
            warnings.append("no checkpoint vouches for the projection: checking it against the whole log")
        check = _projection_check(snap, vouching)
        positions = array("q")
        sources = _SourceIds()
        try:
            log = verify_log(_fed(snap.records(), check, sources, positions), every, public_key,
                             leaf_manifest=leaf_manifest)
            projection = _finish(snap, check, vouching, positions, sources)
        except UndecodableTextError as error:
            return _undecodable(store, every, len(given), len(stored), warnings, error)
        finally:
            if isinstance(check, ParallelCheck):
                check.close()
    return LedgerVerification(log, projection, len(given), len(stored), tuple(warnings))


def _undecodable(store: EventStore, every: list[Checkpoint], given: int, stored: int, warnings: list[str],
                 error: UndecodableTextError) -> LedgerVerification:
    """A projection table that is not even text: the log is verified on its own, the projection
    reported as tampered."""
    from ledger.adapters.integrity_store import verify_store

    finding = Divergence("facts", f"the projection's tables cannot be read: {error.message}", None)
    projection = ProjectionCheck(0, ()).report([finding])
    return LedgerVerification(verify_store(store, every), projection, given, stored, tuple(warnings))


def _quick_checkpoint(checkpoints: Sequence[Checkpoint]) -> Checkpoint | None:
    usable = [cp for cp in checkpoints if cp.projection_digest is not None and cp.projection_authenticated()]
    return max(usable, key=lambda cp: cp.tree_size, default=None)


def _projection_check(snap: StoreSnapshot, vouching: Checkpoint | None) -> ProjectionCheck | ParallelCheck | None:
    if not snap.has_projection():
        return None
    if vouching is None:
        return full_check(snap.tracked_position(), snap.change_rows())
    return ProjectionCheck(snap.tracked_position(), snap.change_rows(), mode="quick",
                           digest=ProjectionDigest(vouching.chunk_size), digest_events=vouching.tree_size)


def _fed(records: Iterable[Record], check: ProjectionCheck | ParallelCheck | None, sources: _SourceIds,
         positions: array[int]) -> Iterator[Record]:
    """The records, passed on to the Merkle tree after the projection and source-id checks saw them."""
    for record in records:
        position, state = record[0], record[4]
        positions.append(position)
        if check is not None:
            check.add(position, record[3], state)
        sources.add(position, state)
        yield record


def _finish(snap: StoreSnapshot, check: ProjectionCheck | ParallelCheck | None, vouching: Checkpoint | None,
            positions: array[int], sources: _SourceIds) -> ProjectionReport:
    found = sources.finish(snap.source_key_digests())
    if check is None:
        return ProjectionCheck(0, ()).report(found) if found else _NO_PROJECTION
    stored_facts: Iterable[FactRow] | int = snap.fact_rows()
    if isinstance(check, ParallelCheck):
        check, stored_facts = check.result(snap.fact_rows())
    if check.finish(stored_facts, snap.changes_of_keys):
        for kind in snap.fact_kinds():
            found += locate_facts(kind, snap.fact_rows(kind), snap.changes_of_kind(kind))
    if vouching is not None and check.digest is not None:
        found += _against_checkpoint(check.digest, vouching, positions)
    return check.report(found)


def _against_checkpoint(digest: ProjectionDigest, cp: Checkpoint, positions: array[int]) -> list[Divergence]:
    """Where the stored change rows of the checkpoint's events differ from its digests."""
    if digest.events < cp.tree_size:
        return [Divergence("changes", f"the log has only {digest.events} of the {cp.tree_size} events the "
                           "checkpoint's projection digest covers", None)]
    chunks, kinds, root = digest.finish()
    if root == cp.projection_digest:
        return []
    bad_kinds = sorted(k for k in set(kinds) | set(cp.projection_kinds)
                       if kinds.get(k) != cp.projection_kinds.get(k))
    j = next((j for j, (a, b) in enumerate(zip(chunks, cp.projection_chunks, strict=False)) if a != b), 0)
    low, high = positions[j * cp.chunk_size], positions[min((j + 1) * cp.chunk_size, cp.tree_size) - 1]
    return [Divergence("changes", f"the stored changes of events at positions {low}..{high} ({', '.join(bad_kinds)} "
                       f"facts) differ from what the checkpoint of {cp.tree_size} events vouched for: edited behind "
                       "the ledger's back, or rebuilt by a version whose fold differs (a full verify names the fact)",
                       low, bad_kinds[0] if bad_kinds else None, events=(low, high))]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def checkpoint_ledger(
    store: EventStore,
    signing_key: Ed25519PrivateKey | None = None,
    *,
    created_at: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    keep_leaf_hashes: bool = False,
    save: bool = True,
) -> tuple[Checkpoint, bytes | None]:
    """A checkpoint of the whole log that also vouches for the projection as derivable from it
    (digests of the fold's change rows), signed when a key is given, saved in the store unless
    `save` is False; plus the leaf-hash manifest bytes when asked for."""
    builder = CheckpointBuilder(chunk_size, keep_leaf_hashes=keep_leaf_hashes)
    digest = ProjectionDigest(chunk_size)
    with open_snapshot(store) as snap:
        for record in snap.records():
            builder.add(record)
            try:
                rows = [row for _, row in change_rows(record[0], record[3], record[4])]
            except Exception as error:  # noqa: BLE001 - a damaged log is reported, never vouched for
                raise IntegrityError(f"the event at position {record[0]} cannot be folded ({type(error).__name__}): "
                                     "the log is damaged; run `ledger verify`", position=record[0]) from None
            digest.add(rows)
    checkpoint = builder.checkpoint(created_at or _now(), signing_key, digest.finish())
    if save:
        save_checkpoint(store, checkpoint)
    return checkpoint, builder.leaf_hashes if keep_leaf_hashes else None

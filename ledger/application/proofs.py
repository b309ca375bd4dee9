"""Inclusion proofs for the events an answer cites: every matched statement's origin (the
attachment, the policy document, the group membership...) proven against a checkpoint's root.

It reads the store once per answer and never writes; a proof that does not reach the root is
reported as such, never hidden.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ledger.adapters.integrity_store import store_log_tree
from ledger.adapters.store import EventStore
from ledger.integrity import Checkpoint, prove_inclusion

__all__ = ["cited_positions", "prove_answer"]

_ANSWER_KEYS = ("MatchedStatements", "principals", "path", "via", "Origin", "origin", "document", "membership")


def _origins(value: Any) -> Iterator[int]:
    if isinstance(value, Mapping):
        if isinstance(value.get("position"), int) and "event_type" in value:
            yield value["position"]
        for key in _ANSWER_KEYS:
            if key in value:
                yield from _origins(value[key])
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _origins(item)


def cited_positions(answer: Mapping[str, Any]) -> list[int]:
    """The log positions of every event an answer (a decision's or who-can's JSON) cites."""
    return sorted(set(_origins(answer)))


def prove_answer(store: EventStore, answer: Mapping[str, Any], checkpoint: Checkpoint | None,
                 source: str = "given") -> dict[str, Any]:
    """Inclusion proofs of every cited event in `checkpoint`'s tree (the whole current log when
    None, which vouches for nothing on its own): JSON-ready, `verified` only if all verify."""
    positions = cited_positions(answer)
    log = store_log_tree(store)
    size = log.size if checkpoint is None else min(checkpoint.tree_size, log.size)
    root = log.tree.root(size).hex() if checkpoint is None else checkpoint.root_hash
    proofs = []
    for position in positions:
        entry: dict[str, Any] = {"position": position}
        try:
            proof = prove_inclusion(log, position, size)
        except Exception as error:  # noqa: BLE001 - an unprovable citation is a finding, shown
            entry.update(verified=False, reason=str(getattr(error, "message", error)))
        else:
            covered = proof.index < size
            entry.update(leaf_index=proof.index, tree_size=proof.tree_size, leaf_hash=proof.leaf_hash,
                         path=list(proof.path), verified=covered and proof.verify(root))
            if not covered:
                entry["reason"] = f"the event is not among the {size} events the checkpoint covers"
        proofs.append(entry)
    too_short = checkpoint is not None and checkpoint.tree_size > log.size
    return {
        "checkpoint": None if checkpoint is None else {
            "tree_size": checkpoint.tree_size, "root_hash": checkpoint.root_hash,
            "created_at": checkpoint.created_at, "source": source},
        "root_hash": root,
        "proofs": proofs,
        "verified": not too_short and all(p["verified"] for p in proofs),
        "note": ("no checkpoint: proven against the current log, which vouches for nothing on its own"
                 if checkpoint is None else
                 "the log is shorter than the checkpoint (truncated)" if too_short else None),
    }

"""Runs observation imports against a `Ledger`: reads each account's recorded history, sweeps the
observations through it (`observe.sweep`), lists disagreements between sources and records the
result atomically per batch. Never writes anything of an observation that failed validation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.application.facade import Ledger
from ledger.application.importing.conflicts import disagreements, merged
from ledger.application.importing.observe import (
    STATEFUL_TOPICS,
    Observation,
    ScopeDiffer,
    account_history,
    sweep,
)
from ledger.application.importing.runner import ImportSummary
from ledger.domain import events as ev
from ledger.errors import DuplicateSourceError

BATCH_EVENTS = 20_000
Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class ObservationSummary(ImportSummary):
    """An import summary that also lists the disagreements between sources it found."""

    conflicts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["conflicts"] = self.conflicts
        return out


def histories(ledger: Ledger, accounts: Iterable[str]) -> dict[str, list[ev.LedgerEvent]]:
    """The recorded stateful history of each account, in valid-time order (one pass over the log)."""
    wanted = set(accounts)
    grouped: dict[str, list[ev.LedgerEvent]] = defaultdict(list)
    for event in ledger.store.iter_log(topics=STATEFUL_TOPICS, batch=5000):
        if event.account_id in wanted:
            grouped[event.account_id].append(event)
    return {account: account_history(grouped.get(account, ()), account) for account in wanted}


def reconcile(ledger: Ledger, observations: dict[str, list[Observation]],
              differs: Callable[[str, list[ev.LedgerEvent]], dict[str, ScopeDiffer]], *, run_key: str,
              extra: Callable[[str, list[Observation]], list[ev.LedgerEvent]],
              summary: ObservationSummary, source_keys: Callable[[str, list[Observation]], Sequence[str]] | None = None,
              progress: Progress | None = None) -> None:
    """Sweep each account's observations (`differs` makes the differs of an account from its
    history), then record that account's events, its `extra` facts (e.g. the observation markers)
    and its `source_keys`, an account at a time (memory holds one account's events)."""
    known = histories(ledger, observations)
    for done, (account, items) in enumerate(sorted(observations.items()), 1):
        history = known.pop(account)
        result = sweep(account, history, items, differs(account, history), run_key)
        summary.warnings.extend(result.warnings)
        summary.conflicts.extend(disagreements(merged(history, result.events)))
        del history
        if progress:
            progress("diff", done, len(observations))
        events = result.events + extra(account, items)
        del result
        write(ledger, events, source_keys(account, items) if source_keys else (), summary, progress)


def write(ledger: Ledger, events: list[ev.LedgerEvent], source_keys: Sequence[str], summary: ImportSummary,
          progress: Progress | None = None) -> None:
    """Record in batches of whole source ids (an observation's events are never split); the
    import's own keys go with the last batch, so a re-run after a crash re-does only the rest."""
    registered = {f"{e.source}:{e.source_id}" for e in events if e.source_id}  # each batch registers its own
    source_keys = [key for key in dict.fromkeys(source_keys) if key not in registered]
    batches: list[list[ev.LedgerEvent]] = [[]]
    for event in events:
        current = batches[-1]
        if len(current) >= BATCH_EVENTS and current[-1].source_id != event.source_id:
            batches.append(current := [])
        current.append(event)
    for number, batch in enumerate(batches, 1):
        keys = list(source_keys) if number == len(batches) else []
        if not batch and not keys:
            continue
        try:
            ledger.record(batch, keys)
        except DuplicateSourceError:
            summary.warnings.append("another import recorded some of these observations meanwhile: batch skipped")
            continue
        summary.events += len(batch)
        if progress:
            progress("write", number, len(batches))

"""`aws iam get-account-authorization-details` snapshots as observations of an account's IAM at
their own `--at`: diffed against the state at that time (not the latest), so an older snapshot
imported after a newer one makes the history a chronological import would. Writes via `reconcile`.

A snapshot is one state: if any page is malformed nothing is written (a missing page would read
as deletions). Dangling references are warnings, never fatal.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ledger.adapters.logging import get_logger
from ledger.application.facade import Ledger
from ledger.application.importing import gaad
from ledger.application.importing.files import discover, load_json
from ledger.application.importing.iam_differ import AwsManagedTimeline, IamScopeDiffer
from ledger.application.importing.observe import Observation, Stamp, markers
from ledger.application.importing.reconcile import ObservationSummary, histories, reconcile
from ledger.application.importing.snapshot_names import checked_names
from ledger.domain import names
from ledger.errors import ImportFormatError
from ledger.timeaxis import instant

log = get_logger("ledger.importing")
AWS_ACCOUNT = gaad.AWS_ACCOUNT


def import_snapshot(
    ledger: Ledger, files: Sequence[str | Path], *, at: datetime | str, account: str | None = None,
    max_file_bytes: int | None = None,
) -> ObservationSummary:
    """Import GAAD output (one document or several pages) as the account's IAM state at `at`:
    the first snapshot is a baseline, others record what changed since the state at their own
    time, and later observations already recorded are re-asserted after it."""
    started = time.perf_counter()
    when = instant(at)
    assert when is not None
    summary = ObservationSummary(kind="snapshot")
    paths = discover(files)
    pages = _pages(paths, summary, max_file_bytes)
    if summary.errors:
        summary.seconds = time.perf_counter() - started
        return summary
    dump = gaad.merge_pages(pages)
    target = account or gaad.infer_account(dump)
    if target is None:
        summary.errors.append({"path": ", ".join(str(f) for f in files),
                               "reason": "cannot tell the account: pass --account"})
        summary.seconds = time.perf_counter() - started
        return summary
    names.check_account_id(target)
    summary.records = dump.entity_count()
    key = f"{target}@{when.isoformat()}#{dump.digest()}"
    if ledger.store.existing_source_keys([f"snapshot:{key}"]):
        summary.duplicates = summary.records
        summary.seconds = time.perf_counter() - started
        return summary
    dump = checked_names(dump, summary.warnings.append)
    stamp = Stamp("snapshot", key, datetime.now(UTC), "snapshot")
    observation = Observation(when, "iam", stamp, dump)
    aws = AwsManagedTimeline(histories(ledger, [AWS_ACCOUNT])[AWS_ACCOUNT])
    reconcile(ledger, {target: [observation]}, lambda acct, history: {"iam": IamScopeDiffer(acct, aws, history)},
              run_key=key,
              extra=lambda acct, obs: markers(acct, obs, stamp, scope="iam", files=[p.name for p in paths],
                                               digest=dump.digest()),
              summary=summary)
    summary.imported = summary.records
    summary.seconds = time.perf_counter() - started
    log.info("snapshot_imported", account=target, at=when.isoformat(), events=summary.events,
             warnings=len(summary.warnings), conflicts=len(summary.conflicts))
    return summary


def _pages(paths: list[Path], summary: ObservationSummary, max_file_bytes: int | None) -> list[dict[str, object]]:
    pages: list[dict[str, object]] = []
    for path in paths:
        summary.files += 1
        try:
            pages.extend(gaad.pages_of(load_json(path, max_file_bytes), path))
        except ImportFormatError as error:
            summary.errors.append({"path": str(path), "reason": error.message})
    return pages

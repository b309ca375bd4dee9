"""`ledger import organization DIR`: the organisation as the AWS CLI prints it (see `org_files`),
recorded as the management account's observation at `--at` and diffed against the organisation
the ledger holds at that time. Validates everything before writing anything.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from ledger.adapters.logging import get_logger
from ledger.application.facade import Ledger
from ledger.application.importing import org_files
from ledger.application.importing.observe import Observation, Stamp, markers
from ledger.application.importing.org_differ import OrgScopeDiffer
from ledger.application.importing.reconcile import ObservationSummary, Progress, reconcile
from ledger.errors import LedgerError
from ledger.timeaxis import instant

log = get_logger("ledger.importing")


def import_organization(ledger: Ledger, source: str | Path, *, at: datetime | str,
                        progress: Progress | None = None) -> ObservationSummary:
    """Record the organisation in `source` (a directory of CLI outputs or one bundled file) as it
    was at `at`. An OU cycle, an account in two OUs or a policy outside its grammar is an error
    and nothing is written; an output nobody asked for is counted as skipped."""
    started = time.perf_counter()
    when = instant(at)
    assert when is not None
    summary = ObservationSummary(kind="organization")
    try:
        outputs, ignored = org_files.read_outputs(source)
        summary.files = len({where.split(":", 1)[0] for *_, where in outputs}) + len(ignored)
        for name in ignored:
            summary.skipped[f"not an expected CLI output: {name}"] += 1
        spec = org_files.build_spec(outputs, summary.warnings)
    except LedgerError as error:
        summary.errors.append({"path": str(error.details.get("path") or source), "reason": error.message})
        summary.seconds = time.perf_counter() - started
        return summary
    summary.records = len(outputs)
    key = f"org:{spec.management_account}@{when.isoformat()}#{spec.digest()}"
    if ledger.store.existing_source_keys([f"snapshot:{key}"]):
        summary.duplicates = summary.records
        summary.seconds = time.perf_counter() - started
        return summary
    stamp = Stamp("snapshot", key, datetime.now(UTC), "organizations-snapshot")
    files = sorted({where.split(":", 1)[0] for *_, where in outputs})
    reconcile(ledger, {spec.management_account: [Observation(when, "organization", stamp, spec)]},
              lambda account, history: {"organization": OrgScopeDiffer()}, run_key=key,
              extra=lambda account, obs: markers(account, obs, stamp, scope="organization", files=files,
                                                 digest=spec.digest()),
              summary=summary, progress=progress)
    summary.imported = summary.records
    summary.seconds = time.perf_counter() - started
    log.info("organization_imported", management_account=spec.management_account, at=when.isoformat(),
             events=summary.events, warnings=len(summary.warnings), conflicts=len(summary.conflicts))
    return summary

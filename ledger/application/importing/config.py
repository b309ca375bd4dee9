"""`ledger import config PATH...`: AWS Config configuration items (ConfigHistory / ConfigSnapshot
files in the `AWSLogs/<account>/Config/<region>/...` layout, `.json` or `.json.gz`, and the
get-resource-config-history / batch-get-resource-config outputs) as observations of one resource
each, at `configurationItemCaptureTime`, in whatever order the files come.

Each item moves the ledger from its state of that resource at that time to what the item says.
Idempotent by (resource type, resource id, configurationStateId). A file that cannot be read is
rejected whole; an item the ledger cannot use (an unknown resource type or item version, a
ResourceNotRecorded status) is counted by kind, never fatal.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from ledger.adapters.logging import get_logger
from ledger.application.facade import Ledger
from ledger.application.importing import config_items as ci
from ledger.application.importing.files import discover, load_json
from ledger.application.importing.gaad import AWS_ACCOUNT
from ledger.application.importing.iam_differ import AwsManagedTimeline, IamScopeDiffer
from ledger.application.importing.observe import Observation, ScopeDiffer, Stamp, markers
from ledger.application.importing.reconcile import ObservationSummary, Progress, histories, reconcile
from ledger.application.importing.s3_differ import S3ScopeDiffer
from ledger.domain import events as ev
from ledger.errors import ImportFormatError
from ledger.gc_pause import collector_paused

log = get_logger("ledger.importing")
_KEY_CHUNK = 10_000


def read_items(paths: Iterable[Path], summary: ObservationSummary,
               progress: Progress | None = None) -> Iterator[tuple[Path, list[ci.ConfigItem]]]:
    """Each readable file with its usable items; a file that is not Config output is an error."""
    files = list(paths)
    for done, path in enumerate(files, 1):
        summary.files += 1
        try:
            raw = ci.items_of(load_json(path))
            if raw is None:
                raise ImportFormatError("not AWS Config output (no configurationItems)", path=str(path))
        except ImportFormatError as error:
            summary.errors.append({"path": str(path), "reason": error.message})
            continue
        items: list[ci.ConfigItem] = []
        for entry in raw:
            summary.records += 1
            try:
                items.append(ci.parse_item(entry))
            except ci.Skip as skip:
                summary.skipped[skip.kind] += 1
        del raw
        yield path, items
        if progress:
            progress("scan", done, len(files))


def read_observations(ledger: Ledger, paths: Iterable[Path], summary: ObservationSummary, recorded_at: datetime,
                      progress: Progress | None = None) -> dict[str, list[Observation]]:
    """The observations of every item not seen before (in this import or an earlier one, by
    configurationStateId), by account in time order; a file's items are turned into observations
    as it is read, so memory holds the observations, not the files."""
    by_account: dict[str, list[Observation]] = defaultdict(list)
    taken: set[str] = set()
    for _, items in read_items(paths, summary, progress):
        keys = list(dict.fromkeys(f"config:{item.key}" for item in items if f"config:{item.key}" not in taken))
        seen: set[str] = set()
        for start in range(0, len(keys), _KEY_CHUNK):
            seen |= ledger.store.existing_source_keys(keys[start:start + _KEY_CHUNK])
        for item in items:
            key = f"config:{item.key}"
            if key in taken or key in seen:
                summary.duplicates += 1
                continue
            taken.add(key)
            try:
                scope, spec = ci.scope_of(item), ci.spec_of(item)
            except ci.Skip as skip:
                summary.skipped[skip.kind] += 1
                continue
            by_account[item.account].append(
                Observation(item.at, scope, Stamp("config", item.key, recorded_at, "aws-config"), spec))
    for observations in by_account.values():
        observations.sort(key=lambda o: (o.at, o.scope))
    return by_account


def import_config(ledger: Ledger, paths: Iterable[str | Path], *,
                  progress: Progress | None = None) -> ObservationSummary:
    """Import Config items from files and directories (see the module docstring)."""
    started = time.perf_counter()
    summary = ObservationSummary(kind="config")
    with collector_paused():
        now = datetime.now(UTC)
        by_account = read_observations(ledger, discover(paths), summary, now, progress)
        summary.imported = sum(len(o) for o in by_account.values())
        aws_history = histories(ledger, [AWS_ACCOUNT])[AWS_ACCOUNT]

        def differs(account: str, history: list[ev.LedgerEvent]) -> dict[str, ScopeDiffer]:
            return {"iam": IamScopeDiffer(account, AwsManagedTimeline(aws_history), history),
                    "s3": S3ScopeDiffer(account)}

        run_key = f"config-{now.isoformat()}"
        reconcile(ledger, by_account, differs, run_key=run_key,
                  extra=lambda account, obs: markers(account, obs, Stamp("config", run_key, now, "aws-config"),
                                                     scope="config", per_item=True),
                  summary=summary, progress=progress,
                  source_keys=lambda account, obs: [f"config:{o.stamp.source_id}" for o in obs])
    summary.seconds = time.perf_counter() - started
    log.info("config_imported", **{k: v for k, v in summary.to_dict().items() if k not in ("skipped", "conflicts")})
    return summary

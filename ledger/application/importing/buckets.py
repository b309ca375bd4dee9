"""`ledger import buckets FILE --at T`: S3 state as the AWS CLI prints it, recorded as the account's
observation at T. Validates the whole file (policy grammar, ownership settings) before writing.

The file is one JSON object (the CLI's own output of each call, unchanged):

    {"Account": "222222222222",                      # the owner (or pass --account)
     "list-buckets": {"Buckets": [{"Name": ..., "CreationDate": ...}], "Owner": {...}},
     "buckets": {"<name>": {"get-bucket-policy": {"Policy": "<JSON text>"},
                            "get-bucket-ownership-controls": {"OwnershipControls": {"Rules": [...]}},
                            "get-bucket-acl": {"Owner": {...}, "Grants": [...]},
                            "get-bucket-location": {"LocationConstraint": "eu-west-1"}}}}

A call whose output is absent was not made (that setting is left as the ledger has it); a call
that failed is recorded as its error, `{"Error": {"Code": "NoSuchBucketPolicy"}}` (no policy) or
`{"Error": {"Code": "OwnershipControlsNotFoundError"}}` (ObjectWriter). With `list-buckets`, a
bucket the ledger has that it does not list was deleted, and details of a bucket it does not list
are skipped and reported.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.application.facade import Ledger
from ledger.application.importing.cloudtrail.records import default_ownership
from ledger.application.importing.files import load_json
from ledger.application.importing.observe import Observation, Stamp, markers
from ledger.application.importing.reconcile import ObservationSummary, reconcile
from ledger.application.importing.s3_differ import UNKNOWN, BucketSpec, BucketsSpec, S3ScopeDiffer
from ledger.domain import names
from ledger.domain.handlers import OWNERSHIP_SETTINGS, validate_policy
from ledger.errors import ImportFormatError, LedgerError
from ledger.timeaxis import instant, parse_aws_time

CALLS = ("get-bucket-policy", "get-bucket-ownership-controls", "get-bucket-acl", "get-bucket-location")


def _error_code(output: Any) -> str | None:
    error = output.get("Error") if isinstance(output, dict) else None
    return str(error.get("Code")) if isinstance(error, dict) else None


def _policy(output: Any, name: str) -> Any:
    if output is None or _error_code(output) == "NoSuchBucketPolicy":
        return None
    text = output.get("Policy") if isinstance(output, dict) else None
    if not isinstance(text, (str, dict)):
        raise ImportFormatError(f'bucket {name}: get-bucket-policy output must be {{"Policy": "..."}}')
    return validate_policy(text, "resource")


def _ownership(output: Any, name: str) -> str:
    if _error_code(output) == "OwnershipControlsNotFoundError":
        return "ObjectWriter"  # S3: without ownership controls the object writer owns the object
    rules = ((output or {}).get("OwnershipControls") or {}).get("Rules") if isinstance(output, dict) else None
    setting = rules[0].get("ObjectOwnership") if isinstance(rules, list) and rules and isinstance(rules[0], dict) \
        else None
    if setting not in OWNERSHIP_SETTINGS:
        raise ImportFormatError(f"bucket {name}: ObjectOwnership must be one of {', '.join(OWNERSHIP_SETTINGS)}")
    return str(setting)


def read_spec(document: Any, account: str | None, when: datetime,
              summary: ObservationSummary) -> tuple[str, BucketsSpec]:
    """The account and the buckets a bundle describes; typed errors for anything malformed."""
    if not isinstance(document, dict):
        raise ImportFormatError("expected one JSON object (see `ledger import buckets --help`)")
    owner = account or document.get("Account")
    if not isinstance(owner, str):
        raise ImportFormatError("cannot tell the account that owns the buckets: add \"Account\" or pass --account")
    names.check_account_id(owner)
    details = document.get("buckets") or {}
    if not isinstance(details, dict):
        raise ImportFormatError('"buckets" must be an object keyed by bucket name')
    listing = document.get("list-buckets")
    spec = BucketsSpec(complete=listing is not None)
    created: dict[str, datetime] = {}
    if listing is not None:
        if not isinstance(listing, dict) or not isinstance(listing.get("Buckets"), list):
            raise ImportFormatError('list-buckets output must be {"Buckets": [...]}')
        for item in listing["Buckets"]:
            if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
                raise ImportFormatError("a list-buckets entry without Name")
            created[item["Name"]] = parse_aws_time(item.get("CreationDate")) or when
            spec.buckets[item["Name"]] = BucketSpec(str(item.get("BucketRegion") or "us-east-1"))
    for name, calls in sorted(details.items()):
        if listing is not None and name not in spec.buckets:
            summary.skipped["bucket details for a bucket list-buckets does not list"] += 1
            summary.warnings.append(f"bucket {name}: no listing mentions it; its details were skipped")
            continue
        if not isinstance(calls, dict):
            raise ImportFormatError(f"bucket {name}: expected an object keyed by CLI call")
        names.check_bucket_name(name)
        bucket = spec.buckets.setdefault(name, BucketSpec())
        bucket.default_ownership = default_ownership(created.get(name, when))
        if "get-bucket-location" in calls:
            bucket.region = str((calls["get-bucket-location"] or {}).get("LocationConstraint") or "us-east-1")
        bucket.policy = _policy(calls["get-bucket-policy"], name) if "get-bucket-policy" in calls else UNKNOWN
        if "get-bucket-ownership-controls" in calls:
            bucket.ownership = _ownership(calls["get-bucket-ownership-controls"], name)
    for name, bucket in spec.buckets.items():
        if name not in details:
            bucket.default_ownership = default_ownership(created.get(name, when))
    return owner, spec


def import_buckets(ledger: Ledger, file: str | Path, *, at: datetime | str,
                   account: str | None = None) -> ObservationSummary:
    """Record the S3 state in `file` as the account's buckets at `at` (diffed against the state
    at that time; later observations already recorded are re-asserted)."""
    started = time.perf_counter()
    when = instant(at)
    assert when is not None
    summary = ObservationSummary(kind="buckets", files=1)
    try:
        document = load_json(Path(file))
        owner, spec = read_spec(document, account, when, summary)
    except LedgerError as error:
        summary.errors.append({"path": str(error.details.get("path") or file), "reason": error.message})
        summary.seconds = time.perf_counter() - started
        return summary
    summary.records = len(spec.buckets)
    digest = hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()[:24]
    key = f"s3:{owner}@{when.isoformat()}#{digest}"
    if ledger.store.existing_source_keys([f"snapshot:{key}"]):
        summary.duplicates = summary.records
        summary.seconds = time.perf_counter() - started
        return summary
    stamp = Stamp("snapshot", key, datetime.now(UTC), "s3-snapshot")
    observations = [Observation(when, "s3", stamp, spec)] if spec.complete else [
        Observation(when, f"s3:bucket:{name}", stamp, BucketsSpec({name: bucket}))
        for name, bucket in sorted(spec.buckets.items())]
    reconcile(ledger, {owner: observations}, lambda acct, history: {"s3": S3ScopeDiffer(acct)}, run_key=key,
              extra=lambda acct, obs: markers(acct, obs, stamp, scope="s3", files=[Path(file).name], digest=digest,
                                               per_item=not spec.complete),
              summary=summary, source_keys=lambda acct, obs: [f"snapshot:{key}"])
    summary.imported = summary.records
    summary.seconds = time.perf_counter() - started
    return summary

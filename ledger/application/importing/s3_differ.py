"""S3 observations (a bucket listing with policies and Object Ownership, or one bucket's Config
item) as `BucketsSpec`, compared with an account's write-side buckets: the facts that take the
ledger's buckets to what was observed. Pure: diffs against a folded state.

A setting the observation did not include is `UNKNOWN` and left as the ledger has it; a bucket's
policy that the observation says is absent is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.application.importing.observe import Diffed, Stamp
from ledger.domain import events as ev
from ledger.domain import names
from ledger.domain.state import AccountState

UNKNOWN: Any = object()  # a setting the observation did not include


@dataclass
class BucketSpec:
    region: str = "us-east-1"
    ownership: str | None = None  # None: not observed (a new bucket gets its creation-time default)
    policy: Any = UNKNOWN  # dict, None (no policy) or UNKNOWN
    default_ownership: str = "BucketOwnerEnforced"


@dataclass
class BucketsSpec:
    """The buckets of one account; `complete` when the observation lists all of them (so a bucket
    of the ledger missing from it was deleted)."""

    buckets: dict[str, BucketSpec] = field(default_factory=dict)
    complete: bool = False


def diff_buckets(spec: BucketsSpec, scope: str, account: str, state: AccountState, at: datetime,
                 stamp: Stamp) -> Diffed:
    out = Diffed()

    def emit(cls: type[ev.LedgerEvent], name: str, **fields: Any) -> None:
        out.events.append(stamp.event(cls, account, at, bucket_name=name, bucket_arn=names.bucket_arn(name), **fields))

    if not state.exists:
        out.events.append(stamp.event(ev.AccountCreated, account, at, account_name=account,
                                      root_arn=names.root_arn(account)))
    for name, wanted in sorted(spec.buckets.items()):
        current = state.buckets.get(name)
        if current is None:
            ownership = wanted.ownership or wanted.default_ownership
            if wanted.ownership is None:
                out.warnings.append(f"bucket {name}: Object Ownership was not observed; assumed {ownership}, "
                                    "the default for buckets created then")
            emit(ev.BucketCreated, name, region=wanted.region, object_ownership=ownership)
            if isinstance(wanted.policy, dict):
                emit(ev.BucketPolicyPut, name, document=wanted.policy)
            continue
        if wanted.ownership is not None and wanted.ownership != current.object_ownership:
            emit(ev.BucketOwnershipChanged, name, object_ownership=wanted.ownership)
        if wanted.policy is None and current.policy is not None:
            emit(ev.BucketPolicyDeleted, name)
        elif isinstance(wanted.policy, dict) and wanted.policy != current.policy:
            emit(ev.BucketPolicyPut, name, document=wanted.policy)
    gone = set(state.buckets) - set(spec.buckets)
    if scope.startswith("s3:bucket:"):
        gone &= {scope.split(":", 2)[2]}
    elif not spec.complete:
        gone = set()
    for name in sorted(gone):
        emit(ev.BucketDeleted, name)
    return out


def spec_of_state(scope: str, state: AccountState) -> BucketsSpec:
    chosen = state.buckets if scope == "s3" else {
        n: b for n, b in state.buckets.items() if n == scope.split(":", 2)[2]}
    return BucketsSpec({n: BucketSpec(b.region, b.object_ownership, b.policy) for n, b in chosen.items()},
                       complete=True)


class S3ScopeDiffer:
    """The "s3" family of observations for the sweep (`observe.ScopeDiffer`)."""

    def __init__(self, account: str) -> None:
        self.account = account

    def diff(self, spec: Any, scope: str, state: AccountState, at: datetime, stamp: Stamp) -> Diffed:
        return diff_buckets(spec, scope, self.account, state, at, stamp)

    def spec_of(self, scope: str, state: AccountState) -> Any:
        return spec_of_state(scope, state)

    def dependents(self, reset: ev.LedgerEvent, state: AccountState, at: datetime, stamp: Stamp) -> Diffed:
        """A recorded baseline creation of a bucket ends the policy this import gave it before."""
        out = Diffed()
        if isinstance(reset, ev.BucketCreated) and (bucket := state.buckets.get(reset.bucket_name)) \
                and bucket.policy is not None:
            out.events.append(stamp.event(ev.BucketPolicyDeleted, self.account, at,
                                          bucket_name=bucket.name, bucket_arn=bucket.arn))
        return out

"""What an import knows about identities while it maps records: names → immutable unique ids as
of a time, sessions by access key, bucket owners and ownership settings over time, jobs by role.

Fed from facts already in the ledger and from a first pass over the files being imported, so the
mapping of a record does not depend on the order files arrive in. Pure: no storage here.

Identity resolution, in order (documented in `resolve`):
1. an id the record itself carries (`userId`, `roleId`, `policyId`, `groupId`, `assumedRoleId`,
   the caller's `principalId`);
2. the id of the principal of that name known at the record's time (the latest one created at or
   before it; failing that, the earliest one known after it, which must have existed already).
   Each id is known by the span from its first to its last sighting: an id is seen in nearly every
   record, and AWS never gives a name two ids at once, so the points inside a span add nothing;
3. a deterministic id derived from the ARN: `derived_id(kind, arn)`, e.g.
   `AIDA-derived-3f2a9c...` (prefix of the kind, then 20 hex chars of SHA-256 of the ARN). It
   never collides with a real AWS id (those have no hyphen) and is the same on every import.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.domain import events as ev
from ledger.domain.names import UNIQUE_ID_PREFIX

Key = tuple[str, str, str]  # (account, kind, lower-case name or policy ARN)


def _when(entry: tuple[datetime, str]) -> datetime:
    return entry[0]


def derived_id(kind: str, arn: str) -> str:
    """A deterministic stand-in for an immutable unique id that no record revealed."""
    return f"{UNIQUE_ID_PREFIX.get(kind, 'ANYA')}-derived-{hashlib.sha256(arn.encode()).hexdigest()[:20]}"


def session_id_for(access_key_id: str | None, source_id: str) -> str:
    """Sessions seen in CloudTrail are keyed by their issued access key id (unique per session)."""
    return f"ct-{access_key_id}" if access_key_id else f"ct-{source_id}"


@dataclass
class BucketFact:
    at: datetime
    owner: str | None  # None: the bucket was deleted at `at`
    ownership: str | None  # None: unchanged / unknown


@dataclass
class JobFact:
    at: datetime
    account: str
    job_id: str
    job_arn: str
    role_arn: str
    outputs: tuple[str, ...]


@dataclass
class OrgIndex:
    """What an import knows of organisations: each management account's root and organisation id,
    the type of each SCP/RCP id, and which organisation manages each member account."""

    roots: dict[str, str] = field(default_factory=dict)  # management account -> root id
    org_ids: dict[str, str] = field(default_factory=dict)  # management account -> organisation id
    managers: dict[str, str] = field(default_factory=dict)  # organisation id or member account -> management
    policy_types: dict[str, str] = field(default_factory=lambda: {
        "p-FullAWSAccess": "SERVICE_CONTROL_POLICY", "p-RCPFullAWSAccess": "RESOURCE_CONTROL_POLICY"})

    def see_root(self, management: str, root_id: object) -> None:
        if isinstance(root_id, str) and root_id.startswith("r-"):
            self.roots.setdefault(management, root_id)

    def see_org(self, management: str, organization_id: object) -> None:
        if isinstance(organization_id, str) and organization_id.startswith("o-"):
            self.org_ids.setdefault(management, organization_id)
            self.managers.setdefault(organization_id, management)

    def learn(self, event: ev.LedgerEvent) -> None:
        """Take in an organisation fact already recorded in the ledger."""
        management = event.account_id
        if isinstance(event, (ev.OrganizationCreated, ev.OrganizationPolicyTypeEnabled)):
            self.see_root(management, event.root_id)
            if isinstance(event, ev.OrganizationCreated):
                self.see_org(management, event.organization_id)
        elif isinstance(event, (ev.OrganizationalUnitCreated, ev.AccountJoinedOrganization, ev.AccountMoved)):
            self.see_root(management, event.parent_id)
            if isinstance(event, (ev.AccountJoinedOrganization, ev.AccountMoved)):
                self.managers[event.member_account_id] = management
        elif isinstance(event, ev.OrganizationPolicyCreated):
            self.policy_types[event.policy_id] = event.policy_type
        elif isinstance(event, ev.OrganizationPolicyAttached):
            self.see_root(management, event.target_id)


@dataclass
class ImportIndex:
    """Time-aware lookups shared by the first (scan) and second (map) passes of an import."""

    # name -> unique id -> [first, last] sighting; `_timelines` caches the spans' ends in order.
    names: dict[Key, dict[str, list[datetime]]] = field(default_factory=lambda: defaultdict(dict))
    _timelines: dict[Key, list[tuple[datetime, str]]] = field(default_factory=dict)
    known_ids: set[str] = field(default_factory=set)  # ids already in the ledger or emitted
    pending_ids: set[str] = field(default_factory=set)  # ids a record of this import will create
    arns: dict[str, str] = field(default_factory=dict)  # unique id -> ARN (with its path)
    known_accounts: set[str] = field(default_factory=set)
    first_reference: dict[Key, datetime] = field(default_factory=dict)
    first_seen_account: dict[str, datetime] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)  # access key id -> session id
    buckets: dict[str, list[BucketFact]] = field(default_factory=lambda: defaultdict(list))
    jobs: dict[str, list[JobFact]] = field(default_factory=lambda: defaultdict(list))
    shared_choice: dict[str, tuple[int, str]] = field(default_factory=dict)
    org: OrgIndex = field(default_factory=OrgIndex)

    # ------------------------------------------------------------ feeding

    def add_name(self, account: str, kind: str, name: str, at: datetime, unique_id: str) -> None:
        key = (account, kind, name.lower() if kind != "policy" else name)
        if kind == "policy":
            self.arns.setdefault(unique_id, name)
        span = self.names[key].get(unique_id)
        if span is None:
            self.names[key][unique_id] = [at, at]
        elif at < span[0]:
            span[0] = at
        elif at > span[1]:
            span[1] = at
        else:
            return
        self._timelines.pop(key, None)

    def reference(self, account: str, kind: str, name: str, at: datetime) -> None:
        key = (account, kind, name.lower() if kind != "policy" else name)
        seen = self.first_reference.get(key)
        if seen is None or at < seen:
            self.first_reference[key] = at

    def see_account(self, account: str | None, at: datetime) -> None:
        if not account:
            return
        seen = self.first_seen_account.get(account)
        if seen is None or at < seen:
            self.first_seen_account[account] = at

    def add_bucket(self, bucket: str, at: datetime, owner: str | None, ownership: str | None) -> None:
        facts = self.buckets[bucket]
        fact = BucketFact(at, owner, ownership)
        if fact not in facts:
            facts.append(fact)
            facts.sort(key=lambda f: f.at)

    def add_job(self, fact: JobFact) -> None:
        if fact not in self.jobs[fact.role_arn]:
            self.jobs[fact.role_arn].append(fact)
            self.jobs[fact.role_arn].sort(key=lambda j: j.at)

    def learn(self, event: ev.LedgerEvent) -> None:
        """Take in a fact already recorded in the ledger."""
        at = event.occurred_at
        if isinstance(event, ev.AccountCreated):
            self.known_accounts.add(event.account_id)
        elif isinstance(event, ev.UserCreated):
            self.add_name(event.account_id, "user", event.user_name, at, event.user_id)
            self.known_ids.add(event.user_id)
            self.arns[event.user_id] = event.user_arn
        elif isinstance(event, ev.GroupCreated):
            self.add_name(event.account_id, "group", event.group_name, at, event.group_id)
            self.known_ids.add(event.group_id)
            self.arns[event.group_id] = event.group_arn
        elif isinstance(event, ev.RoleCreated):
            self.add_name(event.account_id, "role", event.role_name, at, event.role_id)
            self.known_ids.add(event.role_id)
            self.arns[event.role_id] = event.role_arn
        elif isinstance(event, ev.ManagedPolicyCreated):
            self.add_name(event.account_id, "policy", event.policy_arn, at, event.policy_id)
            self.known_ids.add(event.policy_id)
        elif isinstance(event, (ev.RoleAssumed, ev.FederationTokenIssued)):
            if event.access_key_id:
                self.sessions[event.access_key_id] = event.session_id
        elif isinstance(event, (ev.BucketCreated, ev.BucketOwnershipChanged)):
            self.add_bucket(event.bucket_name, at, event.account_id, event.object_ownership)
        elif isinstance(event, ev.BucketDeleted):
            self.add_bucket(event.bucket_name, at, None, None)
        elif isinstance(event, ev.JobCreated):
            self.add_job(JobFact(at, event.account_id, event.job_id, event.job_arn, event.role_arn, event.outputs))
        else:
            self.org.learn(event)

    # ------------------------------------------------------------ lookups

    def resolve(self, account: str, kind: str, name: str, at: datetime) -> str | None:
        """The id of the `kind` named `name` in `account` at `at` (policies by ARN), if known:
        the latest known at or before `at`, else the earliest known after it."""
        key = (account, kind, name.lower() if kind != "policy" else name)
        timeline = self._timelines.get(key)
        if timeline is None:
            spans = self.names.get(key)
            if not spans:
                return None
            timeline = sorted({(when, unique_id) for unique_id, span in spans.items() for when in span})
            self._timelines[key] = timeline
        where = bisect.bisect_right(timeline, at, key=_when)
        return timeline[where - 1][1] if where else timeline[0][1]

    def placeholder_time(self, account: str, kind: str, name: str, at: datetime) -> datetime:
        seen = self.first_reference.get((account, kind, name.lower() if kind != "policy" else name))
        return min(seen, at) if seen else at

    def account_time(self, account: str, at: datetime) -> datetime:
        seen = self.first_seen_account.get(account)
        return min(seen, at) if seen else at

    def bucket_at(self, bucket: str, at: datetime) -> tuple[str, str | None] | None:
        """(owner account, object ownership setting or None if unknown) in force at `at`."""
        owner: str | None = None
        ownership: str | None = None
        known = False
        for fact in self.buckets.get(bucket, ()):
            if fact.at > at:
                break
            known = True
            if fact.owner is None:
                owner, ownership = None, None
                continue
            owner = fact.owner
            if fact.ownership is not None:
                ownership = fact.ownership
        if not known or owner is None:
            return None
        return owner, ownership

    def job_for_output(self, role_arn: str, bucket: str, key: str, at: datetime) -> JobFact | None:
        """The latest job run as `role_arn` before `at` whose outputs cover s3://bucket/key."""
        target = f"s3://{bucket}/{key}"
        for job in reversed(self.jobs.get(role_arn, ())):
            if job.at <= at and any(target.startswith(out) for out in job.outputs):
                return job
        return None

    def choose_shared(self, shared_id: str, record: dict[str, Any], fingerprint: str) -> None:
        """Of the copies of a cross-account call, keep the one naming the caller (has an ARN),
        ties broken by content, so the choice does not depend on which file came first."""
        rank = (1 if (record.get("userIdentity") or {}).get("arn") else 0, fingerprint)
        current = self.shared_choice.get(shared_id)
        if current is None or rank > current:
            self.shared_choice[shared_id] = rank

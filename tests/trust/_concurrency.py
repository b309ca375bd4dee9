"""Concurrency campaigns: several processes issue conflicting commands at once against one store.

Each scenario returns what happened (per-process results) and the checks on the folded state
and the log, so the tests assert on them and `benchmarks.bench_trust` counts them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.application.facade import Ledger
from tests.trust._support import raw

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "111122223333"
TYPED_CONFLICTS = {"LimitExceededError", "DeleteConflictError", "NotFoundError", "ConcurrencyError"}
ALLOW = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def policy_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy/{name}"


@dataclass
class Outcome:
    """Results of one race: each process's command results, and the violations found."""

    name: str
    results: list[dict[str, Any]]
    violations: list[str] = field(default_factory=list)

    @property
    def successes(self) -> int:
        return sum(1 for r in self.results if r["ok"])

    @property
    def errors(self) -> Counter[str]:
        return Counter(r["error"] for r in self.results if not r["ok"])

    @property
    def untyped(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r.get("untyped")]


def run_workers(url: str, ops_per_worker: list[list[tuple[str, list[Any]]]], *, delay: float = 2.5,
                warm: tuple[str, ...] = (ACCOUNT,), first_use: bool = False) -> list[dict[str, Any]]:
    """Start one process per op list; all start their commands at the same wall-clock instant,
    each having read the `warm` accounts' state first (with `first_use`, opening the store is
    part of the race: nobody opens it beforehand)."""
    start_at = time.time() + delay
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.trust._worker",
             json.dumps({"url": url, "start_at": start_at, "warm": [] if first_use else list(warm),
                         "open_at_start": first_use, "ops": ops})],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for ops in ops_per_worker
    ]
    results: list[dict[str, Any]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        lines = [line for line in out.splitlines() if line.startswith("[")]
        if proc.returncode != 0 or not lines:
            results.append({"ok": False, "error": "WorkerCrashed", "untyped": True, "message": err[-500:]})
            continue
        results.extend(json.loads(lines[-1]))
    return results


def log_violations(url: str, expected_events: int | None = None) -> list[str]:
    """One total order: unique increasing positions, each stream's versions exactly 1..n, and
    (when given) exactly the expected number of events."""
    problems: list[str] = []
    with raw(url) as db:
        rows = db.rows()
    positions = [r.position for r in rows]
    if len(set(positions)) != len(positions) or positions != sorted(positions):
        problems.append("positions are not unique and increasing")
    streams: dict[str, list[int]] = {}
    for r in rows:
        streams.setdefault(r.originator_id.replace("-", ""), []).append(r.version)
    for stream, versions in streams.items():
        if versions != list(range(1, len(versions) + 1)):
            problems.append(f"stream {stream} versions are not contiguous 1..n in log order")
    if expected_events is not None and len(rows) != expected_events:
        problems.append(f"{len(rows)} events in the log, {expected_events} expected (lost or duplicated)")
    return problems


def _count(url: str) -> int:
    with raw(url) as db:
        return db.count()


def _check(outcome: Outcome, url: str, before: int) -> Outcome:
    outcome.violations += [f"untyped {r['error']}: {r.get('message', '')}" for r in outcome.untyped]
    events = sum(r.get("events", 0) for r in outcome.results if r["ok"])
    outcome.violations += log_violations(url, before + events)
    return outcome


def race_attach_tenth_policy(url: str) -> Outcome:
    """A user has 9 managed policies; two processes attach a 10th and an 11th at once."""
    with Ledger.open(url) as ledger:
        ledger.create_account(ACCOUNT, "race")
        ledger.create_user(ACCOUNT, "alice")
        for i in range(11):
            ledger.create_policy(ACCOUNT, f"P{i}", ALLOW)
        for i in range(9):
            ledger.attach_user_policy(ACCOUNT, "alice", policy_arn(f"P{i}"))
    before = _count(url)
    results = run_workers(url, [
        [("attach_user_policy", [ACCOUNT, "alice", policy_arn("P9")])],
        [("attach_user_policy", [ACCOUNT, "alice", policy_arn("P10")])],
    ])
    outcome = Outcome("two attach the 10th/11th managed policy (quota 10)", results)
    with Ledger.open(url) as ledger:
        alice = ledger.account_state(ACCOUNT).user_by_name("alice")
        attached = len(alice.managed) if alice else -1
    if attached > 10:
        outcome.violations.append(f"alice has {attached} managed policies (quota 10)")
    if outcome.successes != 1 or set(outcome.errors) - {"LimitExceededError"}:
        outcome.violations.append(f"expected one winner and LimitExceededError: {results}")
    return _check(outcome, url, before)


def race_third_access_key(url: str) -> Outcome:
    """A user has one access key; two processes create another at once (quota 2)."""
    with Ledger.open(url) as ledger:
        ledger.create_account(ACCOUNT, "race")
        ledger.create_user(ACCOUNT, "bob")
        ledger.create_access_key(ACCOUNT, "bob")
    before = _count(url)
    results = run_workers(url, [[("create_access_key", [ACCOUNT, "bob"])]] * 2)
    outcome = Outcome("two create the third access key (quota 2)", results)
    with Ledger.open(url) as ledger:
        bob = ledger.account_state(ACCOUNT).user_by_name("bob")
        keys = len(bob.access_keys) if bob else -1
    if keys != 2:
        outcome.violations.append(f"bob has {keys} access keys (quota 2, one slot was free)")
    if outcome.successes != 1 or set(outcome.errors) - {"LimitExceededError"}:
        outcome.violations.append(f"expected one winner and LimitExceededError: {results}")
    return _check(outcome, url, before)


def race_delete_while_attaching(url: str) -> Outcome:
    """One process deletes a policy while another attaches it: never both."""
    with Ledger.open(url) as ledger:
        ledger.create_account(ACCOUNT, "race")
        ledger.create_user(ACCOUNT, "carol")
        ledger.create_policy(ACCOUNT, "Doomed", ALLOW)
    before = _count(url)
    results = run_workers(url, [
        [("delete_policy", [policy_arn("Doomed")])],
        [("attach_user_policy", [ACCOUNT, "carol", policy_arn("Doomed")])],
    ])
    outcome = Outcome("delete a policy while another attaches it", results)
    with Ledger.open(url) as ledger:
        state = ledger.account_state(ACCOUNT)
        exists = any(p.name == "Doomed" for p in state.policies.values())
        carol = state.user_by_name("carol")
        attached = carol is not None and policy_arn("Doomed") in carol.managed.values()
    if attached and not exists:
        outcome.violations.append("a deleted policy is attached")
    if outcome.successes != 1 or set(outcome.errors) - {"DeleteConflictError", "NotFoundError"}:
        outcome.violations.append(f"expected one winner and DeleteConflict/NotFound: {results}")
    return _check(outcome, url, before)


def race_many_creators(url: str, processes: int = 5, users_each: int = 4) -> Outcome:
    """Many processes create distinct users in one account at once: every user that a process
    was told exists does, exactly once."""
    with Ledger.open(url) as ledger:
        ledger.create_account(ACCOUNT, "race")
    before = _count(url)
    results = run_workers(url, [
        [("create_user", [ACCOUNT, f"u{p}-{i}"]) for i in range(users_each)] for p in range(processes)
    ])
    outcome = Outcome(f"{processes} processes create {processes * users_each} users", results)
    with Ledger.open(url) as ledger:
        users = {u.name for u in ledger.account_state(ACCOUNT).users.values()}
    if len(users) != outcome.successes:
        outcome.violations.append(f"{len(users)} users exist but {outcome.successes} creates succeeded")
    if set(outcome.errors) - {"ConcurrencyError"}:
        outcome.violations.append(f"unexpected errors {outcome.errors}")
    return _check(outcome, url, before)


BUCKET_RACERS = ("111111111111", "222222222222", "333333333333", "444444444444")


def race_same_bucket_name(url: str) -> Outcome:
    """Four accounts create the same bucket name at once: bucket names are global, so exactly
    one wins, the others get EntityAlreadyExistsError, and the one owner is the winner's."""
    with Ledger.open(url) as ledger:
        for account in BUCKET_RACERS:
            ledger.create_account(account, f"racer-{account[0]}")
    before = _count(url)
    results = run_workers(url, [[("create_bucket", [account, "contested-bucket"])] for account in BUCKET_RACERS],
                          warm=BUCKET_RACERS)
    outcome = Outcome("four accounts create the same bucket name (global names)", results)
    with Ledger.open(url) as ledger:
        holders = [a for a in BUCKET_RACERS if "contested-bucket" in ledger.account_state(a).buckets]
        created = [e.account_id for e in ledger.events() if e.event_type == "BucketCreated"]
    if len(holders) != 1 or created != holders:
        outcome.violations.append(f"{len(created)} BucketCreated events, held by {holders}")
    if outcome.successes != 1 or set(outcome.errors) - {"EntityAlreadyExistsError"}:
        outcome.violations.append(f"expected one winner and EntityAlreadyExistsError: {results}")
    return _check(outcome, url, before)


def race_first_use(url: str, processes: int = 16) -> Outcome:
    """`processes` processes open a store nobody has opened yet, at the same instant, and each
    writes and asks a question (which migrates and bootstraps the projection): every one
    succeeds, and the log and the projection hold exactly what they recorded."""
    accounts = [f"{100000000000 + p:012d}" for p in range(processes)]
    ops = [[("create_account", [account]),
            ("can", [f"arn:aws:iam::{account}:root", "iam:CreateUser", f"arn:aws:iam::{account}:user/x"])]
           for account in accounts]
    # Half of them ask first: the read side's migration and bootstrap race the writers' tables.
    results = run_workers(url, [o if p % 2 else o[::-1] for p, o in enumerate(ops)], first_use=True)
    outcome = Outcome(f"{processes} processes use a fresh store at once", results)
    if outcome.successes != 2 * processes:
        outcome.violations.append(f"{2 * processes - outcome.successes} of {2 * processes} commands failed: "
                                  f"{[r for r in results if not r['ok']]}")
    outcome.violations += [f"untyped {r['error']}: {r.get('message', '')}" for r in outcome.untyped]
    outcome.violations += log_violations(url, processes)
    return outcome


SCENARIOS = {
    "attach_tenth_policy": race_attach_tenth_policy,
    "third_access_key": race_third_access_key,
    "delete_while_attaching": race_delete_while_attaching,
    "many_creators": race_many_creators,
    "same_bucket_name": race_same_bucket_name,
}

"""Synthetic histories for benchmarks: accounts, thousands of principals, policy churn, role
chains, sessions, jobs and outputs, appended in batches through `Ledger.record`.

Deterministic for a seed; never used by the product itself.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.domain import events as ev

_ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
BASE = datetime(2024, 1, 1, tzinfo=UTC)
# Events per `Ledger.record` call: one transaction (and one durable commit) each.
BATCH = 10_000


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


class _Gen:
    def __init__(self, ledger: Any, target: int, seed: int) -> None:
        self.ledger = ledger
        self.rnd = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
        self.target = target
        self.count = 0
        self.tick = 0
        self.buffer: list[ev.LedgerEvent] = []
        self.batch = BATCH
        self.now = datetime.now(UTC)

    def uid(self, prefix: str) -> str:
        return prefix + "".join(self.rnd.choice(_ALPHA) for _ in range(17))

    def when(self) -> datetime:
        self.tick += self.rnd.randint(1, 120)
        return BASE + timedelta(seconds=self.tick)

    def emit(self, cls: type[ev.LedgerEvent], account: str, at: datetime | None = None,
             **fields: Any) -> ev.LedgerEvent:
        event = cls(originator_id=ev.account_stream_id(account), originator_version=1,
                    occurred_at=at or self.when(), recorded_at=self.now, account_id=account,
                    actor=f"arn:aws:iam::{account}:root", **fields)
        self.buffer.append(event)
        self.count += 1
        if len(self.buffer) >= self.batch:
            self.flush()
        return event

    def flush(self) -> None:
        if self.buffer:
            self.ledger.record(self.buffer)
            self.buffer = []


def generate(ledger_or_store: Any, events: int, seed: int = 1) -> int:
    """Append a synthetic history of about `events` events; returns how many were appended."""
    from ledger.application.facade import Ledger

    ledger = ledger_or_store if isinstance(ledger_or_store, Ledger) else Ledger(ledger_or_store)
    g = _Gen(ledger, events, seed)
    rnd = g.rnd
    n_accounts = max(2, min(6, events // 50_000 + 2))
    n_users = min(5000, max(20, events // 200))
    n_roles = max(5, n_users // 10)
    n_groups = max(3, n_users // 100)
    n_policies = max(6, n_users // 50)
    accounts = [f"{100000000000 + 111 * i:012d}" for i in range(n_accounts)]
    for a in accounts:
        g.emit(ev.AccountCreated, a, account_name=f"acct-{a}", root_arn=f"arn:aws:iam::{a}:root")
    # Plain dicts of what was created (ids, ARNs, accounts, policy versions), by kind.
    users: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    policies: list[dict[str, Any]] = []
    buckets: list[dict[str, Any]] = []
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "mediaconvert:CreateJob",
               "mediaconvert:GetJob", "iam:PassRole", "sts:AssumeRole", "s3:ListBucket"]
    for i in range(n_policies):
        a = rnd.choice(accounts)
        pid = g.uid("ANPA")
        arn = f"arn:aws:iam::{a}:policy/pol{i}"
        docs = _doc({"Effect": "Allow", "Action": rnd.sample(actions, 3),
                     "Resource": f"arn:aws:s3:::bucket{i % 7}-*/*"},
                    {"Effect": "Allow", "Action": rnd.choice(actions), "Resource": "*"})
        g.emit(ev.ManagedPolicyCreated, a, policy_id=pid, policy_name=f"pol{i}", policy_arn=arn, document=docs)
        policies.append({"id": pid, "arn": arn, "account": a, "versions": ["v1"], "next": 2, "default": "v1"})
    for i in range(n_groups):
        a = accounts[i % n_accounts]
        gid = g.uid("AGPA")
        arn = f"arn:aws:iam::{a}:group/g{i}"
        g.emit(ev.GroupCreated, a, group_id=gid, group_name=f"g{i}", group_arn=arn)
        groups.append({"id": gid, "arn": arn, "account": a})
    for i in range(n_users):
        a = accounts[i % n_accounts]
        uid = g.uid("AIDA")
        arn = f"arn:aws:iam::{a}:user/u{i}"
        g.emit(ev.UserCreated, a, user_id=uid, user_name=f"u{i}", user_arn=arn)
        users.append({"id": uid, "arn": arn, "account": a})
    for i in range(n_roles):
        a = accounts[i % n_accounts]
        rid = g.uid("AROA")
        arn = f"arn:aws:iam::{a}:role/r{i}"
        same = [r for r in roles if r["account"] == a]
        if i % 10 == 0:
            principal: dict[str, Any] = {"Service": "mediaconvert.amazonaws.com"}
        elif same and i % 3 == 0:
            principal = {"AWS": rnd.choice(same)["arn"]}  # role chains
        elif i % 3 == 1:
            principal = {"AWS": f"arn:aws:iam::{a}:root"}
        else:
            principal = {"AWS": rnd.choice([u for u in users if u["account"] == a])["arn"]}
        trust = _doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})
        g.emit(ev.RoleCreated, a, role_id=rid, role_name=f"r{i}", role_arn=arn, trust_policy=trust)
        g.emit(ev.InlinePolicyPut, a, principal_kind="role", principal_id=rid, principal_arn=arn, policy_name="work",
               document=_doc({"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "sts:AssumeRole"],
                              "Resource": "*"}))
        roles.append({"id": rid, "arn": arn, "account": a, "name": f"r{i}"})
    for i in range(max(3, n_accounts * 2)):
        a = accounts[i % n_accounts]
        name = f"bucket{i % 7}-{i}"
        g.emit(ev.BucketCreated, a, bucket_name=name, bucket_arn=f"arn:aws:s3:::{name}",
               object_ownership=rnd.choice(["BucketOwnerEnforced", "ObjectWriter", "BucketOwnerPreferred"]))
        buckets.append({"name": name, "account": a})
    # Per-account candidates, computed once (the same lists the loop used to rebuild per event).
    creators = {a: [u for u in users[:200] if u["account"] == a] or users[:1] for a in accounts}
    group_choices = {a: [k for k in range(n_groups) if groups[k]["account"] == a] or [0] for a in accounts}
    membership: set[tuple[int, int]] = set()
    attached: set[tuple[int, int]] = set()
    sessions = 0
    while g.count < events:
        r = rnd.random()
        if r < 0.22:
            ui, pi = rnd.randrange(n_users), rnd.randrange(n_policies)
            u, p = users[ui], policies[pi]
            if p["account"] != u["account"]:
                continue
            cls = ev.PolicyDetached if (ui, pi) in attached else ev.PolicyAttached
            attached.symmetric_difference_update({(ui, pi)})
            g.emit(cls, u["account"], principal_kind="user", principal_id=u["id"], principal_arn=u["arn"],
                   policy_id=p["id"], policy_arn=p["arn"])
        elif r < 0.40:
            ui = rnd.randrange(n_users)
            u = users[ui]
            gi = rnd.choice(group_choices[u["account"]])
            if groups[gi]["account"] != u["account"]:
                continue
            cls2 = ev.UserRemovedFromGroup if (ui, gi) in membership else ev.UserAddedToGroup
            membership.symmetric_difference_update({(ui, gi)})
            g.emit(cls2, u["account"], user_id=u["id"], user_arn=u["arn"], group_id=groups[gi]["id"],
                   group_arn=groups[gi]["arn"])
        elif r < 0.50:
            gr = groups[rnd.randrange(n_groups)]
            p = rnd.choice(policies)
            if p["account"] == gr["account"]:
                g.emit(ev.PolicyAttached, gr["account"], principal_kind="group", principal_id=gr["id"],
                       principal_arn=gr["arn"], policy_id=p["id"], policy_arn=p["arn"])
        elif r < 0.62:
            p = rnd.choice(policies)
            if len(p["versions"]) >= 5:
                victim = next(v for v in p["versions"] if v != p["default"])
                p["versions"].remove(victim)
                g.emit(ev.PolicyVersionDeleted, p["account"], policy_id=p["id"], policy_arn=p["arn"], version_id=victim)
            vid = f"v{p['next']}"
            p["next"] += 1
            p["versions"].append(vid)
            default = rnd.random() < 0.6
            if default:
                p["default"] = vid
            g.emit(ev.PolicyVersionCreated, p["account"], policy_id=p["id"], policy_arn=p["arn"], version_id=vid,
                   set_as_default=default, document=_doc({"Effect": rnd.choice(["Allow", "Allow", "Deny"]),
                                                          "Action": rnd.sample(actions, 2), "Resource": "*"}))
        elif r < 0.80:
            role = rnd.choice(roles)
            at = g.when()
            sessions += 1
            g.emit(ev.RoleAssumed, role["account"], at=at, session_id=f"{role['id']}:s{sessions}", role_id=role["id"],
                   role_arn=role["arn"], session_name=f"s{sessions}",
                   session_arn=f"arn:aws:sts::{role['account']}:assumed-role/{role['name']}/s{sessions}",
                   caller_arn=f"arn:aws:iam::{role['account']}:root", issued_at=at,
                   expires_at=at + timedelta(seconds=rnd.choice([900, 3600, 43200])))
        elif r < 0.92:
            role = rnd.choice(roles)
            a = role["account"]
            creator = rnd.choice(creators[a])
            bucket = rnd.choice(buckets)
            job_id = f"job{g.count}"
            job_arn = f"arn:aws:mediaconvert:us-east-1:{a}:jobs/{job_id}"
            g.emit(ev.JobCreated, a, job_id=job_id, job_arn=job_arn, creator_arn=creator["arn"],
                   queue_arn=f"arn:aws:mediaconvert:us-east-1:{a}:queues/Default", role_id=role["id"],
                   role_arn=role["arn"], outputs=(f"s3://{bucket['name']}/out/",))
            acl = rnd.choice([None, "bucket-owner-full-control"])
            g.emit(ev.OutputWritten, bucket["account"], bucket_name=bucket["name"],
                   bucket_arn=f"arn:aws:s3:::{bucket['name']}",
                   key=f"out/{job_id}.mp4", object_arn=f"arn:aws:s3:::{bucket['name']}/out/{job_id}.mp4",
                   writer_arn=f"arn:aws:sts::{a}:assumed-role/{role['name']}/MediaConvert", writer_account=a,
                   job_id=job_id, job_arn=job_arn, acl=acl, object_ownership="ObjectWriter", owner_account=a)
        else:
            b = rnd.choice(buckets)
            other = rnd.choice(accounts)
            g.emit(ev.BucketPolicyPut, b["account"], bucket_name=b["name"], bucket_arn=f"arn:aws:s3:::{b['name']}",
                   document=_doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other}:root"},
                                  "Action": ["s3:PutObject", "s3:GetObject"],
                                  "Resource": f"arn:aws:s3:::{b['name']}/*"}))
    g.flush()
    return g.count

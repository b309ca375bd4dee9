"""Synthetic histories for benchmarks: accounts, thousands of principals, policy churn, role
chains, sessions, jobs and outputs, appended in batches through `Ledger.record`.

Deterministic for a seed; never used by the product itself.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.domain import events as ev

_ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
BASE = datetime(2024, 1, 1, tzinfo=UTC)
# Events per `Ledger.record` call: one transaction (and one durable commit) each.
BATCH = 10_000
_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "mediaconvert:CreateJob",
            "mediaconvert:GetJob", "iam:PassRole", "sts:AssumeRole", "s3:ListBucket"]


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


class _Gen:
    """The seeded random source, the synthetic clock and the batch of events not yet recorded."""

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


@dataclass
class _World:
    """What the history has created so far (plain dicts of ids, ARNs, accounts, policy versions),
    and the user-policy attachments and group memberships in force."""

    accounts: list[str]
    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    policies: list[dict[str, Any]] = field(default_factory=list)
    buckets: list[dict[str, Any]] = field(default_factory=list)
    creators: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    group_choices: dict[str, list[int]] = field(default_factory=dict)
    membership: set[tuple[int, int]] = field(default_factory=set)
    attached: set[tuple[int, int]] = field(default_factory=set)
    sessions: int = 0


def generate(ledger_or_store: Any, events: int, seed: int = 1) -> int:
    """Append a synthetic history of about `events` events; returns how many were appended."""
    from ledger.application.facade import Ledger

    ledger = ledger_or_store if isinstance(ledger_or_store, Ledger) else Ledger(ledger_or_store)
    g = _Gen(ledger, events, seed)
    world = _World(accounts=[f"{100000000000 + 111 * i:012d}" for i in range(max(2, min(6, events // 50_000 + 2)))])
    for a in world.accounts:
        g.emit(ev.AccountCreated, a, account_name=f"acct-{a}", root_arn=f"arn:aws:iam::{a}:root")
    n_users = min(5000, max(20, events // 200))
    _create_policies(g, world, max(6, n_users // 50))
    _create_groups_and_users(g, world, max(3, n_users // 100), n_users)
    _create_roles(g, world, max(5, n_users // 10))
    _create_buckets(g, world)
    # Per-account candidates, computed once (the same lists the loop used to rebuild per event).
    world.creators = {a: [u for u in world.users[:200] if u["account"] == a] or world.users[:1]
                      for a in world.accounts}
    world.group_choices = {a: [k for k in range(len(world.groups)) if world.groups[k]["account"] == a] or [0]
                           for a in world.accounts}
    while g.count < events:
        r = g.rnd.random()
        step = next(step for threshold, step in _CHURN if r < threshold)
        step(g, world)
    g.flush()
    return g.count


def _create_policies(g: _Gen, world: _World, count: int) -> None:
    for i in range(count):
        a = g.rnd.choice(world.accounts)
        pid = g.uid("ANPA")
        arn = f"arn:aws:iam::{a}:policy/pol{i}"
        docs = _doc({"Effect": "Allow", "Action": g.rnd.sample(_ACTIONS, 3),
                     "Resource": f"arn:aws:s3:::bucket{i % 7}-*/*"},
                    {"Effect": "Allow", "Action": g.rnd.choice(_ACTIONS), "Resource": "*"})
        g.emit(ev.ManagedPolicyCreated, a, policy_id=pid, policy_name=f"pol{i}", policy_arn=arn, document=docs)
        world.policies.append({"id": pid, "arn": arn, "account": a, "versions": ["v1"], "next": 2, "default": "v1"})


def _create_groups_and_users(g: _Gen, world: _World, groups: int, users: int) -> None:
    accounts = world.accounts
    for i in range(groups):
        a = accounts[i % len(accounts)]
        gid = g.uid("AGPA")
        arn = f"arn:aws:iam::{a}:group/g{i}"
        g.emit(ev.GroupCreated, a, group_id=gid, group_name=f"g{i}", group_arn=arn)
        world.groups.append({"id": gid, "arn": arn, "account": a})
    for i in range(users):
        a = accounts[i % len(accounts)]
        uid = g.uid("AIDA")
        arn = f"arn:aws:iam::{a}:user/u{i}"
        g.emit(ev.UserCreated, a, user_id=uid, user_name=f"u{i}", user_arn=arn)
        world.users.append({"id": uid, "arn": arn, "account": a})


def _create_roles(g: _Gen, world: _World, count: int) -> None:
    """Roles trusted by MediaConvert, by another role of the account (chains), by the account
    root or by one of its users, each with an inline policy to write, read and assume roles."""
    accounts, roles, rnd = world.accounts, world.roles, g.rnd
    for i in range(count):
        a = accounts[i % len(accounts)]
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
            principal = {"AWS": rnd.choice([u for u in world.users if u["account"] == a])["arn"]}
        trust = _doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})
        g.emit(ev.RoleCreated, a, role_id=rid, role_name=f"r{i}", role_arn=arn, trust_policy=trust)
        g.emit(ev.InlinePolicyPut, a, principal_kind="role", principal_id=rid, principal_arn=arn, policy_name="work",
               document=_doc({"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "sts:AssumeRole"],
                              "Resource": "*"}))
        roles.append({"id": rid, "arn": arn, "account": a, "name": f"r{i}"})


def _create_buckets(g: _Gen, world: _World) -> None:
    accounts = world.accounts
    for i in range(max(3, len(accounts) * 2)):
        a = accounts[i % len(accounts)]
        name = f"bucket{i % 7}-{i}"
        g.emit(ev.BucketCreated, a, bucket_name=name, bucket_arn=f"arn:aws:s3:::{name}",
               object_ownership=g.rnd.choice(["BucketOwnerEnforced", "ObjectWriter", "BucketOwnerPreferred"]))
        world.buckets.append({"name": name, "account": a})


def _toggle_user_policy(g: _Gen, world: _World) -> None:
    ui, pi = g.rnd.randrange(len(world.users)), g.rnd.randrange(len(world.policies))
    u, p = world.users[ui], world.policies[pi]
    if p["account"] != u["account"]:
        return
    cls = ev.PolicyDetached if (ui, pi) in world.attached else ev.PolicyAttached
    world.attached.symmetric_difference_update({(ui, pi)})
    g.emit(cls, u["account"], principal_kind="user", principal_id=u["id"], principal_arn=u["arn"],
           policy_id=p["id"], policy_arn=p["arn"])


def _toggle_membership(g: _Gen, world: _World) -> None:
    ui = g.rnd.randrange(len(world.users))
    u = world.users[ui]
    gi = g.rnd.choice(world.group_choices[u["account"]])
    group = world.groups[gi]
    if group["account"] != u["account"]:
        return
    cls = ev.UserRemovedFromGroup if (ui, gi) in world.membership else ev.UserAddedToGroup
    world.membership.symmetric_difference_update({(ui, gi)})
    g.emit(cls, u["account"], user_id=u["id"], user_arn=u["arn"], group_id=group["id"], group_arn=group["arn"])


def _attach_group_policy(g: _Gen, world: _World) -> None:
    gr = world.groups[g.rnd.randrange(len(world.groups))]
    p = g.rnd.choice(world.policies)
    if p["account"] == gr["account"]:
        g.emit(ev.PolicyAttached, gr["account"], principal_kind="group", principal_id=gr["id"],
               principal_arn=gr["arn"], policy_id=p["id"], policy_arn=p["arn"])


def _new_policy_version(g: _Gen, world: _World) -> None:
    """A new version, default 60% of the time."""
    p = g.rnd.choice(world.policies)
    default = g.rnd.random() < 0.6
    add_policy_version(g, p, _doc({"Effect": g.rnd.choice(["Allow", "Allow", "Deny"]),
                                   "Action": g.rnd.sample(_ACTIONS, 2), "Resource": "*"}), default)


def add_policy_version(g: _Gen, p: dict[str, Any], document: Any, default: bool) -> None:
    """AWS keeps five versions: at five, the oldest non-default one is deleted first."""
    if len(p["versions"]) >= 5:
        victim = next(v for v in p["versions"] if v != p["default"])
        p["versions"].remove(victim)
        g.emit(ev.PolicyVersionDeleted, p["account"], policy_id=p["id"], policy_arn=p["arn"], version_id=victim)
    vid = f"v{p['next']}"
    p["next"] += 1
    p["versions"].append(vid)
    if default:
        p["default"] = vid
        p["document"] = document
    g.emit(ev.PolicyVersionCreated, p["account"], policy_id=p["id"], policy_arn=p["arn"], version_id=vid,
           set_as_default=default, document=document)


def _assume_role(g: _Gen, world: _World) -> None:
    role = g.rnd.choice(world.roles)
    at = g.when()
    world.sessions += 1
    n = world.sessions
    g.emit(ev.RoleAssumed, role["account"], at=at, session_id=f"{role['id']}:s{n}", role_id=role["id"],
           role_arn=role["arn"], session_name=f"s{n}",
           session_arn=f"arn:aws:sts::{role['account']}:assumed-role/{role['name']}/s{n}",
           caller_arn=f"arn:aws:iam::{role['account']}:root", issued_at=at,
           expires_at=at + timedelta(seconds=g.rnd.choice([900, 3600, 43200])))


def _run_job(g: _Gen, world: _World) -> None:
    """A MediaConvert job passing a role, and the output it wrote to a (maybe foreign) bucket."""
    role = g.rnd.choice(world.roles)
    a = role["account"]
    creator = g.rnd.choice(world.creators[a])
    bucket = g.rnd.choice(world.buckets)
    job_id = f"job{g.count}"
    job_arn = f"arn:aws:mediaconvert:us-east-1:{a}:jobs/{job_id}"
    g.emit(ev.JobCreated, a, job_id=job_id, job_arn=job_arn, creator_arn=creator["arn"],
           queue_arn=f"arn:aws:mediaconvert:us-east-1:{a}:queues/Default", role_id=role["id"],
           role_arn=role["arn"], outputs=(f"s3://{bucket['name']}/out/",))
    acl = g.rnd.choice([None, "bucket-owner-full-control"])
    g.emit(ev.OutputWritten, bucket["account"], bucket_name=bucket["name"],
           bucket_arn=f"arn:aws:s3:::{bucket['name']}",
           key=f"out/{job_id}.mp4", object_arn=f"arn:aws:s3:::{bucket['name']}/out/{job_id}.mp4",
           writer_arn=f"arn:aws:sts::{a}:assumed-role/{role['name']}/MediaConvert", writer_account=a,
           job_id=job_id, job_arn=job_arn, acl=acl, object_ownership="ObjectWriter", owner_account=a)


def _put_bucket_policy(g: _Gen, world: _World) -> None:
    b = g.rnd.choice(world.buckets)
    other = g.rnd.choice(world.accounts)
    g.emit(ev.BucketPolicyPut, b["account"], bucket_name=b["name"], bucket_arn=f"arn:aws:s3:::{b['name']}",
           document=_doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other}:root"},
                          "Action": ["s3:PutObject", "s3:GetObject"],
                          "Resource": f"arn:aws:s3:::{b['name']}/*"}))


# The history's churn: a uniform draw picks the first step whose threshold exceeds it.
_CHURN: tuple[tuple[float, Callable[[_Gen, _World], None]], ...] = (
    (0.22, _toggle_user_policy),
    (0.40, _toggle_membership),
    (0.50, _attach_group_policy),
    (0.62, _new_policy_version),
    (0.80, _assume_role),
    (0.92, _run_job),
    (1.0, _put_bucket_policy),
)

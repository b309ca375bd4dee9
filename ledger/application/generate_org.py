"""The organisation tier of synthetic histories: an AWS Organization of many accounts in an OU
tree with SCPs at several levels, landing-zone roles stamped from templates, cross-account role
chains, delegated admins under permission boundaries, cross-account buckets and MediaConvert jobs.

Deterministic for a seed (the log is byte-identical run to run); appends through the same batched
`Ledger.record` path as `generate`; never used by the product itself.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ledger.application.generate import BASE, _doc, _Gen
from ledger.application.generate_org_shape import (
    BASELINE_TEMPLATES,
    GROUPS,
    MANAGED,
    app_families,
    scp_documents,
)
from ledger.domain import events as ev
from ledger.domain.organization import FULL_AWS_ACCESS, FULL_AWS_ACCESS_DOCUMENT, SCP

YEAR = timedelta(days=365)


@dataclass(frozen=True)
class OrgShape:
    """The organisation's size: member accounts (the management account included), principals
    (users and roles) created at the start, events in all, over `years` of history."""

    accounts: int = 200
    principals: int = 50_000
    events: int = 10_000_000
    years: float = 3.0


class _OrgGen(_Gen):
    """`_Gen` with a clock spread evenly over the shape's years and `recorded_at` equal to the
    event's own time, so that the same seed gives the same bytes (no wall-clock anywhere)."""

    def __init__(self, ledger: Any, shape: OrgShape, seed: int) -> None:
        super().__init__(ledger, shape.events, seed)
        span = shape.years * YEAR.total_seconds()
        self.step = max(2, int(2 * span / max(1, shape.events)))  # uniform 1..step-1: mean span/events

    def when(self) -> datetime:
        self.tick += self.rnd.randrange(1, self.step)
        return BASE + timedelta(seconds=self.tick)

    def emit(self, cls: type[ev.LedgerEvent], account: str, at: datetime | None = None,
             **fields: Any) -> ev.LedgerEvent:
        at = at or self.when()
        event = cls(originator_id=ev.account_stream_id(account), originator_version=1, occurred_at=at,
                    recorded_at=at, account_id=account, actor=f"arn:aws:iam::{account}:root", **fields)
        self.buffer.append(event)
        self.count += 1
        if len(self.buffer) >= self.batch:
            self.flush()
        return event


@dataclass
class OrgWorld:
    """What the history has created so far, as plain data the churn steps sample from."""

    management: str
    accounts: list[str]  # members, management first
    root: str = ""
    units: list[tuple[str, str, str]] = field(default_factory=list)  # (ou id, name, parent)
    parent_of: dict[str, str] = field(default_factory=dict)  # member account -> OU (or root)
    leaves: list[str] = field(default_factory=list)  # OUs workload accounts may move between
    scps: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> name, document
    attached: dict[str, list[str]] = field(default_factory=dict)  # target -> SCP ids (≤ 5, AWS)
    optional_scps: list[str] = field(default_factory=list)  # account-level SCPs churn attaches
    policies: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (account, name)
    policy_keys: list[tuple[str, str]] = field(default_factory=list)
    role_count: dict[str, int] = field(default_factory=dict)  # live roles per account (quota 1,000)
    roles: list[dict[str, Any]] = field(default_factory=list)  # every role ever created
    apps: list[int] = field(default_factory=list)  # live app roles (indices into roles); churn deletes them
    by_name: dict[tuple[str, str], int] = field(default_factory=dict)  # live (account, name) -> role
    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    buckets: list[dict[str, Any]] = field(default_factory=list)
    media: list[str] = field(default_factory=list)  # accounts that run MediaConvert
    outputs: list[int] = field(default_factory=list)  # buckets MediaConvert writes to (indices)
    identity: str = ""  # where the humans' users live
    shared: str = ""  # where the chain hub role lives
    families: list[dict[str, Any]] = field(default_factory=list)
    sessions: int = 0
    jobs: int = 0
    app_serial: int = 0

    def role(self, account: str, name: str) -> dict[str, Any]:
        return self.roles[self.by_name[(account, name)]]


def generate_org(ledger_or_store: Any, shape: OrgShape | None = None, seed: int = 1) -> int:
    """Append an organisation-shaped history of about `shape.events` events; returns how many."""
    from ledger.application.facade import Ledger
    from ledger.application.generate_org_churn import CHURN, WEIGHTS

    shape = shape or OrgShape()
    ledger = ledger_or_store if isinstance(ledger_or_store, Ledger) else Ledger(ledger_or_store)
    g = _OrgGen(ledger, shape, seed)
    world = build_org(g, shape)
    cumulative = []
    total = 0.0
    for weight in WEIGHTS:
        total += weight
        cumulative.append(total)
    while g.count < shape.events:
        CHURN[bisect.bisect_right(cumulative, g.rnd.random() * total)](g, world)
    g.flush()
    return g.count


def build_org(g: _OrgGen, shape: OrgShape) -> OrgWorld:
    """The opening of the history: accounts, the organisation, IAM of every account, buckets."""
    n = max(4, shape.accounts)
    accounts = [f"{100000000000 + 7919 * i:012d}" for i in range(n)]
    world = OrgWorld(management=accounts[0], accounts=accounts, identity=accounts[1], shared=accounts[2])
    world.families = app_families(g.rnd)
    for a in accounts:
        g.emit(ev.AccountCreated, a, account_name=f"acct-{a}", root_arn=f"arn:aws:iam::{a}:root")
    _organization(g, world)
    for a in accounts:
        for name, document in MANAGED.items():
            _managed_policy(g, world, a, name, document(a, world))
    _identity_users(g, world, max(2, shape.principals // 20))
    _baseline_roles(g, world)
    _buckets(g, world)
    left = shape.principals - len(world.users) - len(world.roles)
    for k in range(max(len(accounts), left)):
        create_app_role(g, world, accounts[1 + k % (n - 1)])
    return world


def _organization(g: _OrgGen, world: OrgWorld) -> None:
    """Root, a landing-zone OU tree up to four levels deep, accounts placed in it, FullAWSAccess
    on every target (AWS attaches it automatically) and deny-list SCPs at several levels."""
    m, rnd = world.management, g.rnd
    suffix = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(4))
    world.root = f"r-{suffix}"
    org_id = f"o-{suffix}{g.uid('')[:6].lower()}"
    g.emit(ev.OrganizationCreated, m, organization_id=org_id, root_id=world.root, enabled_policy_types=(SCP,))
    g.emit(ev.OrganizationPolicyCreated, m, policy_id=FULL_AWS_ACCESS, policy_name="FullAWSAccess",
           policy_type=SCP, document=FULL_AWS_ACCESS_DOCUMENT, aws_managed=True)
    _attach(g, world, FULL_AWS_ACCESS, world.root)
    top = {name: _unit(g, world, name, world.root) for name in ("Security", "Infrastructure", "Workloads", "Sandbox")}
    env = {name: _unit(g, world, name, top["Workloads"]) for name in ("Prod", "NonProd")}
    business = max(1, (len(world.accounts) - 4) // 24)
    for stage, parent in env.items():
        for b in range(business):
            unit = _unit(g, world, f"{stage}-bu{b}", parent)
            world.leaves.append(unit)
            world.leaves.append(_unit(g, world, f"{stage}-bu{b}-media", unit))  # four levels below the root
    documents = scp_documents()
    for name, document in documents.items():
        pid = "p-" + g.uid("")[:8].lower()
        world.scps[pid] = {"name": name, "document": document}
        g.emit(ev.OrganizationPolicyCreated, m, policy_id=pid, policy_name=name, policy_type=SCP, document=document)
    ids = {v["name"]: k for k, v in world.scps.items()}
    for name, target in (("DenyLeaveOrganization", world.root), ("ProtectAuditTrail", world.root),
                         ("DenyIamUsers", top["Workloads"]), ("DenyBucketDeletion", env["Prod"]),
                         ("SandboxDenyList", top["Sandbox"]), ("DenyMediaLiveChannels", world.leaves[1])):
        _attach(g, world, ids[name], target)
    world.optional_scps = [ids["DenyExpensiveCompute"], ids["DenyPublicBuckets"]]
    placed = {world.accounts[1]: top["Security"], world.accounts[2]: top["Infrastructure"],
              world.accounts[3]: top["Security"]}
    for i, a in enumerate(world.accounts[1:], start=1):
        parent = placed.get(a) or (top["Sandbox"] if i % 11 == 0 else world.leaves[i % len(world.leaves)])
        world.parent_of[a] = parent
        g.emit(ev.AccountJoinedOrganization, m, member_account_id=a, parent_id=parent, organization_id=org_id)
        _attach(g, world, FULL_AWS_ACCESS, a)
        if parent in world.leaves and world.leaves.index(parent) % 2 == 1:
            world.media.append(a)
    world.media = world.media or [world.accounts[-1]]


def _unit(g: _OrgGen, world: OrgWorld, name: str, parent: str) -> str:
    ou = f"ou-{world.root[2:]}-{g.uid('')[:8].lower()}"
    g.emit(ev.OrganizationalUnitCreated, world.management, ou_id=ou, ou_name=name, parent_id=parent)
    world.units.append((ou, name, parent))
    _attach(g, world, FULL_AWS_ACCESS, ou)
    return ou


def _attach(g: _OrgGen, world: OrgWorld, policy_id: str, target: str) -> None:
    from ledger.domain.organization import target_type

    world.attached.setdefault(target, []).append(policy_id)
    g.emit(ev.OrganizationPolicyAttached, world.management, policy_id=policy_id, policy_type=SCP,
           target_id=target, target_type=target_type(target))


def _managed_policy(g: _OrgGen, world: OrgWorld, account: str, name: str, document: dict[str, Any]) -> None:
    pid = g.uid("ANPA")
    arn = f"arn:aws:iam::{account}:policy/{name}"
    g.emit(ev.ManagedPolicyCreated, account, policy_id=pid, policy_name=name, policy_arn=arn, document=document)
    world.policies[(account, name)] = {"id": pid, "arn": arn, "account": account, "name": name,
                                       "versions": ["v1"], "next": 2, "default": "v1", "document": document}
    world.policy_keys.append((account, name))


def _identity_users(g: _OrgGen, world: OrgWorld, count: int) -> None:
    """Humans in the identity account, in groups whose policies let them reach the chain hub."""
    a = world.identity
    for name, policy_names in GROUPS.items():
        gid = g.uid("AGPA")
        arn = f"arn:aws:iam::{a}:group/{name}"
        g.emit(ev.GroupCreated, a, group_id=gid, group_name=name, group_arn=arn)
        world.groups.append({"id": gid, "arn": arn, "name": name, "members": []})
        for policy_name in policy_names:
            p = world.policies[(a, policy_name)]
            g.emit(ev.PolicyAttached, a, principal_kind="group", principal_id=gid, principal_arn=arn,
                   policy_id=p["id"], policy_arn=p["arn"])
    for i in range(count):
        uid = g.uid("AIDA")
        name = f"{'admin' if i % 25 == 0 else 'eng'}-{i}"
        arn = f"arn:aws:iam::{a}:user/{name}"
        g.emit(ev.UserCreated, a, user_id=uid, user_name=name, user_arn=arn)
        user = {"id": uid, "arn": arn, "name": name, "account": a, "keys": [], "groups": []}
        world.users.append(user)
        for gi in sorted({i % len(world.groups), g.rnd.randrange(len(world.groups))}):
            _join(g, world, user, gi)
        if name.startswith("admin"):
            p = world.policies[(a, "lz-admin-boundary")]
            g.emit(ev.PermissionsBoundarySet, a, principal_kind="user", principal_id=uid, principal_arn=arn,
                   policy_id=p["id"], policy_arn=p["arn"])


def _join(g: _OrgGen, world: OrgWorld, user: dict[str, Any], gi: int) -> None:
    group = world.groups[gi]
    user["groups"].append(gi)
    g.emit(ev.UserAddedToGroup, world.identity, user_id=user["id"], user_arn=user["arn"],
           group_id=group["id"], group_arn=group["arn"])


def _baseline_roles(g: _OrgGen, world: OrgWorld) -> None:
    """Every account's landing-zone roles, then the hub in the shared account and, in media
    accounts, the MediaConvert service role and its operator."""
    _role(g, world, world.shared, "lz-hub", "hub", ["lz-hub"])
    for a in world.accounts[1:]:
        for template in BASELINE_TEMPLATES:
            _role(g, world, a, template["name"], template["trust"], template["policies"], template.get("boundary"))
    for a in world.media:
        _role(g, world, a, "media-convert", "mediaconvert", ["lz-s3-writer"])
        _role(g, world, a, "media-operator", "deployer", ["lz-media-ops", "lz-readonly"])


def trust_document(world: OrgWorld, account: str, kind: str) -> dict[str, Any]:
    """A template's trust policy in `account`: who may assume the role."""
    deployer = f"arn:aws:iam::{account}:role/lz-deployer"
    principal: dict[str, Any] = {
        "hub": {"AWS": f"arn:aws:iam::{world.identity}:root"},
        "deployer": {"AWS": deployer},
        "identity": {"AWS": f"arn:aws:iam::{world.identity}:root"},
        "security": {"AWS": f"arn:aws:iam::{world.accounts[3]}:root"},
        "mediaconvert": {"Service": "mediaconvert.amazonaws.com"},
    }.get(kind) or {"Service": f"{kind}.amazonaws.com"}
    statements = [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]
    if kind == "lz-deployer":
        statements = [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{world.shared}:role/lz-hub"},
                       "Action": "sts:AssumeRole"}]
    elif kind not in ("hub", "deployer", "identity", "security", "mediaconvert"):
        statements.append({"Effect": "Allow", "Principal": {"AWS": deployer}, "Action": "sts:AssumeRole"})
    return _doc(*statements)


def _role(g: _OrgGen, world: OrgWorld, account: str, name: str, trust: str, policies: list[str],
          boundary: str | None = None, family: int | None = None) -> dict[str, Any]:
    rid = g.uid("AROA")
    arn = f"arn:aws:iam::{account}:role/{name}"
    g.emit(ev.RoleCreated, account, role_id=rid, role_name=name, role_arn=arn,
           trust_policy=trust_document(world, account, trust),
           max_session_duration=43200 if trust in ("identity", "hub") else 3600)
    role: dict[str, Any] = {"id": rid, "arn": arn, "name": name, "account": account, "trust": trust, "policies": [],
                            "family": family, "live": True}
    world.by_name[(account, name)] = len(world.roles)
    world.roles.append(role)
    world.role_count[account] = world.role_count.get(account, 0) + 1
    for policy_name in policies:
        attach_role_policy(g, world, role, policy_name)
    if boundary:
        p = world.policies[(account, boundary)]
        g.emit(ev.PermissionsBoundarySet, account, principal_kind="role", principal_id=rid, principal_arn=arn,
               policy_id=p["id"], policy_arn=p["arn"])
    return role


def attach_role_policy(g: _OrgGen, world: OrgWorld, role: dict[str, Any], policy_name: str) -> None:
    p = world.policies[(role["account"], policy_name)]
    role["policies"].append(policy_name)
    g.emit(ev.PolicyAttached, role["account"], principal_kind="role", principal_id=role["id"],
           principal_arn=role["arn"], policy_id=p["id"], policy_arn=p["arn"])


def create_app_role(g: _OrgGen, world: OrgWorld, account: str) -> None:
    """A workload role stamped from one of the app families (same trust and policies per family)."""
    fi = g.rnd.randrange(len(world.families))
    family = world.families[fi]
    world.app_serial += 1
    role = _role(g, world, account, f"app-{family['name']}-{world.app_serial}", family["trust"],
                 family["policies"], family=fi)
    world.apps.append(world.by_name[(account, role["name"])])


def _buckets(g: _OrgGen, world: OrgWorld) -> None:
    """A data and a logs bucket per workload account; an output bucket in every third account,
    whose policy lets every media account's MediaConvert role write into it."""
    writers = [f"arn:aws:iam::{a}:role/media-convert" for a in world.media]
    for i, a in enumerate(world.accounts[1:], start=1):
        for purpose in ("data", "logs", "media-out") if i % 3 == 0 else ("data", "logs"):
            name = f"org-{a}-{purpose}"
            g.emit(ev.BucketCreated, a, bucket_name=name, bucket_arn=f"arn:aws:s3:::{name}",
                   object_ownership="BucketOwnerEnforced" if purpose == "logs" else "ObjectWriter")
            world.buckets.append({"name": name, "account": a, "purpose": purpose})
            if purpose == "media-out":
                world.outputs.append(len(world.buckets) - 1)
                put_output_policy(g, world, world.buckets[-1], writers[:20])
    if not world.outputs:
        world.outputs.append(0)


def put_output_policy(g: _OrgGen, world: OrgWorld, bucket: dict[str, Any], writers: list[str]) -> None:
    name = bucket["name"]
    g.emit(ev.BucketPolicyPut, bucket["account"], bucket_name=name, bucket_arn=f"arn:aws:s3:::{name}",
           document=_doc({"Sid": "MediaConvertWriters", "Effect": "Allow", "Principal": {"AWS": writers},
                          "Action": ["s3:PutObject", "s3:PutObjectAcl"], "Resource": f"arn:aws:s3:::{name}/*"},
                         {"Sid": "OrgReaders", "Effect": "Allow",
                          "Principal": {"AWS": f"arn:aws:iam::{world.shared}:root"},
                          "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}))

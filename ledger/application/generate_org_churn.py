"""The organisation tier's churn after its opening: sessions (most of the volume, some of them
three-hop cross-account chains), MediaConvert jobs writing across accounts, policy versions and
landing-zone rollouts, attach/detach, app roles created and deleted, keys, tags, SCP changes.

Each step keeps AWS's quotas (five versions, ten managed policies per role, ten groups per
user, two access keys, five SCPs per target, 1,000 roles per account); never reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ledger.application.generate import add_policy_version
from ledger.application.generate_org import (
    OrgWorld,
    _OrgGen,
    attach_role_policy,
    create_app_role,
    put_output_policy,
    trust_document,
)
from ledger.application.generate_org_shape import SCP_POOL, next_document
from ledger.domain import events as ev
from ledger.domain.organization import SCP

ROLES_PER_ACCOUNT = 1000
_SERVICE_TRUSTS = {"logs", "config", "backup", "lambda", "ecs-tasks", "ec2", "states", "glue", "mediaconvert"}
_TOGGLED = ["lz-readonly", "lz-s3-writer", "lz-audit", "lz-network", "lz-media-ops"]


def _live_role(g: _OrgGen, world: OrgWorld) -> dict[str, Any]:
    while True:
        role = world.roles[g.rnd.randrange(len(world.roles))]
        if role["live"]:
            return role


def _assume(g: _OrgGen, world: OrgWorld, role: dict[str, Any], at: Any, caller: str, seconds: int,
            parent: str | None = None, via: ev.AssumptionKind = "AssumeRole") -> tuple[str, str]:
    world.sessions += 1
    n = world.sessions
    session_id = f"{role['id']}:s{n}"
    session_arn = f"arn:aws:sts::{role['account']}:assumed-role/{role['name']}/s{n}"
    caller_account = caller.split(":")[4] if caller.startswith("arn:") else None
    g.emit(ev.RoleAssumed, role["account"], at=at, session_id=session_id, role_id=role["id"], role_arn=role["arn"],
           session_name=f"s{n}", session_arn=session_arn, caller_arn=caller, caller_account=caller_account,
           via=via, issued_at=at, expires_at=at + timedelta(seconds=seconds), parent_session_id=parent)
    return session_id, session_arn


def session(g: _OrgGen, world: OrgWorld) -> None:
    """One session of a role, by whoever its trust policy names (a service, a human, the hub)."""
    role = _live_role(g, world)
    at = g.when()
    trust = role["trust"]
    if trust in _SERVICE_TRUSTS and g.rnd.random() < 0.8:
        _assume(g, world, role, at, f"{trust}.amazonaws.com", 3600, via="service")
    elif trust in ("identity", "hub"):
        user = world.users[g.rnd.randrange(len(world.users))]
        _assume(g, world, role, at, user["arn"], g.rnd.choice([3600, 14400, 43200]))
    elif trust == "security":
        _assume(g, world, role, at, f"arn:aws:iam::{world.accounts[3]}:role/lz-audit", 3600)
    elif trust == "lz-deployer":
        _assume(g, world, role, at, f"arn:aws:iam::{world.shared}:role/lz-hub", 3600)
    else:
        _assume(g, world, role, at, f"arn:aws:iam::{role['account']}:role/lz-deployer", 3600)


def chain(g: _OrgGen, world: OrgWorld) -> None:
    """A human reaches an app role three hops away: identity user -> lz-hub (shared account) ->
    lz-deployer (the app's account) -> the app role; chained sessions last at most an hour."""
    user = world.users[g.rnd.randrange(len(world.users))]
    app = world.roles[world.apps[g.rnd.randrange(len(world.apps))]]
    at = g.when()
    hub = world.role(world.shared, "lz-hub")
    hub_id, hub_arn = _assume(g, world, hub, at, user["arn"], 3600)
    deployer = world.role(app["account"], "lz-deployer")
    step = timedelta(seconds=1)
    dep_id, dep_arn = _assume(g, world, deployer, at + step, hub_arn, 3600, parent=hub_id)
    _assume(g, world, app, at + 2 * step, dep_arn, 900, parent=dep_id)


def job(g: _OrgGen, world: OrgWorld) -> None:
    """A MediaConvert job in a media account, passing its media-convert role, and the output it
    wrote into an output bucket (usually another account's)."""
    a = world.media[g.rnd.randrange(len(world.media))]
    role = world.role(a, "media-convert")
    operator = world.role(a, "media-operator")
    bucket = world.buckets[world.outputs[g.rnd.randrange(len(world.outputs))]]
    world.jobs += 1
    job_id = f"job{world.jobs}"
    job_arn = f"arn:aws:mediaconvert:us-east-1:{a}:jobs/{job_id}"
    at = g.when()
    g.emit(ev.JobCreated, a, at=at, job_id=job_id, job_arn=job_arn, creator_arn=operator["arn"],
           queue_arn=f"arn:aws:mediaconvert:us-east-1:{a}:queues/Default", role_id=role["id"],
           role_arn=role["arn"], outputs=(f"s3://{bucket['name']}/out/",))
    name = bucket["name"]
    g.emit(ev.OutputWritten, bucket["account"], at=at + timedelta(seconds=g.rnd.randint(30, 900)), bucket_name=name,
           bucket_arn=f"arn:aws:s3:::{name}", key=f"out/{job_id}.mp4",
           object_arn=f"arn:aws:s3:::{name}/out/{job_id}.mp4",
           writer_arn=f"arn:aws:sts::{a}:assumed-role/media-convert/MediaConvert", writer_account=a, job_id=job_id,
           job_arn=job_arn, acl=g.rnd.choice([None, "bucket-owner-full-control"]), object_ownership="ObjectWriter",
           owner_account=a)


def policy_version(g: _OrgGen, world: OrgWorld) -> None:
    p = world.policies[world.policy_keys[g.rnd.randrange(len(world.policy_keys))]]
    add_policy_version(g, p, next_document(p["document"], g.rnd), g.rnd.random() < 0.7)


def rollout(g: _OrgGen, world: OrgWorld) -> None:
    """The landing zone updates one of its policies in every account (the same new document)."""
    name = world.policy_keys[g.rnd.randrange(len(world.policy_keys))][1]
    document = next_document(world.policies[(world.identity, name)]["document"], g.rnd)
    for a in world.accounts:
        add_policy_version(g, world.policies[(a, name)], document, True)


def rollback(g: _OrgGen, world: OrgWorld) -> None:
    p = world.policies[world.policy_keys[g.rnd.randrange(len(world.policy_keys))]]
    older = [v for v in p["versions"] if v != p["default"]]
    if older:
        p["default"] = older[-1]
        g.emit(ev.DefaultPolicyVersionSet, p["account"], policy_id=p["id"], policy_arn=p["arn"], version_id=older[-1])


def toggle_policy(g: _OrgGen, world: OrgWorld) -> None:
    """Attach or detach a managed policy on an app role (at most ten attached, AWS's quota)."""
    role = world.roles[world.apps[g.rnd.randrange(len(world.apps))]]
    name = _TOGGLED[g.rnd.randrange(len(_TOGGLED))]
    if name in role["policies"]:
        role["policies"].remove(name)
        p = world.policies[(role["account"], name)]
        g.emit(ev.PolicyDetached, role["account"], principal_kind="role", principal_id=role["id"],
               principal_arn=role["arn"], policy_id=p["id"], policy_arn=p["arn"])
    elif len(role["policies"]) < 10:
        attach_role_policy(g, world, role, name)


def role_churn(g: _OrgGen, world: OrgWorld) -> None:
    """An app role is created (under the per-account quota) or deleted, its policies detached first."""
    if g.rnd.random() < 0.5 or len(world.apps) < 2:
        a = world.accounts[1 + g.rnd.randrange(len(world.accounts) - 1)]
        if world.role_count.get(a, 0) < ROLES_PER_ACCOUNT:
            create_app_role(g, world, a)
        return
    k = g.rnd.randrange(len(world.apps))
    world.apps[k], world.apps[-1] = world.apps[-1], world.apps[k]
    role = world.roles[world.apps.pop()]
    for name in role["policies"]:
        p = world.policies[(role["account"], name)]
        g.emit(ev.PolicyDetached, role["account"], principal_kind="role", principal_id=role["id"],
               principal_arn=role["arn"], policy_id=p["id"], policy_arn=p["arn"])
    role["policies"] = []
    role["live"] = False
    del world.by_name[(role["account"], role["name"])]
    world.role_count[role["account"]] -= 1
    g.emit(ev.RoleDeleted, role["account"], role_id=role["id"], role_arn=role["arn"])


def membership(g: _OrgGen, world: OrgWorld) -> None:
    user = world.users[g.rnd.randrange(len(world.users))]
    gi = g.rnd.randrange(len(world.groups))
    group = world.groups[gi]
    fields = {"user_id": user["id"], "user_arn": user["arn"], "group_id": group["id"], "group_arn": group["arn"]}
    if gi in user["groups"] and len(user["groups"]) > 1:
        user["groups"].remove(gi)
        g.emit(ev.UserRemovedFromGroup, world.identity, **fields)
    elif gi not in user["groups"] and len(user["groups"]) < 10:
        user["groups"].append(gi)
        g.emit(ev.UserAddedToGroup, world.identity, **fields)


def access_key(g: _OrgGen, world: OrgWorld) -> None:
    """Rotation: a second key is created, then the older one deactivated and deleted."""
    user = world.users[g.rnd.randrange(len(world.users))]
    fields = {"user_id": user["id"], "user_arn": user["arn"]}
    if len(user["keys"]) < 2:
        key = "AKIA" + g.uid("")[:16]
        user["keys"].append(key)
        g.emit(ev.AccessKeyCreated, world.identity, access_key_id=key, **fields)
    else:
        key = user["keys"].pop(0)
        g.emit(ev.AccessKeyDeactivated, world.identity, access_key_id=key, **fields)
        g.emit(ev.AccessKeyDeleted, world.identity, access_key_id=key, **fields)


def tag(g: _OrgGen, world: OrgWorld) -> None:
    role = _live_role(g, world)
    g.emit(ev.PrincipalTagged, role["account"], principal_kind="role", principal_id=role["id"],
           principal_arn=role["arn"],
           tags={"team": f"team-{g.rnd.randrange(40)}", "cost-center": f"cc{g.rnd.randrange(9)}"})


def trust_update(g: _OrgGen, world: OrgWorld) -> None:
    """An app role starts (or stops) trusting a peer account's deployer too: more cross-account paths."""
    role = world.roles[world.apps[g.rnd.randrange(len(world.apps))]]
    document = trust_document(world, role["account"], role["trust"])
    if g.rnd.random() < 0.7:
        peer = world.accounts[1 + g.rnd.randrange(len(world.accounts) - 1)]
        document["Statement"].append({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{peer}:role/lz-deployer"},
                                      "Action": "sts:AssumeRole"})
    g.emit(ev.TrustPolicyUpdated, role["account"], role_id=role["id"], role_arn=role["arn"], trust_policy=document)


def bucket_policy(g: _OrgGen, world: OrgWorld) -> None:
    bucket = world.buckets[world.outputs[g.rnd.randrange(len(world.outputs))]]
    writers = [f"arn:aws:iam::{a}:role/media-convert" for a in world.media]
    chosen = g.rnd.sample(writers, g.rnd.randint(1, min(20, len(writers))))
    put_output_policy(g, world, bucket, chosen)


def org_change(g: _OrgGen, world: OrgWorld) -> None:
    """An account moves between business-unit OUs, an account-level SCP is attached or detached
    (at most five per target), or a deny-list SCP gets a new document."""
    m, r = world.management, g.rnd.random()
    members = [a for a in world.accounts[4:] if world.parent_of.get(a) in world.leaves]
    if r < 0.4 and members:
        a = members[g.rnd.randrange(len(members))]
        target = world.leaves[g.rnd.randrange(len(world.leaves))]
        if target != world.parent_of[a]:
            g.emit(ev.AccountMoved, m, member_account_id=a, source_parent_id=world.parent_of[a], parent_id=target)
            world.parent_of[a] = target
    elif r < 0.8 and members:
        a = members[g.rnd.randrange(len(members))]
        pid = world.optional_scps[g.rnd.randrange(len(world.optional_scps))]
        attached = world.attached.setdefault(a, [])
        if pid in attached:
            attached.remove(pid)
            g.emit(ev.OrganizationPolicyDetached, m, policy_id=pid, policy_type=SCP, target_id=a)
        elif len(attached) < 5:
            attached.append(pid)
            g.emit(ev.OrganizationPolicyAttached, m, policy_id=pid, policy_type=SCP, target_id=a,
                   target_type="ACCOUNT")
    else:
        pid = sorted(world.scps)[g.rnd.randrange(len(world.scps))]
        scp = world.scps[pid]
        scp["document"] = next_document(scp["document"], g.rnd, SCP_POOL)
        g.emit(ev.OrganizationPolicyUpdated, m, policy_id=pid, policy_name=scp["name"], policy_type=SCP,
               document=scp["document"])


# The churn and its weights (sessions are most of the volume: about 60% of events).
CHURN: list[Callable[[_OrgGen, OrgWorld], None]] = [
    session, chain, job, policy_version, rollout, rollback, toggle_policy, role_churn, membership,
    access_key, tag, trust_update, bucket_policy, org_change,
]
WEIGHTS: list[float] = [30, 8, 8, 4, 0.02, 0.5, 6, 3, 2, 2, 2, 1, 1, 0.5]

"""Shared builders for the policy-engine tests (not a test module)."""

from __future__ import annotations

from typing import Any

from ledger.policy import (
    Decision,
    PolicyEntry,
    PolicySet,
    PolicyType,
    Request,
    parse_policy,
    principal_from_arn,
)

A = "111122223333"
B = "444455556666"
ALICE = f"arn:aws:iam::{A}:user/alice"


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    d: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        d["Version"] = version
    return d


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def trust(principal: Any, effect: str = "Allow", action: Any = "sts:AssumeRole",
          **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": action, **extra}


def entry(d: dict[str, Any], ptype: PolicyType, pid: str, label: str,
          origin: Any = None) -> PolicyEntry:
    return PolicyEntry(parse_policy(d, ptype, max_size=100_000), pid, label, origin)


def decide(
    *,
    principal: str = ALICE,
    action: str = "s3:GetObject",
    resource: str = "arn:aws:s3:::bucket/key",
    resource_account: str | None = None,
    context: dict[str, Any] | None = None,
    identity: list[dict[str, Any]] | None = None,
    resource_policy: dict[str, Any] | None = None,
    boundaries: list[dict[str, Any]] | None = None,
    session: list[dict[str, Any]] | None = None,
    scps: list[list[dict[str, Any]]] | None = None,
    unknown_context: bool = False,
    unique_id: str | None = None,
) -> Decision:
    from ledger.policy import evaluate

    p = principal_from_arn(principal, unique_id=unique_id)
    trust_action = action.lower().startswith("sts:assumerole")
    ps = PolicySet(
        identity=[entry(d, PolicyType.IDENTITY, f"id{i}", "user") for i, d in
                  enumerate(identity or [])],
        resource=None if resource_policy is None else entry(
            resource_policy, PolicyType.TRUST if trust_action else PolicyType.RESOURCE,
            "res", "resource"),
        boundaries=None if boundaries is None else [
            entry(d, PolicyType.BOUNDARY, f"pb{i}", "permissions-boundary")
            for i, d in enumerate(boundaries)],
        session=None if session is None else [
            entry(d, PolicyType.SESSION, f"sp{i}", "session") for i, d in enumerate(session)],
        scps=None if scps is None else [
            [entry(d, PolicyType.SCP, f"scp{i}.{j}", "scp") for j, d in enumerate(level)]
            for i, level in enumerate(scps)],
    )
    req = Request(p, action, resource, resource_account, context or {})
    return evaluate(req, ps, unknown_context=unknown_context)

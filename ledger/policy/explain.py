"""Why a decision came out as it did, in AWS's EvalDecisionDetails shape and in words.

Reads the evaluator's reading of a request; never changes a decision.
"""

from __future__ import annotations

from typing import NamedTuple

from ledger.policy.arn import PrincipalKind
from ledger.policy.request import TRUST_ACTIONS, Request

__all__ = [
    "CALLER_IDENTITY_NOTE",
    "ROOT_BUCKET_POLICY_NOTE",
    "Reading",
    "decision_details",
    "deny_notes",
    "service_linked_note",
]

CALLER_IDENTITY_NOTE = (
    "sts:GetCallerIdentity needs no permission: it is allowed whatever the policies say "
    "(AWS STS API Reference, GetCallerIdentity)"
)
ROOT_BUCKET_POLICY_NOTE = (
    "the bucket owner's root user can always get, put and delete the bucket policy: the "
    "bucket policy's Deny does not apply (only SCPs and VPC endpoint policies can block it; "
    "Amazon S3 API Reference, PutBucketPolicy)"
)


def service_linked_note(role_arn: str) -> str:
    return (f"SCPs do not apply: {role_arn} is a service-linked role (AWS Organizations User "
            "Guide: SCPs do not affect any service-linked role)")


class Reading(NamedTuple):
    """One reading of a request, with each side's own verdict (built only to explain it).

    `identity_side`: the caller's identity-based policies with its boundary and session policy
    (None for a caller with no identity of its own: a service or anonymous); `resource_side`:
    the resource-based policy; `scp_level_failing`: the first organisation level (root first)
    with no Allow, or None.
    """

    identity_side: str | None
    resource_side: str
    boundary_ok: bool
    session_ok: bool
    identity_allows: bool
    scp_level_failing: int | None
    scp_denied: bool
    has_resource_policy: bool


def decision_details(req: Request, identity_side: str | None, resource_side: str,
                     scp_blocked: bool) -> dict[str, str] | None:
    """AWS's EvalDecisionDetails: how each side decided a cross-account request ("IdentityPolicy"
    for the caller's account, "ResourcePolicy" for the resource's); {} for a same-account request
    on a resource ARN; None for a same-account request on "*", and when an SCP denies ("the
    simulation ends ... this parameter is not returned")."""
    if scp_blocked:
        return None
    if req.same_account:
        return None if req.resource == "*" else {}
    out: dict[str, str] = {}
    if identity_side is not None:
        out["IdentityPolicy"] = identity_side
    out["ResourcePolicy"] = resource_side
    return out


def deny_notes(req: Request, reading: Reading) -> list[str]:
    """Why an implicitDeny: which side or policy type failed to allow, in words."""
    action, kind = req.action, req.principal.kind
    if reading.scp_level_failing is not None:
        return [f"no SCP at organisation level {reading.scp_level_failing} (0 = root) allows "
                f"{action}: SCPs must allow at every level"]
    if kind is PrincipalKind.ROOT and req.action_lower == "sts:assumerole":
        return ["the root user cannot call sts:AssumeRole (AWS STS API Reference, AssumeRole)"]
    if req.action_lower in TRUST_ACTIONS and reading.resource_side != "allowed":
        return ["the role's trust policy names neither the caller nor its account"
                + ("" if reading.has_resource_policy else " (the role has no trust policy)")]
    if reading.identity_side is None:
        return [f"no resource-based policy statement names {req.principal.arn}"]
    notes = _identity_notes(action, reading)
    if not req.same_account:
        notes += _cross_account_notes(action, reading, kind is PrincipalKind.ROOT)
    elif not notes:
        notes.append(f"no identity-based or resource-based policy statement allows {action} "
                     f"on {req.resource}")
    return notes


def _identity_notes(action: str, reading: Reading) -> list[str]:
    notes = []
    if reading.identity_allows and not reading.boundary_ok:
        notes.append(f"the permissions boundary does not allow {action}")
    if reading.identity_allows and not reading.session_ok:
        notes.append(f"the session policy does not allow {action} (a session without a session "
                     "policy from GetFederationToken has no permissions)")
    return notes


def _cross_account_notes(action: str, reading: Reading, root: bool) -> list[str]:
    if root:
        caller = "the caller is its account's root user (it needs no identity-based policy)"
    elif reading.identity_side == "allowed":
        caller = f"the caller's identity-based policies allow {action}"
    elif not reading.identity_allows:
        caller = f"no identity-based policy of the caller allows {action}"
    else:
        caller = f"the caller's identity-based policies allow {action} but its limits do not"
    if reading.resource_side == "allowed":
        resource = "the resource-based policy names the caller or its account"
    elif reading.has_resource_policy:
        resource = "no resource-based policy statement names the caller or its account"
    else:
        resource = "the resource has no resource-based policy"
    return [f"cross-account request: both sides must allow; {caller}; {resource}"]

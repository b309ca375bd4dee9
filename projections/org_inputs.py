"""The organisation's part of a request's inputs at T: the SCPs of the caller's account level by
level from the root, the RCPs of the resource's account, and the org ids the context carries.

Pure: reads a `Snapshot` (anything with `org_policies` / `organization_id`; the naive replay has
neither and so sees no organisation); never writes. `assemble` turns the documents into entries.

AWS's documented rules applied here (AWS Organizations User Guide):
- SCP evaluation: "For a permission to be allowed for a specific account, there must be an
  explicit Allow statement at every level from the root through each OU in the direct path to the
  account (including the target account itself)." Every level is kept, an empty one included,
  and "Every root, OU, and account must have at least one SCP attached", so an empty level means
  the recorded organisation is incomplete: reported, and the decision fails closed.
- "SCPs do not restrict users or roles in the management account" (and "RCPs don't affect
  resources in the management account"): `Snapshot.org_policies` returns None for it.
- RCP evaluation: "RCPFullAWSAccess ... is automatically attached to the organization root, every
  OU, and every account ... You cannot detach this policy", and "For a permission to be denied for
  a resource in a specific account, any RCP from the root through each OU in the direct path to
  the account (including the target account itself) can deny that permission." So the RCPs form
  one level: RCPFullAWSAccess plus every RCP on the path, where any Deny wins. RCPs "apply to
  resources of" a list of services; of those the ledger models S3 and STS (KMS, SQS and Secrets
  Manager are listed too). They apply "regardless of whether the principals belong to the same
  organizations or not".
"""

from __future__ import annotations

from typing import Any

from ledger.domain.organization import RCP, RCP_FULL_AWS_ACCESS, RCP_FULL_AWS_ACCESS_DOCUMENT, SCP
from projections.view import Origin, Snapshot

Document = tuple[str, dict[str, Any], Origin, Any]  # (policy id, document, origin, cache key)
RCP_SERVICES = frozenset({"s3", "sts", "kms", "sqs", "secretsmanager"})
UNKNOWN_DOCUMENT_SID = "LedgerUnknownPolicyDocument"  # the importers' placeholder for an unseen document
_IMPLICIT_RCP: Origin = {"implicit": "RCPFullAWSAccess is attached to every root, OU and account "
                                     "and cannot be detached (AWS Organizations User Guide)"}


def _unknown(document: dict[str, Any]) -> bool:
    statements = document.get("Statement")
    return isinstance(statements, list) and any(
        isinstance(s, dict) and s.get("Sid") == UNKNOWN_DOCUMENT_SID for s in statements)


def scp_levels(snap: Snapshot, account: str, errors: list[str]) -> list[list[Document]]:
    """The SCP documents of each level from the root to `account` (empty when none apply)."""
    org_policies = getattr(snap, "org_policies", None)
    found = org_policies(account, SCP) if org_policies is not None else None
    if found is None:
        return []
    errors.extend(found.errors)
    levels: list[list[Document]] = []
    for target, entries in found.levels:
        if not entries:
            errors.append(f"no SCP is recorded as attached to {target}, though AWS requires one at every "
                          "level: the recorded organisation is incomplete")
        for policy_id, document, _, _ in entries:
            if _unknown(document):
                errors.append(f"SCP {policy_id} is attached to {target} but its document is unknown")
        levels.append(list(entries))
    return levels


def rcp_account(action: str, resource_account: str | None) -> str | None:
    """The account whose RCPs bear on a request: the resource's, for the services RCPs govern."""
    return resource_account if resource_account and action.split(":", 1)[0].lower() in RCP_SERVICES else None


def rcp_documents(snap: Snapshot, account: str, errors: list[str]) -> list[Document] | None:
    """One level: RCPFullAWSAccess and every RCP from the root to `account`; None if none apply."""
    org_policies = getattr(snap, "org_policies", None)
    found = org_policies(account, RCP) if org_policies is not None else None
    if found is None:
        return None
    errors.extend(found.errors)
    seen: dict[str, Document] = {}
    for target, entries in found.levels:
        for entry in entries:
            if _unknown(entry[1]):
                errors.append(f"RCP {entry[0]} is attached to {target} but its document is unknown")
            seen.setdefault(entry[0], entry)
    if RCP_FULL_AWS_ACCESS not in seen:
        seen[RCP_FULL_AWS_ACCESS] = (RCP_FULL_AWS_ACCESS, RCP_FULL_AWS_ACCESS_DOCUMENT, _IMPLICIT_RCP, None)
    return [seen[RCP_FULL_AWS_ACCESS], *(d for p, d in seen.items() if p != RCP_FULL_AWS_ACCESS)]


def context(snap: Snapshot, caller_account: str | None, resource_account: str | None) -> dict[str, str]:
    """aws:PrincipalOrgID and aws:ResourceOrgID, where the ledger knows the organisations."""
    organization_id = getattr(snap, "organization_id", None)
    out: dict[str, str] = {}
    if organization_id is None:
        return out
    if caller_account and (found := organization_id(caller_account)):
        out["aws:PrincipalOrgID"] = found
    if resource_account and (found := organization_id(resource_account)):
        out["aws:ResourceOrgID"] = found
    return out

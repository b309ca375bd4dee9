"""The organisation on the write side: how its events change an `Organization`, and the pure
walks over its tree (an account's path from the root, cycles, the level a policy sits at).

Pure: no validation of documents (the handlers do that), no storage, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import singledispatch

from ledger.domain import events as ev
from ledger.domain.entities import Organization, OrgPolicy

SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"
FULL_AWS_ACCESS = "p-FullAWSAccess"
RCP_FULL_AWS_ACCESS = "p-RCPFullAWSAccess"
# AWS's documented contents of its two managed policies ("allows all services and actions";
# RCPFullAWSAccess "allows all principals and actions access to pass through RCP evaluation").
FULL_AWS_ACCESS_DOCUMENT = {"Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
RCP_FULL_AWS_ACCESS_DOCUMENT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
AWS_MANAGED_DOCUMENTS = {FULL_AWS_ACCESS: (SCP, "FullAWSAccess", FULL_AWS_ACCESS_DOCUMENT),
                         RCP_FULL_AWS_ACCESS: (RCP, "RCPFullAWSAccess", RCP_FULL_AWS_ACCESS_DOCUMENT)}
MAX_DEPTH = 5  # AWS: OUs nest at most five levels below the root

ORGANIZATION_EVENTS: tuple[type[ev.LedgerEvent], ...] = (
    ev.OrganizationCreated, ev.OrganizationPolicyTypeEnabled, ev.OrganizationPolicyTypeDisabled,
    ev.OrganizationalUnitCreated, ev.OrganizationalUnitDeleted, ev.AccountJoinedOrganization, ev.AccountMoved,
    ev.AccountLeftOrganization, ev.OrganizationPolicyCreated, ev.OrganizationPolicyUpdated,
    ev.OrganizationPolicyDeleted, ev.OrganizationPolicyAttached, ev.OrganizationPolicyDetached,
)


def target_type(target_id: str) -> ev.OrgTargetType:
    """ROOT, ORGANIZATIONAL_UNIT or ACCOUNT, by the id's documented shape."""
    if target_id.startswith("r-"):
        return "ROOT"
    if target_id.startswith("ou-"):
        return "ORGANIZATIONAL_UNIT"
    return "ACCOUNT"


def path_of(parent_of: Callable[[str], str | None], parent_id: str) -> tuple[list[str], str | None]:
    """The targets from the root down to `parent_id` (root first), walking up with `parent_of`
    (an OU's parent, None when unknown), and why the walk failed (a cycle, an unknown OU, or
    deeper than AWS allows), if it did."""
    chain: list[str] = []
    current = parent_id
    while True:
        if current in chain:
            return list(reversed(chain)), f"the OU tree has a cycle through {current}"
        chain.append(current)
        if current.startswith("r-"):
            return list(reversed(chain)), None
        parent = parent_of(current)
        if parent is None:
            return list(reversed(chain)), f"parent {current} is neither the root nor a recorded OU"
        if len(chain) > MAX_DEPTH:
            return list(reversed(chain)), f"OUs nest deeper than {MAX_DEPTH} levels below the root at {current}"
        current = parent


def policy_levels(org: Organization, account: str, policy_type: str) -> list[tuple[str, list[str]]] | None:
    """The policies of `policy_type` attached at each level from the root to `account` (root
    first), or None when they do not apply: the account is no member, the type is not enabled,
    or it is the management account (which neither SCPs nor RCPs affect)."""
    parent = org.accounts.get(account)
    if parent is None or policy_type not in org.policy_types:
        return None
    chain, _ = path_of(lambda ou: unit[1] if (unit := org.units.get(ou)) else None, parent)
    out = []
    for target in [*chain, account]:
        ids = sorted(p for p in org.attachments.get(target, set())
                     if (policy := org.policies.get(p)) is not None and policy.policy_type == policy_type)
        out.append((target, ids))
    return out


@singledispatch
def apply_to_organization(event: ev.LedgerEvent, org: Organization) -> None:
    """Only the organisation events change it."""


@apply_to_organization.register
def _(event: ev.OrganizationCreated, org: Organization) -> None:
    org.organization_id = event.organization_id or org.organization_id
    org.root_id = event.root_id or org.root_id
    org.policy_types |= set(event.enabled_policy_types)


@apply_to_organization.register
def _(event: ev.OrganizationPolicyTypeEnabled, org: Organization) -> None:
    org.policy_types.add(event.policy_type)
    org.root_id = event.root_id or org.root_id


@apply_to_organization.register
def _(event: ev.OrganizationPolicyTypeDisabled, org: Organization) -> None:
    org.policy_types.discard(event.policy_type)


@apply_to_organization.register
def _(event: ev.OrganizationalUnitCreated, org: Organization) -> None:
    org.units[event.ou_id] = (event.ou_name, event.parent_id)


@apply_to_organization.register
def _(event: ev.OrganizationalUnitDeleted, org: Organization) -> None:
    org.units.pop(event.ou_id, None)
    org.attachments.pop(event.ou_id, None)


@apply_to_organization.register
def _(event: ev.AccountJoinedOrganization, org: Organization) -> None:
    org.accounts[event.member_account_id] = event.parent_id


@apply_to_organization.register
def _(event: ev.AccountMoved, org: Organization) -> None:
    org.accounts[event.member_account_id] = event.parent_id


@apply_to_organization.register
def _(event: ev.AccountLeftOrganization, org: Organization) -> None:
    org.accounts.pop(event.member_account_id, None)
    org.attachments.pop(event.member_account_id, None)


@apply_to_organization.register
def _(event: ev.OrganizationPolicyCreated, org: Organization) -> None:
    org.policies[event.policy_id] = OrgPolicy(event.policy_id, event.policy_name, event.policy_type,
                                              event.document, event.aws_managed)


@apply_to_organization.register
def _(event: ev.OrganizationPolicyUpdated, org: Organization) -> None:
    current = org.policies.get(event.policy_id)
    org.policies[event.policy_id] = OrgPolicy(event.policy_id, event.policy_name, event.policy_type,
                                              event.document, current.aws_managed if current else False)


@apply_to_organization.register
def _(event: ev.OrganizationPolicyDeleted, org: Organization) -> None:
    org.policies.pop(event.policy_id, None)
    for attached in org.attachments.values():
        attached.discard(event.policy_id)


@apply_to_organization.register
def _(event: ev.OrganizationPolicyAttached, org: Organization) -> None:
    org.attachments.setdefault(event.target_id, set()).add(event.policy_id)


@apply_to_organization.register
def _(event: ev.OrganizationPolicyDetached, org: Organization) -> None:
    org.attachments.get(event.target_id, set()).discard(event.policy_id)

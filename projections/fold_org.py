"""The temporal fold of the organisation events: the tree (OUs, members by parent), the SCPs and
RCPs, their attachments and the enabled policy types, as keyed facts. Pure, like `fold`.

Registered on `projections.fold`'s dispatcher, which imports this module; never import it alone.
"""

from __future__ import annotations

from ledger.domain import events as ev
from projections.fold import _Emit, _fold


@_fold.register
def _(event: ev.OrganizationCreated, e: _Emit) -> None:
    for policy_type in event.enabled_policy_types:
        e.set(f"orgtype:{event.account_id}:{policy_type}", "orgtype", event.account_id, policy_type,
              {"policy_type": policy_type, "root_id": event.root_id})


@_fold.register
def _(event: ev.OrganizationPolicyTypeEnabled, e: _Emit) -> None:
    e.set(f"orgtype:{event.account_id}:{event.policy_type}", "orgtype", event.account_id, event.policy_type,
          {"policy_type": event.policy_type, "root_id": event.root_id})


@_fold.register
def _(event: ev.OrganizationPolicyTypeDisabled, e: _Emit) -> None:
    e.clear(f"orgtype:{event.account_id}:{event.policy_type}", "orgtype", event.account_id)


@_fold.register
def _(event: ev.OrganizationalUnitCreated, e: _Emit) -> None:
    e.set(f"orgunit:{event.ou_id}", "orgunit", event.ou_id, event.parent_id,
          {"parent_id": event.parent_id, "name": event.ou_name, "management_account_id": event.account_id})


@_fold.register
def _(event: ev.OrganizationalUnitDeleted, e: _Emit) -> None:
    e.clear(f"orgunit:{event.ou_id}", "orgunit", event.ou_id)


def _member(e: _Emit, event: ev.AccountJoinedOrganization | ev.AccountMoved) -> None:
    e.set(f"orgmember:{event.member_account_id}", "orgmember", event.member_account_id, event.parent_id,
          {"parent_id": event.parent_id, "management_account_id": event.account_id,
           "organization_id": event.organization_id})


@_fold.register
def _(event: ev.AccountJoinedOrganization, e: _Emit) -> None:
    _member(e, event)


@_fold.register
def _(event: ev.AccountMoved, e: _Emit) -> None:
    _member(e, event)


@_fold.register
def _(event: ev.AccountLeftOrganization, e: _Emit) -> None:
    e.clear(f"orgmember:{event.member_account_id}", "orgmember", event.member_account_id)


def _policy(e: _Emit, event: ev.OrganizationPolicyCreated | ev.OrganizationPolicyUpdated, aws_managed: bool) -> None:
    e.set(f"orgpolicy:{event.policy_id}", "orgpolicy", event.policy_id, event.policy_type, {
        "policy_id": event.policy_id, "name": event.policy_name, "policy_type": event.policy_type,
        "document": event.document, "aws_managed": aws_managed})


@_fold.register
def _(event: ev.OrganizationPolicyCreated, e: _Emit) -> None:
    _policy(e, event, event.aws_managed)


@_fold.register
def _(event: ev.OrganizationPolicyUpdated, e: _Emit) -> None:
    _policy(e, event, False)  # AWS-managed policies cannot be updated


@_fold.register
def _(event: ev.OrganizationPolicyDeleted, e: _Emit) -> None:
    e.clear(f"orgpolicy:{event.policy_id}", "orgpolicy", event.policy_id)


@_fold.register
def _(event: ev.OrganizationPolicyAttached, e: _Emit) -> None:
    e.set(f"orgattach:{event.target_id}:{event.policy_id}", "orgattach", event.target_id, event.policy_id,
          {"policy_id": event.policy_id, "policy_type": event.policy_type, "target_type": event.target_type})


@_fold.register
def _(event: ev.OrganizationPolicyDetached, e: _Emit) -> None:
    e.clear(f"orgattach:{event.target_id}:{event.policy_id}", "orgattach", event.target_id)

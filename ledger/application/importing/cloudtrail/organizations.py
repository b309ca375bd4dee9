"""The AWS Organizations calls of CloudTrail as the same facts `ledger import organization` records:
the organisation, its OU tree, accounts joining, moving and leaving, SCPs/RCPs and attachments.
Pure: never stores or logs. Organisation calls are logged in the management account's trail;
the ones made from a member account (AcceptHandshake, LeaveOrganization) are recorded in the
stream of the management account the import knows for it, or counted as not understood.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.application.importing.cloudtrail.call import Call
from ledger.application.importing.cloudtrail.records import NotUnderstood
from ledger.domain import events as ev
from ledger.domain.handlers.organizations import org_policy_document
from ledger.domain.organization import RCP, SCP, target_type
from ledger.errors import LedgerError

_TYPES = (SCP, RCP)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise NotUnderstood(f"missing {what}")
    return value


def _org_id(c: Call, arn: object = None) -> str | None:
    if isinstance(arn, str) and ":organizations::" in arn and "/o-" in arn:
        return "o-" + arn.split("/o-", 1)[1].split("/", 1)[0]
    return c.index.org.org_ids.get(c.account)


def create_organization(c: Call) -> None:
    org = c.response.get("organization") or {}
    organization_id = org.get("id") if isinstance(org.get("id"), str) else None
    c.index.org.see_org(c.account, organization_id)
    c.emit(ev.OrganizationCreated, c.account, organization_id=organization_id,
           root_id=c.index.org.roots.get(c.account))


def policy_type(c: Call) -> None:
    kind = c.params.get("policyType")
    if kind not in _TYPES:
        return  # tag, backup, AI opt-out policies: no bearing on access
    cls = ev.OrganizationPolicyTypeEnabled if c.name == "EnablePolicyType" else ev.OrganizationPolicyTypeDisabled
    c.emit(cls, c.account, policy_type=kind, root_id=c.params.get("rootId") or c.index.org.roots.get(c.account))


def organizational_unit(c: Call) -> None:
    if c.name == "DeleteOrganizationalUnit":
        c.emit(ev.OrganizationalUnitDeleted, c.account, ou_id=_text(c.params.get("organizationalUnitId"), "OU id"))
        return
    unit = c.response.get("organizationalUnit") or {}
    c.emit(ev.OrganizationalUnitCreated, c.account, ou_id=_text(unit.get("id"), "OU id"),
           ou_name=str(unit.get("name") or c.params.get("name") or unit["id"]),
           parent_id=_text(c.params.get("parentId"), "parentId"), organization_id=_org_id(c, unit.get("arn")))


def _member_joined(c: Call, management: str, member: str) -> None:
    root = c.index.org.roots.get(management)
    if root is None:
        raise NotUnderstood("the organisation's root id is not known (import list-roots or a call naming it)")
    c.account_fact(member)
    c.index.org.managers[member] = management
    c.emit(ev.AccountJoinedOrganization, management, member_account_id=member, parent_id=root,
           organization_id=c.index.org.org_ids.get(management))


def account_created(c: Call) -> None:
    status = (c.record.get("serviceEventDetails") or {}).get("createAccountStatus") or {}
    if status.get("state") != "SUCCEEDED":
        return
    _member_joined(c, c.account, _text(status.get("accountId"), "accountId"))


def handshake_accepted(c: Call) -> None:
    parties = ((c.response.get("handshake") or {}).get("parties")) or []
    org = next((p.get("id") for p in parties if isinstance(p, dict) and p.get("type") == "ORGANIZATION"), None)
    management = c.index.org.managers.get(str(org))
    if management is None:
        raise NotUnderstood("the invited organisation's management account is not known")
    _member_joined(c, management, c.account)


def account_moved(c: Call) -> None:
    member = _text(c.params.get("accountId"), "accountId")
    c.account_fact(member)
    c.emit(ev.AccountMoved, c.account, member_account_id=member, source_parent_id=c.params.get("sourceParentId"),
           parent_id=_text(c.params.get("destinationParentId"), "destinationParentId"),
           organization_id=c.index.org.org_ids.get(c.account))


def account_left(c: Call) -> None:
    if c.name == "LeaveOrganization":
        member, management = c.account, c.index.org.managers.get(c.account)
        if management is None:
            raise NotUnderstood("the organisation this account left is not known")
    else:
        member, management = _text(c.params.get("accountId"), "accountId"), c.account
    c.emit(ev.AccountLeftOrganization, management, member_account_id=member)


def _document(c: Call, content: Any, kind: str, policy_id: str) -> dict[str, Any]:
    try:
        return org_policy_document(content, kind, policy_id)
    except LedgerError as error:
        raise NotUnderstood(f"policy document: {error.message}") from None


def create_or_update_policy(c: Call) -> None:
    policy = c.response.get("policy") or {}
    summary = policy.get("policySummary") or {}
    policy_id = _text(summary.get("id") or c.params.get("policyId"), "policy id")
    kind = summary.get("type") or c.params.get("type") or c.index.org.policy_types.get(policy_id)
    if kind not in _TYPES:
        return
    c.index.org.policy_types[policy_id] = kind
    content = policy.get("content") or c.params.get("content")
    if content is None:
        raise NotUnderstood("no policy content in the request or the response")
    name = str(summary.get("name") or c.params.get("name") or policy_id)
    document = _document(c, content, kind, policy_id)
    if c.name == "CreatePolicy":
        description = c.params.get("description")
        c.emit(ev.OrganizationPolicyCreated, c.account, policy_id=policy_id, policy_name=name, policy_type=kind,
               document=document, aws_managed=bool(summary.get("awsManaged")),
               description=description if isinstance(description, str) else None)
    else:
        c.emit(ev.OrganizationPolicyUpdated, c.account, policy_id=policy_id, policy_name=name, policy_type=kind,
               document=document)


def delete_policy(c: Call) -> None:
    policy_id = _text(c.params.get("policyId"), "policyId")
    if c.index.org.policy_types.get(policy_id) in _TYPES:
        c.emit(ev.OrganizationPolicyDeleted, c.account, policy_id=policy_id)


def attachment(c: Call) -> None:
    policy_id = _text(c.params.get("policyId"), "policyId")
    target = _text(c.params.get("targetId"), "targetId")
    kind = c.index.org.policy_types.get(policy_id)
    if kind is None:
        raise NotUnderstood(f"policy {policy_id} is not known to be an SCP or RCP (import it first)")
    if kind not in _TYPES:
        return
    if c.name == "AttachPolicy":
        c.emit(ev.OrganizationPolicyAttached, c.account, policy_id=policy_id, policy_type=kind, target_id=target,
               target_type=target_type(target))
    else:
        c.emit(ev.OrganizationPolicyDetached, c.account, policy_id=policy_id, policy_type=kind, target_id=target)


# Organizations event name -> the handler that maps it.
HANDLERS: dict[str, Callable[[Call], None]] = {
    "CreateOrganization": create_organization,
    "EnablePolicyType": policy_type, "DisablePolicyType": policy_type,
    "CreateOrganizationalUnit": organizational_unit, "DeleteOrganizationalUnit": organizational_unit,
    "CreateAccountResult": account_created, "AcceptHandshake": handshake_accepted,
    "MoveAccount": account_moved, "RemoveAccountFromOrganization": account_left, "LeaveOrganization": account_left,
    "CreatePolicy": create_or_update_policy, "UpdatePolicy": create_or_update_policy, "DeletePolicy": delete_policy,
    "AttachPolicy": attachment, "DetachPolicy": attachment,
}


def learn(name: str, params: dict[str, Any], response: dict[str, Any], account: str, org: Any) -> None:
    """First pass: the roots, organisation ids and policy types a record reveals (for `OrgIndex`)."""
    for key in ("rootId", "parentId", "targetId", "sourceParentId", "destinationParentId"):
        org.see_root(account, params.get(key))
    organization = response.get("organization") or {}
    org.see_org(account, organization.get("id"))
    summary = (response.get("policy") or {}).get("policySummary") or {}
    if name == "CreatePolicy" and isinstance(summary.get("id"), str) and summary.get("type"):
        org.policy_types[summary["id"]] = str(summary["type"])
    unit = response.get("organizationalUnit") or {}
    if isinstance(unit.get("arn"), str) and "/o-" in unit["arn"]:
        org.see_org(account, "o-" + unit["arn"].split("/o-", 1)[1].split("/", 1)[0])

"""Compares an observed organisation (`OrgSpec`) with the one a management account's write-side state
holds, and emits the facts that take one to the other: the tree first (parents before children),
then memberships, policies and attachments, then what is gone (children before parents).

Pure: diffs against a folded state; never stores or logs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.application.importing.observe import Diffed, Stamp
from ledger.application.importing.org_spec import POLICY_TYPES, OrgSpec, spec_of_state
from ledger.domain import events as ev
from ledger.domain import names
from ledger.domain.entities import Organization
from ledger.domain.organization import path_of, target_type
from ledger.domain.state import AccountState


def _depth(units: dict[str, tuple[str, str]], ou: str) -> int:
    chain, _ = path_of(lambda u: parent[1] if (parent := units.get(u)) else None, ou)
    return len(chain)


class _OrgDiff:
    def __init__(self, spec: OrgSpec, state: AccountState, at: datetime, stamp: Stamp) -> None:
        self.spec = spec
        self.state = state
        self.at = at
        self.stamp = stamp
        self.out = Diffed()

    def emit(self, cls: type[ev.LedgerEvent], **fields: Any) -> None:
        self.out.events.append(self.stamp.event(cls, self.spec.management_account, self.at, **fields))

    def organization(self) -> Organization:
        spec, org = self.spec, self.state.organization
        if not self.state.exists:
            self.emit(ev.AccountCreated, account_name=spec.management_account,
                      root_arn=names.root_arn(spec.management_account))
        if org is None or org.root_id != spec.root_id:
            self.emit(ev.OrganizationCreated, organization_id=spec.organization_id, root_id=spec.root_id,
                      enabled_policy_types=tuple(sorted(spec.policy_types)))
            return Organization(spec.organization_id, spec.root_id, set(spec.policy_types))
        for policy_type in sorted(spec.policy_types - org.policy_types):
            self.emit(ev.OrganizationPolicyTypeEnabled, policy_type=policy_type, root_id=spec.root_id)
        for policy_type in sorted(org.policy_types - spec.policy_types):
            self.emit(ev.OrganizationPolicyTypeDisabled, policy_type=policy_type, root_id=spec.root_id)
        return org

    def tree(self, org: Organization) -> None:
        spec = self.spec
        for ou in sorted(spec.units, key=lambda u: (_depth(spec.units, u), u)):
            name, parent = spec.units[ou]
            current = org.units.get(ou)
            if current is not None and current[1] != parent:
                self.out.warnings.append(f"OU {ou} is under {parent} now, under {current[1]} before: AWS never "
                                         "moves OUs, so it is recorded as deleted and created again")
                self.emit(ev.OrganizationalUnitDeleted, ou_id=ou)
            if current is None or current[1] != parent:
                self.emit(ev.OrganizationalUnitCreated, ou_id=ou, ou_name=name, parent_id=parent,
                          organization_id=spec.organization_id)
        for account, parent in sorted(spec.accounts.items()):
            before = org.accounts.get(account)
            if before is None:
                self.emit(ev.AccountJoinedOrganization, member_account_id=account, parent_id=parent,
                          organization_id=spec.organization_id)
            elif before != parent:
                self.emit(ev.AccountMoved, member_account_id=account, source_parent_id=before, parent_id=parent,
                          organization_id=spec.organization_id)

    def policies(self, org: Organization) -> None:
        for policy_id, policy in sorted(self.spec.policies.items()):
            current = org.policies.get(policy_id)
            if current is None:
                self.emit(ev.OrganizationPolicyCreated, policy_id=policy_id, policy_name=policy.name,
                          policy_type=policy.policy_type, document=policy.document, aws_managed=policy.aws_managed,
                          description=policy.description)
            elif (current.document, current.name, current.policy_type) != (policy.document, policy.name,
                                                                          policy.policy_type):
                self.emit(ev.OrganizationPolicyUpdated, policy_id=policy_id, policy_name=policy.name,
                          policy_type=policy.policy_type, document=policy.document)

    def attachments(self, org: Organization) -> None:
        spec = self.spec
        for policy_id, policy in sorted(spec.policies.items()):
            wanted = spec.attachments.get(policy_id, set())
            current = {t for t, ids in org.attachments.items() if policy_id in ids}
            for target in sorted(wanted - current):
                self.emit(ev.OrganizationPolicyAttached, policy_id=policy_id, policy_type=policy.policy_type,
                          target_id=target, target_type=target_type(target))
            if policy_id in spec.targets_known:
                for target in sorted(current - wanted):
                    self.detach(policy_id, policy.policy_type, target)

    def detach(self, policy_id: str, policy_type: str, target: str) -> None:
        self.emit(ev.OrganizationPolicyDetached, policy_id=policy_id, policy_type=policy_type, target_id=target)

    def detach_all(self, org: Organization, target: str) -> None:
        for policy_id in sorted(org.attachments.get(target, ())):
            policy = org.policies.get(policy_id)
            if policy is not None:
                self.detach(policy_id, policy.policy_type, target)

    def removals(self, org: Organization) -> None:
        spec = self.spec
        for policy_id, policy in sorted(org.policies.items()):
            if policy_id not in spec.policies and policy.policy_type in spec.listed_types and not policy.aws_managed:
                for target in sorted(t for t, ids in org.attachments.items() if policy_id in ids):
                    self.detach(policy_id, policy.policy_type, target)
                self.emit(ev.OrganizationPolicyDeleted, policy_id=policy_id)
        if not spec.complete_tree:
            return
        for account in sorted(set(org.accounts) - set(spec.accounts)):
            self.detach_all(org, account)
            self.emit(ev.AccountLeftOrganization, member_account_id=account)
        gone = set(org.units) - set(spec.units)
        for ou in sorted(gone, key=lambda u: (-_depth(org.units, u), u)):
            self.detach_all(org, ou)
            self.emit(ev.OrganizationalUnitDeleted, ou_id=ou)


def diff_organization(spec: OrgSpec, state: AccountState, at: datetime, stamp: Stamp) -> Diffed:
    """The facts that take the management account's recorded organisation to `spec`, at `at`."""
    diff = _OrgDiff(spec, state, at, stamp)
    org = diff.organization()
    diff.tree(org)
    diff.policies(org)
    diff.attachments(org)
    diff.removals(org)
    return diff.out


class OrgScopeDiffer:
    """The "organization" family of observations for the sweep (`observe.ScopeDiffer`)."""

    def diff(self, spec: Any, scope: str, state: AccountState, at: datetime, stamp: Stamp) -> Diffed:
        return Diffed() if spec is None else diff_organization(spec, state, at, stamp)

    def spec_of(self, scope: str, state: AccountState) -> Any:
        return spec_of_state(state.account_id, state.organization)

    def dependents(self, reset: ev.LedgerEvent, state: AccountState, at: datetime, stamp: Stamp) -> Diffed:
        """A recorded baseline creation of the organisation ends what this import recorded of it
        before: its baseline re-creates everything that observation saw."""
        org = state.organization
        if not isinstance(reset, ev.OrganizationCreated) or org is None or org.root_id is None:
            return Diffed()
        empty = OrgSpec(state.account_id, org.organization_id, org.root_id, set(org.policy_types),
                        listed_types=set(POLICY_TYPES), targets_known=set(org.policies))
        diff = _OrgDiff(empty, state, at, stamp)
        diff.removals(org)
        diff.attachments(org)
        return diff.out

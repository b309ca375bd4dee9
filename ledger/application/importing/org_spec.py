"""What an organisation import says the organisation is: the tree (OUs and accounts by parent), the
SCPs and RCPs with their documents, their attachments and the enabled policy types (`OrgSpec`),
and the same read back from a write-side `Organization`. Pure: no files, no storage here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ledger.domain.entities import Organization
from ledger.domain.organization import RCP, SCP

POLICY_TYPES = (SCP, RCP)


@dataclass
class SpecPolicy:
    name: str
    policy_type: str
    document: dict[str, Any]
    aws_managed: bool = False
    description: str | None = None


@dataclass
class OrgSpec:
    """An organisation as observed. `complete_tree`: every parent's OUs and accounts were listed
    (so an OU or account missing from them is gone); `listed_types`: the policy types whose
    list-policies output was read (so a policy missing from it was deleted); `targets_known`:
    the policies whose list-targets-for-policy output was read (their other attachments end)."""

    management_account: str
    organization_id: str | None
    root_id: str
    policy_types: set[str] = field(default_factory=set)
    units: dict[str, tuple[str, str]] = field(default_factory=dict)  # OU id -> (name, parent id)
    accounts: dict[str, str] = field(default_factory=dict)  # account -> parent id
    policies: dict[str, SpecPolicy] = field(default_factory=dict)
    attachments: dict[str, set[str]] = field(default_factory=dict)  # policy id -> target ids
    complete_tree: bool = True
    listed_types: set[str] = field(default_factory=set)
    targets_known: set[str] = field(default_factory=set)

    def digest(self) -> str:
        body = json.dumps([self.organization_id, self.root_id, sorted(self.policy_types), self.units, self.accounts,
                           {k: vars(v) for k, v in self.policies.items()},
                           {k: sorted(v) for k, v in self.attachments.items()}], sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:24]

    def entity_count(self) -> int:
        return 1 + len(self.units) + len(self.accounts) + len(self.policies)


def spec_of_state(management_account: str, org: Organization | None) -> OrgSpec | None:
    """The organisation a write-side state holds, as a complete observation of it."""
    if org is None or org.root_id is None:
        return None
    attachments: dict[str, set[str]] = {}
    for target, policy_ids in org.attachments.items():
        for policy_id in policy_ids:
            attachments.setdefault(policy_id, set()).add(target)
    return OrgSpec(
        management_account, org.organization_id, org.root_id, set(org.policy_types), dict(org.units),
        dict(org.accounts),
        {p.policy_id: SpecPolicy(p.name, p.policy_type, p.document, p.aws_managed) for p in org.policies.values()},
        attachments, complete_tree=True, listed_types=set(POLICY_TYPES), targets_known=set(org.policies))

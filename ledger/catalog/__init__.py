"""The AWS service catalogue (Service Authorization Reference) for the ledger: is an action real,
what is the nearest one to a typo, what does it act on, which condition keys exist.

Outside the pure policy engine on purpose: the engine never imports this; callers pass its answers in.
"""

from ledger.catalog.diagnose import diagnose_request, evaluated_resource, suggest_action
from ledger.catalog.findings import CatalogAdvisor, PolicyFinding, policy_findings, policy_warnings
from ledger.catalog.reference import (
    GLOBAL_CONDITION_KEYS,
    ActionInfo,
    ResourceType,
    action_info,
    condition_key_known,
    data_version,
    service_exists,
)

__all__ = [
    "GLOBAL_CONDITION_KEYS",
    "ActionInfo",
    "CatalogAdvisor",
    "PolicyFinding",
    "ResourceType",
    "action_info",
    "condition_key_known",
    "data_version",
    "diagnose_request",
    "evaluated_resource",
    "policy_findings",
    "policy_warnings",
    "service_exists",
    "suggest_action",
]

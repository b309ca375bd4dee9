"""permission-ledger: an event-sourced permission ledger for AWS-IAM-style access control.

`Ledger` is the whole public surface for library users; errors live in `ledger.errors`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.application.facade import AccessKey, Ledger
    from ledger.domain.handlers import Quotas
    from ledger.errors import LedgerError
    from projections.results import (
        DiffResult,
        LineageResult,
        OwnerResult,
        TimelineResult,
        WhatCanResult,
        WhoCanResult,
    )

# Resolved on first use (PEP 562): importing any `ledger.*` module, the CLI included, must not
# load the whole application (SQLAlchemy, eventsourcing, every pydantic model) up front.
_PUBLIC = {
    "AccessKey": "ledger.application.facade", "Ledger": "ledger.application.facade",
    "Quotas": "ledger.domain.handlers", "LedgerError": "ledger.errors",
    "DiffResult": "projections.results", "LineageResult": "projections.results",
    "OwnerResult": "projections.results", "TimelineResult": "projections.results",
    "WhatCanResult": "projections.results", "WhoCanResult": "projections.results",
}

__all__ = ["AccessKey", "Ledger", "LedgerError", "Quotas"]
# The typed answers of the audit queries (attribute access is checked by mypy; `result["key"]` still reads).
__all__ += ["DiffResult", "LineageResult", "OwnerResult", "TimelineResult", "WhatCanResult", "WhoCanResult"]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'ledger' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

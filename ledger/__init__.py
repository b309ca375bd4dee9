"""permission-ledger: an event-sourced permission ledger for AWS-IAM-style access control.

`Ledger` is the whole public surface for library users; errors live in `ledger.errors`.
"""

from ledger.application.facade import AccessKey, Ledger
from ledger.domain.handlers import Quotas
from ledger.errors import LedgerError
from projections.results import DiffResult, LineageResult, OwnerResult, TimelineResult, WhatCanResult, WhoCanResult

__all__ = ["AccessKey", "Ledger", "LedgerError", "Quotas"]
# The typed answers of the audit queries (attribute access is checked by mypy; `result["key"]` still reads).
__all__ += ["DiffResult", "LineageResult", "OwnerResult", "TimelineResult", "WhatCanResult", "WhoCanResult"]

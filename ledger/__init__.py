"""permission-ledger: an event-sourced permission ledger for AWS-IAM-style access control.

`Ledger` is the whole public surface for library users; errors live in `ledger.errors`.
"""

from ledger.commands import Quotas
from ledger.errors import LedgerError
from ledger.facade import AccessKey, Ledger

__all__ = ["AccessKey", "Ledger", "LedgerError", "Quotas"]

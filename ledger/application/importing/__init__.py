"""Imports of real AWS history: CloudTrail records and IAM account snapshots become ledger facts.

The mapping modules are pure (no storage, projections or CLI); only `runner` writes through `Ledger`.
"""

from ledger.application.importing.runner import ImportSummary, import_cloudtrail, import_snapshot

__all__ = ["ImportSummary", "import_cloudtrail", "import_snapshot"]

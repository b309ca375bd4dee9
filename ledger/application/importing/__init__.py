"""Imports of real AWS history: CloudTrail records, IAM account snapshots, AWS Config items, the
organisation (AWS Organizations CLI output) and S3 buckets become ledger facts.

The mapping and diffing modules are pure (no storage, projections or CLI); only `runner` and
`reconcile` write, through `Ledger`.
"""

from ledger.application.importing.buckets import import_buckets
from ledger.application.importing.config import import_config
from ledger.application.importing.organization import import_organization
from ledger.application.importing.runner import ImportSummary, import_cloudtrail, import_snapshot

__all__ = ["ImportSummary", "import_buckets", "import_cloudtrail", "import_config", "import_organization",
           "import_snapshot"]

"""Imports of real AWS history: CloudTrail records, IAM account snapshots, AWS Config items, the
organisation (AWS Organizations CLI output) and S3 buckets become ledger facts.

The mapping and diffing modules are pure (no storage, projections or CLI); only `runner` and
`reconcile` write, through `Ledger`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.application.importing.buckets import import_buckets
    from ledger.application.importing.config import import_config
    from ledger.application.importing.organization import import_organization
    from ledger.application.importing.runner import ImportSummary, import_cloudtrail, import_snapshot

# Resolved on first use (PEP 562): `can` and `who-can` import `importing.provenance`, and loading
# the package must not load every importer (the fold, the differs, the policy parser) with it.
_PUBLIC = {
    "ImportSummary": "runner", "import_buckets": "buckets", "import_cloudtrail": "runner",
    "import_config": "config", "import_organization": "organization", "import_snapshot": "runner",
}

__all__ = ["ImportSummary", "import_buckets", "import_cloudtrail", "import_config", "import_organization",
           "import_snapshot"]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value

"""Maps CloudTrail records to ledger facts: IAM/STS/S3/MediaConvert changes, sessions, outputs and
the observed call itself. Pure: it reads records and an `ImportIndex`, and never stores or logs.

Never copied into any event: passwords, secret access keys, session tokens (request parameters
and response elements are read field by field; only policy documents and tags are kept whole).
`scan` is the first pass over every record, `Mapper.map` the second; the per-service handlers
live in `iam`, `sts`, `s3` and `mediaconvert`.
"""

from ledger.application.importing.cloudtrail.mapper import Mapped, Mapper
from ledger.application.importing.cloudtrail.records import (
    PLACEHOLDER_POLICY,
    fingerprint,
    sort_key,
    source_id_of,
)
from ledger.application.importing.cloudtrail.scan import scan

__all__ = [
    "PLACEHOLDER_POLICY",
    "Mapped",
    "Mapper",
    "fingerprint",
    "scan",
    "sort_key",
    "source_id_of",
]

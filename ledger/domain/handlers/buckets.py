"""Command handlers for S3 buckets: creation (names are global), bucket policies and the Object
Ownership setting; plus S3's tables of ownership settings and canned ACLs.

Pure: whether a bucket name is taken elsewhere is looked up by the caller and passed in.
"""

from __future__ import annotations

from typing import Any

from ledger.domain import events as ev
from ledger.domain import names
from ledger.domain.handlers.core import Draft, require_account, require_bucket, validate_policy
from ledger.domain.state import AccountState
from ledger.errors import EntityAlreadyExistsError, NotFoundError, ValidationError

OWNERSHIP_SETTINGS = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")
CANNED_ACLS = frozenset({
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
})


def create_bucket(state: AccountState, name: str, region: str, object_ownership: str, taken: bool) -> list[Draft]:
    require_account(state)
    names.check_bucket_name(name)
    names.check_region(region)
    if taken:
        raise EntityAlreadyExistsError(f"bucket name {name!r} is already taken (bucket names are global)", entity=name)
    if object_ownership not in OWNERSHIP_SETTINGS:
        raise ValidationError(f"object ownership must be one of {', '.join(OWNERSHIP_SETTINGS)}")
    return [
        (
            ev.BucketCreated,
            {
                "bucket_name": name,
                "bucket_arn": names.bucket_arn(name),
                "region": region,
                "object_ownership": object_ownership,
            },
        )
    ]


def delete_bucket(state: AccountState, name: str) -> list[Draft]:
    bucket = require_bucket(state, name)
    return [(ev.BucketDeleted, {"bucket_name": bucket.name, "bucket_arn": bucket.arn})]


def put_bucket_policy(state: AccountState, name: str, document: Any) -> list[Draft]:
    bucket = require_bucket(state, name)
    doc = validate_policy(document, "resource")
    return [(ev.BucketPolicyPut, {"bucket_name": bucket.name, "bucket_arn": bucket.arn, "document": doc})]


def delete_bucket_policy(state: AccountState, name: str) -> list[Draft]:
    bucket = require_bucket(state, name)
    if bucket.policy is None:
        raise NotFoundError(f"bucket {name!r} has no bucket policy", entity=bucket.arn)
    return [(ev.BucketPolicyDeleted, {"bucket_name": bucket.name, "bucket_arn": bucket.arn})]


def change_ownership(state: AccountState, name: str, object_ownership: str) -> list[Draft]:
    bucket = require_bucket(state, name)
    if object_ownership not in OWNERSHIP_SETTINGS:
        raise ValidationError(f"object ownership must be one of {', '.join(OWNERSHIP_SETTINGS)}")
    if bucket.object_ownership == object_ownership:
        return []
    return [
        (
            ev.BucketOwnershipChanged,
            {
                "bucket_name": bucket.name,
                "bucket_arn": bucket.arn,
                "object_ownership": object_ownership,
            },
        )
    ]

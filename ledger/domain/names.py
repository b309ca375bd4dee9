"""Validation of AWS identifiers (account ids, IAM names and paths, bucket names), ARN builders,
and the generators of fresh ids and secrets.

The validators and builders are pure and raise typed `ValidationError`s; the `new_*` generators
draw randomness, so only the application calls them (handlers take their results as arguments).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from ledger.errors import InvalidArnError, InvalidNameError
from ledger.policy.arn import Arn

_ACCOUNT = re.compile(r"^\d{12}$")
_IAM_NAME = re.compile(r"^[\w+=,.@-]+$")
_PATH = re.compile(r"^/([\x21-\x7e]*/)?$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|aws|)?:(.+)$")
_UNIQUE_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

NAME_LIMITS = {"user": 64, "group": 128, "role": 64, "policy": 128, "inline policy": 128, "session": 64}


def check_account_id(account_id: str) -> str:
    if not isinstance(account_id, str) or not _ACCOUNT.match(account_id):
        raise InvalidNameError(f"invalid account id {account_id!r}: must be 12 digits", value=account_id)
    return account_id


def is_account_id(text: str) -> bool:
    return len(text) == 12 and text.isdigit()


def check_iam_name(kind: str, name: str) -> str:
    limit = NAME_LIMITS[kind]
    if not isinstance(name, str) or not (1 <= len(name) <= limit) or not _IAM_NAME.match(name):
        raise InvalidNameError(
            f"invalid {kind} name {name!r}: 1-{limit} characters of letters, digits and +=,.@_-",
            value=str(name)[:200],
        )
    return name


def check_path(path: str) -> str:
    if not isinstance(path, str) or len(path) > 512 or not _PATH.match(path):
        raise InvalidNameError(f"invalid path {path!r}: must begin and end with '/'", value=str(path)[:200])
    return path


def check_bucket_name(name: str) -> str:
    if not isinstance(name, str) or not _BUCKET.match(name) or ".." in name:
        raise InvalidNameError(
            f"invalid bucket name {name!r}: 3-63 lowercase letters, digits, dots and hyphens",
            value=str(name)[:200],
        )
    return name


def parse_arn(text: str) -> Arn:
    """The policy engine's `Arn`, with the stricter checks a command's input needs (known
    partition, 12-digit account or none, bounded length, no NUL)."""
    if not isinstance(text, str) or len(text) > 2048 or "\x00" in text:
        raise InvalidArnError(f"invalid ARN {str(text)[:200]!r}", value=str(text)[:200])
    match = _ARN.match(text)
    if not match:
        raise InvalidArnError(
            f"invalid ARN {text[:200]!r}: expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE",
            value=text[:200],
        )
    return Arn(*(match.group(i) or "" for i in range(1, 6)))


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def iam_arn(account_id: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def session_arn(account_id: str, role_name: str, session_name: str) -> str:
    return f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{session_name}"


def new_unique_id(prefix: str) -> str:
    """An AWS-style immutable unique id (`AIDA...`, `AROA...`): never reused, unlike names."""
    return prefix + "".join(secrets.choice(_UNIQUE_ID_ALPHABET) for _ in range(17))


def new_access_key_id(temporary: bool = False) -> str:
    return ("ASIA" if temporary else "AKIA") + "".join(secrets.choice(_UNIQUE_ID_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    return secrets.token_urlsafe(30)[:40]


def new_session_suffix() -> str:
    """The random tail that keeps two sessions of the same role and name apart."""
    return secrets.token_hex(6)


def new_job_id(created_at: datetime) -> str:
    """A MediaConvert-style job id: creation time in milliseconds and a random tail."""
    return f"{int(created_at.timestamp() * 1000)}-{secrets.token_hex(3)}"


UNIQUE_ID_PREFIX = {"user": "AIDA", "group": "AGPA", "role": "AROA", "policy": "ANPA"}

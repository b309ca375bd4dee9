"""Validation of AWS identifiers (account ids, IAM names and paths, bucket names, tags, object
keys), ARN builders, and the generators of fresh ids and secrets.

The validators and builders are pure and raise typed `ValidationError`s; the `new_*` generators
draw randomness, so only the application calls them (handlers take their results as arguments).
Every pattern is ASCII and matched whole (`fullmatch`): no Unicode `\\w`/`\\d`, no `$` that
admits a trailing newline.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime

from ledger.errors import InvalidArnError, InvalidNameError
from ledger.policy.arn import Arn

# The partition every ARN the ledger builds is in; an ARN of another partition names a different
# principal or resource even when its account and name are the same.
PARTITION = "aws"
_ACCOUNT = re.compile(r"[0-9]{12}", re.ASCII)
# IAM API reference, e.g. CreateUser UserName: "upper and lowercase alphanumeric characters with
# no spaces. You can also include any of the following characters: _+=,.@-".
_IAM_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]+", re.ASCII)
# IAM API reference, Path: "(\u002F)|(\u002F[\u0021-\u007E]+\u002F)", 1-512 characters.
_PATH = re.compile(r"/([\x21-\x7e]*/)?", re.ASCII)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)
# Buckets created before March 2018 in us-east-1 (which CloudTrail can still name) followed the
# legacy rules: up to 255 characters, upper case and underscores allowed.
_LEGACY_BUCKET = re.compile(r"[A-Za-z0-9._-]{1,255}", re.ASCII)
_ARN = re.compile(
    r"arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):([a-z0-9-]+):([a-z0-9-]*):([0-9]{12}|aws|)?:([^\x00-\x1f]+)",
    re.ASCII,
)
_DOTTED_QUAD = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}", re.ASCII)
_UNIQUE_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# S3 "General purpose bucket naming rules": "must not start with the prefix xn--", "sthree-",
# "amzn-s3-demo-"; "must not end with the suffix -s3alias", "--ol-s3", ".mrap", "--x-s3",
# "--table-s3" (each reserved for access point, Object Lambda, Multi-Region Access Point,
# directory and table bucket names).
BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# Tagging (IAM User Guide, "Tagging IAM resources"): keys 1-128 and values 0-256 characters of
# Unicode letters, digits, white space and _.:/=+-@; keys beginning "aws:" are reserved.
_TAG_PUNCTUATION = frozenset("_.:/=+-@")

NAME_LIMITS = {"user": 64, "group": 128, "role": 64, "policy": 128, "inline policy": 128, "session": 64,
               "federated user": 32, "saml provider": 128, "source identity": 64,
               "SCP id": 128}
# RoleSessionName, SourceIdentity and GetFederationToken's Name have a 2-character minimum.
NAME_MINIMUMS = {"session": 2, "federated user": 2, "source identity": 2}
_ACCOUNT_NAME = re.compile(r"[\x20-\x7e]{1,50}", re.ASCII)
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}", re.ASCII)
_QUEUE = re.compile(r"[A-Za-z0-9_-]{1,128}", re.ASCII)
_OIDC_URL = re.compile(r"https://[\x21-\x7e]{1,247}", re.ASCII)


def check_account_id(account_id: str) -> str:
    """An AWS account id: exactly 12 ASCII digits (no other script's digits, no newline)."""
    if not isinstance(account_id, str) or not _ACCOUNT.fullmatch(account_id):
        raise InvalidNameError(
            f"invalid account id {str(account_id)[:40]!r}: must be 12 ASCII digits", value=str(account_id)[:40]
        )
    return account_id


def is_account_id(text: object) -> bool:
    """12 ASCII digits (`isdigit` alone admits other scripts' digits)."""
    return isinstance(text, str) and len(text) == 12 and text.isascii() and text.isdigit()


def check_iam_name(kind: str, name: str) -> str:
    limit = NAME_LIMITS[kind]
    least = NAME_MINIMUMS.get(kind, 1)
    if not isinstance(name, str) or not (least <= len(name) <= limit) or not _IAM_NAME.fullmatch(name):
        raise InvalidNameError(
            f"invalid {kind} name {str(name)[:80]!r}: {least}-{limit} ASCII letters, digits and +=,.@_-",
            value=str(name)[:200],
        )
    return name


def check_account_name(name: object) -> str:
    """An account's friendly name: 1-50 printable ASCII characters (Organizations CreateAccount)."""
    if not isinstance(name, str) or not _ACCOUNT_NAME.fullmatch(name):
        raise InvalidNameError(
            f"invalid account name {str(name)[:60]!r}: 1-50 printable ASCII characters", value=str(name)[:60]
        )
    return name


def check_path(path: str) -> str:
    if not isinstance(path, str) or len(path) > 512 or not _PATH.fullmatch(path):
        raise InvalidNameError(
            f"invalid path {str(path)[:80]!r}: '/' or '/…/' of printable ASCII, at most 512 characters",
            value=str(path)[:200],
        )
    return path


def bucket_name_problem(name: object) -> str | None:
    """Why `name` is not a valid new general purpose bucket name under S3's rules, or None."""
    if not isinstance(name, str) or not _BUCKET.fullmatch(name):
        return "3-63 lowercase ASCII letters, digits, dots and hyphens, beginning and ending with a letter or digit"
    if ".." in name:
        return "must not contain two adjacent periods"
    if _is_ip_address(name):
        return "must not be formatted as an IP address"
    if name.startswith(BUCKET_RESERVED_PREFIXES):
        return f"must not start with a reserved prefix ({', '.join(BUCKET_RESERVED_PREFIXES)})"
    if name.endswith(BUCKET_RESERVED_SUFFIXES):
        return f"must not end with a reserved suffix ({', '.join(BUCKET_RESERVED_SUFFIXES)})"
    return None


def _is_ip_address(name: str) -> bool:
    return _DOTTED_QUAD.fullmatch(name) is not None


def check_bucket_name(name: str) -> str:
    problem = bucket_name_problem(name)
    if problem is not None:
        raise InvalidNameError(f"invalid bucket name {str(name)[:80]!r}: {problem}", value=str(name)[:200])
    return name


def is_recordable_bucket_name(name: object) -> bool:
    """A bucket name S3 has ever accepted (the legacy rules included), as an import may name it."""
    return isinstance(name, str) and _LEGACY_BUCKET.fullmatch(name) is not None


def _tag_text_ok(text: str) -> bool:
    return all(ch in _TAG_PUNCTUATION or unicodedata.category(ch)[0] in "LZN" for ch in text)


def check_tags(tags: object) -> dict[str, str]:
    """Tag keys 1-128 and values 0-256 characters of letters, digits, spaces and _.:/=+-@ (no
    control character, so no NUL), keys not beginning with the reserved `aws:`."""
    if not isinstance(tags, dict) or not tags:
        raise InvalidNameError("tags must be a non-empty mapping of key to value")
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or not _tag_text_ok(key):
            raise InvalidNameError(
                f"invalid tag key {str(key)[:80]!r}: 1-128 letters, digits, spaces and _.:/=+-@", value=str(key)[:200]
            )
        if key.lower().startswith("aws:"):
            raise InvalidNameError(f"invalid tag key {key!r}: the aws: prefix is reserved", value=key)
        if not isinstance(value, str) or len(value) > 256 or not _tag_text_ok(value):
            raise InvalidNameError(
                f"invalid value for tag {key!r}: at most 256 letters, digits, spaces and _.:/=+-@",
                value=str(value)[:200],
            )
    return dict(tags)


def check_object_key(key: object) -> str:
    """An S3 object key: "a sequence of Unicode characters whose UTF-8 encoding is at most 1,024
    bytes long" (S3 User Guide, "Naming Amazon S3 objects"). Any character S3 accepts is kept,
    NUL included; text that is not Unicode (a lone surrogate) is not a key."""
    if not isinstance(key, str) or not key:
        raise InvalidNameError("object key must be a non-empty string")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidNameError("object key is not valid Unicode text (it holds a lone surrogate)") from None
    if size > 1024:
        raise InvalidNameError(f"object key is {size} bytes in UTF-8: at most 1,024", value=key[:200])
    return key


def check_region(region: object) -> str:
    """An AWS Region code such as `us-east-1` or `us-gov-west-1`."""
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise InvalidNameError(f"invalid region {str(region)[:40]!r}: e.g. us-east-1", value=str(region)[:40])
    return region


def is_queue_name(name: str) -> bool:
    return _QUEUE.fullmatch(name) is not None


def check_oidc_url(url: object) -> str:
    """An OIDC provider URL: https:// and printable ASCII, at most 255 characters."""
    if not isinstance(url, str) or not _OIDC_URL.fullmatch(url):
        raise InvalidNameError(
            f"invalid OIDC provider URL {str(url)[:80]!r}: https:// and printable ASCII, at most 255 characters",
            value=str(url)[:200],
        )
    return url


def parse_arn(text: str) -> Arn:
    """The policy engine's `Arn`, with the stricter checks a command's input needs (known
    partition, 12-digit account or none, bounded length, no control character)."""
    if not isinstance(text, str) or len(text) > 2048:
        raise InvalidArnError(f"invalid ARN {str(text)[:200]!r}", value=str(text)[:200])
    match = _ARN.fullmatch(text)
    if not match:
        raise InvalidArnError(
            f"invalid ARN {text[:200]!r}: expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE",
            value=text[:200],
        )
    return Arn(*(match.group(i) or "" for i in range(1, 6)))


def parse_ledger_arn(text: str) -> Arn:
    """`parse_arn`, for an ARN that must name a principal or resource of this ledger, which are
    all in the `aws` partition: `arn:aws-cn:iam::A:root` is not the root user of `aws` account A."""
    arn = parse_arn(text)
    if arn.partition != PARTITION:
        raise InvalidArnError(
            f"{text[:200]} is in the {arn.partition} partition; this ledger's principals and resources are in "
            f"{PARTITION}",
            value=text[:200],
        )
    return arn


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

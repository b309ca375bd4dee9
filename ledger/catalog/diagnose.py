"""Notes on a request a user typed: an action AWS does not define, a resource that cannot be one
of the action's resource types, each with the nearest valid form; and the resource AWS evaluates
an action that has no resource type against.

Pure lookups in the packaged reference; never decides a request and never raises on odd input.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ledger.catalog.reference import (
    ActionInfo,
    ResourceType,
    action_info,
    actions_of,
    find_bare_action,
    nearest,
    service_exists,
    services,
)
from ledger.policy.matching import arn_match

__all__ = ["diagnose_request", "evaluated_resource", "suggest_action"]

_MAX_TEXT = 2048
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def suggest_action(action: str) -> str | None:
    """The nearest action the reference defines: same service with the name's typo fixed, a
    misspelt service prefix fixed, or the service added to a bare name."""
    service, sep, name = action.partition(":")
    if not sep:
        found = find_bare_action(action)
        return '" or "'.join(found) if found else None
    if not service_exists(service):
        fixed = nearest(service, services())
        if fixed is None:
            return None
        service = fixed
    names = actions_of(service)
    if name.lower() in names:
        return f"{service.lower()}:{names[name.lower()]}"
    close = nearest(name, list(names.values()))
    return f"{service.lower()}:{close}" if close else None


def _action_notes(action: str) -> tuple[ActionInfo | None, list[str]]:
    info = action_info(action)
    if info is not None:
        return info, []
    service, sep, _ = action.partition(":")
    if "*" in action or "?" in action:
        return None, [f'"{action}" is a pattern; a request names one action']
    hint = suggest_action(action)
    did_you_mean = f': did you mean "{hint}"?' if hint else ""
    if not sep:
        return None, [f'"{action}" has no service prefix (service:Action){did_you_mean}']
    if not service_exists(service):
        return None, [f'"{service}" is not an AWS service prefix in the Service Authorization Reference{did_you_mean}']
    return None, [f'"{action}" is not an action of {service.lower()} in the Service Authorization Reference'
                  f"{did_you_mean}"]


def _placeholder(variable: str) -> str:
    return {"Region": "REGION", "Account": "ACCOUNT"}.get(variable, _WORD_BREAK.sub("_", variable).upper())


def _fill(rtype: ResourceType, name: str, partition: str) -> str:
    """The resource type's ARN with `name` as its first own variable (the rest as placeholders)."""
    used = False

    def one(match: re.Match[str]) -> str:
        nonlocal used
        variable = match.group(1)
        if variable == "Partition":
            return partition
        if variable in ("Region", "Account") or used:
            return _placeholder(variable)
        used = True
        return name
    return _VARIABLE.sub(one, rtype.arn)


def _rebuilt(rtype: ResourceType, parts: list[str]) -> str:
    """An ARN typed with too few colons, rebuilt on the resource type's fields: its partition
    and service, region and account where the type has them, and the last field as the resource."""
    fields = rtype.arn.split(":", 5)
    partition = parts[1] if len(parts) > 1 and parts[1] else "aws"
    region = next((p for p in parts[3:-1] if re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", p)), "REGION")
    account = next((p for p in parts[3:-1] if re.fullmatch(r"\d{12}", p)), "ACCOUNT")
    head = ["arn", partition, fields[2], region if fields[3] else "", account if fields[4] else ""]
    return ":".join([*head, parts[-1]])


def _simplest(types: tuple[ResourceType, ...] | list[ResourceType]) -> ResourceType:
    return min(types, key=lambda r: len(_VARIABLE.findall(r.arn)))


def _looks_like(info: ActionInfo, resource: str) -> bool:
    return any(arn_match(r.pattern.replace("\x00", "*"), resource) for r in info.resource_types)


def _expected(info: ActionInfo) -> str:
    kinds = ", ".join(f"{r.name} ({r.arn})" for r in info.resource_types[:3])
    return f"{info.qualified} acts on {kinds}"


def _resource_notes(info: ActionInfo, resource: str) -> list[str]:
    if info.has_no_resource_type:
        if resource == "*":
            return []
        return [f'{info.qualified} has no resource type in the Service Authorization Reference: AWS authorises '
                f'it against all resources ("*"), and so does the ledger, not against "{resource}"']
    if resource == "*" or "*" in resource or "?" in resource or _looks_like(info, resource):
        return []
    if resource.lower().startswith("s3://"):
        return [f'"{resource}" is a URL, not an ARN: did you mean "arn:aws:s3:::{resource[5:]}"?']
    if not resource.startswith("arn:"):
        guess = _fill(_simplest(info.resource_types), resource, "aws")
        return [f'"{resource}" is not an ARN; {info.qualified} acts on '
                f'{", ".join(r.name for r in info.resource_types[:3])}: did you mean "{guess}"?']
    parts = resource.split(":")
    if len(parts) < 6:
        service = parts[2].lower() if len(parts) > 2 else ""
        same = [r for r in info.resource_types if r.arn.split(":")[2] == service] or list(info.resource_types)
        guess = _rebuilt(_simplest(same), parts)
        hint = f': did you mean "{guess}"?' if _looks_like(info, guess) else f"; {_expected(info)}"
        return [f'"{resource}" has {len(parts) - 1} colons where an ARN has at least 5{hint}']
    return [f'"{resource}" is not a resource {info.qualified} acts on; {_expected(info)}']


@lru_cache(maxsize=4096)
def _diagnose(action: str, resource: str) -> tuple[str, ...]:
    info, notes = _action_notes(action)
    if info is not None:
        notes = _resource_notes(info, resource)
    return tuple(notes)


def diagnose_request(action: str, resource: str) -> list[str]:
    """Warnings for a request's (action, resource): an action the Service Authorization Reference
    does not define, or a resource that cannot be one of its resource types, each naming the
    nearest valid form. Empty when both look right (or the input is too odd to say anything)."""
    if not isinstance(action, str) or not isinstance(resource, str):
        return []
    if len(action) > _MAX_TEXT or len(resource) > _MAX_TEXT:
        return []
    return list(_diagnose(action, resource))


@lru_cache(maxsize=4096)
def _wildcard_resource(action_lower: str, partition: str) -> str | None:
    info = action_info(action_lower)
    if info is None or not info.has_no_resource_type:
        return None
    return f"arn:{partition}:{info.service}:::*"


def evaluated_resource(action: str, resource: str, principal_arn: str = "") -> str:
    """The resource AWS evaluates the request against. For an action with no resource type
    (Service Authorization Reference: "the action does not support resource-level permissions
    and you must specify all resources ("*")"), that is every resource of the service: the
    literal `arn:PARTITION:SERVICE:::*`, which a statement's Resource matches exactly when its
    pattern covers the whole service ("*", "arn:aws:s3:::*", "arn:aws:ec2:*:*:*"...), never
    when it names part of it ("arn:aws:s3:::bucket", "arn:aws:s3:::*log*"). Any other request
    keeps its resource."""
    if not isinstance(action, str) or len(action) > _MAX_TEXT:
        return resource
    parts = principal_arn.split(":", 2) if isinstance(principal_arn, str) else []
    partition = parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else "aws"
    wildcard = _wildcard_resource(action.lower(), partition)
    return resource if wildcard is None else wildcard


"""The `aws iam get-account-authorization-details` shape (GAAD): reading pages into a `Dump`, and
writing a write-side state back into the same shape, so every IAM observation (a snapshot, a
Config item, a re-asserted earlier observation) is compared with the ledger by one differ.

Pure: reads documents and states; never writes. Documents may be JSON objects or URL-encoded JSON
strings (as the IAM API returns them).
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.domain import names
from ledger.domain.entities import Group, ManagedPolicy, Role, User
from ledger.domain.state import AccountState
from ledger.errors import ImportFormatError, PolicyValidationError
from ledger.policy.parsing import load_policy_json

AWS_ACCOUNT = "aws"
LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")


def pages_of(document: Any, path: Path) -> list[dict[str, Any]]:
    """The pages in one file: a single response, or a JSON array of responses."""
    pages = document if isinstance(document, list) else [document]
    for number, page in enumerate(pages, 1):
        if not isinstance(page, dict) or not any(key in page for key in LISTS):
            raise ImportFormatError(
                f"page {number} is not get-account-authorization-details output "
                f"(none of {', '.join(LISTS)})", path=str(path))
        for key in LISTS:
            if key in page and not isinstance(page[key], list):
                raise ImportFormatError(f"page {number}: {key} is not a list", path=str(path))
            for item in page.get(key) or ():
                if not isinstance(item, dict):
                    raise ImportFormatError(f"page {number}: an entry of {key} is not an object", path=str(path))
    return pages


@dataclass
class Dump:
    """IAM entities as GAAD lists them; `truncated` when no page ended the listing."""

    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    policies: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False

    def entity_count(self) -> int:
        return len(self.users) + len(self.groups) + len(self.roles) + len(self.policies)

    def digest(self) -> str:
        body = json.dumps([self.users, self.groups, self.roles, self.policies], sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:24]


def merge_pages(pages: list[dict[str, Any]]) -> Dump:
    """One dump from its pages (deduplicated by id); truncated if no page ends the listing."""
    dump = Dump()
    seen: set[tuple[str, str]] = set()
    for page in pages:
        for key, target in (("UserDetailList", dump.users), ("GroupDetailList", dump.groups),
                            ("RoleDetailList", dump.roles), ("Policies", dump.policies)):
            for item in page.get(key) or ():
                ident = (key, str(item.get("Arn") or json.dumps(item, sort_keys=True)))
                if ident not in seen:
                    seen.add(ident)
                    target.append(item)
    ends = [page for page in pages if not page.get("IsTruncated")]
    dump.truncated = bool(pages) and not ends
    return dump


def infer_account(dump: Dump) -> str | None:
    """The account the dump describes: the most common 12-digit account in its entities' ARNs."""
    counts: Counter[str] = Counter()
    for item in [*dump.users, *dump.groups, *dump.roles, *dump.policies]:
        arn = item.get("Arn")
        if isinstance(arn, str) and arn.count(":") >= 5:
            account = arn.split(":")[4]
            if names.is_account_id(account):
                counts[account] += 1
    return counts.most_common(1)[0][0] if counts else None


_DECODED: dict[str, dict[str, Any] | None] = {}
_DECODED_MAX = 50_000


def document(value: Any) -> dict[str, Any] | None:
    """A policy document from an object or a (URL-encoded) JSON string; None if it is neither.

    Decoded texts are remembered: histories repeat the same documents item after item, and URL
    decoding is the dearest step of a Config import. The result is shared, so it is never mutated
    (events and states only read documents)."""
    try:  # as IAM parses JSON: duplicate keys, NaN and Infinity make no document
        if isinstance(value, dict):
            return load_policy_json(json.dumps(value, allow_nan=False))
    except (ValueError, PolicyValidationError):
        return None
    if not isinstance(value, str):
        return None
    if value in _DECODED:
        return _DECODED[value]
    text = value.strip()
    loaded: Any = None
    if text:
        try:
            loaded = load_policy_json(text if text.startswith("{") else urllib.parse.unquote(text))
        except (ValueError, PolicyValidationError):
            loaded = None
    if len(_DECODED) >= _DECODED_MAX:
        _DECODED.clear()
    found = _DECODED[value] = loaded if isinstance(loaded, dict) else None
    return found


def attached(item: dict[str, Any]) -> list[str]:
    """Attached policy ARNs; tolerates a single object where a list belongs (seen in AWS docs)."""
    value = item.get("AttachedManagedPolicies") or []
    if isinstance(value, dict):
        value = [value]
    return [str(p["PolicyArn"]) for p in value if isinstance(p, dict) and isinstance(p.get("PolicyArn"), str)]


def inline(item: dict[str, Any], key: str) -> dict[str, dict[str, Any] | None]:
    return {str(p.get("PolicyName")): document(p.get("PolicyDocument"))
            for p in item.get(key) or () if isinstance(p, dict) and p.get("PolicyName")}


def tags(item: dict[str, Any]) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in item.get("Tags") or ()
            if isinstance(t, dict) and "Key" in t}


def boundary(item: dict[str, Any]) -> str | None:
    value = item.get("PermissionsBoundary")
    if isinstance(value, dict) and isinstance(value.get("PermissionsBoundaryArn"), str):
        return str(value["PermissionsBoundaryArn"])
    return None


def owner_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) >= 6 else ""


def path_and_name(arn: str) -> tuple[str, str]:
    resource = arn.split(":", 5)[5]
    _, _, rest = resource.partition("/")
    path, _, name = rest.rpartition("/")
    return (f"/{path}/" if path else "/"), name


# ---------------------------------------------------------------- the state, written back as GAAD

def _common(holder: User | Group | Role, policy_key: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": holder.path, "Arn": holder.arn,
        "AttachedManagedPolicies": [{"PolicyArn": arn} for _, arn in sorted(holder.managed.items())],
        policy_key: [{"PolicyName": name, "PolicyDocument": doc} for name, doc in sorted(holder.inline.items())],
    }
    if isinstance(holder, (User, Role)):
        if holder.boundary:
            out["PermissionsBoundary"] = {"PermissionsBoundaryArn": holder.boundary}
        out["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(holder.tags.items())]
    return out


def user_item(state: AccountState, user: User) -> dict[str, Any]:
    groups = sorted(state.groups[g].name for g in user.groups if g in state.groups)
    return {"UserName": user.name, "UserId": user.user_id, "GroupList": groups, **_common(user, "UserPolicyList")}


def group_item(group: Group) -> dict[str, Any]:
    return {"GroupName": group.name, "GroupId": group.group_id, **_common(group, "GroupPolicyList")}


def role_item(role: Role) -> dict[str, Any]:
    return {"RoleName": role.name, "RoleId": role.role_id, "AssumeRolePolicyDocument": role.trust_policy,
            "MaxSessionDuration": role.max_session_duration, **_common(role, "RolePolicyList")}


def policy_item(policy: ManagedPolicy) -> dict[str, Any]:
    return {"PolicyName": policy.name, "PolicyId": policy.policy_id, "Arn": policy.arn, "Path": policy.path,
            "DefaultVersionId": policy.default_version,
            "PolicyVersionList": [{"VersionId": v, "Document": doc, "IsDefaultVersion": v == policy.default_version}
                                  for v, doc in sorted(policy.versions.items())]}


def dump_of_state(state: AccountState, scope: str = "iam") -> Dump:
    """The IAM entities of `state` in GAAD shape: all of them for the scope "iam", or the one
    entity a Config scope names ("iam:role:<id>", "iam:user:<id>", "iam:group:<id>",
    "iam:policy:<arn>"); an entity absent from the state gives an empty dump."""
    if scope == "iam":
        return Dump([user_item(state, u) for u in state.users.values()], [group_item(g) for g in state.groups.values()],
                    [role_item(r) for r in state.roles.values()],
                    [policy_item(p) for p in state.policies.values() if not p.aws_managed])
    _, kind, ident = scope.split(":", 2)
    if kind == "user" and (user := state.users.get(ident)):
        return Dump(users=[user_item(state, user)])
    if kind == "group" and (group := state.groups.get(ident)):
        return Dump(groups=[group_item(group)])
    if kind == "role" and (role := state.roles.get(ident)):
        return Dump(roles=[role_item(role)])
    if kind == "policy" and (policy := state.policy_by_arn(ident)):
        return Dump(policies=[policy_item(policy)])
    return Dump()

"""The entities an account holds on the write side (users, groups, roles, policies, buckets,
sessions, jobs, identity providers): plain mutable records that only `state.apply` changes.

Data only: no validation, no event handling, no storage here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class User:
    user_id: str
    name: str
    path: str
    arn: str
    login_profile: bool = False
    access_keys: dict[str, bool] = field(default_factory=dict)  # key id -> active
    groups: set[str] = field(default_factory=set)
    managed: dict[str, str] = field(default_factory=dict)  # policy id -> arn
    inline: dict[str, dict[str, Any]] = field(default_factory=dict)
    boundary: str | None = None  # policy arn
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Group:
    group_id: str
    name: str
    path: str
    arn: str
    members: set[str] = field(default_factory=set)
    managed: dict[str, str] = field(default_factory=dict)
    inline: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Role:
    role_id: str
    name: str
    path: str
    arn: str
    trust_policy: dict[str, Any]
    max_session_duration: int = 3600
    managed: dict[str, str] = field(default_factory=dict)
    inline: dict[str, dict[str, Any]] = field(default_factory=dict)
    boundary: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    revoked_before: datetime | None = None


@dataclass
class ManagedPolicy:
    policy_id: str
    name: str
    path: str
    arn: str
    aws_managed: bool
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_version: str = "v1"
    next_version: int = 2
    attachments: set[tuple[str, str]] = field(default_factory=set)  # (kind, principal id)
    boundary_of: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class Bucket:
    name: str
    arn: str
    region: str
    object_ownership: str
    policy: dict[str, Any] | None = None


@dataclass
class Session:
    session_id: str
    role_id: str | None
    arn: str
    issued_at: datetime
    expires_at: datetime
    access_key_id: str | None
    chained: bool


@dataclass
class Job:
    job_id: str
    arn: str
    role_arn: str
    creator_arn: str
    outputs: tuple[str, ...]


@dataclass
class IdentityProvider:
    arn: str
    provider_type: str


@dataclass
class OrgPolicy:
    policy_id: str
    name: str
    policy_type: str  # SERVICE_CONTROL_POLICY | RESOURCE_CONTROL_POLICY
    document: dict[str, Any]
    aws_managed: bool = False


@dataclass
class Organization:
    """The organisation an account manages: its tree (OUs and member accounts by parent id),
    the SCPs and RCPs, and which root, OU or account each is attached to."""

    organization_id: str | None
    root_id: str | None
    policy_types: set[str] = field(default_factory=set)
    units: dict[str, tuple[str, str]] = field(default_factory=dict)  # OU id -> (name, parent id)
    accounts: dict[str, str] = field(default_factory=dict)  # member account -> parent id
    policies: dict[str, OrgPolicy] = field(default_factory=dict)
    attachments: dict[str, set[str]] = field(default_factory=dict)  # target id -> policy ids

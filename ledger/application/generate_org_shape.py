"""The landing zone the organisation tier stamps out: its customer-managed policies (the same
document in every account), groups, baseline role templates, app role families and SCPs.

Plain data and pure functions of a seeded random source; nothing here appends events.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from ledger.application.generate import _doc

_ALLOW = "Allow"


def _allow(actions: list[str] | str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": _ALLOW, "Action": actions, "Resource": resource}


def _deny(actions: list[str] | str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": actions, "Resource": resource}


# Customer-managed policies created in every account (CloudFormation StackSets style): name ->
# document for (account, world). `world` is the OrgWorld (typed loosely to keep this module plain).
MANAGED: dict[str, Callable[[str, Any], dict[str, Any]]] = {
    "lz-readonly": lambda a, w: _doc(_allow(["s3:Get*", "s3:List*", "mediaconvert:Get*", "mediaconvert:List*",
                                             "iam:Get*", "iam:List*"])),
    "lz-s3-writer": lambda a, w: _doc(_allow(["s3:PutObject", "s3:GetObject"], "arn:aws:s3:::org-*/*")),
    "lz-media-ops": lambda a, w: _doc(_allow(["mediaconvert:CreateJob", "mediaconvert:GetJob",
                                              "mediaconvert:ListJobs"]),
                                      _allow("iam:PassRole", f"arn:aws:iam::{a}:role/media-convert")),
    "lz-deployer": lambda a, w: _doc(_allow("sts:AssumeRole", "arn:aws:iam::*:role/app-*"),
                                     _allow(["cloudformation:*", "iam:PassRole"])),
    "lz-hub": lambda a, w: _doc(_allow("sts:AssumeRole", "arn:aws:iam::*:role/lz-deployer")),
    "lz-admin": lambda a, w: _doc(_allow(["iam:*", "s3:*", "mediaconvert:*", "sts:AssumeRole", "logs:*"])),
    "lz-admin-boundary": lambda a, w: _doc(
        _allow(["s3:*", "mediaconvert:*", "sts:AssumeRole", "iam:Get*", "iam:List*", "iam:PassRole", "logs:*"]),
        _deny(["iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary",
               "iam:PutRolePermissionsBoundary", "iam:PutUserPermissionsBoundary"])),
    "lz-app-runtime": lambda a, w: _doc(_allow(["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::org-{a}-data/*"),
                                        _allow(["sqs:SendMessage", "sqs:ReceiveMessage", "dynamodb:GetItem",
                                                "dynamodb:PutItem"])),
    "lz-logs": lambda a, w: _doc(_allow(["logs:CreateLogStream", "logs:PutLogEvents"])),
    "lz-audit": lambda a, w: _doc(_allow("s3:GetObject", "arn:aws:s3:::org-*-logs/*"),
                                  _allow(["cloudtrail:LookupEvents", "config:Get*"])),
    "lz-network": lambda a, w: _doc(_allow(["ec2:Describe*", "ec2:CreateVpc", "ec2:CreateSubnet",
                                            "ec2:CreateRoute"])),
    "lz-assume-hub": lambda a, w: _doc(_allow("sts:AssumeRole", f"arn:aws:iam::{w.shared}:role/lz-hub")),
}

# Actions a new policy version may add (policy churn grows and shrinks the first statement).
VERSION_POOL = ["s3:GetObjectTagging", "s3:ListBucket", "logs:DescribeLogGroups", "cloudwatch:PutMetricData",
                "xray:PutTraceSegments", "kms:Decrypt", "ssm:GetParameter", "mediaconvert:DescribeEndpoints"]

# Groups of the identity account and the managed policies attached to each.
GROUPS: dict[str, list[str]] = {
    "engineers": ["lz-assume-hub", "lz-readonly"],
    "admins": ["lz-assume-hub", "lz-admin"],
    "auditors": ["lz-audit", "lz-readonly"],
    "media-team": ["lz-assume-hub", "lz-media-ops"],
    "oncall": ["lz-assume-hub"],
    "finance": ["lz-readonly"],
}

# Roles every member account gets. `trust`: who may assume it (see generate_org.trust_document).
BASELINE_TEMPLATES: list[dict[str, Any]] = [
    {"name": "lz-deployer", "trust": "lz-deployer", "policies": ["lz-deployer"]},
    {"name": "lz-delegated-admin", "trust": "identity", "policies": ["lz-admin"], "boundary": "lz-admin-boundary"},
    {"name": "lz-audit", "trust": "security", "policies": ["lz-audit", "lz-readonly"]},
    {"name": "lz-breakglass", "trust": "identity", "policies": ["lz-admin"]},
    {"name": "lz-network-admin", "trust": "deployer", "policies": ["lz-network"]},
    {"name": "lz-readonly", "trust": "identity", "policies": ["lz-readonly"]},
    {"name": "lz-log-shipper", "trust": "logs", "policies": ["lz-logs"]},
    {"name": "lz-config-recorder", "trust": "config", "policies": ["lz-readonly"]},
    {"name": "lz-backup", "trust": "backup", "policies": ["lz-s3-writer"]},
    {"name": "lz-ci", "trust": "deployer", "policies": ["lz-s3-writer", "lz-logs"]},
]

_FAMILIES = ["api", "worker", "batch", "etl", "web", "stream", "ingest", "search", "report", "notify",
             "auth", "billing", "catalog", "transcode", "analytics", "scheduler", "gateway", "cache", "ml", "export"]


def app_families(rnd: random.Random) -> list[dict[str, Any]]:
    """Twenty app role families: each one service trust (and the account's deployer) and one
    fixed set of managed policies, shared by every role stamped from it."""
    out = []
    for name in _FAMILIES:
        extra = rnd.sample(["lz-readonly", "lz-s3-writer", "lz-audit"], rnd.randint(0, 2))
        out.append({"name": name, "trust": rnd.choice(["lambda", "ecs-tasks", "ec2", "states", "glue"]),
                    "policies": ["lz-app-runtime", "lz-logs", *extra]})
    return out


def scp_documents() -> dict[str, dict[str, Any]]:
    """The organisation's deny-list SCPs (FullAWSAccess grants; these take away)."""
    return {
        "DenyLeaveOrganization": _doc(_deny("organizations:LeaveOrganization")),
        "ProtectAuditTrail": _doc(_deny(["cloudtrail:StopLogging", "cloudtrail:DeleteTrail",
                                         "config:DeleteConfigurationRecorder"])),
        "DenyIamUsers": _doc(_deny(["iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile"])),
        "DenyBucketDeletion": _doc(_deny(["s3:DeleteBucket", "s3:DeleteBucketPolicy"])),
        "SandboxDenyList": _doc(_deny(["mediaconvert:*", "organizations:*", "iam:CreateSAMLProvider"])),
        "DenyMediaLiveChannels": _doc(_deny(["medialive:CreateChannel", "medialive:StartChannel"])),
        "DenyExpensiveCompute": _doc(_deny(["ec2:PurchaseReservedInstancesOffering", "ec2:PurchaseHostReservation"])),
        "DenyPublicBuckets": _doc(_deny(["s3:PutBucketPublicAccessBlock", "s3:DeletePublicAccessBlock"])),
    }


SCP_POOL = ["ec2:DeleteVpc", "guardduty:DeleteDetector", "securityhub:DisableSecurityHub",
            "iam:DeleteAccountPasswordPolicy"]


def next_document(document: dict[str, Any], rnd: random.Random, pool: list[str] = VERSION_POOL) -> dict[str, Any]:
    """A new version of a policy: its first statement gains or loses one action of `pool`."""
    statements = [dict(s) for s in document["Statement"]]
    first = statements[0]
    actions = [first["Action"]] if isinstance(first["Action"], str) else list(first["Action"])
    extra = rnd.choice(pool)
    if extra in actions and len(actions) > 1:
        actions.remove(extra)
    elif extra not in actions:
        actions.append(extra)
    first["Action"] = actions
    return {"Version": "2012-10-17", "Statement": statements}

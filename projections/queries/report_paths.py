"""How a `who_can` entry reaches the resource, for `ledger report`: the kind of access (identity
policy, bucket policy, role chain, service role...) and the path as graph edges.

Pure functions of `WhoCanEntry` values; never reads a store or decides access.
"""

from __future__ import annotations

from typing import Any

from projections.results import PathStep, WhoCanEntry

SERVICE_NODE = "mediaconvert.amazonaws.com"
# The kinds of access, in the order the page's legend lists them.
HOW = ("identity policy", "bucket policy", "identity and bucket policy", "trust policy", "identity and trust policy",
       "resource policy", "identity and resource policy", "role chain", "service role", "account root",
       "trust policy (account)")
_VIA_SERVICE = ("iam:passrole", "mediaconvert:createjob")


def how(entry: WhoCanEntry) -> str:
    """The kind of access an entry has: by its path's shape, or for one step by its policies."""
    if entry.delegated:
        return "trust policy (account)"
    if len(entry.path) > 1:
        passes = any(step.action.lower() in _VIA_SERVICE for step in entry.path)
        return "service role" if passes else "role chain"
    allows = [m for step in entry.path for m in step.via if m.effect == "Allow"]
    identity = any(m.source_policy_type != "resource" for m in allows)
    kinds = {_resource_kind(m.source_policy_id) for m in allows if m.source_policy_type == "resource"}
    resource = kinds.pop() if len(kinds) == 1 else "resource policy" if kinds else None
    if identity and resource:
        return f"identity and {resource}"
    return resource or ("identity policy" if identity else "account root")


def _resource_kind(policy_id: str) -> str:
    """bucket policy, trust policy, or resource policy: by the id the engine gives the policy."""
    for prefix, kind in (("bucket-policy:", "bucket policy"), ("trust-policy:", "trust policy")):
        if policy_id.startswith(prefix):
            return kind
    return "resource policy"


def statement_label(step: PathStep) -> str:
    """The allowing statements of a step: policy[Sid or index], joined."""
    labels = [f"{m.source_policy_id}[{m.sid if m.sid else m.statement_index}]" for m in step.via
              if m.effect == "Allow"]
    return ", ".join(dict.fromkeys(labels)) or "account root (no policy needed)"


def granted_by(entry: WhoCanEntry) -> list[dict[str, Any]]:
    """The events that put each allowing statement of the path in place."""
    found: dict[int, dict[str, Any]] = {}
    for step in entry.path:
        for m in step.via:
            origin = m.origin or {}
            if m.effect == "Allow" and origin.get("position") is not None:
                found.setdefault(int(origin["position"]), {
                    "position": origin["position"], "event_type": origin.get("event_type"),
                    "occurred_at": origin.get("occurred_at"),
                    "actor": (origin.get("provenance") or {}).get("actor"), "policy": m.source_policy_id})
    return [found[p] for p in sorted(found)]


def path_text(entry: WhoCanEntry) -> str:
    """The path in one line: `alice iam:PassRole → mediaconvert sts:AssumeRole → ...`."""
    return " → ".join(f"{_short(step.principal)} {step.action}" for step in entry.path) or "delegated"


def edges(entry: WhoCanEntry, resource: str) -> list[tuple[str, str, str, str]]:
    """(from, to, action, statements) for each step: an AssumeRole goes to the role, a PassRole or
    CreateJob to the service, the last step to the resource."""
    out = []
    last = len(entry.path) - 1
    for i, step in enumerate(entry.path):
        if i == last:
            target = resource
        elif step.action.lower() in _VIA_SERVICE:
            target = SERVICE_NODE
        else:
            target = step.resource
        out.append((step.principal, target, step.action, statement_label(step)))
    return out


def node_kind(node: str, resource: str) -> str:
    """user, role, root, service, resource or other, for the graph's columns."""
    if node == resource:
        return "resource"
    if node.endswith(".amazonaws.com"):
        return "service"
    rest = node.split(":", 5)[5] if node.count(":") >= 5 else node
    if rest == "root":
        return "root"
    for kind in ("user", "role", "assumed-role", "federated-user"):
        if rest.startswith(kind + "/"):
            return "role" if kind == "assumed-role" else kind
    return "other"


def _short(arn: str) -> str:
    return arn.split(":", 5)[5] if arn.startswith("arn:") and arn.count(":") >= 5 else arn

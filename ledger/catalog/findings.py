"""Policy checks against the AWS catalogue, as IAM Access Analyzer's policy validation reports them:
an action or condition key AWS does not define is a WARNING (the policy is still valid JSON IAM
accepts; it just never matches what the author meant), never an error.

Reads a parsed PolicyDocument; never evaluates it and never rejects it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ledger.catalog.diagnose import diagnose_request, evaluated_resource, suggest_action
from ledger.catalog.reference import actions_of, condition_key_known, service_exists
from ledger.policy.document import PolicyDocument, Statement
from ledger.policy.evaluator import PolicyEntry, PolicySet
from ledger.policy.matching import glob_fullmatch
from ledger.policy.request import Request
from ledger.policy.variables import QMARK, STAR

__all__ = ["CatalogAdvisor", "PolicyFinding", "policy_findings", "policy_warnings"]


@dataclass(frozen=True, slots=True)
class PolicyFinding:
    """One warning: where in the document (`Statement[0].Action[1]`), an Access Analyzer-style
    issue code, and a one-line message."""

    path: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _element_paths(name: str, values: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    for i, value in enumerate(values):
        yield (f"{name}[{i}]" if len(values) > 1 else name), value


def _action_finding(path: str, action: str) -> PolicyFinding | None:
    if action == "*":
        return None
    service, _, name = action.partition(":")
    if "*" in service or "?" in service:
        return None
    if not service_exists(service):
        hint = suggest_action(action)
        tail = f': did you mean "{hint}"?' if hint else ""
        return PolicyFinding(path, "UNKNOWN_SERVICE", f'"{service}" is not an AWS service prefix{tail}')
    names = actions_of(service)
    if "*" in name or "?" in name:
        glob = name.lower().replace("*", STAR).replace("?", QMARK)
        if any(glob_fullmatch(glob, known) for known in names):
            return None
        return PolicyFinding(path, "NO_MATCHING_ACTION", f'"{action}" matches no action of {service.lower()}')
    if name.lower() in names:
        return None
    hint = suggest_action(action)
    tail = f': did you mean "{hint}"?' if hint else ""
    return PolicyFinding(path, "UNKNOWN_ACTION", f'"{action}" is not an action of {service.lower()}{tail}')


def _statement_findings(where: str, st: Statement) -> Iterator[PolicyFinding]:
    element = "Action" if st.action is not None else "NotAction"
    for path, action in _element_paths(element, st.action or st.not_action or ()):
        finding = _action_finding(f"{where}.{path}", action)
        if finding is not None:
            yield finding
    for operator, block in st.condition:
        for key, _ in block:
            if "${" in key or condition_key_known(key):
                continue
            code = "UNKNOWN_GLOBAL_CONDITION_KEY" if key.lower().startswith("aws:") else "UNKNOWN_CONDITION_KEY"
            yield PolicyFinding(f"{where}.Condition.{operator}.{key}", code,
                                f'"{key}" is not a condition key AWS defines; the condition never sees it')


def policy_findings(document: PolicyDocument) -> list[PolicyFinding]:
    """Warnings for a parsed policy: unknown services, actions (with the nearest valid name),
    action patterns matching nothing, and condition keys AWS does not define."""
    out: list[PolicyFinding] = []
    for i, st in enumerate(document.statements):
        out.extend(_statement_findings(f"Statement[{i}]", st))
    return out


def policy_warnings(document: PolicyDocument, label: str = "") -> list[str]:
    """`policy_findings` as one line each, prefixed with `label` (e.g. `identity_policies[0]`)."""
    prefix = f"{label}." if label else ""
    return [f"{prefix}{f}" for f in policy_findings(document)]


def _entries(policies: PolicySet) -> Iterable[PolicyEntry]:
    yield from policies.identity
    if policies.resource is not None:
        yield policies.resource
    yield from policies.boundaries or ()
    yield from policies.session or ()
    for level in policies.scps or ():
        yield from level


class CatalogAdvisor:
    """What `ledger simulate` asks of the catalogue (the engine cannot import it): the resource
    AWS evaluates an action with no resource type against, and the warnings for a scenario."""

    def evaluated_resource(self, action: str, resource: str, principal_arn: str) -> str:
        return evaluated_resource(action, resource, principal_arn)

    def warnings(self, request: Request, policies: PolicySet, resource_as_given: str) -> list[str]:
        out = diagnose_request(request.action, resource_as_given)
        for entry in _entries(policies):
            out += policy_warnings(entry.compiled.document, entry.policy_id)
        return out
